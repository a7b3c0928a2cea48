import { createMiddleware } from 'hono/factory';
import type { KeyKind, KeyStore, ResolvedKey } from '../privacy/keys';
import { HttpError } from './errors';

export type AuthEnv = { Variables: { key: ResolvedKey } };

export const unauthorized = (message = 'A valid key is required') =>
  new HttpError(401, 'unauthorized', message, undefined, { 'WWW-Authenticate': 'Bearer' });

/** The secret of `Authorization: Bearer <key>` or of Basic auth's username (Segment's convention). */
export function keyFromAuthorization(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, value] = header.split(/\s+/, 2);
  if (!value) return undefined;
  if (scheme?.toLowerCase() === 'bearer') return value;
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const user = decoded.split(':', 1)[0];
    return user || undefined;
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface RequireApiKeyOptions {
  keys: KeyStore;
  /** Kinds let through; a write key is always refused with 403, since it is public. */
  allow?: readonly KeyKind[];
}

/**
 * Guards the read and admin API: 401 without a valid key, 403 for a key of the wrong kind. Read keys
 * only read (GET); changing anything takes an admin key.
 */
export function requireApiKey(options: RequireApiKeyOptions) {
  const { keys, allow } = { allow: ['read', 'admin'] as const, ...options } satisfies Required<RequireApiKeyOptions>;
  return createMiddleware<AuthEnv>(async function requireApiKeyMiddleware(c, next) {
    const secret = keyFromAuthorization(c.req.header('authorization'));
    if (!secret) throw unauthorized('Authorization: Bearer <api key> is required');
    // A change is authorized against the database itself: a key revoked anywhere a moment ago makes none.
    const key = await keys.resolve(secret, { fresh: !SAFE_METHODS.has(c.req.method) });
    if (!key) throw unauthorized('The key is not valid');
    if (key.kind === 'write') throw new HttpError(403, 'forbidden', 'A write key can only send events');
    if (!allow.includes(key.kind))
      throw new HttpError(403, 'forbidden', `This endpoint needs a ${allow.join(' or ')} key`);
    if (key.kind === 'read' && !SAFE_METHODS.has(c.req.method)) {
      throw new HttpError(403, 'forbidden', 'A read key can only read; changes need an admin key');
    }
    c.set('key', key);
    await next();
  });
}
