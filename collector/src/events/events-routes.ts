import { createRoute, z } from '@hono/zod-openapi';
import {
  CdpEvent,
  CdpTrackEvent,
  CustomerIdParam,
  ErrorBody,
  LIMITS,
  ListEventsQuery,
  RecentEventsQuery,
} from '@tributary/spec';
import { and, count, desc, eq, gte, lte, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client';
import { customerEvents } from '../db/schema';
import { HttpError } from '../http/errors';
import { cdpRouter, jsonBody, jsonContent } from '../http/openapi-app';
import type { BatchWriter } from '../ingest/batch-writer';
import { traitIdentifiers } from '../ingest/carried-identifiers';
import { toIngestBatch } from '../ingest/ingest-batch';
import { everyEventRefused, notStorable } from '../ingest/refused-events';
import { parseUserAgent } from '../ingest/user-agent';
import type { Keyring } from '../privacy/encryption';
import { applyIpMode, contextUnderIpMode, type IpMode, keepsDevice, keepsRawUserAgent } from '../privacy/ip-mode';
import { sealPersonalData } from '../privacy/personal-data';
import type { SuppressionList } from '../privacy/suppression-list';
import { requireCustomer } from '../profiles/require-customer';
import { eventsOfCustomer, newestEventsOfCustomer } from './customer-events';
import { toEventResponse } from './event-response';

const EventPage = z.object({
  events: z.array(CdpEvent),
  pagination: z.object({ page: z.number(), limit: z.number(), total: z.number(), totalPages: z.number() }),
});

const trackRoute = createRoute({
  method: 'post',
  path: '/events/track',
  tags: ['Events'],
  summary: 'Track an event (the product spec body)',
  request: { body: jsonBody(CdpTrackEvent) },
  responses: {
    200: jsonContent(z.object({ success: z.boolean(), messageId: z.string() }), 'Stored'),
    400: jsonContent(ErrorBody, 'Invalid body, or an event the database refuses'),
    404: jsonContent(ErrorBody, 'Unknown customer'),
    413: jsonContent(ErrorBody, 'The event is over 32 KB'),
  },
});

const listRoute = createRoute({
  method: 'get',
  path: '/events',
  tags: ['Events'],
  summary: 'List events',
  request: { query: ListEventsQuery },
  responses: {
    200: jsonContent(EventPage, 'A page of events, newest first'),
    400: jsonContent(ErrorBody, 'Invalid query'),
  },
});

const recentRoute = createRoute({
  method: 'get',
  path: '/events/{customerId}/recent',
  tags: ['Events'],
  summary: "A customer's most recent events",
  request: { params: CustomerIdParam, query: RecentEventsQuery },
  responses: {
    200: jsonContent(z.object({ events: z.array(CdpEvent) }), 'Newest first'),
    404: jsonContent(ErrorBody, 'Unknown customer'),
  },
});

export interface EventsRoutesDeps {
  db: Db;
  writer: BatchWriter;
  /** Seals the personal data of tracked events. */
  keyring: Keyring;
  /** Identifiers whose events are not stored. */
  suppressions: Pick<SuppressionList, 'suppresses'>;
  /** Country assumed for phone numbers in `context.traits` written without a country code. */
  defaultPhoneCountry: string;
  /** What to keep of IP addresses and user agents (default: all). */
  ipMode?: IpMode;
}

/** The product spec's event endpoints under `/api/v1/cdp`. */
export function eventsRoutes({
  db,
  writer,
  keyring,
  suppressions,
  defaultPhoneCountry,
  ipMode = 'keep',
}: EventsRoutesDeps) {
  return cdpRouter()
    .openapi(trackRoute, async (c) => {
      const e = c.req.valid('json');
      if (e.customerId) await requireCustomer(db, e.customerId);
      const receivedAt = new Date();
      const keepDevice = keepsDevice(ipMode);
      const device = e.userAgent && keepDevice ? parseUserAgent(e.userAgent) : null;
      const messageId = e.messageId ?? crypto.randomUUID();
      // A suppressed person's event (by customer, anonymous ID, or an email or phone of `context.traits`)
      // is answered like any other, as on the tracking routes, and not stored.
      const identifiers = traitIdentifiers([e.context?.traits], keyring, defaultPhoneCountry);
      const subject = { customer_id: e.customerId ?? null, anonymous_id: e.anonymousId ?? null, user_id: null };
      if (suppressions.suppresses({ ...subject, identifiers })) return c.json({ success: true, messageId }, 200);
      const { batch, tooLarge } = toIngestBatch(
        [
          {
            link: null,
            row: {
              message_id: messageId,
              customer_id: e.customerId ?? null,
              anonymous_id: e.anonymousId ?? null,
              user_id: null,
              session_id: e.sessionId ?? null,
              call_type: 'cdp',
              event_type: e.eventType,
              event_name: e.eventName,
              event_category: e.eventCategory ?? null,
              properties: sealPersonalData(keyring, e.properties ?? {}),
              context: sealPersonalData(keyring, contextUnderIpMode(e.context ?? {}, ipMode)),
              timestamp: (e.timestamp ?? receivedAt).toISOString(),
              original_timestamp: e.timestamp?.toISOString() ?? null,
              sent_at: null,
              received_at: receivedAt.toISOString(),
              device_type: keepDevice ? (e.deviceType ?? device?.deviceType ?? null) : null,
              browser: keepDevice ? (e.browser ?? device?.browser ?? null) : null,
              os: keepDevice ? (e.os ?? device?.os ?? null) : null,
              ip_address: applyIpMode(e.ipAddress ?? null, ipMode),
              user_agent: keepsRawUserAgent(ipMode) ? (e.userAgent ?? null) : null,
              country: e.country ?? null,
              region: e.region ?? null,
              city: e.city ?? null,
              metadata: sealPersonalData(keyring, e.metadata ?? null),
            },
          },
        ],
        { maxEventBytes: LIMITS.eventBytes },
      );
      if (tooLarge.length)
        throw new HttpError(413, 'event_too_large', `An event must be at most ${LIMITS.eventBytes / 1024} KB`);
      const { refused } = await writer.write(batch);
      if (refused.length)
        throw everyEventRefused(
          refused.map((r) => notStorable(r, false)),
          false,
        );
      return c.json({ success: true, messageId }, 200);
    })
    .openapi(listRoute, async (c) => {
      const q = c.req.valid('query');
      const where: SQL[] = [];
      if (q.customerId) where.push(eventsOfCustomer(q.customerId));
      if (q.eventType) where.push(eq(customerEvents.eventType, q.eventType));
      if (q.startDate) where.push(gte(customerEvents.timestamp, q.startDate));
      if (q.endDate) where.push(lte(customerEvents.timestamp, q.endDate));
      const condition = where.length ? and(...where) : undefined;
      const [rows, totals] = await Promise.all([
        db
          .select()
          .from(customerEvents)
          .where(condition)
          .orderBy(desc(customerEvents.timestamp), desc(customerEvents.id))
          .limit(q.limit)
          .offset((q.page - 1) * q.limit),
        db.select({ total: count() }).from(customerEvents).where(condition),
      ]);
      const total = totals[0]?.total ?? 0;
      return c.json(
        {
          events: rows.map((e) => toEventResponse(e, keyring)),
          pagination: { page: q.page, limit: q.limit, total, totalPages: Math.ceil(total / q.limit) },
        },
        200,
      );
    })
    .openapi(recentRoute, async (c) => {
      const { customerId } = c.req.valid('param');
      const { limit } = c.req.valid('query');
      const target = await requireCustomer(db, customerId);
      const rows = await db
        .select()
        .from(customerEvents)
        .where(newestEventsOfCustomer(target.id, limit))
        .orderBy(desc(customerEvents.timestamp), desc(customerEvents.id))
        .limit(limit);
      return c.json({ events: rows.map((e) => toEventResponse(e, keyring)) }, 200);
    });
}
