import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config';
import { generateKeyMaterial, type Keyring, parseKeyring } from './encryption';

/**
 * The keyring from `ENCRYPTION_KEY` / `BLIND_INDEX_KEY`. When they are unset (a first local start), keys
 * are generated once into `DATA_DIR/secrets.json` (mode 0600) so the embedded setup works with one
 * command; production sets both variables, from a secret store.
 */
export function loadKeyring(config: Config, log: (line: string) => void = console.warn): Keyring {
  return { ...keysOf(config, log), personalKeys: config.PERSONAL_DATA_KEYS };
}

function keysOf(config: Config, log: (line: string) => void): Keyring {
  if (config.ENCRYPTION_KEY && config.BLIND_INDEX_KEY)
    return parseKeyring(config.ENCRYPTION_KEY, config.BLIND_INDEX_KEY);
  const file = join(config.DATA_DIR, 'secrets.json');
  let stored: { ENCRYPTION_KEY: string; BLIND_INDEX_KEY: string };
  if (existsSync(file)) {
    stored = JSON.parse(readFileSync(file, 'utf8'));
  } else {
    mkdirSync(config.DATA_DIR, { recursive: true });
    stored = { ENCRYPTION_KEY: `k1:${generateKeyMaterial()}`, BLIND_INDEX_KEY: generateKeyMaterial() };
    writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
    chmodSync(file, 0o600);
    log(
      `No ENCRYPTION_KEY / BLIND_INDEX_KEY set: generated them into ${file}. Keep that file; set both variables in production.`,
    );
  }
  return parseKeyring(config.ENCRYPTION_KEY ?? stored.ENCRYPTION_KEY, config.BLIND_INDEX_KEY ?? stored.BLIND_INDEX_KEY);
}
