import { request } from 'node:http';
import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { testDatabases } from '../../test/databases';
import { basicAuth, useApp, WRITE_KEY } from '../../test/harness';
import { startCollector } from '../../test/start-collector';
import { customerEvents } from '../db/schema';
import { sharedRequestDecoder } from './request-decoder';

let seq = 0;
const uid = (p: string) => `${p}-${Date.now().toString(36)}-${++seq}`;

/** A request body that never ends: whoever waits for it waits for ever. */
const endlessBody = () =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"anonymousId":"a","event":"e","properties":{"x":"'));
    },
  });

describe.each(testDatabases)('who may send events, and when the key is checked, on $name', (db) => {
  const h = useApp(db);
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const createKey = async (kind: 'read' | 'admin' | 'write') => {
    const res = await h.call('POST', '/api/v1/admin/keys', { kind });
    expect(res.status).toBe(201);
    return (await res.json()).secret as string;
  };
  const storedCount = async (messageId: string) =>
    (await h.database.db.select().from(customerEvents).where(eq(customerEvents.messageId, messageId))).length;

  it.each([
    ['track', (messageId: string) => ({ anonymousId: 'a', event: 'e', messageId })],
    ['batch', (messageId: string) => ({ batch: [{ type: 'track', anonymousId: 'a', event: 'e', messageId }] })],
  ])('refuses a read key on /v1/%s with 403 and stores nothing', async (path, body) => {
    const secret = await createKey('read');
    const messageId = uid('read');
    const res = await h.call('POST', `/v1/${path}`, body(messageId), basicAuth(secret));
    expect(res.status).toBe(403);
    const { error } = await res.json();
    expect(error.code).toBe('forbidden');
    expect(error.message).toMatch(/read key/);
    await h.app.writer.idle();
    expect(await storedCount(messageId)).toBe(0);
  });

  it('refuses a read key given as "writeKey" in the body, and as a Bearer token', async () => {
    const secret = await createKey('read');
    const messageId = uid('read-body');
    const inBody = await h.call(
      'POST',
      '/v1/track',
      { writeKey: secret, anonymousId: 'a', event: 'e', messageId },
      null,
    );
    expect(inBody.status).toBe(403);
    const bearer = await h.call('POST', '/v1/track', { anonymousId: 'a', event: 'e', messageId }, `Bearer ${secret}`);
    expect(bearer.status).toBe(403);
    await h.app.writer.idle();
    expect(await storedCount(messageId)).toBe(0);
  });

  it('refuses an admin key on /v1 (a secret key does not belong where the public key goes) and takes a write key', async () => {
    const admin = await createKey('admin');
    const messageId = uid('admin');
    const refused = await h.call('POST', '/v1/track', { anonymousId: 'a', event: 'e', messageId }, basicAuth(admin));
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.message).toMatch(/admin key/);
    const write = await createKey('write');
    const ok = await h.call('POST', '/v1/track', { anonymousId: 'a', event: 'e', messageId }, basicAuth(write));
    expect(ok.status).toBe(200);
    expect(await storedCount(messageId)).toBe(1);
  });

  it('answers an invalid key in the header with 401 without decoding the body', async () => {
    const decode = vi.spyOn(sharedRequestDecoder, 'decode');
    // Unreadable and large: decoded, it would be a 400 invalid_json.
    const garbage = `{"batch": [${'x'.repeat(400 * 1024)}`;
    const res = await h.call('POST', '/v1/batch', garbage, basicAuth('wk_not_a_real_key_at_all'));
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe('unauthorized');
    const readKey = await createKey('read');
    const wrongScope = await h.call('POST', '/v1/batch', garbage, basicAuth(readKey));
    expect(wrongScope.status).toBe(403);
    expect(decode).not.toHaveBeenCalled();
  });

  it('answers a wrong key without waiting for a body that never ends', async () => {
    const readKey = await createKey('read');
    for (const [auth, status] of [
      [basicAuth('wk_not_a_real_key_at_all'), 401],
      [basicAuth(readKey), 403],
    ] as const) {
      const res = await h.app.request('/v1/track', {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: endlessBody(),
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(status);
    }
  });

  it('still decodes first when the key is only in the body: an unreadable body is a 400', async () => {
    const res = await h.call('POST', '/v1/track', '{"writeKey": "wk_x", ', null);
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('invalid_json');
    const ok = await h.call('POST', '/v1/track', { writeKey: WRITE_KEY, anonymousId: 'a', event: 'e' }, null);
    expect(ok.status).toBe(200);
  });
});

describe.each(testDatabases)('a real socket on $name', (db) => {
  it('answers a wrong key while the declared body is still being sent', async () => {
    const collector = await startCollector({ database: await db.open() });
    try {
      const { port } = new URL(collector.url);
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/v1/batch',
            method: 'POST',
            headers: {
              authorization: basicAuth('wk_not_a_real_key_at_all'),
              'content-type': 'application/json',
              'content-length': 400 * 1024,
            },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
            req.destroy();
          },
        );
        req.on('error', reject);
        // A few bytes of the 400 KB it declared, and then nothing.
        req.write('{"batch": [');
      });
      expect(status).toBe(401);
    } finally {
      await collector.close();
    }
  });
});
