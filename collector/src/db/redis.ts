import { Redis } from 'ioredis';

/** How long a command may wait for its reply; Redis answers in well under a millisecond. */
const COMMAND_TIMEOUT_MS = 100;
/** How long a connection with commands waiting may stay silent before it is dropped and reopened. */
const SOCKET_TIMEOUT_MS = 1_000;
const CONNECT_TIMEOUT_MS = 1_000;

/** Where Redis is, for logs: never its password. */
const whereIs = (url: string) => {
  const { protocol, host } = new URL(url);
  return `${protocol}//${host}`;
};

/**
 * A Redis client for work that must never wait on Redis (the rate limits, which have their own
 * fallback): while Redis is unreachable a command fails at once instead of queueing (no offline
 * queue, no retry per request); a reply is awaited at most 100 ms; a connection that goes silent
 * (a black-holed network, which reports no error) is dropped after a second and reopened. It
 * reconnects by itself, with backoff, for as long as the process lives. Outages are logged once
 * each, not once per attempt.
 */
export function openRedis(url: string, log: Pick<Console, 'log' | 'error'> = console): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: COMMAND_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
  });
  let down = false;
  redis.on('error', (e: Error) => {
    if (down) return;
    down = true;
    log.error(`Redis at ${whereIs(url)} is unreachable (${e.message}); going on without it until it is back`);
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    log.log(`Redis at ${whereIs(url)} is reachable again`);
  });
  return redis;
}

/** Closes a client without waiting on a Redis that does not answer: QUIT for a second at most. */
export async function closeRedis(redis: Redis): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    redis.quit().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 1_000);
    }),
  ]);
  clearTimeout(timer);
  redis.disconnect();
}
