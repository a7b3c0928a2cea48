import type { RefusedEvent } from '@tributary/spec';
import { HttpError } from '../http/errors';
import { isPlainObject } from '../is-plain-object';
import type { EventSummary } from './event-row';

/** The event at `index` (as sent: `raw`) refused for `error`. */
export function refusedEvent(index: number, raw: unknown, error: HttpError): RefusedEvent {
  const messageId = isPlainObject(raw) ? raw.messageId : undefined;
  return {
    index,
    ...(typeof messageId === 'string' && messageId.length <= 256 ? { messageId } : {}),
    code: error.code,
    message: error.message,
    ...(error.issues ? { issues: error.issues } : {}),
  };
}

/** An event that passed validation but that the database refused (`code`: the SQLSTATE, class 22 or 54). */
export interface UnstorableEvent {
  event: EventSummary;
  code: string;
}

/**
 * An event the database refused, as its refusal. The database's message is not passed on: it is
 * logged, and the sender learns the SQLSTATE.
 */
export function notStorable({ event, code }: UnstorableEvent, batch: boolean): RefusedEvent {
  const where = batch ? `batch.${event.index}: ` : '';
  return {
    index: event.index,
    messageId: event.message_id,
    code: 'not_storable',
    message: `${where}the database refused this event (SQLSTATE ${code})`,
  };
}

export const byIndex = (a: RefusedEvent, b: RefusedEvent) => a.index - b.index;

/**
 * The answer when no event of a request could be stored: 413 when each was refused for its size, 403
 * when each lacked the signature identity verification asks for, else 400, with an issue naming each
 * event. A single call answers its one refusal as it was.
 */
export function everyEventRefused(refused: readonly RefusedEvent[], batch: boolean): HttpError {
  const first = refused[0];
  if (!first) return new HttpError(400, 'bad_request', 'No event was stored');
  const all = (code: string) => refused.every((r) => r.code === code);
  const status = all('event_too_large') ? 413 : all('identity_verification_failed') ? 403 : 400;
  const code = refused.every((r) => r.code === first.code) ? first.code : 'events_refused';
  if (!batch) return new HttpError(status, code, first.message, first.issues);
  const issues = refused.flatMap((r) => r.issues ?? [{ path: `batch.${r.index}`, message: r.message }]);
  const message = refused.length === 1 ? first.message : `Every event of the batch was refused; ${first.message}`;
  return new HttpError(status, code, message, issues);
}
