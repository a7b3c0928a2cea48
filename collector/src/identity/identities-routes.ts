import { createRoute } from '@hono/zod-openapi';
import {
  CreateIdentityBody,
  CustomerIdParam,
  ErrorBody,
  IdentityListResponse,
  IdentityResponse,
  ListIdentitiesQuery,
  MergeCustomersBody,
  MergeCustomersResponse,
  ResolveIdentityQuery,
  ResolveIdentityResponse,
  SetPrimaryIdentityBody,
  VerifyIdentityBody,
} from '@tributary/spec';
import { and, asc, count, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { customerIdentities } from '../db/schema';
import { notFound } from '../http/errors';
import { cdpRouter, jsonBody, jsonContent } from '../http/openapi-app';
import { pageInfo, pageOffset } from '../http/pagination';
import type { Keyring } from '../privacy/encryption';
import { customerRef, toCustomerSummary } from '../profiles/customer-ref';
import { requireCustomer } from '../profiles/require-customer';
import { createIdentity } from './create-identity';
import { findIdentity } from './find-identity';
import { type IdentityRecord, toIdentityResponse } from './identity-response';
import { mergeOnRequest } from './merge-request';
import { parseIdentityValue } from './parse-identity';
import { setPrimaryIdentity } from './primary-identity';
import { verifyIdentity } from './verify-identity';

const tags = ['Identities'];

const mergeRoute = createRoute({
  method: 'post',
  path: '/identities/merge',
  tags,
  summary: 'Merge one customer into another',
  description:
    'Moves identities, traits, consents, segment memberships and journey steps of the source into the target. ' +
    '"merge" keeps the target\'s value where both have one; "replace" lets the source\'s win. ' +
    'The source stays as a pointer to the target.',
  request: { body: jsonBody(MergeCustomersBody) },
  responses: {
    200: jsonContent(MergeCustomersResponse, 'Merged'),
    400: jsonContent(ErrorBody, 'Invalid body'),
    404: jsonContent(ErrorBody, 'Unknown customer'),
    409: jsonContent(ErrorBody, 'Same customer, or one that was merged away'),
  },
});

const createIdentityRoute = createRoute({
  method: 'post',
  path: '/identities/{customerId}',
  tags,
  summary: 'Add an identity to a customer',
  request: { params: CustomerIdParam, body: jsonBody(CreateIdentityBody) },
  responses: {
    200: jsonContent(IdentityResponse, 'The customer already had this identity; its fields were updated'),
    201: jsonContent(IdentityResponse, 'Created'),
    400: jsonContent(ErrorBody, 'Invalid body or identity value'),
    404: jsonContent(ErrorBody, 'Unknown customer'),
    409: jsonContent(ErrorBody, 'Another customer owns this identity'),
  },
});

const listRoute = createRoute({
  method: 'get',
  path: '/identities/{customerId}',
  tags,
  summary: "A customer's identities",
  request: { params: CustomerIdParam, query: ListIdentitiesQuery },
  responses: {
    200: jsonContent(IdentityListResponse, 'A page of identities'),
    400: jsonContent(ErrorBody, 'Invalid parameters'),
    404: jsonContent(ErrorBody, 'Unknown customer'),
  },
});

const resolveRoute = createRoute({
  method: 'get',
  path: '/identity/resolve',
  tags,
  summary: 'The customer an identity belongs to',
  request: { query: ResolveIdentityQuery },
  responses: {
    200: jsonContent(ResolveIdentityResponse, 'The owner'),
    400: jsonContent(ErrorBody, 'Invalid query or identity value'),
    404: jsonContent(ErrorBody, 'No customer has this identity'),
  },
});

const verifyRoute = createRoute({
  method: 'post',
  path: '/identities/{customerId}/verify',
  tags,
  summary: 'Mark an identity verified',
  request: { params: CustomerIdParam, body: jsonBody(VerifyIdentityBody) },
  responses: {
    200: jsonContent(IdentityResponse, 'Verified'),
    400: jsonContent(ErrorBody, 'Invalid body'),
    404: jsonContent(ErrorBody, 'Unknown customer or identity'),
  },
});

const setPrimaryRoute = createRoute({
  method: 'post',
  path: '/identities/{customerId}/set-primary',
  tags,
  summary: "Make an identity the customer's primary one of its type",
  request: { params: CustomerIdParam, body: jsonBody(SetPrimaryIdentityBody) },
  responses: {
    200: jsonContent(IdentityResponse, 'Now primary'),
    400: jsonContent(ErrorBody, 'Invalid body'),
    404: jsonContent(ErrorBody, 'Unknown customer or identity'),
  },
});

/** The product spec's identity endpoints under `/api/v1/cdp`. */
export function identitiesRoutes({
  db,
  defaultPhoneCountry,
  keyring,
}: {
  db: Db;
  defaultPhoneCountry: string;
  /** Identity values and customer fields are sealed at rest; answers open them. */
  keyring: Keyring;
}) {
  const options = { defaultPhoneCountry, keyring };
  const identityResponse = (i: IdentityRecord) => toIdentityResponse(i, keyring);
  return (
    cdpRouter()
      // Before `/identities/{customerId}`, which would otherwise take "merge" for a customer ID.
      .openapi(mergeRoute, async (c) => {
        const { merge, customer } = await mergeOnRequest(db, c.req.valid('json'), c.get('key').id);
        return c.json(
          {
            success: true as const,
            merge: {
              id: merge.id,
              sourceCustomerId: merge.sourceCustomerId,
              targetCustomerId: merge.targetCustomerId,
              mergeStrategy: merge.strategy === 'replace' ? ('replace' as const) : ('merge' as const),
              actor: merge.actor,
              createdAt: merge.createdAt.toISOString(),
            },
            customer: toCustomerSummary(customer, keyring),
          },
          200,
        );
      })
      .openapi(createIdentityRoute, async (c) => {
        const { customerId } = c.req.valid('param');
        const result = await createIdentity(db, customerId, c.req.valid('json'), options);
        const payload = { ...customerRef(result.customer), identity: identityResponse(result.identity) };
        return result.created ? c.json(payload, 201) : c.json(payload, 200);
      })
      .openapi(listRoute, async (c) => {
        const { customerId } = c.req.valid('param');
        const q = c.req.valid('query');
        const customer = await requireCustomer(db, customerId);
        const where = and(
          eq(customerIdentities.customerId, customer.id),
          q.identityType ? eq(customerIdentities.identityType, q.identityType) : undefined,
        );
        const [rows, totals] = await Promise.all([
          db
            .select()
            .from(customerIdentities)
            .where(where)
            .orderBy(
              asc(customerIdentities.identityType),
              asc(customerIdentities.createdAt),
              asc(customerIdentities.id),
            )
            .limit(q.limit)
            .offset(pageOffset(q)),
          db.select({ total: count() }).from(customerIdentities).where(where),
        ]);
        return c.json(
          {
            ...customerRef(customer),
            identities: rows.map(identityResponse),
            pagination: pageInfo(q.page, q.limit, totals[0]?.total ?? 0),
          },
          200,
        );
      })
      .openapi(resolveRoute, async (c) => {
        const { identityType, identityValue } = c.req.valid('query');
        const value = parseIdentityValue(identityType, identityValue, { ...options, field: 'query.identityValue' });
        const identity = await findIdentity(db, keyring, identityType, value);
        if (!identity) throw notFound(`No customer has the ${identityType} ${value}`);
        const customer = await requireCustomer(db, identity.customerId);
        return c.json(
          {
            ...customerRef(customer),
            customer: toCustomerSummary(customer, keyring),
            identity: identityResponse(identity),
          },
          200,
        );
      })
      .openapi(verifyRoute, async (c) => {
        const { customerId } = c.req.valid('param');
        const ref = c.req.valid('json');
        const result = await db.transaction((tx) => verifyIdentity(tx, customerId, ref, options));
        return c.json({ ...customerRef(result.customer), identity: identityResponse(result.identity) }, 200);
      })
      .openapi(setPrimaryRoute, async (c) => {
        const { customerId } = c.req.valid('param');
        const ref = c.req.valid('json');
        const result = await db.transaction((tx) => setPrimaryIdentity(tx, customerId, ref, options));
        return c.json({ ...customerRef(result.customer), identity: identityResponse(result.identity) }, 200);
      })
  );
}
