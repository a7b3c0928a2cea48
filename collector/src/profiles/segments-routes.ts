import { createRoute, z } from '@hono/zod-openapi';
import {
  CreateSegment,
  ErrorBody,
  ListSegmentsQuery,
  PageInfo,
  Segment,
  SegmentEvaluation,
  SegmentIdParam,
  SegmentMember,
  SegmentMemberParam,
  SegmentMembersQuery,
  type SegmentRule,
  UpdateSegment,
} from '@tributary/spec';
import { and, asc, count, eq, type SQL, sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/client';
import { customerSegmentMemberships, customerSegments } from '../db/schema';
import { badRequest, conflict, notFound } from '../http/errors';
import { cdpRouter, jsonBody, jsonContent } from '../http/openapi-app';
import { pageInfo, pageOffset } from '../http/pagination';
import type { Keyring } from '../privacy/encryption';
import { openText } from '../privacy/personal-data';
import { requireCustomer } from './require-customer';
import { evaluateSegment, refreshMemberCount, type SegmentRecord } from './segment-evaluation';
import type { SegmentRefresher } from './segment-refresh';
import { hasRfm } from './segment-rules';
import { toDate } from './sql-values';

const tags = ['Segments'];
const errors = {
  400: jsonContent(ErrorBody, 'Invalid request'),
  404: jsonContent(ErrorBody, 'Unknown segment or customer'),
};
const SegmentPage = z.object({ segments: z.array(Segment), pagination: PageInfo });
const MemberPage = z.object({ segmentId: z.string(), members: z.array(SegmentMember), pagination: PageInfo });

const routes = {
  create: createRoute({
    method: 'post',
    path: '/segments',
    tags,
    summary: 'Create a segment',
    description:
      'STATIC segments hold members added by hand and take no rules; RFM segments take `{ "rfm": { "cells": [...] } }` (or no rules: every buyer); the others need rules. Rule segments are evaluated in the background after creation, and on demand.',
    request: { body: jsonBody(CreateSegment) },
    responses: { 201: jsonContent(Segment, 'Created'), 409: jsonContent(ErrorBody, 'Name taken'), ...errors },
  }),
  list: createRoute({
    method: 'get',
    path: '/segments',
    tags,
    summary: 'List segments',
    request: { query: ListSegmentsQuery },
    responses: { 200: jsonContent(SegmentPage, 'A page of segments by name'), ...errors },
  }),
  get: createRoute({
    method: 'get',
    path: '/segments/{segmentId}',
    tags,
    summary: 'Get a segment',
    request: { params: SegmentIdParam },
    responses: { 200: jsonContent(Segment, 'The segment'), ...errors },
  }),
  update: createRoute({
    method: 'patch',
    path: '/segments/{segmentId}',
    tags,
    summary: 'Update a segment (name, description, rules, active)',
    request: {
      params: SegmentIdParam,
      body: jsonBody(UpdateSegment),
    },
    responses: { 200: jsonContent(Segment, 'Updated'), 409: jsonContent(ErrorBody, 'Name taken'), ...errors },
  }),
  remove: createRoute({
    method: 'delete',
    path: '/segments/{segmentId}',
    tags,
    summary: 'Delete a segment and its memberships',
    request: { params: SegmentIdParam },
    responses: {
      200: jsonContent(z.object({ deleted: z.literal(true), segmentId: z.string() }), 'Deleted'),
      ...errors,
    },
  }),
  members: createRoute({
    method: 'get',
    path: '/segments/{segmentId}/members',
    tags,
    summary: 'List members with their marketing consents',
    description: '`consent=MARKETING_EMAIL` keeps only members who currently grant it (an expired grant is not).',
    request: { params: SegmentIdParam, query: SegmentMembersQuery },
    responses: { 200: jsonContent(MemberPage, 'A page of members'), ...errors },
  }),
  addMember: createRoute({
    method: 'post',
    path: '/segments/{segmentId}/members/{customerId}',
    tags,
    summary: 'Add a customer to a STATIC segment',
    request: { params: SegmentMemberParam },
    responses: {
      200: jsonContent(z.object({ segmentId: z.string(), customerId: z.string(), added: z.boolean() }), 'Member'),
      409: jsonContent(ErrorBody, 'Not a STATIC segment'),
      ...errors,
    },
  }),
  removeMember: createRoute({
    method: 'delete',
    path: '/segments/{segmentId}/members/{customerId}',
    tags,
    summary: 'Remove a customer from a STATIC segment',
    request: { params: SegmentMemberParam },
    responses: {
      200: jsonContent(z.object({ segmentId: z.string(), customerId: z.string(), removed: z.boolean() }), 'Removed'),
      409: jsonContent(ErrorBody, 'Not a STATIC segment'),
      ...errors,
    },
  }),
  evaluate: createRoute({
    method: 'post',
    path: '/segments/{segmentId}/evaluate',
    tags,
    summary: 'Evaluate a segment over every customer now',
    request: { params: SegmentIdParam },
    responses: {
      200: jsonContent(SegmentEvaluation, 'Membership after evaluation'),
      409: jsonContent(ErrorBody, 'STATIC segments have no rules'),
      ...errors,
    },
  }),
};

function toSegmentResponse(s: SegmentRecord): Segment {
  return {
    ...s,
    rules: s.rules ?? null,
    lastEvaluatedAt: s.lastEvaluatedAt?.toISOString() ?? null,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

const ruleIssue = (message: string, path = 'json.rules') => badRequest(`${path}: ${message}`, [{ path, message }]);

/** What the zod schema cannot say alone: which segment types take which rules. */
function checkRules(type: Segment['segmentType'], rules: SegmentRule | null | undefined) {
  if (type === 'STATIC') {
    if (rules) throw ruleIssue('a STATIC segment has no rules; add members by hand');
    return;
  }
  if (type === 'RFM') {
    if (rules && !rules.rfm) throw ruleIssue('an RFM segment takes { "rfm": { "cells": [...] } }');
    return;
  }
  if (!rules) throw ruleIssue(`is required for a ${type} segment`);
  if (hasRfm(rules)) throw ruleIssue('an rfm condition is only valid as the rules of an RFM segment', 'json.rules.rfm');
}

const isUniqueViolation = (e: unknown): boolean => {
  for (let x = e, depth = 0; x && typeof x === 'object' && depth < 4; depth++) {
    if ((x as { code?: unknown }).code === '23505') return true;
    x = (x as { cause?: unknown }).cause;
  }
  return false;
};

async function requireSegment(db: Db, id: string): Promise<SegmentRecord> {
  const [row] = await db.select().from(customerSegments).where(eq(customerSegments.id, id)).limit(1);
  if (!row) throw notFound(`Segment ${id} was not found`);
  return row;
}

const grants = (type: string) => sql`exists (select 1 from customer_consents k where k.customer_id = m.customer_id
  and k.consent_type = ${type} and k.granted and (k.expires_at is null or k.expires_at > now()))`;

/** Segment definitions, membership and evaluation under `/api/v1/cdp/segments`. */
export function segmentsRoutes({ db, refresher, keyring }: { db: Db; refresher: SegmentRefresher; keyring: Keyring }) {
  return cdpRouter()
    .openapi(routes.create, async (c) => {
      const body = c.req.valid('json');
      checkRules(body.segmentType, body.rules);
      try {
        const [row] = await db
          .insert(customerSegments)
          .values({
            name: body.name,
            description: body.description ?? null,
            segmentType: body.segmentType,
            rules: body.rules ?? null,
            isActive: body.isActive ?? true,
          })
          .returning();
        if (!row) throw new Error('segment was not created');
        if (row.segmentType !== 'STATIC') refresher.touchSegment(row.id);
        return c.json(toSegmentResponse(row), 201);
      } catch (e) {
        if (isUniqueViolation(e)) throw conflict(`A segment named "${body.name}" exists`);
        throw e;
      }
    })
    .openapi(routes.list, async (c) => {
      const q = c.req.valid('query');
      const where = q.segmentType ? eq(customerSegments.segmentType, q.segmentType) : undefined;
      const [rows, totals] = await Promise.all([
        db
          .select()
          .from(customerSegments)
          .where(where)
          .orderBy(asc(customerSegments.name))
          .limit(q.limit)
          .offset(pageOffset(q)),
        db.select({ n: count() }).from(customerSegments).where(where),
      ]);
      return c.json(
        { segments: rows.map(toSegmentResponse), pagination: pageInfo(q.page, q.limit, totals[0]?.n ?? 0) },
        200,
      );
    })
    .openapi(routes.get, async (c) => {
      return c.json(toSegmentResponse(await requireSegment(db, c.req.valid('param').segmentId)), 200);
    })
    .openapi(routes.update, async (c) => {
      const { segmentId } = c.req.valid('param');
      const body = c.req.valid('json');
      const segment = await requireSegment(db, segmentId);
      if (body.rules !== undefined) checkRules(segment.segmentType, body.rules);
      try {
        const [row] = await db
          .update(customerSegments)
          .set({
            ...(body.name !== undefined ? { name: body.name } : {}),
            ...(body.description !== undefined ? { description: body.description } : {}),
            ...(body.rules !== undefined ? { rules: body.rules } : {}),
            ...(body.isActive !== undefined ? { isActive: body.isActive } : {}),
            updatedAt: new Date(),
          })
          .where(eq(customerSegments.id, segmentId))
          .returning();
        if (!row) throw notFound(`Segment ${segmentId} was not found`);
        if (row.segmentType !== 'STATIC' && (body.rules !== undefined || body.isActive)) refresher.touchSegment(row.id);
        return c.json(toSegmentResponse(row), 200);
      } catch (e) {
        if (isUniqueViolation(e)) throw conflict(`A segment named "${body.name}" exists`);
        throw e;
      }
    })
    .openapi(routes.remove, async (c) => {
      const { segmentId } = c.req.valid('param');
      const deleted = await db.delete(customerSegments).where(eq(customerSegments.id, segmentId)).returning();
      if (!deleted.length) throw notFound(`Segment ${segmentId} was not found`);
      return c.json({ deleted: true as const, segmentId }, 200);
    })
    .openapi(routes.members, async (c) => {
      const { segmentId } = c.req.valid('param');
      const q = c.req.valid('query');
      await requireSegment(db, segmentId);
      const filter: SQL = q.consent ? sql`and ${grants(q.consent)}` : sql``;
      const [rows, totals] = await Promise.all([
        queryRows<Record<string, unknown>>(
          db,
          sql`select m.customer_id, c.email, c.phone_number, m.source, m.added_at, m.metadata,
              ${grants('MARKETING_EMAIL')} as email_ok, ${grants('MARKETING_SMS')} as sms_ok, ${grants('MARKETING_PUSH')} as push_ok
            from customer_segment_memberships m join customers c on c.id = m.customer_id
            where m.segment_id = ${segmentId} ${filter}
            order by m.added_at, m.customer_id limit ${q.limit} offset ${pageOffset(q)}`,
        ),
        queryRows<{ n: unknown }>(
          db,
          sql`select count(*) as n from customer_segment_memberships m where m.segment_id = ${segmentId} ${filter}`,
        ),
      ]);
      const members: SegmentMember[] = rows.map((r) => ({
        customerId: String(r.customer_id),
        // Sealed at rest; members are listed to be contacted, so they are opened.
        email: openText(keyring, (r.email as string | null) ?? null),
        phoneNumber: openText(keyring, (r.phone_number as string | null) ?? null),
        source: String(r.source),
        addedAt: (toDate(r.added_at) ?? new Date(0)).toISOString(),
        metadata: (r.metadata as Record<string, unknown> | null) ?? null,
        consents: {
          MARKETING_EMAIL: r.email_ok === true,
          MARKETING_SMS: r.sms_ok === true,
          MARKETING_PUSH: r.push_ok === true,
        },
      }));
      const total = Number(totals[0]?.n ?? 0);
      return c.json({ segmentId, members, pagination: pageInfo(q.page, q.limit, total) }, 200);
    })
    .openapi(routes.addMember, async (c) => {
      const { segmentId, customerId } = c.req.valid('param');
      const segment = await requireSegment(db, segmentId);
      if (segment.segmentType !== 'STATIC')
        throw conflict(`Segment ${segmentId} is ${segment.segmentType}: its members follow its rules`);
      const customer = await requireCustomer(db, customerId);
      const inserted = await db
        .insert(customerSegmentMemberships)
        .values({ segmentId, customerId: customer.id, source: 'manual' })
        .onConflictDoNothing()
        .returning();
      await refreshMemberCount(db, segmentId);
      return c.json({ segmentId, customerId: customer.id, added: inserted.length > 0 }, 200);
    })
    .openapi(routes.removeMember, async (c) => {
      const { segmentId, customerId } = c.req.valid('param');
      const segment = await requireSegment(db, segmentId);
      if (segment.segmentType !== 'STATIC')
        throw conflict(`Segment ${segmentId} is ${segment.segmentType}: its members follow its rules`);
      const customer = await requireCustomer(db, customerId);
      const deleted = await db
        .delete(customerSegmentMemberships)
        .where(
          and(
            eq(customerSegmentMemberships.segmentId, segmentId),
            eq(customerSegmentMemberships.customerId, customer.id),
          ),
        )
        .returning();
      await refreshMemberCount(db, segmentId);
      return c.json({ segmentId, customerId: customer.id, removed: deleted.length > 0 }, 200);
    })
    .openapi(routes.evaluate, async (c) => {
      const segment = await requireSegment(db, c.req.valid('param').segmentId);
      if (segment.segmentType === 'STATIC') throw conflict('A STATIC segment has no rules to evaluate');
      const r = await evaluateSegment(db, segment);
      return c.json(
        {
          segmentId: segment.id,
          memberCount: r.memberCount,
          added: r.added,
          removed: r.removed,
          evaluatedAt: r.evaluatedAt.toISOString(),
        },
        200,
      );
    });
}
