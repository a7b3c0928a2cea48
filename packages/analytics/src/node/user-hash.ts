import { createHmac } from 'node:crypto';

/**
 * The identity-verification signature of a userId: hex HMAC-SHA256 under the write key's
 * verification secret. Compute it on your backend (the secret must never reach a browser) and pass
 * it as `context.userHash` with identify, from the browser or from Node.
 *
 * @example
 * import { userHash } from '@tributary/analytics/node';
 * const hash = userHash(process.env.TRIBUTARY_VERIFICATION_SECRET!, user.id);
 * // browser: analytics.identify(user.id, traits, { context: { userHash: hash } })
 */
export function userHash(secret: string, userId: string): string {
  return createHmac('sha256', secret).update(userId).digest('hex');
}
