import {
  CONSENT_TYPES,
  EVENT_TYPES,
  IDENTITY_TYPES,
  KEY_KINDS,
  REGULATION_TYPES,
  SEGMENT_TYPES,
  TRAIT_TYPES,
} from '@tributary/spec';
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  customType,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const createdAt = () => tstz('created_at').notNull().defaultNow();
const updatedAt = () => tstz('updated_at').notNull().defaultNow();
type Json = Record<string, unknown>;

/**
 * jsonb holding any JSON value. Drizzle's own jsonb parses strings again after the driver has parsed
 * them, so the JSON string "42" would read back as the number 42; this one takes the driver's value as is.
 */
const jsonValue = customType<{ data: unknown; driverData: unknown }>({
  dataType: () => 'jsonb',
  toDriver: (value) => JSON.stringify(value),
  fromDriver: (value) => value,
});

export const identityType = pgEnum('identity_type', IDENTITY_TYPES);
export const eventType = pgEnum('event_type', EVENT_TYPES);
export const traitType = pgEnum('trait_type', TRAIT_TYPES);
export const segmentType = pgEnum('segment_type', SEGMENT_TYPES);
export const consentType = pgEnum('consent_type', CONSENT_TYPES);
export const apiKeyKind = pgEnum('api_key_kind', KEY_KINDS);

