import { promisify } from 'node:util';
import { gunzip, inflate, inflateRaw } from 'node:zlib';
import { LIMITS } from '@tributary/spec';
import type { HonoRequest } from 'hono';
import { requestTooLarge } from '../http/bounded-body';
import { HttpError } from '../http/errors';

const inflaters = {
  gzip: promisify(gunzip),
  deflate: promisify(inflate),
  deflateRaw: promisify(inflateRaw),
};

type Encoding = 'identity' | 'gzip' | 'deflate';

const decoder = new TextDecoder();

/** The encoding a `Content-Encoding` header names, or the 415 naming one the collector cannot read. */
function encodingOf(header: string | undefined): Encoding {
  const name = (header ?? '').trim().toLowerCase();
  if (name === '' || name === 'identity') return 'identity';
  if (name === 'gzip' || name === 'x-gzip') return 'gzip';
  if (name === 'deflate') return 'deflate';
  // The header is the caller's text: quoted, but never at any length.
  const shown = name.length > 40 ? `${name.slice(0, 40)}…` : name;
  throw new HttpError(
    415,
    'unsupported_encoding',
    `Content-Encoding "${shown}" is not supported: send the body uncompressed, gzip or deflate`,
  );
}

/**
 * Whether deflated bytes start with the zlib header (RFC 1950) that HTTP's `deflate` names. Some
 * senders put raw deflate data (RFC 1951) under that name instead; both are read, as browsers do.
 */
function hasZlibHeader(bytes: Uint8Array): boolean {
  const [cmf, flg] = bytes;
  return cmf !== undefined && flg !== undefined && (cmf & 0x0f) === 8 && (cmf * 256 + flg) % 31 === 0;
}

/**
 * Inflates at most `maxBytes`: zlib stops and fails with ERR_BUFFER_TOO_LARGE as soon as its output
 * passes that, so a small body that inflates to gigabytes (a "gzip bomb") costs one 413 and a few KB.
 */
async function inflateBounded(bytes: Uint8Array, encoding: 'gzip' | 'deflate', maxBytes: number) {
  const inflater =
    encoding === 'gzip' ? inflaters.gzip : hasZlibHeader(bytes) ? inflaters.deflate : inflaters.deflateRaw;
  try {
    return await inflater(bytes, { maxOutputLength: maxBytes });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw requestTooLarge(maxBytes);
    // zlib's own words ("unexpected end of file", "incorrect header check") quote nothing of the body.
    const reason = (e as Error).message;
    throw new HttpError(
      400,
      'invalid_encoding',
      `The body is not valid ${encoding} data, as Content-Encoding says: ${reason}`,
    );
  }
}

/**
 * A tracking request's body as text, inflated when `Content-Encoding` says it is compressed
 * (RudderStack's Node library gzips every batch), whatever `Content-Type` says. The request limit
 * applies to the inflated body; the compressed one was already bounded by the routes' length check.
 * An uncompressed body is read exactly as before, with `req.text()`: that path was tuned.
 */
export async function requestBodyText(req: HonoRequest, maxBytes: number = LIMITS.requestBytes): Promise<string> {
  const encoding = encodingOf(req.header('content-encoding'));
  if (encoding === 'identity') return req.text();
  const bytes = new Uint8Array(await req.arrayBuffer());
  return decoder.decode(await inflateBounded(bytes, encoding, maxBytes));
}
