import { isIPv4 } from 'node:net';
import { createMiddleware } from 'hono/factory';
import ipaddr from 'ipaddr.js';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { closeRedis, openRedis } from '../db/redis';
import type { AuthEnv } from '../http/auth';
import { HttpError } from '../http/errors';

export interface RateLimitOptions {
  /** Requests per second allowed to one key. */
  perSecond?: number;
  /** Requests per second allowed to one IP address (an IPv6 /64), whatever the key. */
  perIpPerSecond?: number;
  /** Redis shared by every collector process: the budgets are counted there. Unset: per process. */
  redisUrl?: string | undefined;
  /** Prefix of the keys written in Redis. */
  keyPrefix?: string;
  /**
   * What an address's budget is called in Redis: a keyed hash keeps IP addresses out of Redis (and
   * out of its snapshots on disk). By default the address itself.
   */
  pseudonymize?: (bucket: string) => string;
}

/**
 * The budget an IP address counts against: an IPv4 address itself, an IPv6 address's /64 (a
 * single subscriber, or attacker, holds a whole /64); null for what is not an address.
 */
export function ipBucket(ip: string): string | null {
  if (isIPv4(ip)) return ip;
  if (!ipaddr.IPv6.isValid(ip)) return null;
  const address = ipaddr.IPv6.parse(ip);
  if (address.isIPv4MappedAddress()) return address.toIPv4Address().toString();
  return `${address.parts
    .slice(0, 4)
    .map((part) => part.toString(16))
    .join(':')}::/64`;
}

/** The 429 for a spent budget, naming the limit; Retry-After says when the budget is back. */
function tooManyRequests(refusal: RateLimiterRes, limit: string) {
  const seconds = Math.max(1, Math.ceil(refusal.msBeforeNext / 1000));
  return new HttpError(429, 'rate_limited', `${limit}; retry in ${seconds} s`, undefined, {
    'Retry-After': String(seconds),
  });
}

/**
 * Rate limits: per key (every route that takes a key) and per IP address (the public tracking
 * routes, so that one visitor cannot spend a whole site's key). With Redis, every collector process
 * draws on the same budgets; an in-memory insurance limiter answers whenever Redis does not (see
 * db/redis.ts for how long that can take), so a Redis outage makes the limits per process, never
 * fails or holds a request. Without Redis they are per process, which is what a single collector needs.
 */
export function rateLimit(options: RateLimitOptions = {}) {
  const { perSecond, perIpPerSecond, redisUrl, keyPrefix, pseudonymize } = {
    perSecond: 1000,
    perIpPerSecond: 100,
    redisUrl: undefined,
    keyPrefix: 'tributary:',
    pseudonymize: (bucket: string) => bucket,
    ...options,
  } satisfies RateLimitOptions;
  const redis = redisUrl ? openRedis(redisUrl) : null;

  const limiter = (name: string, points: number): RateLimiterAbstract => {
    const memory = new RateLimiterMemory({ points, duration: 1 });
    if (!redis) return memory;
    return new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${keyPrefix}rate-limit:${name}`,
      points,
      duration: 1,
      rejectIfRedisNotReady: true,
      insuranceLimiter: memory,
    });
  };
  const perKey = limiter('key', perSecond);
  const perIp = limiter('ip', perIpPerSecond);

  async function spend(budget: RateLimiterAbstract, key: string, limit: string) {
    try {
      await budget.consume(key);
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) throw e;
      throw tooManyRequests(e, limit);
    }
  }

  /** Consumes one request of the key's budget or throws the 429. */
  const consume = (keyId: string) =>
    spend(perKey, keyId, `Too many requests for this key: more than ${perSecond} per second (RATE_LIMIT_PER_SECOND)`);

  /** Consumes one request of the address's budget or throws the 429; an unknown address is not limited. */
  async function consumeIp(ip: string | null) {
    const bucket = ip && ipBucket(ip);
    if (!bucket) return;
    await spend(
      perIp,
      redis ? pseudonymize(bucket) : bucket,
      `Too many requests from this IP address: more than ${perIpPerSecond} per second (RATE_LIMIT_PER_IP_PER_SECOND)`,
    );
  }

  const middleware = createMiddleware<AuthEnv>(async function rateLimitMiddleware(c, next) {
    await consume(c.get('key').id);
    await next();
  });

  return {
    consume,
    consumeIp,
    middleware,
    /** Whether the budgets are counted in Redis right now (false without Redis, or while it is away). */
    get shared() {
      return redis?.status === 'ready';
    },
    /** Closes the Redis connection, if any. */
    close: async () => {
      if (redis) await closeRedis(redis);
    },
  };
}

export type RateLimits = ReturnType<typeof rateLimit>;
