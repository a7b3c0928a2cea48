import { OpenAPIHono } from '@hono/zod-openapi';
import { cors } from 'hono/cors';
import type { Config } from './config';
import type { Database } from './db/client';
import { DatabaseUnavailableError } from './db/database-health';
import { scrubDeletedRows } from './db/scrub-deleted-rows';
import { eventsRoutes } from './events/events-routes';
import { type AuthEnv, requireApiKey } from './http/auth';
import { boundedBody } from './http/bounded-body';
import { errorResponse, HttpError } from './http/errors';
import { assertDatabaseAvailable, healthRoutes, requireDatabase } from './http/health';
import { countResolutions, createMetrics, metricsRoutes } from './http/metrics';
import { docsPage, openApiDocument } from './http/openapi-doc';
import { prefixedPath } from './http/path-prefix';
import { SDK_PATH, sdkRoute } from './http/sdk-route';
import { identitiesRoutes } from './identity/identities-routes';
import { anonymousIdCookie } from './ingest/anonymous-id-cookie';
import { BatchWriter } from './ingest/batch-writer';
import { TRACKING_PATHS, trackingRoutes } from './ingest/tracking-routes';
import { adminRoutes } from './privacy/admin-routes';
import { AuditTrail } from './privacy/audit-trail';
import { blindIndex, type Keyring } from './privacy/encryption';
import { loadKeyring } from './privacy/keyring';
import { KeyStore } from './privacy/keys';
import { rateLimit } from './privacy/rate-limit';
import { followRevocations, type RevocationChange, type RevocationFeedOptions } from './privacy/revocation-feed';
import { SuppressionList } from './privacy/suppression-list';
import { consentsRoutes } from './profiles/consents-routes';
import { customer360Routes } from './profiles/customer360-routes';
import { consentAtIngestion } from './profiles/ingestion-consent';
import { PopulationModelCache } from './profiles/lifetime-value';
import { refreshAfterWrites, SegmentRefresher } from './profiles/segment-refresh';
import { segmentsRoutes } from './profiles/segments-routes';
import { traitsRoutes } from './profiles/traits-routes';

/**
 * How long an ingestion request waits for its rows to be committed on PostgreSQL before it is
 * answered 503 (the rows may still commit; the retry is then harmless): under the SDKs' 10 s timeout.
 */
