import { createRoute, z } from '@hono/zod-openapi';
import {
  type ApiKeyInfo,
  AuditList,
  AuditQuery,
  CreatedKey,
  CreateKeyBody,
  CreateRegulationBody,
  CustomerIdParam,
  ErrorBody,
  KeyIdParam,
  KeyList,
  Pagination,
  Regulation,
  RegulationIdParam,
  RegulationList,
  RetentionParam,
  RetentionPolicies,
  RetentionRun,
  SetRetentionBody,
} from '@tributary/spec';
import { and, count, desc, eq, gte, inArray, lte, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client';
import { auditLog, regulations, retentionPolicies } from '../db/schema';
import { notFound } from '../http/errors';
import { cdpRouter, jsonBody, jsonContent } from '../http/openapi-app';
import { pageInfo, pageOffset } from '../http/pagination';
import type { AuditTrail } from './audit-trail';
import type { Keyring } from './encryption';
import { exportCustomer } from './export-customer';
import type { KeyStore, ListedKey } from './keys';
import { applyRegulation, type Erasure, regulationChanges } from './regulations';
import { runRetention } from './retention';
import type { RevocationChange } from './revocation-feed';
import { tombstoneOf } from './tombstone';

const tags = ['Admin'];
const errors = { 400: jsonContent(ErrorBody, 'Invalid request'), 404: jsonContent(ErrorBody, 'Not found') };

const keyInfo = (k: ListedKey): z.infer<typeof ApiKeyInfo> => ({
  ...k,
  createdAt: k.createdAt?.toISOString() ?? null,
  revokedAt: k.revokedAt?.toISOString() ?? null,
});

type RegulationRow = typeof regulations.$inferSelect;
const regulationInfo = (r: RegulationRow): z.infer<typeof Regulation> => ({
  id: r.id,
  regulationType: r.regulationType,
  customerId: r.customerId,
  identityType: r.identityType,
  status: r.status,
  deleted: r.deleted ?? null,
  actor: r.actor,
  createdAt: r.createdAt.toISOString(),
  finishedAt: r.finishedAt?.toISOString() ?? null,
});

export interface AdminRoutesDeps {
  db: Db;
  keys: KeyStore;
  keyring: Keyring;
  audit: AuditTrail;
  /** Brings this process's copies up to date after a change (the same as a notice from another process). */
  refresh: (change: RevocationChange) => Promise<void> | void;
  /** After a deletion, makes the deleted rows leave the database's files (PGlite; see scrubDeletedRows). */
  scrub?: (tables: readonly string[]) => Promise<void>;
  /** Country assumed for phone numbers without a country code (DEFAULT_PHONE_COUNTRY). */
  defaultPhoneCountry?: string;
}

/** `/api/v1/admin`: keys, the audit trail, privacy regulations and retention. Admin keys only. */
export function adminRoutes({ db, keys, keyring, audit, refresh, scrub, defaultPhoneCountry }: AdminRoutesDeps) {
  const afterDeletion = async ({ tombstones, tables }: Erasure) => {
    await audit.forget(tombstones);
    await scrub?.(tables);
  };
  return cdpRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/keys',
        tags,
        summary: 'Create a key (its secret is shown once)',
        request: { body: jsonBody(CreateKeyBody) },
        responses: { 201: jsonContent(CreatedKey, 'Created'), ...errors },
      }),
      async (c) => {
        const body = c.req.valid('json');
        const created = await keys.create(body.kind, body.name, { identityVerification: body.identityVerification });
        return c.json(
          {
            id: created.id,
            kind: body.kind,
            name: body.name ?? null,
            prefix: created.prefix,
            source: 'api' as const,
            identityVerification: !!created.verificationSecret,
            createdAt: new Date().toISOString(),
            revokedAt: null,
            secret: created.secret,
            ...(created.verificationSecret ? { verificationSecret: created.verificationSecret } : {}),
          },
          201,
        );
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/keys',
        tags,
        summary: 'List keys by id and prefix (never the secret)',
        request: { query: Pagination },
        responses: { 200: jsonContent(KeyList, 'Keys, newest first'), ...errors },
      }),
      async (c) => {
        const q = c.req.valid('query');
        const { keys: listed, total } = await keys.list(q.limit, pageOffset(q));
        return c.json({ keys: listed.map(keyInfo), pagination: pageInfo(q.page, q.limit, total) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'delete',
        path: '/keys/{keyId}',
        tags,
        summary: 'Revoke a key, stored or from the environment; it stops working at once, on every process',
        request: { params: KeyIdParam },
        responses: { 200: jsonContent(z.object({ revoked: z.boolean() }), 'Revoked'), ...errors },
      }),
      async (c) => {
        if (!(await keys.revoke(c.req.valid('param').keyId))) throw notFound('No such key');
        return c.json({ revoked: true }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/audit',
        tags,
        summary: 'The audit trail, newest first',
        request: { query: AuditQuery },
        responses: { 200: jsonContent(AuditList, 'Entries'), ...errors },
      }),
      async (c) => {
        const q = c.req.valid('query');
        // What was recorded a moment ago is part of the answer.
        await audit.flush();
        const where: SQL[] = [];
        if (q.keyId) where.push(eq(auditLog.keyId, q.keyId));
        // A deleted customer's entries carry its tombstone: whoever knows the ID still finds them.
        if (q.customerId) where.push(inArray(auditLog.customerId, [q.customerId, tombstoneOf(keyring, q.customerId)]));
        if (q.action) where.push(eq(auditLog.action, q.action));
        if (q.outcome) where.push(eq(auditLog.outcome, q.outcome));
        if (q.from) where.push(gte(auditLog.at, q.from));
        if (q.to) where.push(lte(auditLog.at, q.to));
        const condition = where.length ? and(...where) : undefined;
        const [rows, totals] = await Promise.all([
          db.select().from(auditLog).where(condition).orderBy(desc(auditLog.id)).limit(q.limit).offset(pageOffset(q)),
          db.select({ n: count() }).from(auditLog).where(condition),
        ]);
        const entries = rows.map((r) => ({ ...r, id: String(r.id), at: r.at.toISOString() }));
        return c.json({ entries, pagination: pageInfo(q.page, q.limit, totals[0]?.n ?? 0) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/regulations',
        tags,
        summary: 'Suppress, delete or unsuppress a customer or an identity (GDPR / CCPA)',
        request: { body: jsonBody(CreateRegulationBody) },
        responses: { 201: jsonContent(Regulation, 'Carried out'), ...errors },
      }),
      async (c) => {
        const request = c.req.valid('json');
        const regulation = await applyRegulation(db, keyring, request, c.get('key').id, {
          afterDeletion,
          defaultPhoneCountry,
        });
        // In effect in this process before the answer; the others hear of it (revocation-feed.ts).
        for (const change of regulationChanges(request.regulationType)) await refresh(change);
        return c.json(regulationInfo(regulation), 201);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/regulations',
        tags,
        summary: 'Privacy requests carried out, newest first',
        request: { query: Pagination },
        responses: { 200: jsonContent(RegulationList, 'Regulations'), ...errors },
      }),
      async (c) => {
        const q = c.req.valid('query');
        const [rows, totals] = await Promise.all([
          db.select().from(regulations).orderBy(desc(regulations.createdAt)).limit(q.limit).offset(pageOffset(q)),
          db.select({ n: count() }).from(regulations),
        ]);
        return c.json(
          { regulations: rows.map(regulationInfo), pagination: pageInfo(q.page, q.limit, totals[0]?.n ?? 0) },
          200,
        );
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/regulations/{regulationId}',
        tags,
        summary: 'One privacy request',
        request: { params: RegulationIdParam },
        responses: { 200: jsonContent(Regulation, 'The regulation'), ...errors },
      }),
      async (c) => {
        const [row] = await db
          .select()
          .from(regulations)
          .where(eq(regulations.id, c.req.valid('param').regulationId));
        if (!row) throw notFound('No such regulation');
        return c.json(regulationInfo(row), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/retention',
        tags,
        summary: 'Retention per event type',
        responses: { 200: jsonContent(RetentionPolicies, 'Policies') },
      }),
      async (c) => {
        const rows = await db.select().from(retentionPolicies);
        return c.json({ policies: rows.map((r) => ({ eventType: r.eventType, days: r.days })) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'put',
        path: '/retention/{eventType}',
        tags,
        summary: 'Keep events of a type this many days',
        request: {
          params: RetentionParam,
          body: jsonBody(SetRetentionBody),
        },
        responses: { 200: jsonContent(RetentionPolicies.shape.policies.element, 'Set'), ...errors },
      }),
      async (c) => {
        const { eventType } = c.req.valid('param');
        const { days } = c.req.valid('json');
        await db
          .insert(retentionPolicies)
          .values({ eventType, days })
          .onConflictDoUpdate({ target: retentionPolicies.eventType, set: { days, updatedAt: new Date() } });
        return c.json({ eventType, days }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'delete',
        path: '/retention/{eventType}',
        tags,
        summary: 'Keep events of a type forever',
        request: { params: RetentionParam },
        responses: { 200: jsonContent(z.object({ removed: z.boolean() }), 'Removed'), ...errors },
      }),
      async (c) => {
        const gone = await db
          .delete(retentionPolicies)
          .where(eq(retentionPolicies.eventType, c.req.valid('param').eventType))
          .returning();
        return c.json({ removed: gone.length > 0 }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/retention/run',
        tags,
        summary: 'Run the retention job now',
        responses: { 200: jsonContent(RetentionRun, 'Deleted per event type') },
      }),
      async (c) => c.json({ deleted: await runRetention(db) }, 200),
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/customers/{customerId}/export',
        tags,
        summary: 'Everything held about a customer (right of access and portability)',
        request: { params: CustomerIdParam },
        responses: { 200: jsonContent(z.record(z.string(), z.unknown()), 'The export'), ...errors },
      }),
      async (c) => c.json(await exportCustomer(db, keyring, c.req.valid('param').customerId), 200),
    );
}
