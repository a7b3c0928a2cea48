import { connect } from 'node:net';

/**
 * Where the Redis tests run: `TEST_REDIS_URL`, or the local server. Like PostgreSQL, a missing Redis
 * skips them on a developer's machine and is an error under CI.
 */
export const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether Redis answers a PING within a second. */
function redisAnswers(url: URL): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(Number(url.port || 6379), url.hostname);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export const hasRedis = await redisAnswers(new URL(redisUrl));
if (!hasRedis && (process.env.CI || process.env.TEST_REDIS_URL)) {
  throw new Error(`Redis is not reachable at ${redisUrl}; the suite must run on it under CI.`);
}
