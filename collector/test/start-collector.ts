import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { sql } from 'drizzle-orm';
import { type App, createApp } from '../src/app';
import { type Config, testConfig } from '../src/config';
import { type Database, openPglite, openPostgres } from '../src/db/client';
import { API_KEY, WRITE_KEY } from './harness';

export interface RunningCollector {
  /** `http://127.0.0.1:<port>` */
  url: string;
  app: App;
  database: Database;
  writeKey: string;
  apiKey: string;
  /** Raw SQL for assertions (`select count(*) ...`); rows as objects, whichever driver. */
  query<T = Record<string, unknown>>(text: string): Promise<T[]>;
  /** A request to the read/admin API with the API key, answering its JSON. */
  api<T = unknown>(path: string): Promise<T>;
  close(): Promise<void>;
}

/**
 * The real collector on a real socket (an ephemeral port), on a fresh in-memory PGlite unless a
 * database is given: for SDK tests, browser tests and examples that talk HTTP to it.
 *
 * @example
 * const collector = await startCollector(); ... await collector.close();
 */
export async function startCollector(
  options: { database?: Database; port?: number; config?: Partial<Config> } = {},
): Promise<RunningCollector> {
  const database = options.database ?? (await openPglite());
  await database.migrate();
  const app = createApp({
    database,
    // Every caller of a test collector is 127.0.0.1: one address sending as a whole site does.
    config: testConfig({
      WRITE_KEYS: [WRITE_KEY],
      API_KEYS: [API_KEY],
      RATE_LIMIT_PER_IP_PER_SECOND: 100_000,
      ...options.config,
    }),
  });
  const server = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    app,
    database,
    writeKey: WRITE_KEY,
    apiKey: API_KEY,
    async query<T>(text: string) {
      await app.writer.idle();
      const result = (await database.db.execute(sql.raw(text))) as unknown as T[] | { rows: T[] };
      return Array.isArray(result) ? result : result.rows;
    },
    async api<T>(path: string) {
      const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${API_KEY}` } });
      if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    async close() {
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.writer.idle();
      app.refresher?.close();
      await app.audit.flush();
      await app.rateLimits.close();
      await database.close();
    },
  };
}

export { openPglite, openPostgres };
