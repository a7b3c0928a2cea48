import { randomBytes } from 'node:crypto';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { LIMITS } from '@tributary/spec';
import { inArray } from 'drizzle-orm';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { basicAuth, type JsonResponse, useApp, WRITE_KEY } from '../../test/harness';
import { customerEvents } from '../db/schema';
import { errorResponse } from '../http/errors';
import { requestBodyText } from './request-body';

let seq = 0;
const uid = (p: string) => `${p}-${Date.now().toString(36)}-${++seq}`;

/** A batch of track calls, one per messageId, as JSON text. */
const batchText = (messageIds: string[], padding = '') =>
  `{"batch":[${messageIds.map((id) => JSON.stringify({ type: 'track', anonymousId: 'gz-anon', event: 'Compressed', messageId: id, properties: { id } })).join(',')}]${padding}}`;

/**
 * A body that inflates to about 450 MB (a batch naming `messageId`, then spaces), compressed to about
 * 450 KB: under the request limit as sent. gzip members concatenate into one stream, so one member of
 * 10 MB of spaces repeated is as good as compressing the whole, at a fraction of the test's time.
 */
function gzipBomb(messageId: string): Buffer {
  const spaces = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20), { level: 9 });
  const head = gzipSync(
    `{"batch":[{"type":"track","anonymousId":"gz-anon","event":"Bomb","messageId":"${messageId}"}]`,
  );
  return Buffer.concat([head, ...Array<Buffer>(45).fill(spaces), gzipSync('}')]);
}

// First in the file, so that this process's peak memory is still low: a later test cannot see past it.
describe('inflating a request body', () => {
  it('stops at the limit: a gzip bomb costs no memory', async () => {
    const app = new Hono().post('/', async (c) => c.text(await requestBodyText(c.req)));
    app.onError(errorResponse);
    const bomb = gzipBomb('m');
    expect(bomb.length).toBeLessThan(LIMITS.requestBytes);
    // The peak memory of this process, in KB: inflating the bomb whole would raise it by 450 MB.
    const peakBefore = process.resourceUsage().maxRSS;
    const res = await app.request('/', { method: 'POST', headers: { 'content-encoding': 'gzip' }, body: bomb });
    expect(res.status).toBe(413);
    expect(process.resourceUsage().maxRSS - peakBefore).toBeLessThan(64 * 1024);
  });
});

