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
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'DATABASE_UNAVAILABLE', // refused without trying: the health monitor knows the database is down
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
  // The route's pattern, not its path: a path holds customer IDs and trait keys.
  console.error(`internal error on ${c.req.method} ${c.req.routePath}: ${errorSummary(err)}${stackOf(err)}`);
  return c.json({ error: { code: 'internal', message: 'Internal server error' } }, 500);
}

/** A quoted value in a message: PostgreSQL quotes the input it refuses, and JSON.parse the text it could not read. */
const QUOTED = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g;

/** The fields of PostgreSQL errors (postgres.js and PGlite spellings) that name the schema, never a value. */
const SCHEMA_FIELDS = [
  ['table', 'table_name', 'table'],
  ['column', 'column_name', 'column'],
  ['constraint', 'constraint_name', 'constraint'],
] as const;

/**
 * One line for logs that holds no personal data: the error's kind, PostgreSQL's code and the table,
 * column and constraint it names, and the database's own message with every quoted value masked.
 * Never Drizzle's message (it lists the query's parameters), PostgreSQL's `detail` (the refused row's
 * values) or anything quoted from a request: logs are kept and shipped where personal data must not go.
 */
export function errorSummary(e: unknown): string {
  if (!(e instanceof Error)) return typeof e === 'string' ? e.replace(QUOTED, '"…"').slice(0, 300) : typeof e;
  // Drizzle wraps the driver's error: its cause says what the database refused.
  const cause = (e as { cause?: unknown }).cause;
  const inner = cause instanceof Error ? cause : e;
  const fields = inner as unknown as Record<string, unknown>;
  const code = [...errorCodes(e)][0];
  const schema = SCHEMA_FIELDS.flatMap(([label, ...names]) => {
    const value = names.map((n) => fields[n]).find((v) => typeof v === 'string' && v);
    return value ? [`${label} ${value}`] : [];
  });
  const message = inner === e && e.message.startsWith('Failed query:') ? 'query failed' : inner.message;
  const details = [code && `code ${code}`, ...schema].filter(Boolean).join(', ');
  return `${e.name}: ${message.replace(QUOTED, '"…"').slice(0, 300)}${details ? ` (${details})` : ''}`;
}

/**
 * Where an error was thrown: its stack's frames. The message that heads the stack is cut off first,
 * whole: a value in it could hold a line that looks like a frame.
 */
export function stackOf(e: unknown): string {
  if (!(e instanceof Error) || !e.stack) return '';
  const head = e.message ? `${e.name}: ${e.message}` : e.name;
  if (!e.stack.startsWith(head)) return '';
  const frames = e.stack
    .slice(head.length)
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .slice(0, 12);
  return frames.length ? `\n${frames.join('\n')}` : '';
}
