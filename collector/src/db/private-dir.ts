import { chmodSync, mkdirSync, statSync } from 'node:fs';

/**
 * Makes `dir` (and any parent it creates) a directory only this user can enter: created 0700, or
 * tightened to 0700 when it exists with looser modes. PGlite creates its files world-writable (0666),
 * and `DATA_DIR` also holds the generated keys and the audit journal: the directory is what keeps
 * other users of the machine out.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
}
