import { OpenAPIHono } from '@hono/zod-openapi';
import { cors } from 'hono/cors';
import type { Config } from './config';
import type { Database } from './db/client';
import { eventsRoutes } from './events/events-routes';
import { type AuthEnv, requireApiKey } from './http/auth';
import { errorResponse, HttpError } from './http/errors';
import { BatchWriter } from './ingest/batch-writer';
import { trackingRoutes } from './ingest/tracking-routes';
import { KeyStore } from './privacy/keys';

export interface AppDeps {
  database: Database;
  config: Config;
}

/** The collector as a Hono app: no process globals, so tests build as many as they like. */
export function createApp({ database, config }: AppDeps) {
  const { db } = database;
  const keys = new KeyStore(db, config);
  const writer = new BatchWriter(db, { defaultPhoneCountry: config.DEFAULT_PHONE_COUNTRY });

  const app = new OpenAPIHono<AuthEnv>();
  app.onError(errorResponse);
  app.notFound(() => {
    throw new HttpError(404, 'not_found', 'No such endpoint');
  });

  // Browsers send events from any site that embeds the SDK; credentials are the write key, not cookies.
  app.use('/v1/*', cors({ origin: '*', allowHeaders: ['Content-Type', 'Authorization'], maxAge: 86400 }));
  app.route('/v1', trackingRoutes({ keys, writer }));

  const cdp = new OpenAPIHono<AuthEnv>();
  cdp.use('*', requireApiKey({ keys }));
  cdp.route('/', eventsRoutes({ db, writer }));
  app.route('/api/v1/cdp', cdp);

  app.get('/health', (c) => c.json({ status: 'ok', database: database.kind }));

  return Object.assign(app, { keys, writer });
}

export type App = ReturnType<typeof createApp>;
