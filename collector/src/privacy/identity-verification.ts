import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The signature a site's backend computes for a userId (HMAC-SHA256, hex), so a browser identify can
 * prove the backend vouched for it. The Node SDK exposes the same computation.
 */
export const userHash = (secret: string, userId: string) => createHmac('sha256', secret).update(userId).digest('hex');

/** Whether `hash` is the signature of `userId` under `secret`, compared in constant time. */
export function verifyUserHash(secret: string, userId: string, hash: unknown): boolean {
  if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/i.test(hash)) return false;
  return timingSafeEqual(Buffer.from(userHash(secret, userId), 'hex'), Buffer.from(hash, 'hex'));
}
