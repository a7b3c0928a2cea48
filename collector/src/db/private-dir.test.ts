import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPglite } from './client';
import { ensurePrivateDir } from './private-dir';

const root = mkdtempSync(join(tmpdir(), 'tributary-private-dir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('the data directory', () => {
  it('is created 0700, parents included', () => {
    const dir = join(root, 'new', 'data');
    ensurePrivateDir(dir);
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(join(root, 'new'))).toBe(0o700);
  });

  it('is tightened to 0700 when it exists with looser modes', () => {
    const dir = join(root, 'loose');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    ensurePrivateDir(dir);
    expect(modeOf(dir)).toBe(0o700);
  });

  // Two PGlite data directories made from scratch: slow on a busy machine.
  it("keeps PGlite's world-writable files out of other users' reach, new or existing", {
    timeout: 120_000,
  }, async () => {
    const fresh = join(root, 'pglite-fresh');
    const existing = join(root, 'pglite-existing');
    mkdirSync(existing, { mode: 0o755 });
    chmodSync(existing, 0o755);
    for (const dir of [fresh, existing]) {
      const database = await openPglite(dir);
      await database.close();
      expect(modeOf(dir), dir).toBe(0o700);
    }
  });
});
