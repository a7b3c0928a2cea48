import { createMiddleware } from 'hono/factory';
import { checkJson, jsonLimitError } from './bounded-json';
import { HttpError } from './errors';

export interface BoundedBodyOptions {
  /** The largest body read, in bytes; a larger one is answered 413 without being read. */
  maxBytes?: number;
}

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;
const decoder = new TextDecoder();

/** The 413 for a body over `maxBytes`; the connection closes behind it, so what was not read is not waited for. */
export const requestTooLarge = (maxBytes: number) =>
  new HttpError(
    413,
    'request_too_large',
    `A request must be at most ${maxBytes >= 1024 * 1024 ? `${maxBytes / (1024 * 1024)} MB` : `${maxBytes / 1024} KB`}`,
    undefined,
    { Connection: 'close' },
  );

/** The body's bytes, counted as they arrive: past `maxBytes` the reading stops and the request is refused. */
async function readBounded(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      void reader.cancel().catch(() => {});
      throw requestTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Bounds the body of every request to the CDP and admin API before a route reads it: at most
 * `maxBytes` (judged by Content-Length when declared, counted while reading when chunked), and
 * JSON within the limits of bounded-json (depth, members per object, no U+0000), its lone
 * surrogates made U+FFFD. Violations answer 413 or a 400 naming the field; what passes is handed
 * to the route's validator as the text it parses.
 */
export function boundedBody(options: BoundedBodyOptions = {}) {
  const { maxBytes } = { maxBytes: 1024 * 1024, ...options } satisfies Required<BoundedBodyOptions>;
  return createMiddleware(async function boundedBodyMiddleware(c, next) {
    const length = c.req.header('content-length');
    if (length !== undefined && Number(length) > maxBytes) throw requestTooLarge(maxBytes);
    const body = c.req.raw.body;
    if (!body || c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const text = decoder.decode(await readBounded(body, maxBytes));
    const mediaType = (c.req.header('content-type') ?? '').split(';')[0]?.trim() ?? '';
    // hono's body readers (json() parses the cached text) read this instead of the consumed stream.
    const cache = c.req.bodyCache as { text?: Promise<string> };
    if (!JSON_MEDIA_TYPE.test(mediaType)) {
      cache.text = Promise.resolve(text);
      return next();
    }
    const checked = checkJson(text, { maxViolations: 1 });
    const [violation] = checked.violations;
    if (violation) throw jsonLimitError(violation, 'json');
    cache.text = Promise.resolve(checked.text);
    return next();
  });
}
