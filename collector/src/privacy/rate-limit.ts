import { createMiddleware } from 'hono/factory';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { AuthEnv } from '../http/auth';
import { HttpError } from '../http/errors';

export interface RateLimitOptions {
  /** Requests per second allowed to one key. */
  perSecond?: number;
}

/**
 * Per-key rate limit: 429 with Retry-After once a key exceeds its requests per second. It needs the
 * key, so it runs after authentication; it is per process, which is what a single collector needs.
 */
export function rateLimit(options: RateLimitOptions = {}) {
  const { perSecond } = { perSecond: 1000, ...options } satisfies Required<RateLimitOptions>;
  const limiter = new RateLimiterMemory({ points: perSecond, duration: 1 });

  /** Consumes one request of the key's budget or throws the 429. */
  async function consume(keyId: string) {
    try {
      await limiter.consume(keyId);
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) throw e;
      const seconds = Math.max(1, Math.ceil(e.msBeforeNext / 1000));
      throw new HttpError(429, 'rate_limited', `Too many requests for this key; retry in ${seconds} s`, undefined, {
        'Retry-After': String(seconds),
      });
    }
  }

  const middleware = createMiddleware<AuthEnv>(async function rateLimitMiddleware(c, next) {
    await consume(c.get('key').id);
    await next();
  });
  return { consume, middleware };
}
