import { createRoute } from '@hono/zod-openapi';
import {
  CustomerIdParam,
  DeleteTraitResponse,
  ErrorBody,
  ListTraitsQuery,
  SetTraitBody,
  SetTraitsBatchBody,
  TraitKeyParams,
  TraitListResponse,
  TraitResponse,
  TraitsResponse,
} from '@tributary/spec';
import type { Db } from '../db/client';
import { notFound } from '../http/errors';
import { cdpRouter, jsonBody, jsonContent } from '../http/openapi-app';
import { pageInfo } from '../http/pagination';
import type { Keyring } from '../privacy/encryption';
import { customerRef } from './customer-ref';
import { lockCustomer } from './lock-customer';
import { requireCustomer } from './require-customer';
import { type TraitRecord, toTraitResponse } from './trait-response';
import { deleteTrait, getTrait, listTraits, upsertTraits } from './traits-store';

const tags = ['Traits'];

const setRoute = createRoute({
  method: 'post',
  path: '/traits/{customerId}',
  tags,
  summary: 'Set a trait (upsert by traitKey)',
  request: { params: CustomerIdParam, body: jsonBody(SetTraitBody) },
  responses: {
    200: jsonContent(TraitResponse, 'Stored'),
    400: jsonContent(ErrorBody, 'Invalid body'),
    404: jsonContent(ErrorBody, 'Unknown customer'),
  },
});

const batchRoute = createRoute({
  method: 'post',
  path: '/traits/{customerId}/batch',
  tags,
  summary: 'Set several traits: all of them or none',
  request: { params: CustomerIdParam, body: jsonBody(SetTraitsBatchBody) },
  responses: {
    200: jsonContent(TraitsResponse, 'All stored'),
    400: jsonContent(ErrorBody, 'Invalid items, each named (json.traits.<index>.<field>); nothing stored'),
    404: jsonContent(ErrorBody, 'Unknown customer'),
  },
});

const listRoute = createRoute({
  method: 'get',
  path: '/traits/{customerId}',
  tags,
  summary: "A customer's traits (expired ones are left out)",
  request: { params: CustomerIdParam, query: ListTraitsQuery },
  responses: {
    200: jsonContent(TraitListResponse, 'A page of traits, by key'),
    400: jsonContent(ErrorBody, 'Invalid parameters'),
    404: jsonContent(ErrorBody, 'Unknown customer'),
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/traits/{customerId}/{traitKey}',
  tags,
  summary: 'One trait',
  request: { params: TraitKeyParams },
  responses: {
    200: jsonContent(TraitResponse, 'The trait'),
    400: jsonContent(ErrorBody, 'Invalid parameters'),
    404: jsonContent(ErrorBody, 'Unknown customer, or no such live trait'),
  },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/traits/{customerId}/{traitKey}',
  tags,
  summary: 'Delete a trait',
  request: { params: TraitKeyParams },
  responses: {
    200: jsonContent(DeleteTraitResponse, 'Deleted'),
    400: jsonContent(ErrorBody, 'Invalid parameters'),
    404: jsonContent(ErrorBody, 'Unknown customer, or no such trait'),
  },
});

/** The product spec's trait endpoints under `/api/v1/cdp` (compute-engagement lives with the scores). */
export function traitsRoutes({ db, keyring }: { db: Db; keyring: Keyring }) {
  const traitResponse = (t: TraitRecord) => toTraitResponse(t, keyring);
  return cdpRouter()
    .openapi(setRoute, async (c) => {
      const { customerId } = c.req.valid('param');
      const trait = c.req.valid('json');
      const { customer, row } = await db.transaction(async (tx) => {
        const customer = await lockCustomer(tx, customerId);
        const [row] = await upsertTraits(tx, keyring, customer.id, [trait]);
        if (!row) throw new Error('the trait was not stored');
        return { customer, row };
      });
      return c.json({ ...customerRef(customer), trait: traitResponse(row) }, 200);
    })
    .openapi(batchRoute, async (c) => {
      const { customerId } = c.req.valid('param');
      const { traits } = c.req.valid('json');
      // The customer is locked so a merge cannot move its traits away while these are written.
      const { customer, rows } = await db.transaction(async (tx) => {
        const customer = await lockCustomer(tx, customerId);
        return { customer, rows: await upsertTraits(tx, keyring, customer.id, traits) };
      });
      return c.json({ ...customerRef(customer), traits: rows.map(traitResponse) }, 200);
    })
    .openapi(listRoute, async (c) => {
      const { customerId } = c.req.valid('param');
      const q = c.req.valid('query');
      const customer = await requireCustomer(db, customerId);
      const { rows, total } = await listTraits(db, customer.id, q);
      return c.json(
        { ...customerRef(customer), traits: rows.map(traitResponse), pagination: pageInfo(q.page, q.limit, total) },
        200,
      );
    })
    .openapi(getRoute, async (c) => {
      const { customerId, traitKey } = c.req.valid('param');
      const customer = await requireCustomer(db, customerId);
      const row = await getTrait(db, customer.id, traitKey);
      if (!row) throw notFound(`Customer ${customer.id} has no trait ${traitKey}`);
      return c.json({ ...customerRef(customer), trait: traitResponse(row) }, 200);
    })
    .openapi(deleteRoute, async (c) => {
      const { customerId, traitKey } = c.req.valid('param');
      const customer = await requireCustomer(db, customerId);
      if (!(await deleteTrait(db, customer.id, traitKey)))
        throw notFound(`Customer ${customer.id} has no trait ${traitKey}`);
      return c.json({ ...customerRef(customer), deleted: true as const, traitKey }, 200);
    });
}
