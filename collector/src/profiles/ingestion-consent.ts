import type { ConsentType } from '@tributary/spec';
import type { Db, Tx } from '../db/client';
import { normalizeIdentity } from '../identity/normalize-identity';
import type { Flush, FlushWrite } from '../ingest/batch-writer';
import { takeCustomerWriteTurn } from '../ingest/customer-write-turn';
import type { EventSummary, IngestBatch } from '../ingest/event-row';
import { eventsWithoutAnalyticsConsent } from '../privacy/consent-enforcement';
import { applyConsentChanges, type ConsentChange, changesConsent, EVENT_SOURCE } from './consents-store';
import { readVisitorConsents, type VisitorConsents } from './visitor-consents';

/** An event's userId and anonymous ID as identities store them (normalized; junk is undefined). */
interface Visitor {
  userId: string | undefined;
  anonymousId: string | undefined;
}

/** Normalizes events' identifiers, each distinct pair once: a flush holds many events per visitor. */
function visitorReader(): (event: EventSummary) => Visitor {
  const seen = new Map<string, Visitor>();
  return (event) => {
    const raw = `${event.user_id ?? ''}\u0001${event.anonymous_id ?? ''}`;
    let visitor = seen.get(raw);
    if (!visitor) {
      visitor = {
        userId: normalizeIdentity('EXTERNAL_ID', event.user_id),
        anonymousId: normalizeIdentity('COOKIE_ID', event.anonymous_id),
      };
      seen.set(raw, visitor);
    }
    return visitor;
  };
}

/** The visitors' userIds and anonymous IDs, each once. */
function identifiersOf(visitors: Iterable<Visitor>) {
  const userIds = new Set<string>();
  const anonymousIds = new Set<string>();
  for (const { userId, anonymousId } of visitors) {
    if (userId) userIds.add(userId);
    if (anonymousId) anonymousIds.add(anonymousId);
  }
  return { userIds: [...userIds], anonymousIds: [...anonymousIds] };
}

/** A customer's latest consent of one type in a flush, and the event that carried it. */
interface Carried {
  customerId: string;
  consentType: ConsentType;
  event: EventSummary;
  granted: boolean;
  /** Whether its sender is known to speak for the customer (`ConsentChange.trusted`). */
  trusted: boolean;
  /** The event's timestamp (ISO-8601). */
  at: string;
  /** The event's place in the flush. */
  order: number;
}

/**
 * Each customer's latest consent per type in a flush, in the order the events came. Only the latest
 * change per customer and type is recorded (applyConsentChanges): one per customer and type is
 * enough, not one per event. Events of visitors who are not customers are passed over.
 * `customerOf` is told whether the event's userId may count: not an unsigned one when the batch's
 * key verifies userIds.
 */
function latestConsents(
  batches: readonly IngestBatch[],
  customerOf: (event: EventSummary, userIdCounts: boolean) => string | undefined,
): Carried[] {
  const latestOf = new Map<string, Map<ConsentType, Carried>>();
  const carried: Carried[] = [];
  let order = 0;
  for (const { events, signed } of batches) {
    for (const event of events) {
      order++;
      const consent = event.consent;
      if (!consent) continue;
      const trusted = signed?.has(event) === true;
      const customerId = customerOf(event, trusted || !signed);
      if (!customerId) continue;
      let latest = latestOf.get(customerId);
      if (!latest) {
        latest = new Map();
        latestOf.set(customerId, latest);
      }
      // Summaries' timestamps are toISOString's, years 1000 to 9999: as text they sort as dates do.
      const at = event.timestamp;
      for (const key in consent) {
        const consentType = key as ConsentType;
        const granted = consent[consentType] === true;
        const seen = latest.get(consentType);
        if (!seen) {
          const c = { customerId, consentType, event, granted, trusted, at, order };
          latest.set(consentType, c);
          carried.push(c);
        } else if (at >= seen.at) {
          // Ties go to the later event, as in applyConsentChanges' stable sort. A stamp repeating the
          // kept one keeps it trusted if either is: one after the other, a trusted grant (a signed
          // identify) would have made the same grant from an unsigned page that follows it no change.
          seen.trusted = seen.granted === granted ? seen.trusted || trusted : trusted;
          seen.event = event;
          seen.granted = granted;
          seen.at = at;
          seen.order = order;
        }
      }
    }
  }
  return carried.sort((a, b) => a.order - b.order);
}

const toChange = ({ customerId, consentType, event, granted, trusted, at }: Carried): ConsentChange => ({
  customerId,
  consentType,
  granted,
  source: `${EVENT_SOURCE}${event.call_type}`,
  ipAddress: event.ip_address,
  expiresAt: null,
  metadata: { messageId: event.message_id, eventTimestamp: event.timestamp },
  actor: 'ingestion',
  trusted,
  at: new Date(at),
});

