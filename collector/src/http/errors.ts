import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';

export interface ErrorIssue {
  path: string;
  message: string;
}

/** The one error type the collector throws; `app.onError` turns it into `{ error: { code, message, issues? } }`. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly issues?: ErrorIssue[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, issues?: ErrorIssue[]) =>
  new HttpError(400, 'bad_request', message, issues);
export const notFound = (message: string) => new HttpError(404, 'not_found', message);
export const conflict = (message: string) => new HttpError(409, 'conflict', message);

/** A zod error as a 400 whose issues name each field (`batch.3.event`). */
export function validationError(error: ZodError, where?: string): HttpError {
  const issues = error.issues.map((i) => ({
    path: [where, ...i.path.map(String)].filter(Boolean).join('.'),
    message: i.message,
  }));
  const first = issues[0];
  const summary = first ? `${first.path || '(body)'}: ${first.message}` : 'invalid request';
  return new HttpError(400, 'validation_failed', summary, issues);
}

// postgres.js and Node socket errors that mean the database cannot be reached right now.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);

/** The error codes of an error and its causes (Drizzle wraps driver errors in its own). */
function* errorCodes(error: unknown): Generator<string> {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') yield code;
    if (e instanceof AggregateError) for (const inner of e.errors) yield* errorCodes(inner);
    e = (e as { cause?: unknown }).cause;
  }
}

/** Whether an error, or one it wraps, carries this (PostgreSQL or Node) error code. */
export const hasErrorCode = (error: unknown, code: string) => [...errorCodes(error)].includes(code);

/**
 * The SQLSTATE of a refusal caused by the data itself (class 22, data exception: a value the type
 * refuses; class 54, program limit exceeded: a value too large or too deep), or undefined. Such a
 * refusal concerns the rows written, not the database: storing them apart finds the ones refused.
 */
export function dataErrorCode(error: unknown): string | undefined {
  for (const code of errorCodes(error)) if (/^(22|54)[0-9A-Z]{3}$/.test(code)) return code;
  return undefined;
}

/** True when an error says the database is unreachable. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (const code of errorCodes(error)) if (UNAVAILABLE_CODES.has(code) || code.startsWith('08')) return true;
  return false;
}

export const RETRY_AFTER_SECONDS = 5;

/** The single place errors become responses. */
export function errorResponse(err: unknown, c: Context) {
  if (err instanceof HttpError) {
    for (const [k, v] of Object.entries(err.headers ?? {})) c.header(k, v);
    const body = { error: { code: err.code, message: err.message, ...(err.issues ? { issues: err.issues } : {}) } };
    return c.json(body, err.status);
  }
  if (err instanceof HTTPException) {
    // Hono's own (malformed JSON body, for one): same shape as ours.
    const code = err.status === 400 ? 'bad_request' : 'http_error';
    return c.json({ error: { code, message: err.message } }, err.status as ContentfulStatusCode);
  }
  if (isDatabaseUnavailable(err)) {
    c.header('Retry-After', String(RETRY_AFTER_SECONDS));
    return c.json(
      { error: { code: 'database_unavailable', message: 'The database is unavailable; retry later.' } },
      503,
    );
  }
  console.error(err);
  return c.json({ error: { code: 'internal', message: 'Internal server error' } }, 500);
}

/** One line for logs: a driver error's own message rather than Drizzle's whole query and parameters. */
export const errorSummary = (e: unknown): string =>
  String((e as { cause?: { message?: unknown } })?.cause?.message ?? (e as Error)?.message ?? e).slice(0, 300);
