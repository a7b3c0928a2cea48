import { createRoute } from '@hono/zod-openapi';
import {
  CONSENT_TYPES,
  ConsentHistoryQuery,
  ConsentHistoryResponse,
  ConsentListResponse,
  ConsentResponse,
  ConsentTypeParams,
  CustomerIdParam,
  ErrorBody,
  SetConsentBody,
  SetConsentResponse,
} from '@tributary/spec';
import { and, count, desc, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { customerConsentHistory, customerConsents } from '../db/schema';
import { cdpRouter, jsonBody, jsonContent } from '../http/openapi-app';
import { pageInfo, pageOffset } from '../http/pagination';
import type { Keyring } from '../privacy/encryption';
import { applyIpMode, type IpMode } from '../privacy/ip-mode';
import { sealMetadata } from '../privacy/personal-data';
import { toConsentHistoryResponse, toConsentResponse } from './consent-response';
import { applyConsentChanges } from './consents-store';
import { customerRef } from './customer-ref';
import { lockCustomer } from './lock-customer';
import { requireCustomer } from './require-customer';

const tags = ['Consents'];

const setRoute = createRoute({
  method: 'post',
  path: '/consents/{customerId}',
  tags,
  summary: 'Grant or revoke a consent',
  request: {
    params: CustomerIdParam,
    body: jsonBody(SetConsentBody),
  },
  responses: {
    200: jsonContent(SetConsentResponse, 'Recorded, with the history entry it appended'),
    400: jsonContent(ErrorBody, 'Invalid body'),
    404: jsonContent(ErrorBody, 'Unknown customer'),
  },
});

const listRoute = createRoute({
  method: 'get',
  path: '/consents/{customerId}',
  tags,
  summary: 'The current state of every consent type',
  request: { params: CustomerIdParam },
  responses: {
    200: jsonContent(ConsentListResponse, 'One entry per consent type; an expired grant reads as not granted'),
    400: jsonContent(ErrorBody, 'Invalid parameters'),
    404: jsonContent(ErrorBody, 'Unknown customer'),
  },
});

const historyRoute = createRoute({
  method: 'get',
  path: '/consents/{customerId}/history',
  tags,
  summary: 'Every consent change: who, when, from where, and the previous state',
  request: { params: CustomerIdParam, query: ConsentHistoryQuery },
  responses: {
    200: jsonContent(ConsentHistoryResponse, 'A page of changes, newest first'),
    400: jsonContent(ErrorBody, 'Invalid parameters'),
    404: jsonContent(ErrorBody, 'Unknown customer'),
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/consents/{customerId}/{consentType}',
  tags,
  summary: 'The current state of one consent type',
  request: { params: ConsentTypeParams },
  responses: {
    200: jsonContent(ConsentResponse, 'The state (NOT_SET when nothing was recorded)'),
    400: jsonContent(ErrorBody, 'Invalid parameters'),
    404: jsonContent(ErrorBody, 'Unknown customer'),
  },
});

export interface ConsentsRoutesDeps {
  db: Db;
  /** Seals consent metadata, and opens it on read. */
  keyring: Keyring;
  /** What to keep of the IP address a consent was given from (default: all). */
  ipMode?: IpMode;
}

/** The product spec's consent endpoints under `/api/v1/cdp`, plus the history. */
export function consentsRoutes({ db, keyring, ipMode = 'keep' }: ConsentsRoutesDeps) {
  return (
    cdpRouter()
      .openapi(setRoute, async (c) => {
        const { customerId } = c.req.valid('param');
        const b = c.req.valid('json');
        const actor = c.get('key').id;
        const { customer, applied } = await db.transaction(async (tx) => {
          const customer = await lockCustomer(tx, customerId);
          const [applied] = await applyConsentChanges(tx, [
            {
              customerId: customer.id,
              consentType: b.consentType,
              granted: b.granted,
              source: b.source ?? 'api',
              ipAddress: applyIpMode(b.ipAddress ?? null, ipMode),
              expiresAt: b.granted ? (b.expiresAt ?? null) : null,
              metadata: sealMetadata(keyring, b.metadata),
              actor,
              trusted: true,
              at: new Date(),
            },
          ]);
          if (!applied) throw new Error('the consent change was not recorded');
          return { customer, applied };
        });
        return c.json(
          {
            ...customerRef(customer),
            consent: toConsentResponse(b.consentType, applied.consent, keyring),
            change: toConsentHistoryResponse(applied.history, keyring),
          },
          200,
        );
      })
      .openapi(listRoute, async (c) => {
        const { customerId } = c.req.valid('param');
        const customer = await requireCustomer(db, customerId);
        const rows = await db.select().from(customerConsents).where(eq(customerConsents.customerId, customer.id));
        const now = new Date();
        const consents = CONSENT_TYPES.map((type) =>
          toConsentResponse(
            type,
            rows.find((r) => r.consentType === type),
            keyring,
            now,
          ),
        );
        return c.json({ ...customerRef(customer), consents }, 200);
      })
      // Before `/consents/{customerId}/{consentType}`; "history" is no consent type, but the order makes it plain.
      .openapi(historyRoute, async (c) => {
        const { customerId } = c.req.valid('param');
        const q = c.req.valid('query');
        const customer = await requireCustomer(db, customerId);
        const h = customerConsentHistory;
        const where = and(eq(h.customerId, customer.id), q.consentType ? eq(h.consentType, q.consentType) : undefined);
        const [rows, totals] = await Promise.all([
          db.select().from(h).where(where).orderBy(desc(h.createdAt), desc(h.id)).limit(q.limit).offset(pageOffset(q)),
          db.select({ total: count() }).from(h).where(where),
        ]);
        return c.json(
          {
            ...customerRef(customer),
            history: rows.map((h) => toConsentHistoryResponse(h, keyring)),
            pagination: pageInfo(q.page, q.limit, totals[0]?.total ?? 0),
          },
          200,
        );
      })
      .openapi(getRoute, async (c) => {
        const { customerId, consentType } = c.req.valid('param');
        const customer = await requireCustomer(db, customerId);
        const [row] = await db
          .select()
          .from(customerConsents)
          .where(and(eq(customerConsents.customerId, customer.id), eq(customerConsents.consentType, consentType)));
        return c.json({ ...customerRef(customer), consent: toConsentResponse(consentType, row, keyring) }, 200);
      })
  );
}
