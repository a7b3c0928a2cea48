import { afterAll, beforeAll } from 'vitest';
import { type App, createApp } from '../src/app';
import { type Config, testConfig } from '../src/config';
import type { Database } from '../src/db/client';
import type { TestDatabase } from './databases';

export const WRITE_KEY = 'wk_test_write_key_24chars';
export const API_KEY = 'sk_test_api_key_1_24chars';

/** Response bodies in tests: read loosely, then asserted on. */
// biome-ignore lint/suspicious/noExplicitAny: a test asserts on the body's shape instead of declaring it
export type Json = any;
export type JsonResponse = Omit<Response, 'json'> & { json(): Promise<Json> };

export interface Harness {
  app: App;
  database: Database;
  /** A JSON request to the app in-process, with the API key unless `auth` says otherwise. */
  call(method: string, path: string, body?: unknown, auth?: string | null): Promise<JsonResponse>;
  /** `POST /v1/<path>` with the write key as Basic auth, as Segment's libraries send it. */
  send(path: string, body: unknown): Promise<JsonResponse>;
}

/** Basic auth with a key as username and no password, as Segment's libraries send the write key. */
export const basicAuth = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

/** A request to `/api/v1/cdp<path>` with the API key, answering its status and parsed body. */
export async function callCdp(h: Harness, method: string, path: string, body?: unknown) {
  const res = await h.call(method, `/api/v1/cdp${path}`, body);
  return { status: res.status, body: await res.json() };
}

/** Builds an app on a fresh database for the enclosing describe block. */
export function useApp(db: TestDatabase, overrides: Partial<Config> = {}): Harness {
  const h = {} as Harness;
  beforeAll(async () => {
    h.database = await db.open();
    h.app = createApp({
      database: h.database,
      config: testConfig({ WRITE_KEYS: [WRITE_KEY], API_KEYS: [API_KEY], ...overrides }),
    });
    h.call = (method, path, body, auth = `Bearer ${API_KEY}`) =>
      Promise.resolve(
        h.app.request(path, {
          method,
          headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
          ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
        }),
      );
    h.send = (path, body) => h.call('POST', `/v1/${path}`, body, basicAuth(WRITE_KEY));
  });
  afterAll(async () => {
    await h.app?.writer.idle();
    await h.app?.audit.flush();
    // Background segment evaluation must finish before its database goes away.
    await h.app?.refresher.idle();
    h.app?.refresher.close();
    await h.database?.close();
  });
  return h;
}