/**
 * Consent at ingestion, both halves, sharing one read per flush (readVisitorConsents), made before
 * the flush's transaction:
 *
 * - `selectDropped`: events without analytics consent are not stored.
 * - `recordConsent` (a flush hook): consent carried by events (`context.consent.categoryPreferences`,
 *   as Segment's consent tools and the SDK's consent call send it) lands in the same records as the
 *   API's. The customer is found through the event's userId, else its anonymous ID; events of
 *   visitors not yet known as customers keep their consent on the event only. A change is written
 *   only when it changes whether a consent is in force, so a consent stamped on every event writes
 *   history once, and a flush whose consent changes nothing writes nothing (and needs no transaction).
 *
 * A flush that links identities may make a visitor a customer (an identify): its consent is then
 * read again inside the transaction, after the links.
 *
 * Who may change a customer's consent this way (consent that cannot be forged):
 * - An event whose userId carries its valid signature, with identity verification on for the key
 *   (`IngestBatch.signed`), changes consent as the API does.
 * - With identity verification on, an unsigned event's userId counts for nothing here: its consent
 *   goes to the owner of its anonymous ID, if any, else nowhere. Not ignored altogether, because the
 *   SDK signs identify only: the consent call and every other event of a signed-in visitor are
 *   unsigned, and their consent would otherwise never be recorded. The anonymous ID is a random
 *   value that only the visitor's browser holds, and only signed calls link one to a customer
 *   (tracking-routes strips unsigned links), so a sender naming someone else's userId reaches no
 *   one but themselves.
 * - Every event but a signed one may restrict: a revocation it carries is recorded. It may grant where
 *   nothing is recorded or where an event revoked, never over a revocation made through the API
 *   (`mayChange` in consents-store.ts says why).
 * Whatever an event carries, a denial of analytics in it keeps that event out (selectDropped).
 */
export function consentAtIngestion() {
  const readBefore = new WeakMap<Flush, { visitorOf: (event: EventSummary) => Visitor; consents: VisitorConsents }>();

  async function selectDropped(db: Db, flush: Flush): Promise<Set<EventSummary>> {
    const visitorOf = visitorReader();
    const { userIds, anonymousIds } = identifiersOf(flush.events.map(visitorOf));
    const consents = await readVisitorConsents(db, userIds, anonymousIds);
    readBefore.set(flush, { visitorOf, consents });
    return eventsWithoutAnalyticsConsent(flush.events, visitorOf, consents);
  }

  /**
   * The consent changes the flush's events carry, given who its visitors are and what they consented
   * to; none when none of them would change a consent in force. Consent stamped on every event rarely
   * changes: this compares with what was read, without locking, and only when something changes does
   * the hook take the customer-write turn and let applyConsentChanges lock, re-read and record.
   */
  function changesIn(flush: Flush, visitorOf: (event: EventSummary) => Visitor, consents: VisitorConsents) {
    const { ownerOf, consentOf } = consents;
    const carried = latestConsents(flush.batches, (event, userIdCounts) => {
      const { userId, anonymousId } = visitorOf(event);
      return (userIdCounts ? ownerOf('EXTERNAL_ID', userId) : undefined) ?? ownerOf('COOKIE_ID', anonymousId);
    });
    const changesAny = carried.some((c) =>
      changesConsent(consentOf(c.customerId, c.consentType), {
        granted: c.granted,
        expiresAt: null,
        trusted: c.trusted,
        at: new Date(c.at),
      }),
    );
    return changesAny ? carried.map(toChange) : [];
  }

  async function record(tx: Tx, changes: ConsentChange[]) {
    await takeCustomerWriteTurn(tx);
    await applyConsentChanges(tx, changes, { onlyIfChanged: true });
  }

  async function recordConsent(db: Db, flush: Flush): Promise<FlushWrite | null> {
    if (!flush.events.some((e) => e.consent)) return null;
    const before = readBefore.get(flush);
    const visitorOf = before?.visitorOf ?? visitorReader();
    // Only when what was read before the flush will not do: the visitors carrying consent, read again.
    const read = (from: Db | Tx) => {
      const { userIds, anonymousIds } = identifiersOf(flush.events.filter((e) => e.consent).map(visitorOf));
      return readVisitorConsents(from, userIds, anonymousIds);
    };
    if (flush.linked) {
      return async (tx) => {
        const changes = changesIn(flush, visitorOf, await read(tx));
        if (changes.length) await record(tx, changes);
      };
    }
    const changes = changesIn(flush, visitorOf, before?.consents ?? (await read(db)));
    return changes.length ? (tx) => record(tx, changes) : null;
  }

  return { selectDropped, recordConsent };
}
