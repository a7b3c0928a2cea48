import { z } from 'zod';
import { parseTrustProxy } from './ingest/trust-proxy';
import { personalKeyList } from './privacy/personal-keys';

/** The shortest key accepted from the environment: a key is the only thing that lets a caller in. */
export const MIN_ENVIRONMENT_KEY_LENGTH = 24;

/** A comma-separated setting as its items. */
const list = (s: string | undefined) =>
  (s ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);

const keyList = z
  .string()
  .optional()
  .transform(list)
  .refine((keys) => keys.every((k) => k.length >= MIN_ENVIRONMENT_KEY_LENGTH), {
    message: `each key must be at least ${MIN_ENVIRONMENT_KEY_LENGTH} characters (random ones: \`openssl rand -base64 24\`)`,
  });

function isOrigin(value: string): boolean {
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}

const ConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3002),
  HOST: z.string().default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  DATA_DIR: z.string().min(1).default('.data'),
  WRITE_KEYS: keyList,
  API_KEYS: keyList,
  /** Country assumed for phone numbers written without a country code. */
  DEFAULT_PHONE_COUNTRY: z
    .string()
    .regex(/^[A-Z]{2}$/, 'must be a two-letter country code')
    .default('US'),
  /** AES-256-GCM keys for personal data, "id:base64,id2:base64", first one current. Unset: kept in DATA_DIR/secrets.json. */
  ENCRYPTION_KEY: z.string().min(1).optional(),
  /** HMAC key of the blind index used to look up encrypted identities. Unset: kept in DATA_DIR/secrets.json. */
  BLIND_INDEX_KEY: z.string().min(1).optional(),
  /**
   * What ingestion keeps of IP addresses and user agents: all of it; the network (IPv4 without the
   * last octet, IPv6 without the last 80 bits) and the parsed device, browser and OS without the raw
   * user agent; or nothing.
   */
  IP_MODE: z.enum(['keep', 'truncate', 'drop']).default('keep'),
  /** Property and trait names treated as personal data, added to the defaults (`-name` removes one): see personal-keys.ts. */
  PERSONAL_DATA_KEYS: z
    .string()
    .optional()
    .transform((s, ctx) => {
      try {
        return personalKeyList(s);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    }),
  /** Requests per second each key may make; over it the answer is 429 with Retry-After. */
  RATE_LIMIT_PER_SECOND: z.coerce.number().int().min(1).default(1000),
  /**
   * Requests per second one IP address (an IPv6 /64) may make to the tracking routes, whatever the
   * key, so that one visitor cannot spend a site's key. A browser sends a few requests a minute, so
   * 100 leaves room for a crowd behind one NAT; a server-side SDK sending more from one address
   * needs it raised.
   */
  RATE_LIMIT_PER_IP_PER_SECOND: z.coerce.number().int().min(1).default(100),
  /**
   * Which reverse proxies may name the caller in X-Forwarded-For or Forwarded: how many stand in front,
   * or their addresses and ranges (see ingest/trust-proxy.ts). Unset or 0 (default): the socket's peer.
   */
  TRUST_PROXY: z
    .string()
    .optional()
    .transform((s, ctx) => {
      try {
        return parseTrustProxy(s);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    }),
  /** Redis shared by every collector process, for rate limits that count across them. Unset: per process. */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /** Prefix of every key the collector writes in Redis, so that several deployments can share one. */
  REDIS_KEY_PREFIX: z.string().default('tributary:'),
  /** How often the retention job runs, in seconds. */
  RETENTION_INTERVAL_SECONDS: z.coerce.number().int().min(1).default(3600),
  /**
   * Sites whose pages may call the CDP and admin APIs from a browser (`https://admin.example.com,...`).
   * Unset, those APIs answer no browser on another site; the tracking API answers every site.
   */
  API_ALLOWED_ORIGINS: z
    .string()
    .optional()
    .transform((s) => list(s).map((o) => o.replace(/\/+$/, '')))
    .refine((origins) => origins.every(isOrigin), 'each must be an origin, such as https://admin.example.com'),
  /**
   * A path the whole collector also answers under (`/t`: `/t/v1/batch`, `/t/sdk/v1/analytics.min.js`),
   * for a reverse proxy on the site's own domain that forwards the path as it is (first-party collection).
   */
  PATH_PREFIX: z
    .string()
    .default('')
    .transform((p) => p.replace(/\/+$/, ''))
    .refine((p) => p === '' || /^(\/[\w.~-]+)+$/.test(p), 'must be a path such as /t or /collect/v2'),
  /**
   * The name of the anonymous-ID cookie the collector sets itself (`tributary_anonymous_id`, the SDK's),
   * where it answers on the site's own domain. Unset: the collector sets no cookie.
   */
  ANONYMOUS_ID_COOKIE: z
    .string()
    .default('')
    .refine((n) => n === '' || /^[\w!#$%&'*+.^`|~-]+$/.test(n), 'must be a cookie name (letters, digits, _ - .)'),
  /** The domain of that cookie (`example.com`, shared by every subdomain); unset: the collector's host only. */
  ANONYMOUS_ID_COOKIE_DOMAIN: z
    .string()
    .optional()
    .refine(
      (d) => d === undefined || /^\.?[a-z0-9-]+(\.[a-z0-9-]+)*$/i.test(d),
      'must be a domain such as example.com',
    ),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Reads the environment once. A wrong value throws an error naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** Defaults for tests and embedding: everything a `Config` needs. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    ...loadConfig({}),
    ENCRYPTION_KEY: `test:${Buffer.alloc(32, 7).toString('base64')}`,
    BLIND_INDEX_KEY: Buffer.alloc(32, 9).toString('base64'),
    ...overrides,
  };
}
