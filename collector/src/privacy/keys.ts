import { createHash, randomBytes } from 'node:crypto';
import { count, desc, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { apiKeys } from '../db/schema';
import { type Keyring, open, seal } from './encryption';

export type KeyKind = 'write' | 'read' | 'admin';
export interface ResolvedKey {
  id: string;
  kind: KeyKind;
  /** For write keys with identity verification: the secret identify signatures are checked against. */
  verificationSecret?: string;
}

export const hashKey = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** A new secret: a kind prefix a person can recognise, then 32 random bytes. */
export function generateKey(kind: KeyKind): string {
  const prefix = kind === 'write' ? 'wk' : kind === 'read' ? 'rk' : 'sk';
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

const CACHE_MS = 30_000;

/**
 * Resolves secrets to keys: those from `WRITE_KEYS` / `API_KEYS`, then the hashed ones in the database.
 * Lookups are cached briefly because every ingestion request needs one.
 */
export class KeyStore {
  readonly #db: Db;
  readonly #keyring: Keyring;
  readonly #configured = new Map<string, ResolvedKey>();
  readonly #cache = new Map<string, { key: ResolvedKey | null; until: number }>();

  constructor(db: Db, config: { WRITE_KEYS: string[]; API_KEYS: string[] }, keyring: Keyring) {
    this.#db = db;
    this.#keyring = keyring;
    for (const secret of config.WRITE_KEYS) this.#addConfigured(secret, 'write');
    for (const secret of config.API_KEYS) this.#addConfigured(secret, 'admin');
  }

  #addConfigured(secret: string, kind: KeyKind) {
    const hash = hashKey(secret);
    this.#configured.set(hash, { id: `env:${hash.slice(0, 12)}`, kind });
  }

  get hasConfiguredKeys() {
    return this.#configured.size > 0;
  }

  async resolve(secret: string): Promise<ResolvedKey | null> {
    const hash = hashKey(secret);
    const configured = this.#configured.get(hash);
    if (configured) return configured;
    const cached = this.#cache.get(hash);
    if (cached && cached.until > Date.now()) return cached.key;
    const [row] = await this.#db
      .select({
        id: apiKeys.id,
        kind: apiKeys.kind,
        revokedAt: apiKeys.revokedAt,
        verificationSecret: apiKeys.verificationSecret,
      })
      .from(apiKeys)
      .where(eq(apiKeys.keyHash, hash))
      .limit(1);
    const key: ResolvedKey | null =
      row && !row.revokedAt
        ? {
            id: row.id,
            kind: row.kind,
            ...(row.verificationSecret ? { verificationSecret: open(this.#keyring, row.verificationSecret) } : {}),
          }
        : null;
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(hash, { key, until: Date.now() + CACHE_MS });
    return key;
  }

  /** Forget cached lookups, so a revoked key stops working at once. */
  invalidate() {
    this.#cache.clear();
  }

  /**
   * Stores a new key (hashed) and returns its secret, which is never shown again. A write key created
   * with identity verification also gets the secret a site's backend signs userIds with.
   */
  async create(
    kind: KeyKind,
    name?: string,
    options: { identityVerification?: boolean } = {},
  ): Promise<{ id: string; secret: string; prefix: string; verificationSecret?: string }> {
    const secret = generateKey(kind);
    const prefix = secret.slice(0, 10);
    const verificationSecret =
      kind === 'write' && options.identityVerification ? `vs_${randomBytes(32).toString('base64url')}` : undefined;
    const [row] = await this.#db
      .insert(apiKeys)
      .values({
        kind,
        name: name ?? null,
        prefix,
        keyHash: hashKey(secret),
        verificationSecret: verificationSecret ? seal(this.#keyring, verificationSecret) : null,
      })
      .returning({ id: apiKeys.id });
    if (!row) throw new Error('key was not stored');
    return { id: row.id, secret, prefix, ...(verificationSecret ? { verificationSecret } : {}) };
  }

  /** Every stored key by id and prefix, never the secret. */
  list(limit: number, offset: number) {
    return this.#db
      .select({
        id: apiKeys.id,
        kind: apiKeys.kind,
        name: apiKeys.name,
        prefix: apiKeys.prefix,
        createdAt: apiKeys.createdAt,
        revokedAt: apiKeys.revokedAt,
        verificationSecret: apiKeys.verificationSecret,
      })
      .from(apiKeys)
      .orderBy(desc(apiKeys.createdAt))
      .limit(limit)
      .offset(offset);
  }

  async count(): Promise<number> {
    const [row] = await this.#db.select({ n: count() }).from(apiKeys);
    return row?.n ?? 0;
  }

  /** Revokes a key; it stops working at once (the lookup cache is dropped). False when there is no such key. */
  async revoke(id: string): Promise<boolean> {
    const rows = await this.#db
      .update(apiKeys)
      .set({ revokedAt: new Date() })
      .where(eq(apiKeys.id, id))
      .returning({ id: apiKeys.id });
    this.invalidate();
    return rows.length > 0;
  }

  /**
   * With no keys configured and none stored, creates a write key and an admin key and returns their
   * secrets for the caller to print once.
   */
  async bootstrap(): Promise<{ writeKey: string; apiKey: string } | null> {
    if (this.hasConfiguredKeys) return null;
    const [any] = await this.#db.select({ id: apiKeys.id }).from(apiKeys).limit(1);
    if (any) return null;
    const write = await this.create('write', 'default write key');
    const admin = await this.create('admin', 'default admin key');
    return { writeKey: write.secret, apiKey: admin.secret };
  }
}
