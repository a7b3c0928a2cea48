import { OpenAPIHono } from '@hono/zod-openapi';
import { cors } from 'hono/cors';
import type { Config } from './config';
import type { Database } from './db/client';
import { eventsRoutes } from './events/events-routes';
import { type AuthEnv, requireApiKey } from './http/auth';
import { boundedBody } from './http/bounded-body';
import { errorResponse, HttpError } from './http/errors';
import { countResolutions, createMetrics, metricsRoutes } from './http/metrics';
import { docsPage, openApiDocument } from './http/openapi-doc';
import { sdkRoute } from './http/sdk-route';
import { identitiesRoutes } from './identity/identities-routes';
import { BatchWriter } from './ingest/batch-writer';
import { trackingRoutes } from './ingest/tracking-routes';
import { adminRoutes } from './privacy/admin-routes';
import { AuditTrail } from './privacy/audit-trail';
import type { Keyring } from './privacy/encryption';
import { loadKeyring } from './privacy/keyring';
import { KeyStore } from './privacy/keys';
import { rateLimit } from './privacy/rate-limit';
import { SuppressionList } from './privacy/suppression-list';
import { consentsRoutes } from './profiles/consents-routes';
import { customer360Routes } from './profiles/customer360-routes';
import { consentAtIngestion } from './profiles/ingestion-consent';
import { PopulationModelCache } from './profiles/lifetime-value';
import { refreshAfterWrites, SegmentRefresher } from './profiles/segment-refresh';
import { segmentsRoutes } from './profiles/segments-routes';
import { traitsRoutes } from './profiles/traits-routes';

export interface AppDeps {
  database: Database;
  config: Config;
  /** Encryption keys; by default from the config (or DATA_DIR/secrets.json). */
  keyring?: Keyring;
  /** Where the audit trail journals entries until they are in the database (the server sets it). */
  auditJournalPath?: string;
}

/** The collector as a Hono app: no process globals, so tests build as many as they like. */
export function createApp({ database, config, keyring = loadKeyring(config), auditJournalPath }: AppDeps) {
  const { db } = database;
  const keys = new KeyStore(db, config, keyring);
  const metrics = createMetrics();
  const audit = new AuditTrail(db, auditJournalPath ? { journalPath: auditJournalPath } : {});
  const suppressions = new SuppressionList(db, keyring);
  const limiter = rateLimit({ perSecond: config.RATE_LIMIT_PER_SECOND });
  // Rule segments follow ingested data: a committed flush names the identifiers, the refresher evaluates later.
  const refresher = new SegmentRefresher(db);
  const consent = consentAtIngestion();
  const writer = new BatchWriter(db, {
    onCommitted: (batches) => refresher.touchBatches(batches),
    keyring,
    defaultPhoneCountry: config.DEFAULT_PHONE_COUNTRY,
    concurrency: database.kind === 'postgres' ? 2 : 1,
    selectDropped: async (db, flush) => {
      const dropped = await consent.selectDropped(db, flush);
      if (dropped.size) metrics.eventsDropped.inc({ reason: 'consent' }, dropped.size);
      return dropped;
    },
    onLinked: (_link, customerId) =>
      metrics.identityResolution.inc({ operation: 'stitch', outcome: customerId ? 'linked' : 'none' }),
  });
  writer.addHook(consent.recordConsent);
  const models = new PopulationModelCache();

  const app = new OpenAPIHono<AuthEnv>();
  app.onError(errorResponse);
  app.notFound(() => {
    throw new HttpError(404, 'not_found', 'No such endpoint');
  });

  // Browsers send events from any site that embeds the SDK; credentials are the write key, not cookies.
  const corsOrigin = '*';
  const corsExposed = ['Retry-After'];
  const trackingCors = cors({
    origin: corsOrigin,
    allowHeaders: ['Content-Type', 'Authorization'],
    exposeHeaders: corsExposed,
    maxAge: 86400,
  });
  // hono's cors answers preflights; on the requests themselves it sets its headers on `c.res`, which
  // makes every answer a full web Response that @hono/node-server then copies header by header (about
  // a twentieth of the main thread under load). Set through `c.header`, the same two headers stay in
  // the plain object hono's own answers, errors included, are built with.
  app.use('/v1/*', async (c, next) => {
    if (c.req.method === 'OPTIONS') return trackingCors(c, next);
    c.header('Access-Control-Allow-Origin', corsOrigin);
    c.header('Access-Control-Expose-Headers', corsExposed.join(','));
    await next();
  });
  app.route(
    '/v1',
    trackingRoutes({
      keys,
      writer,
      keyring,
      rateLimit: limiter.consume,
      ipMode: config.IP_MODE,
      suppressions,
      onDropped: (n, reason) => metrics.eventsDropped.inc({ reason }, n),
      onAccepted: (count, startedAt) => {
        metrics.eventsAccepted.inc(count);
        metrics.eventProcessing.observe((performance.now() - startedAt) / 1000);
      },
    }),
  );

  // Bodies of the CDP and admin API: at most 1 MB, JSON within bounded-json's limits.
  const apiBody = boundedBody({ maxBytes: 1024 * 1024 });
  const cdp = new OpenAPIHono<AuthEnv>();
  cdp.use('*', requireApiKey({ keys }));
  cdp.use('*', limiter.middleware);
  cdp.use('*', audit.middleware());
  cdp.use('*', apiBody);
  cdp.use('*', refreshAfterWrites(refresher));
  cdp.use('/identity/resolve', countResolutions(metrics));
  cdp.route('/', eventsRoutes({ db, writer, keyring }));
  cdp.route('/', identitiesRoutes({ db, defaultPhoneCountry: config.DEFAULT_PHONE_COUNTRY, keyring }));
  cdp.route('/', customer360Routes({ db, models, metrics, refresher, keyring }));
  cdp.route('/', segmentsRoutes({ db, refresher, keyring }));
  cdp.route('/', traitsRoutes({ db, keyring }));
  cdp.route('/', consentsRoutes({ db }));
  app.route('/api/v1/cdp', cdp);

  const admin = new OpenAPIHono<AuthEnv>();
  admin.use('*', requireApiKey({ keys, allow: ['admin'] }));
  admin.use('*', limiter.middleware);
  admin.use('*', audit.middleware());
  admin.use('*', apiBody);
  admin.route('/', adminRoutes({ db, keys, keyring, audit, suppressions }));
  app.route('/api/v1/admin', admin);

  app.route('/', sdkRoute());
  app.get('/health', (c) => c.json({ status: 'ok', database: database.kind }));
  app.route('/', metricsRoutes(metrics));
  openApiDocument(app);
  docsPage(app);

  return Object.assign(app, { keys, keyring, audit, suppressions, writer, metrics, refresher, models });
}

export type App = ReturnType<typeof createApp>;