/** A customer. A merged-away customer keeps its row as a pointer (`mergedIntoId`) to the one it became. */
export const customers = pgTable(
  'customers',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    // Personal data, sealed (AES-256-GCM, see privacy/personal-data.ts); lookups go through identities' blind index.
    email: text('email'),
    phoneNumber: text('phone_number'),
    firstName: text('first_name'),
    lastName: text('last_name'),
    isVerified: boolean('is_verified').notNull().default(false),
    lastLoginAt: tstz('last_login_at'),
    lastSeenAt: tstz('last_seen_at'),
    mergedIntoId: uuid('merged_into_id'),
    mergedAt: tstz('merged_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('customers_merged_into_idx').on(t.mergedIntoId)],
);

export const customerProfiles = pgTable('customer_profiles', {
  customerId: uuid('customer_id')
    .primaryKey()
    .references(() => customers.id, { onDelete: 'cascade' }),
  // Personal data, sealed (AES-256-GCM, see privacy/personal-data.ts): YYYY-MM-DD, and the sealed JSON of the objects.
  dateOfBirth: text('date_of_birth'),
  preferredContact: text('preferred_contact'),
  address: text('address'),
  emergencyContact: text('emergency_contact'),
  preferences: jsonb('preferences').$type<Json>(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** The customer portal's documents (product spec, phase 9.1). */
export const customerDocuments = pgTable(
  'customer_documents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    documentType: text('document_type'),
    url: text('url'),
    metadata: jsonb('metadata').$type<Json>(),
    createdAt: createdAt(),
  },
  (t) => [index('customer_documents_customer_idx').on(t.customerId)],
);

/** The customer portal's messages (product spec, phase 9.1). */
export const customerMessages = pgTable(
  'customer_messages',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    direction: text('direction').notNull(),
    subject: text('subject'),
    body: text('body'),
    readAt: tstz('read_at'),
    createdAt: createdAt(),
  },
  (t) => [index('customer_messages_customer_idx').on(t.customerId, t.createdAt)],
);

/** An identifier of a customer. A (type, normalized value) pair belongs to exactly one customer. */
export const customerIdentities = pgTable(
  'customer_identities',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    identityType: identityType('identity_type').notNull(),
    /** The normalized value; sealed (AES-256-GCM) for EMAIL, PHONE and IP_ADDRESS. */
    identityValue: text('identity_value').notNull(),
    /** Keyed HMAC of the normalized value (blind index): equality lookups without the plain value. */
    valueHash: text('value_hash'),
    isPrimary: boolean('is_primary').notNull().default(false),
    verifiedAt: tstz('verified_at'),
    provider: text('provider'),
    metadata: jsonb('metadata').$type<Json>(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('customer_identities_type_value_key').on(t.identityType, t.identityValue),
    uniqueIndex('customer_identities_type_hash_key').on(t.identityType, t.valueHash),
    index('customer_identities_customer_idx').on(t.customerId, t.identityType),
    // One primary identity per type per customer, kept by the database rather than by care.
    uniqueIndex('customer_identities_primary_key').on(t.customerId, t.identityType).where(sql`${t.isPrimary}`),
  ],
);

/**
 * Every call received. Events keep the identifiers they were sent with; a customer's events are found
 * through its identities (COOKIE_ID -> anonymous_id, EXTERNAL_ID -> user_id), so stitching never rewrites this table.
 */
export const customerEvents = pgTable(
  'customer_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    messageId: text('message_id').notNull(),
    customerId: uuid('customer_id'),
    anonymousId: text('anonymous_id'),
    userId: text('user_id'),
    sessionId: text('session_id'),
    /** The Segment call this came from (track, page, identify ...) or `cdp` for the spec's own endpoint. */
    callType: text('call_type').notNull(),
    eventType: eventType('event_type').notNull(),
    eventName: text('event_name').notNull(),
    eventCategory: text('event_category'),
    properties: jsonb('properties').$type<Json>().notNull().default({}),
    context: jsonb('context').$type<Json>().notNull().default({}),
    timestamp: tstz('timestamp').notNull(),
    originalTimestamp: tstz('original_timestamp'),
    sentAt: tstz('sent_at'),
    receivedAt: tstz('received_at').notNull(),
    deviceType: text('device_type'),
    browser: text('browser'),
    os: text('os'),
    ipAddress: text('ip_address'),
    userAgent: text('user_agent'),
    country: text('country'),
    region: text('region'),
    city: text('city'),
    /** What the call carried besides properties: integrations, groupId, previousId, traits of identify and group. */
    metadata: jsonb('metadata').$type<Json>(),
  },
  (t) => [
    uniqueIndex('customer_events_message_id_key').on(t.messageId),
    index('customer_events_anonymous_idx').on(t.anonymousId, t.timestamp).where(sql`${t.anonymousId} is not null`),
    index('customer_events_user_idx').on(t.userId, t.timestamp).where(sql`${t.userId} is not null`),
    index('customer_events_customer_idx').on(t.customerId, t.timestamp).where(sql`${t.customerId} is not null`),
    index('customer_events_type_time_idx').on(t.eventType, t.timestamp),
    index('customer_events_time_idx').on(t.timestamp),
  ],
);

export const customerTraits = pgTable(
  'customer_traits',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    traitKey: text('trait_key').notNull(),
    traitValue: jsonValue('trait_value'),
    traitType: traitType('trait_type').notNull(),
    source: text('source'),
    computedAt: tstz('computed_at'),
    expiresAt: tstz('expires_at'),
    metadata: jsonb('metadata').$type<Json>(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('customer_traits_customer_key').on(t.customerId, t.traitKey),
    index('customer_traits_expires_idx').on(t.expiresAt).where(sql`${t.expiresAt} is not null`),
  ],
);

export const customerSegments = pgTable('customer_segments', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  description: text('description'),
  segmentType: segmentType('segment_type').notNull(),
  rules: jsonb('rules').$type<unknown>(),
  isActive: boolean('is_active').notNull().default(true),
  memberCount: integer('member_count').notNull().default(0),
  lastEvaluatedAt: tstz('last_evaluated_at'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const customerSegmentMemberships = pgTable(
  'customer_segment_memberships',
  {
    segmentId: uuid('segment_id')
      .notNull()
      .references(() => customerSegments.id, { onDelete: 'cascade' }),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    /** `manual` for STATIC segments, `rules` for evaluated ones. */
    source: text('source').notNull().default('manual'),
    metadata: jsonb('metadata').$type<Json>(),
    addedAt: tstz('added_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.segmentId, t.customerId] }),
    index('customer_segment_memberships_customer_idx').on(t.customerId),
  ],
);

/** The current state of each consent type for a customer. */
export const customerConsents = pgTable(
  'customer_consents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    consentType: consentType('consent_type').notNull(),
    granted: boolean('granted').notNull(),
    source: text('source'),
    ipAddress: text('ip_address'),
    grantedAt: tstz('granted_at'),
    revokedAt: tstz('revoked_at'),
    expiresAt: tstz('expires_at'),
    metadata: jsonb('metadata').$type<Json>(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('customer_consents_customer_type_key').on(t.customerId, t.consentType)],
);

/** Every grant and revoke, append-only: who, when, from where, and what it was before. */
export const customerConsentHistory = pgTable(
  'customer_consent_history',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    consentType: consentType('consent_type').notNull(),
    granted: boolean('granted').notNull(),
    previousGranted: boolean('previous_granted'),
    source: text('source'),
    ipAddress: text('ip_address'),
    actor: text('actor'),
    expiresAt: tstz('expires_at'),
    metadata: jsonb('metadata').$type<Json>(),
    createdAt: createdAt(),
  },
  (t) => [index('customer_consent_history_customer_idx').on(t.customerId, t.createdAt)],
);

export const customerJourneySteps = pgTable(
  'customer_journey_steps',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    stepType: text('step_type').notNull(),
    stepName: text('step_name').notNull(),
    eventId: bigint('event_id', { mode: 'number' }),
    eventMessageId: text('event_message_id'),
    occurredAt: tstz('occurred_at').notNull(),
    metadata: jsonb('metadata').$type<Json>(),
    createdAt: createdAt(),
  },
  (t) => [
    index('customer_journey_steps_customer_idx').on(t.customerId, t.occurredAt),
    uniqueIndex('customer_journey_steps_event_key').on(t.customerId, t.stepType, t.eventMessageId),
  ],
);

export const customerEngagementScores = pgTable('customer_engagement_scores', {
  customerId: uuid('customer_id')
    .primaryKey()
    .references(() => customers.id, { onDelete: 'cascade' }),
  overallScore: doublePrecision('overall_score').notNull(),
  emailScore: doublePrecision('email_score').notNull(),
  webScore: doublePrecision('web_score').notNull(),
  portalScore: doublePrecision('portal_score').notNull(),
  recencyScore: doublePrecision('recency_score').notNull(),
  frequencyScore: doublePrecision('frequency_score').notNull(),
  monetaryScore: doublePrecision('monetary_score').notNull(),
  computedAt: tstz('computed_at').notNull().defaultNow(),
});

export const customerLifetimeValues = pgTable('customer_lifetime_values', {
  customerId: uuid('customer_id')
    .primaryKey()
    .references(() => customers.id, { onDelete: 'cascade' }),
  currentValue: doublePrecision('current_value').notNull(),
  predictedValue: doublePrecision('predicted_value').notNull(),
  totalPurchases: integer('total_purchases').notNull(),
  averagePurchaseValue: doublePrecision('average_purchase_value').notNull(),
  purchaseFrequency: doublePrecision('purchase_frequency').notNull(),
  customerTenure: integer('customer_tenure').notNull(),
  churnProbability: doublePrecision('churn_probability').notNull(),
  /** The model and its fitted parameters, so a figure can be explained. */
  model: jsonb('model').$type<Json>(),
  computedAt: tstz('computed_at').notNull().defaultNow(),
});

/** The record of every merge: who, when, which strategy. */
export const customerMerges = pgTable(
  'customer_merges',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    sourceCustomerId: uuid('source_customer_id').notNull(),
    targetCustomerId: uuid('target_customer_id').notNull(),
    strategy: text('strategy').notNull(),
    actor: text('actor').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('customer_merges_target_idx').on(t.targetCustomerId)],
);

/** Write, read and admin keys. Only a SHA-256 of the secret is kept; `prefix` lets a person tell keys apart. */
export const apiKeys = pgTable('api_keys', {
  id: uuid('id').primaryKey().defaultRandom(),
  kind: apiKeyKind('kind').notNull(),
  name: text('name'),
  prefix: text('prefix').notNull(),
  keyHash: text('key_hash').notNull().unique(),
  /**
   * Identity verification for a write key: the secret a site's backend signs userIds with, sealed
   * with ENCRYPTION_KEY. Set means every identify sent with this key must carry a valid signature.
   */
  verificationSecret: text('verification_secret'),
  createdAt: createdAt(),
  revokedAt: tstz('revoked_at'),
});

/**
 * Keys from `WRITE_KEYS` / `API_KEYS` revoked through the API. The environment cannot be changed from
 * here, so the revocation is kept beside it: by the key's hash, honoured by every process and restart.
 */
export const revokedEnvironmentKeys = pgTable('revoked_environment_keys', {
  keyHash: text('key_hash').primaryKey(),
  revokedAt: tstz('revoked_at').notNull().defaultNow(),
});

/** Append-only record of every read or change of customer data through the API. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    /** Set when the entry is recorded, so replaying the crash journal never stores it twice. */
    entryId: uuid('entry_id').unique(),
    keyId: text('key_id').notNull(),
    action: text('action').notNull(),
    customerId: uuid('customer_id'),
    method: text('method').notNull(),
    endpoint: text('endpoint').notNull(),
    status: integer('status').notNull(),
    outcome: text('outcome').notNull(),
    at: tstz('at').notNull(),
  },
  (t) => [
    index('audit_log_at_idx').on(t.at),
    index('audit_log_customer_idx').on(t.customerId, t.at),
    index('audit_log_key_idx').on(t.keyId, t.at),
  ],
);