describe.each(testDatabases)('compressed tracking bodies on $name', (db) => {
  const h = useApp(db);
  const post = (path: string, body: Uint8Array | string, headers: Record<string, string>): Promise<JsonResponse> =>
    Promise.resolve(
      h.app.request(`/v1/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basicAuth(WRITE_KEY), ...headers },
        body,
      }),
    );
  const stored = async (messageIds: string[]) => {
    const rows = await h.database.db
      .select({ messageId: customerEvents.messageId, properties: customerEvents.properties })
      .from(customerEvents)
      .where(inArray(customerEvents.messageId, messageIds));
    return rows.sort((a, b) => a.messageId.localeCompare(b.messageId));
  };

  it.each([
    ['gzip', 'gzip', gzipSync],
    ['x-gzip', 'gzip', gzipSync],
    ['deflate', 'zlib deflate', deflateSync],
    // Without zlib's header: some senders mean that by "deflate".
    ['deflate', 'raw deflate', deflateRawSync],
  ])('stores a batch sent with Content-Encoding %s (%s)', async (encoding, _format, compress) => {
    const ids = [uid(encoding), uid(encoding)].sort();
    const res = await post('batch', compress(batchText(ids)), { 'content-encoding': encoding });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, count: 2 });
    expect(await stored(ids)).toEqual(ids.map((id) => ({ messageId: id, properties: { id } })));
  });

  it('reads a gzip body whatever its Content-Type says, and with the write key in the body', async () => {
    const plain = uid('text-plain');
    const res = await post('batch', gzipSync(batchText([plain])), {
      'content-type': 'text/plain',
      'content-encoding': 'gzip',
    });
    expect(res.status).toBe(200);
    const inBody = uid('key-in-body');
    const body = gzipSync(
      JSON.stringify({ writeKey: WRITE_KEY, anonymousId: 'gz-anon', event: 'E', messageId: inBody }),
    );
    const keyInBody = await h.app.request('/v1/track', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'content-encoding': 'GZIP' },
      body,
    });
    expect(keyInBody.status).toBe(200);
    expect((await stored([plain, inBody])).map((r) => r.messageId)).toEqual([plain, inBody].sort());
  });

  it('reads identity, or no encoding, as before', async () => {
    const ids = [uid('identity'), uid('absent')];
    expect((await post('batch', batchText([ids[0] ?? '']), { 'content-encoding': 'identity' })).status).toBe(200);
    expect((await post('batch', batchText([ids[1] ?? '']), {})).status).toBe(200);
    expect(await stored(ids)).toHaveLength(2);
  });

  it('answers a gzip bomb 413, stores nothing, and serves the next request', async () => {
    const messageId = uid('bomb');
    const res = await post('batch', gzipBomb(messageId), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect((await res.json()).error).toEqual({
      code: 'request_too_large',
      message: 'A request must be at most 500 KB',
    });
    expect(await stored([messageId])).toEqual([]);

    const next = uid('after-bomb');
    expect((await post('batch', gzipSync(batchText([next])), { 'content-encoding': 'gzip' })).status).toBe(200);
    expect(await stored([next])).toHaveLength(1);
  });

  it('holds the inflated body to the request limit: at it stored, one byte over it 413', async () => {
    const at = uid('at-limit');
    const over = uid('over-limit');
    const pad = (id: string, extra: number) =>
      batchText([id], ' '.repeat(LIMITS.requestBytes - batchText([id]).length + extra));
    expect(Buffer.byteLength(pad(at, 0))).toBe(LIMITS.requestBytes);
    expect((await post('batch', gzipSync(pad(at, 0)), { 'content-encoding': 'gzip' })).status).toBe(200);
    const res = await post('batch', deflateSync(pad(over, 1)), { 'content-encoding': 'deflate' });
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe('request_too_large');
    expect((await stored([at, over])).map((r) => r.messageId)).toEqual([at]);
  });

  it('still bounds the compressed body itself', async () => {
    // Random bytes do not compress: the gzip of 600 KB of them is over the limit as sent.
    const noise = gzipSync(randomBytes(600 * 1024));
    const res = await post('batch', noise, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
  });

  it('answers truncated or corrupt gzip 400 naming the problem, and stores nothing', async () => {
    const ids = [uid('truncated'), uid('corrupt')];
    const whole = gzipSync(batchText([ids[0] ?? '']));
    const truncated = await post('batch', whole.subarray(0, whole.length - 12), { 'content-encoding': 'gzip' });
    expect(truncated.status).toBe(400);
    expect((await truncated.json()).error).toEqual({
      code: 'invalid_encoding',
      message: 'The body is not valid gzip data, as Content-Encoding says: unexpected end of file',
    });
    const corrupt = gzipSync(batchText([ids[1] ?? '']));
    corrupt.fill(0xff, 20, 40);
    const res = await post('batch', corrupt, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('invalid_encoding');
    expect(await stored(ids)).toEqual([]);
  });

  it('answers an encoding it cannot read 415 naming it, and a plain body labelled gzip 400', async () => {
    const id = uid('br');
    const br = await post('batch', batchText([id]), { 'content-encoding': 'br' });
    expect(br.status).toBe(415);
    expect((await br.json()).error).toEqual({
      code: 'unsupported_encoding',
      message: 'Content-Encoding "br" is not supported: send the body uncompressed, gzip or deflate',
    });
    const twice = await post('batch', gzipSync(gzipSync(batchText([id]))), { 'content-encoding': 'gzip, gzip' });
    expect(twice.status).toBe(415);
    const mislabelled = await post('batch', batchText([id]), { 'content-encoding': 'gzip' });
    expect(mislabelled.status).toBe(400);
    expect((await mislabelled.json()).error.message).toMatch(/not valid gzip.*incorrect header check/);
    expect(await stored([id])).toEqual([]);
  });
});
