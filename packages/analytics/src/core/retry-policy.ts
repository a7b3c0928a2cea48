/** What to do with a batch after the collector answered (or did not). */
export type Outcome =
  | { kind: 'ok' }
  /**
   * Try again later; `after` is the delay the collector asked for (429 Retry-After), in ms.
   * `unavailable`: the collector could take no batch at all (no answer, 502, 503, 504, 429), which
   * says nothing about this one: such a failure does not use up the batch's retries.
   */
  | { kind: 'retry'; after?: number | undefined; unavailable?: true | undefined }
  /** A 4xx that a retry cannot fix: drop and report. */
  | { kind: 'drop' };

/** Answers that say the collector can take nothing now (or is not there), whatever the batch. */
const UNAVAILABLE = new Set([undefined, 429, 502, 503, 504]);

/**
 * Classifies a response: 2xx ok; network errors (`status` undefined), 5xx, 408 and 429 retried; any
 * other status dropped. A 429's or 503's `Retry-After` (seconds or an HTTP date) becomes the delay.
 *
 * @example
 * outcomeOf(429, '3') // { kind: 'retry', after: 3000, unavailable: true }
 */
export function outcomeOf(status: number | undefined, retryAfter?: string | null, now = Date.now()): Outcome {
  if (status === undefined || status >= 500 || status === 408 || status === 429) {
    const after = status === 429 || status === 503 ? parseRetryAfter(retryAfter, now) : undefined;
    return { kind: 'retry', after, unavailable: UNAVAILABLE.has(status) || undefined };
  }
  return { kind: status >= 200 && status < 300 ? 'ok' : 'drop' };
}

/**
 * The events of a batch the collector refused, by index: the `refused` list of a 200
 * (`[{ index, code, message }]`) or the `batch.<index>` paths of a 4xx's issues. Empty when the
 * answer names none (or is not JSON).
 *
 * @example
 * refusedIndices('{"success":true,"count":1,"refused":[{"index":1,"code":"nul_character"}]}') // Set {1}
 */
export function refusedIndices(text: string | undefined): Set<number> {
  const named = new Set<number>();
  try {
    const body = JSON.parse(text as string);
    for (const r of body.refused ?? body.error.issues) named.add(r.index ?? +r.path.split('.')[1]);
  } catch {}
  return named;
}

/** `Retry-After` in ms: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export interface BackoffOptions {
  /** Delay before the first retry, in ms. */
  minDelay: number;
  /** The ceiling, in ms. */
  maxDelay: number;
}

/**
 * Exponential backoff with full jitter: a random delay in [0.5, 1] x min(max, min x 2^attempt),
 * so clients that failed together do not retry together.
 *
 * @example
 * backoff(3, { minDelay: 500, maxDelay: 30_000 }) // between 2000 and 4000
 */
export function backoff(attempt: number, { minDelay, maxDelay }: BackoffOptions, random = Math.random): number {
  const ceiling = Math.min(maxDelay, minDelay * 2 ** attempt);
  return Math.round(ceiling * (0.5 + random() / 2));
}
