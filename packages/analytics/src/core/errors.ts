/** What went wrong, in a word a program can switch on. */
export type TributaryErrorCode =
  /** The collector refused a batch with a 4xx that a retry cannot fix; its events were dropped. */
  | 'rejected'
  /** Retries ran out (Node's `maxRetries`); the events were dropped. */
  | 'retries_exhausted'
  /** The queue was full; the oldest events were dropped to make room. */
  | 'queue_overflow'
  /** One event was larger than the collector accepts (32 KB); it was not queued. */
  | 'event_too_large'
  /** A call was missing what it needs (a userId or anonymousId, an event name ...). */
  | 'invalid_call'
  /** Storage (IndexedDB, localStorage) failed; the SDK went on in memory. */
  | 'storage';

/**
 * The one error class of the SDK. Every error it reports or throws is a `TributaryError`.
 *
 * @example
 * analytics.on('error', (err) => console.warn(err.code, err.message, err.messageIds));
 */
export class TributaryError extends Error {
  override readonly name = 'TributaryError';
  readonly code: TributaryErrorCode;
  /** The HTTP status the collector answered, when there was one. */
  readonly status: number | undefined;
  /** The events concerned (dropped, refused ...). */
  readonly messageIds: readonly string[];

  constructor(
    code: TributaryErrorCode,
    message: string,
    details: { status?: number | undefined; messageIds?: string[] } = {},
  ) {
    super(message);
    this.code = code;
    this.status = details.status;
    this.messageIds = details.messageIds ?? [];
  }
}

/**
 * True for an error of this SDK. Compares `name` too, since `instanceof` fails across iframes and bundles.
 *
 * @example
 * try { analytics.track({ event: 'x' }) } catch (e) { if (isTributaryError(e)) console.log(e.code) }
 */
export function isTributaryError(error: unknown): error is TributaryError {
  return error instanceof TributaryError || (error as { name?: unknown } | null)?.name === 'TributaryError';
}