const WRITE_DEADLINE_MS = 8000;

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
  const audit = new AuditTrail(db, { keyring, ...(auditJournalPath ? { journalPath: auditJournalPath } : {}) });
  const suppressions = new SuppressionList(db, keyring);
  const rateLimits = rateLimit({
    perSecond: config.RATE_LIMIT_PER_SECOND,
    perIpPerSecond: config.RATE_LIMIT_PER_IP_PER_SECOND,
    redisUrl: config.REDIS_URL,
    keyPrefix: config.REDIS_KEY_PREFIX,
    pseudonymize: (bucket) => blindIndex(keyring, 'rate-limit-ip', bucket),
  });
  // Rule segments follow ingested data: a committed flush names the identifiers, the refresher evaluates later.
  const refresher = new SegmentRefresher(db);
  const consent = consentAtIngestion();
  const writer = new BatchWriter(db, {
    onCommitted: (batches) => refresher.touchBatches(batches),
    keyring,
    defaultPhoneCountry: config.DEFAULT_PHONE_COUNTRY,
    concurrency: database.kind === 'postgres' ? 2 : 1,
    // A write waits for a database over the network at most this long; PGlite's wait is this process's own work.
    ...(database.kind === 'postgres' ? { deadlineMs: WRITE_DEADLINE_MS } : {}),
    available: () => database.health.available,
    selectDropped: async (db, flush) => {
      const dropped = await consent.selectDropped(db, flush);
      if (dropped.size) metrics.eventsDropped.inc({ reason: 'consent' }, dropped.size);
      return dropped;
    },
    onLinked: (_link, customerId) =>
      metrics.identityResolution.inc({ operation: 'stitch', outcome: customerId ? 'linked' : 'none' }),
  });
  writer.addHook(consent.recordConsent);
  database.health.onDown(() => writer.failPending(new DatabaseUnavailableError('The database became unreachable')));
  const models = new PopulationModelCache();
  // What this process keeps a copy of, brought up to date when any process changes it.
  const refresh = (change: RevocationChange) => {
    if (change === 'keys') return keys.invalidate();
    if (change === 'suppressions') return suppressions.reload();
    return writer.forgetLinks();
  };

  const getPath = prefixedPath(config.PATH_PREFIX);
  const app = new OpenAPIHono<AuthEnv>(getPath ? { getPath } : {});
  app.onError(errorResponse);
  app.notFound(() => {
    throw new HttpError(404, 'not_found', 'No such endpoint');
  });

  // Browsers send events from any site that embeds a tracking library; credentials are the write key,
  // not cookies. The preflight allows whatever headers the library asks for: analytics.js adds
  // X-Retry-Count to its retries and RudderStack sends AnonymousId, and a refused preflight loses the
  // event in the browser, where nobody sees the error. The tracking API reads no header it does not expect.
  const corsOrigin = '*';
  const corsExposed = ['Retry-After'];
  const trackingCors = cors({ origin: corsOrigin, exposeHeaders: corsExposed, maxAge: 86400 });
  // hono's cors answers preflights; on the requests themselves it sets its headers on `c.res`, which
  // makes every answer a full web Response that @hono/node-server then copies header by header (about
  // a twentieth of the main thread under load). Set through `c.header`, the same two headers stay in
  // the plain object hono's own answers, errors included, are built with.
  for (const path of TRACKING_PATHS) {
    app.use(path, async (c, next) => {
      if (c.req.method === 'OPTIONS') return trackingCors(c, next);
      c.header('Access-Control-Allow-Origin', corsOrigin);
      c.header('Access-Control-Expose-Headers', corsExposed.join(','));
      assertDatabaseAvailable(database.health);
      await next();
    });
  }
  const cookie = config.ANONYMOUS_ID_COOKIE
    ? anonymousIdCookie({ name: config.ANONYMOUS_ID_COOKIE, domain: config.ANONYMOUS_ID_COOKIE_DOMAIN })
    : undefined;
  if (cookie) {
    for (const path of TRACKING_PATHS) app.post(path, cookie.refresh);
    app.get(SDK_PATH, cookie.mint);
  }
  // The CDP and admin APIs answer no browser on another site unless the setting names its origin: their
  // keys are secrets, which belong on servers.
  if (config.API_ALLOWED_ORIGINS.length) {
    app.use(
      '/api/*',
      cors({ origin: config.API_ALLOWED_ORIGINS, allowHeaders: ['Authorization', 'Content-Type'], maxAge: 600 }),
    );
  }
  // Reads and admin writes fail at once while the database is down, and when it goes down under them.
  app.use('/api/*', requireDatabase(database.health));
  app.route(
    '/',
    trackingRoutes({
      keys,
      writer,
      keyring,
      trustProxy: config.TRUST_PROXY,
      rateLimit: rateLimits.consume,
      rateLimitIp: rateLimits.consumeIp,
      ipMode: config.IP_MODE,
      defaultPhoneCountry: config.DEFAULT_PHONE_COUNTRY,
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
  cdp.use('*', rateLimits.middleware);
  cdp.use('*', audit.middleware());
  cdp.use('*', apiBody);
  cdp.use('*', refreshAfterWrites(refresher));
  cdp.use('/identity/resolve', countResolutions(metrics));
  cdp.route(
    '/',
    eventsRoutes({
      db,
      writer,
      keyring,
      suppressions,
      defaultPhoneCountry: config.DEFAULT_PHONE_COUNTRY,
      ipMode: config.IP_MODE,
    }),
  );
  cdp.route('/', identitiesRoutes({ db, defaultPhoneCountry: config.DEFAULT_PHONE_COUNTRY, keyring }));
  cdp.route('/', customer360Routes({ db, models, metrics, refresher, keyring }));
  cdp.route('/', segmentsRoutes({ db, refresher, keyring }));
  cdp.route('/', traitsRoutes({ db, keyring }));
  cdp.route('/', consentsRoutes({ db, keyring, ipMode: config.IP_MODE }));
  app.route('/api/v1/cdp', cdp);

  const admin = new OpenAPIHono<AuthEnv>();
  admin.use('*', requireApiKey({ keys, allow: ['admin'] }));
  admin.use('*', rateLimits.middleware);
  admin.use('*', audit.middleware());
  admin.use('*', apiBody);
  const scrub = (tables: readonly string[]) => scrubDeletedRows(database, tables);
  const defaultPhoneCountry = config.DEFAULT_PHONE_COUNTRY;
  admin.route('/', adminRoutes({ db, keys, keyring, audit, refresh, scrub, defaultPhoneCountry }));
  app.route('/api/v1/admin', admin);

  app.route('/', sdkRoute({ revalidate: cookie !== undefined }));
  app.route('/', healthRoutes(database));
  // Metrics tell how busy the collector is and how often lookups hit: a read or admin key, as Prometheus sends it.
  app.use('/metrics', requireApiKey({ keys }));
  app.route('/', metricsRoutes(metrics));
  openApiDocument(app);
  docsPage(app);

  return Object.assign(app, {
    keys,
    keyring,
    audit,
    suppressions,
    writer,
    metrics,
    refresher,
    models,
    rateLimits,
    /** Keeps this app in step with what other processes on the database revoke, suppress or delete. */
    followRevocations: (options?: RevocationFeedOptions) => followRevocations(database, refresh, options),
  });
}

export type App = ReturnType<typeof createApp>;
