import type { CdpEvent } from '@tributary/spec';
import type { customerEvents } from '../db/schema';
import type { Keyring } from '../privacy/encryption';
import { openPersonalData } from '../privacy/personal-data';

type EventRecord = typeof customerEvents.$inferSelect;

/** An event row as the CDP API shows it, the personal data in it opened. */
export function toEventResponse(e: EventRecord, keyring: Keyring): CdpEvent {
  return {
    ...e,
    id: String(e.id),
    properties: openPersonalData(keyring, e.properties),
    context: openPersonalData(keyring, e.context),
    metadata: openPersonalData(keyring, e.metadata),
    timestamp: e.timestamp.toISOString(),
    receivedAt: e.receivedAt.toISOString(),
    originalTimestamp: e.originalTimestamp?.toISOString() ?? null,
    sentAt: e.sentAt?.toISOString() ?? null,
  };
}
