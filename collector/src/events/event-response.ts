import type { CdpEvent } from '@tributary/spec';
import type { customerEvents } from '../db/schema';

type EventRecord = typeof customerEvents.$inferSelect;

/** An event row as the CDP API shows it. */
export function toEventResponse(e: EventRecord): CdpEvent {
  return {
    ...e,
    id: String(e.id),
    timestamp: e.timestamp.toISOString(),
    receivedAt: e.receivedAt.toISOString(),
    originalTimestamp: e.originalTimestamp?.toISOString() ?? null,
    sentAt: e.sentAt?.toISOString() ?? null,
  };
}
