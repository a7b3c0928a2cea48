import { z } from 'zod';
import { apiDate } from './dates';
import { EventType } from './event-types';
import { JsonObject } from './json';
import { UserAgent } from './segment';

/** `POST /api/v1/cdp/events/track`: the product spec's own event body. */
export const CdpTrackEvent = z
  .object({
    customerId: z.uuid().optional(),
    anonymousId: z.string().min(1).max(512).optional(),
    sessionId: z.string().max(256).optional(),
    eventType: EventType,
    eventName: z.string().min(1).max(512),
    eventCategory: z.string().max(256).optional(),
    properties: JsonObject.optional(),
    context: JsonObject.optional(),
    timestamp: apiDate.optional(),
    deviceType: z.string().max(64).optional(),
    browser: z.string().max(128).optional(),
    os: z.string().max(128).optional(),
    ipAddress: z.string().max(64).optional(),
    userAgent: UserAgent.optional(),
    country: z.string().max(128).optional(),
    region: z.string().max(128).optional(),
    city: z.string().max(128).optional(),
    metadata: JsonObject.optional(),
    messageId: z.string().min(1).max(256).optional(),
  })
  .refine((e) => e.customerId || e.anonymousId, {
    message: 'customerId or anonymousId is required',
    path: ['customerId'],
  });
export type CdpTrackEvent = z.infer<typeof CdpTrackEvent>;

export const Pagination = z.object({
  page: z.coerce.number().int().min(1).default(1),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** `GET /api/v1/cdp/events` query. */
export const ListEventsQuery = Pagination.extend({
  customerId: z.uuid().optional(),
  eventType: EventType.optional(),
  startDate: apiDate.optional(),
  endDate: apiDate.optional(),
});
export type ListEventsQuery = z.infer<typeof ListEventsQuery>;

export const CustomerIdParam = z.object({ customerId: z.uuid() });

/** `GET /api/v1/cdp/events/:customerId/recent` query. */
export const RecentEventsQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(25) });

/** An event as the CDP API returns it. */
export const CdpEvent = z.object({
  id: z.string(),
  messageId: z.string(),
  customerId: z.string().nullable(),
  anonymousId: z.string().nullable(),
  userId: z.string().nullable(),
  sessionId: z.string().nullable(),
  callType: z.string(),
  eventType: EventType,
  eventName: z.string(),
  eventCategory: z.string().nullable(),
  properties: JsonObject,
  context: JsonObject,
  timestamp: z.string(),
  originalTimestamp: z.string().nullable(),
  sentAt: z.string().nullable(),
  receivedAt: z.string(),
  deviceType: z.string().nullable(),
  browser: z.string().nullable(),
  os: z.string().nullable(),
  ipAddress: z.string().nullable(),
  userAgent: z.string().nullable(),
  country: z.string().nullable(),
  region: z.string().nullable(),
  city: z.string().nullable(),
  metadata: JsonObject.nullable(),
});
export type CdpEvent = z.infer<typeof CdpEvent>;
