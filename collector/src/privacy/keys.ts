import { createHash, randomBytes } from 'node:crypto';
import { count, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { apiKeys, revokedEnvironmentKeys } from '../db/schema';
import { type Keyring, open, seal } from './encryption';
import { announceRevocation } from './revocation-feed';

export type KeyKind = 'write' | 'read' | 'admin';
export interface ResolvedKey {
  id: string;
  kind: KeyKind;
  /** For write keys with identity verification: the secret identify signatures are checked against. */
  verificationSecret?: string;
}

export const hashKey = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** The id of a key from `WRITE_KEYS` / `API_KEYS`: stable across restarts and processes, and no secret. */
export const environmentKeyId = (secret: string) => `env:${hashKey(secret).slice(0, 12)}`;

/** A new secret: a kind prefix a person can recognise, then 32 random bytes. */
export function generateKey(kind: KeyKind): string {
  const prefix = kind === 'write' ? 'wk' : kind === 'read' ? 'rk' : 'sk';
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

const CACHE_MS = 30_000;
const CACHE_MAX = 10_000;

/** Where a key comes from: created through the API (stored hashed), or `WRITE_KEYS` / `API_KEYS`. */
export type KeySource = 'api' | 'environment';

interface ConfiguredKey extends ResolvedKey {
  variable: 'WRITE_KEYS' | 'API_KEYS';
  /** The first characters of the secret, for a person to recognise it in the list. */
  prefix: string;
}

/** A key as the admin API lists it. */
export interface ListedKey {
  id: string;
  kind: KeyKind;
  name: string | null;
  prefix: string;
  source: KeySource;
  identityVerification: boolean;
  /** Null for keys from the environment: they exist as long as the variable names them. */
  createdAt: Date | null;
  revokedAt: Date | null;
}

/**
 * Resolves secrets to keys: those from `WRITE_KEYS` / `API_KEYS`, then the hashed ones in the database.
 * Either kind can be revoked through the API (keys from the environment in `revoked_environment_keys`).
 * Lookups are cached briefly because every ingestion request needs one; `invalidate` drops them when
 * any process revokes a key (revocation-feed.ts).
 */
export class KeyStore {
  readonly #db: Db;
  readonly #keyring: Keyring;
  readonly #configured = new Map<string, ConfiguredKey>();
  /**
   * Lookups by hash, cached as promises and kept from the moment they start: concurrent requests
   * with one key share a lookup, and a lookup that began before `invalidate` cannot put its answer
   * back into the cache once it ends (the cache it was put in is gone).
   */
  #cache = new Map<string, { key: Promise<ResolvedKey | null>; until: number }>();

  constructor(db: Db, config: { WRITE_KEYS: string[]; API_KEYS: string[] }, keyring: Keyring) {
    this.#db = db;
    this.#keyring = keyring;
    for (const secret of config.WRITE_KEYS) this.#addConfigured(secret, 'write', 'WRITE_KEYS');
    for (const secret of config.API_KEYS) this.#addConfigured(secret, 'admin', 'API_KEYS');
  }

  #addConfigured(secret: string, kind: KeyKind, variable: ConfiguredKey['variable']) {
    // A third of the shortest key at most: enough to tell keys apart, far from enough to guess one.
    const prefix = secret.slice(0, 8);
    this.#configured.set(hashKey(secret), { id: environmentKeyId(secret), kind, variable, prefix });
  }

  get hasConfiguredKeys() {
    return this.#configured.size > 0;
  }

  /**
   * The key a secret names, or null. `fresh` reads the database whatever the cache holds (and
   * caches that answer): for changes made with a key, so that one revoked a moment ago on another
   * process cannot make any, even before that process's notice arrives.
   */
  resolve(secret: string, options: { fresh?: boolean } = {}): Promise<ResolvedKey | null> {
    const hash = hashKey(secret);
    const cached = this.#cache.get(hash);
    const now = Date.now();
    if (cached && cached.until > now && !options.fresh) return cached.key;
    if (this.#cache.size >= CACHE_MAX) this.#cache = new Map();
    const entry = { key: this.#lookup(hash), until: now + CACHE_MS };
    this.#cache.set(hash, entry);
    // A failed lookup (the database away) is not remembered: the next request asks again.
    entry.key.catch(() => {
      if (this.#cache.get(hash) === entry) this.#cache.delete(hash);
    });
    return entry.key;
  }

  async #lookup(hash: string): Promise<ResolvedKey | null> {
    const configured = this.#configured.get(hash);
    if (configured) {
      const [revoked] = await this.#db
        .select({ keyHash: revokedEnvironmentKeys.keyHash })
        .from(revokedEnvironmentKeys)
        .where(eq(revokedEnvironmentKeys.keyHash, hash))
        .limit(1);
      return revoked ? null : { id: configured.id, kind: configured.kind };
    }
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
    if (!row || row.revokedAt) return null;
    return {
      id: row.id,
      kind: row.kind,
      ...(row.verificationSecret ? { verificationSecret: open(this.#keyring, row.verificationSecret) } : {}),
    };
  }

  /** Forgets cached lookups, so a revoked key stops working at once. */
  invalidate() {
    this.#cache = new Map();
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

  /**
   * A page of keys by id and prefix, never the secret: those from the environment first, then the
   * stored ones, newest first.
   */
  async list(limit: number, offset: number): Promise<{ keys: ListedKey[]; total: number }> {
    const configured = [...this.#configured];
    const revoked = configured.length
      ? await this.#db
          .select()
          .from(revokedEnvironmentKeys)
          .where(
            inArray(
              revokedEnvironmentKeys.keyHash,
              configured.map(([hash]) => hash),
            ),
          )
      : [];
    const revokedAt = new Map(revoked.map((r) => [r.keyHash, r.revokedAt]));
    const fromEnvironment = configured.slice(offset, offset + limit).map(
      ([hash, k]): ListedKey => ({
        id: k.id,
        kind: k.kind,
        name: k.variable,
        prefix: k.prefix,
        source: 'environment',
        identityVerification: false,
        createdAt: null,
        revokedAt: revokedAt.get(hash) ?? null,
      }),
    );
    const storedLimit = limit - fromEnvironment.length;
    const [rows, [counted]] = await Promise.all([
      storedLimit > 0
        ? this.#db
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
            .limit(storedLimit)
            .offset(Math.max(0, offset - configured.length))
        : [],
      this.#db.select({ n: count() }).from(apiKeys),
    ]);
    const stored = rows.map(
      ({ verificationSecret, ...k }): ListedKey => ({
        ...k,
        source: 'api',
        identityVerification: !!verificationSecret,
      }),
    );
    return { keys: [...fromEnvironment, ...stored], total: configured.length + (counted?.n ?? 0) };
  }

  /**
   * Revokes a key, stored or from the environment (by its `env:` id), and tells every process
   * (revocation-feed.ts): it stops working at once here, within moments everywhere, and for good.
   * False when there is no such key.
   */
  async revoke(id: string): Promise<boolean> {
    const configured = [...this.#configured].find(([, k]) => k.id === id);
    const revoked = await this.#db.transaction(async (tx) => {
      if (configured) {
        await tx.insert(revokedEnvironmentKeys).values({ keyHash: configured[0] }).onConflictDoNothing();
      } else {
        if (id.startsWith('env:')) return false;
        const rows = await tx
          .update(apiKeys)
          .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
          .where(eq(apiKeys.id, id))
          .returning({ id: apiKeys.id });
        if (!rows.length) return false;
      }
      await announceRevocation(tx, 'keys');
      return true;
    });
    this.invalidate();
    return revoked;
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
