import { createRoute, z } from '@hono/zod-openapi';
import {
  ComputedEngagementTraits,
  Customer360,
  CustomerIdParam,
  CustomerRef,
  EngagementScore,
  ErrorBody,
  LifetimeValue,
} from '@tributary/spec';
import type { Db } from '../db/client';
import type { Metrics } from '../http/metrics';
import { timed } from '../http/metrics';
import { cdpRouter, jsonContent } from '../http/openapi-app';
import type { Keyring } from '../privacy/encryption';
import { requireProfilingConsent } from '../privacy/profiling-consent';
import { customerRef } from './customer-ref';
import { customer360, recomputeEngagement, recomputeLifetimeValue } from './customer360';
import { writeEngagementTraits } from './engagement-traits';
import type { PopulationModelCache } from './lifetime-value';
import { requireCustomer } from './require-customer';
import type { SegmentRefresher } from './segment-refresh';

const notFound = jsonContent(ErrorBody, 'Unknown customer');
const badId = jsonContent(ErrorBody, 'Invalid customer ID');

const viewRoute = createRoute({
  method: 'get',
  path: '/customer360/{customerId}',
  tags: ['Customer 360'],
  summary: 'The Customer 360 view',
  description:
    'Customer, profile, identities, current traits, segments, consents, engagement score, lifetime value, recent events and journey steps. Scores, lifetime value and journey are recomputed when older than 15 minutes or than the newest event.',
  request: { params: CustomerIdParam },
  responses: { 200: jsonContent(Customer360, 'The view'), 400: badId, 404: notFound },
});

const engagementRoute = createRoute({
  method: 'post',
  path: '/customer360/{customerId}/compute-engagement',
  tags: ['Customer 360'],
  summary: 'Recompute the engagement score (and the journey steps)',
  request: { params: CustomerIdParam },
  responses: {
    200: jsonContent(z.object({ ...CustomerRef, engagementScore: EngagementScore }), 'The fresh score'),
    400: badId,
    404: notFound,
  },
});

const ltvRoute = createRoute({
  method: 'post',
  path: '/customer360/{customerId}/compute-ltv',
  tags: ['Customer 360'],
  summary: 'Recompute the lifetime value (BG/NBD + Gamma-Gamma)',
  request: { params: CustomerIdParam },
  responses: {
    200: jsonContent(z.object({ ...CustomerRef, lifetimeValue: LifetimeValue }), 'The fresh lifetime value'),
    400: badId,
    404: notFound,
  },
});

const engagementTraitsRoute = createRoute({
  method: 'post',
  path: '/traits/{customerId}/compute-engagement',
  tags: ['Traits'],
  summary: 'Write computed ENGAGEMENT traits from a fresh engagement score',
  request: { params: CustomerIdParam },
  responses: { 200: jsonContent(ComputedEngagementTraits, 'The traits written'), 400: badId, 404: notFound },
});

export interface Customer360RoutesDeps {
  db: Db;
  models: PopulationModelCache;
  metrics: Metrics;
  refresher: SegmentRefresher;
  keyring: Keyring;
}

/** The product spec's Customer 360 endpoints, and the computed engagement traits. */
export function customer360Routes(deps: Customer360RoutesDeps) {
  const { db, metrics, refresher } = deps;
  return cdpRouter()
    .openapi(viewRoute, async (c) => {
      const end = metrics.customer360.startTimer();
      try {
        return c.json(await customer360(deps, c.req.valid('param').customerId), 200);
      } finally {
        end();
      }
    })
    .openapi(engagementRoute, async (c) => {
      const customer = await requireCustomer(db, c.req.valid('param').customerId);
      await requireProfilingConsent(db, customer.id);
      const { score } = await recomputeEngagement(deps, customer.id);
      refresher.touchCustomer(customer.id);
      return c.json({ ...customerRef(customer), engagementScore: score }, 200);
    })
    .openapi(ltvRoute, async (c) => {
      const customer = await requireCustomer(db, c.req.valid('param').customerId);
      await requireProfilingConsent(db, customer.id);
      const lifetimeValue = await recomputeLifetimeValue(deps, customer);
      refresher.touchCustomer(customer.id);
      return c.json({ ...customerRef(customer), lifetimeValue }, 200);
    })
    .openapi(engagementTraitsRoute, async (c) => {
      const customer = await requireCustomer(db, c.req.valid('param').customerId);
      await requireProfilingConsent(db, customer.id);
      const now = new Date();
      const result = await timed(metrics, 'engagement_traits', async () => {
        const { score, inputs } = await recomputeEngagement(deps, customer.id, now);
        const traits = await writeEngagementTraits(db, deps.keyring, customer.id, score, inputs, now);
        return { score, traits };
      });
      refresher.touchCustomer(customer.id);
      return c.json({ ...customerRef(customer), traits: result.traits, engagementScore: result.score }, 200);
    });
}
