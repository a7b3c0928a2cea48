import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

// Reads the build (`pnpm build` runs before the tests in `pnpm test`).
const dist = (file: string) => {
  const url = new URL(`../dist/${file}`, import.meta.url);
  if (!existsSync(url)) throw new Error(`dist/${file} is missing: run \`pnpm build\` first`);
  return readFileSync(url);
};

describe('the built package', () => {
  it('keeps the script-tag bundle within 6 KB minified and gzipped', () => {
    const size = gzipSync(dist('analytics.min.js'), { level: 9 }).length;
    expect(size).toBeLessThanOrEqual(6 * 1024);
  });

  it('keeps the snippet small enough to paste', () => {
    expect(dist('snippet.min.js').length).toBeLessThan(1024);
  });

  it('shows the built snippet, ready to paste, in the README', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(dist('snippet.min.js').toString('utf8').trim());
  });

  it('ships self-contained type declarations (no import of the private spec package, no zod)', () => {
    for (const file of ['index.d.ts', 'node.d.ts', 'node.d.cts']) {
      const types = dist(file).toString('utf8');
      expect(types).not.toMatch(/from ['"](@tributary\/spec|zod)['"]/);
      expect(types).toContain('PURCHASE');
    }
  });

  it('keeps zod and Node built-ins out of the browser builds', () => {
    for (const file of ['index.js', 'analytics.min.js']) {
      const code = dist(file).toString('utf8');
      expect(code).not.toMatch(/zod|node:|require\(/);
    }
  });

  it('loads as CommonJS and as ESM in Node', async () => {
    const { createRequire } = await import('node:module');
    const cjs = createRequire(import.meta.url)('../dist/node.cjs');
    const esm = await import('../dist/node.js');
    expect(typeof cjs.Analytics).toBe('function');
    expect(typeof esm.Analytics).toBe('function');
  });
});
