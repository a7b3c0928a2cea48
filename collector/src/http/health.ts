import type { MiddlewareHandler } from 'hono';
import { Hono } from 'hono';
import type { Database } from '../db/client';
import { type DatabaseHealth, DatabaseUnavailableError } from '../db/database-health';
import { RETRY_AFTER_SECONDS } from './errors';

const unavailable = () => new DatabaseUnavailableError('The database is unreachable');

/** Throws the 503 while the database is known to be down (a property read when it is up). */
export function assertDatabaseAvailable(health: DatabaseHealth): void {
  if (!health.available) throw unavailable();
}

/**
 * Probes:
 * - `/health/live`: the process answers (a liveness probe: restarting cannot bring a database back);
 * - `/health/ready`: the database answers a ping (PostgreSQL: the health monitor's, at most a second
 *   old; PGlite: one now, within 2 s): 200, or 503 with `Retry-After` while it does not (a readiness
 *   probe takes the collector out of rotation);
 * - `/health`: as before, 200 whenever the process answers (so a liveness check pointed at it does not
 *   restart collectors during a database outage), its body now saying what the database does:
 *   `status` is `ok`, or `degraded` while the database is away.
 *
 * @example
 * curl localhost:3002/health/ready  # {"status":"ok","database":"postgres","databaseState":"up","latencyMs":0.4,...}
 */
export function healthRoutes(database: Pick<Database, 'kind' | 'health'>) {
  const report = async () => {
    const { state, ...rest } = await database.health.check();
    return { database: database.kind, databaseState: state, ...rest };
  };
  return new Hono()
    .get('/health/live', (c) => c.json({ status: 'ok' }))
    .get('/health/ready', async (c) => {
      const body = await report();
      if (body.databaseState === 'up') return c.json({ status: 'ok', ...body });
      c.header('Retry-After', String(RETRY_AFTER_SECONDS));
      const error = { code: 'database_unavailable', message: 'The database does not answer.' };
      return c.json({ status: 'unavailable', ...body, error }, 503);
    })
    .get('/health', async (c) => {
      const body = await report();
      return c.json({ status: body.databaseState === 'up' ? 'ok' : 'degraded', ...body });
    });
}

/**
 * Answers 503 (with `Retry-After`) at once while the database is known to be down, instead of letting
 * a request wait for a connection that cannot come; a request already running when the database goes
 * down is answered 503 then too (its queries fail on their own only once their connections are given
 * up); a write it made may still commit, as with any timeout. Ingestion uses `assertDatabaseAvailable`
 * alone: the batch writer fails its waiting writes itself, at no cost per request.
 */
export function requireDatabase(health: DatabaseHealth): MiddlewareHandler {
  return async function requireDatabase(_c, next) {
    assertDatabaseAvailable(health);
    let stopWatching = () => {};
    const outage = new Promise<never>((_, reject) => {
      stopWatching = health.onDown(() => reject(unavailable()));
    });
    try {
      await Promise.race([next(), outage]);
    } finally {
      stopWatching();
    }
  };
}
