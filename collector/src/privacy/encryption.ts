import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for personal data at rest. A sealed value is `enc:<keyId>:<iv>:<tag>:<ciphertext>`
 * (base64url parts), so keys can rotate: new values use the current key, old rows name the key they
 * need. Equality lookups use `blindIndex`, a keyed HMAC of the normalized value, so the database can
 * find a customer by email without holding the email in plain text.
 */
export interface Keyring {
  current: { id: string; key: Buffer };
  all: Map<string, Buffer>;
  blindIndexKey: Buffer;
  /**
   * The property and trait names whose values are sealed (`PERSONAL_DATA_KEYS`; personal-keys.ts has
   * the defaults). Kept with the keys so that every place that seals, the decode worker included,
   * applies the same list.
   */
  personalKeys?: readonly string[];
}

const PREFIX = 'enc:';

/** Parses `ENCRYPTION_KEY` ("id:base64key,id2:base64key", first one current) and `BLIND_INDEX_KEY`. */
export function parseKeyring(encryptionKey: string, blindIndexKey: string): Keyring {
  const entries = encryptionKey.split(',').map((part, i) => {
    const [id, material] = part.includes(':') ? (part.split(':', 2) as [string, string]) : [`k${i + 1}`, part];
    const key = Buffer.from(material.trim(), 'base64');
    if (key.length !== 32) throw new Error(`ENCRYPTION_KEY ${id}: must be 32 bytes, base64-encoded`);
    if (!/^[A-Za-z0-9_-]+$/.test(id))
      throw new Error(`ENCRYPTION_KEY ${id}: the key id may hold letters, digits, - and _`);
    return [id.trim(), key] as const;
  });
  const first = entries[0];
  if (!first) throw new Error('ENCRYPTION_KEY: at least one key is required');
  const index = Buffer.from(blindIndexKey, 'base64');
  if (index.length < 32) throw new Error('BLIND_INDEX_KEY: must be at least 32 bytes, base64-encoded');
  return { current: { id: first[0], key: first[1] }, all: new Map(entries), blindIndexKey: index };
}

export const generateKeyMaterial = () => randomBytes(32).toString('base64');

export const isSealed = (value: unknown): value is string => typeof value === 'string' && value.startsWith(PREFIX);

export function seal(keyring: Keyring, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyring.current.key, iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const parts = [iv, cipher.getAuthTag(), data].map((b) => b.toString('base64url'));
  return `${PREFIX}${keyring.current.id}:${parts.join(':')}`;
}

export function open(keyring: Keyring, sealed: string): string {
  if (!isSealed(sealed)) return sealed;
  const [keyId, iv, tag, data] = sealed.slice(PREFIX.length).split(':');
  const key = keyId && keyring.all.get(keyId);
  if (!key || !iv || !tag || data === undefined)
    throw new Error(`Cannot decrypt: key ${keyId} is not in ENCRYPTION_KEY`);
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
}

/** Keyed hash of a normalized value, for equality search over sealed data. */
export function blindIndex(keyring: Keyring, type: string, normalizedValue: string): string {
  return createHmac('sha256', keyring.blindIndexKey).update(`${type}\u0000${normalizedValue}`).digest('base64url');
}

/** Seals any JSON value (its JSON text), for traits and event fields that hold personal data. */
export const sealJson = (keyring: Keyring, value: unknown) => seal(keyring, JSON.stringify(value));
export const openJson = (keyring: Keyring, value: unknown): unknown =>
  isSealed(value) ? JSON.parse(open(keyring, value)) : value;