export const regulationType = pgEnum('regulation_type', REGULATION_TYPES);

/** A privacy request (GDPR / CCPA), kept after the data it named is gone: the record that it happened. */
export const regulations = pgTable(
  'regulations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    regulationType: regulationType('regulation_type').notNull(),
    /** The customer the request named; after a deletion, its tombstone (privacy/tombstone.ts), not its ID. */
    customerId: uuid('customer_id'),
    identityType: identityType('identity_type'),
    /** A keyed hash of the identity the request named, never the value itself. */
    identityHash: text('identity_hash'),
    status: text('status').notNull(),
    deleted: jsonb('deleted').$type<Record<string, number>>(),
    actor: text('actor').notNull(),
    createdAt: createdAt(),
    finishedAt: tstz('finished_at'),
  },
  (t) => [index('regulations_customer_idx').on(t.customerId)],
);

/** Identifiers whose events are not stored: SUPPRESS and SUPPRESS_WITH_DELETE add them, UNSUPPRESS removes them. */
export const suppressions = pgTable(
  'suppressions',
  {
    identityType: identityType('identity_type').notNull(),
    /** Keyed hash of the normalized value, so the list itself holds no personal data. */
    identityHash: text('identity_hash').notNull(),
    regulationId: uuid('regulation_id').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.identityType, t.identityHash] })],
);

/** How many days events of a type are kept; the retention job removes older ones. */
export const retentionPolicies = pgTable('retention_policies', {
  eventType: eventType('event_type').primaryKey(),
  days: integer('days').notNull(),
  updatedAt: updatedAt(),
});
