import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/**
 * The collector's Prometheus metrics, in a registry of its own per app (tests build many apps; the
 * global registry would refuse the second registration of a name).
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
  return {
    registry,
    /** Rate with `rate(tributary_events_accepted_total[1m])`. */
    eventsAccepted: new Counter({
      name: 'tributary_events_accepted_total',
      help: 'Events accepted by the tracking API (committed before the answer)',
      registers: [registry],
    }),
    eventProcessing: new Histogram({
      name: 'tributary_event_processing_seconds',
      help: 'Time from receiving a tracking request to its events being committed',
      buckets: latencyBuckets,
      registers: [registry],
    }),
    /** Success rate: hit / (hit + miss) for resolve; linked / (linked + none) for stitching. */
    eventsDropped: new Counter({
      name: 'tributary_events_dropped_total',
      help: 'Events received but not stored: reason suppressed (a regulation) or consent (analytics revoked)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    identityResolution: new Counter({
      name: 'tributary_identity_resolution_total',
      help: 'Identity resolutions: operation resolve (outcome hit|miss) and stitch (outcome linked|none)',
      labelNames: ['operation', 'outcome'] as const,
      registers: [registry],
    }),
    traitComputation: new Histogram({
      name: 'tributary_trait_computation_seconds',
      help: 'Time to compute derived customer data (engagement, lifetime_value, engagement_traits, journey)',
      labelNames: ['kind'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    customer360: new Histogram({
      name: 'tributary_customer360_seconds',
      help: 'Customer 360 view response time',
      buckets: latencyBuckets,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** `GET /metrics` in Prometheus' text format (app.ts puts it behind a read or admin key). */
export function metricsRoutes(metrics: Metrics) {
  return new Hono().get('/metrics', async (c) => {
    c.header('Content-Type', metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });
}

/** Times an async computation into a labelled histogram. */
export async function timed<T>(metrics: Metrics, kind: string, work: () => Promise<T>): Promise<T> {
  const end = metrics.traitComputation.startTimer({ kind });
  try {
    return await work();
  } finally {
    end();
  }
}

/** Counts identity lookups by outcome: a 200 from `/identity/resolve` is a hit, a 404 a miss. */
export function countResolutions(metrics: Metrics) {
  return createMiddleware(async function countResolutionsMiddleware(c, next) {
    await next();
    if (c.res.status === 200) metrics.identityResolution.inc({ operation: 'resolve', outcome: 'hit' });
    else if (c.res.status === 404) metrics.identityResolution.inc({ operation: 'resolve', outcome: 'miss' });
  });
}
