import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { HttpError } from '../http/errors';
import { generateKeyMaterial, parseKeyring } from '../privacy/encryption';
import { type DecodeInput, decodeRequest } from './decode-request';
import { RequestDecoder, spawnDecodeWorker } from './request-decoder';

const keyring = parseKeyring(`k1:${generateKeyMaterial()}`, generateKeyMaterial());
const input = (body: unknown, endpoint: DecodeInput['endpoint'] = 'batch'): DecodeInput => ({
  text: JSON.stringify(body),
  endpoint,
  receivedAt: new Date('2024-05-01T12:00:00.000Z'),
  ip: '203.0.113.9',
  userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148',
  ipMode: 'keep',
  keyring,
});

const decoders: RequestDecoder[] = [];
const newDecoder = (spawn?: () => Worker) => {
  const decoder = new RequestDecoder(spawn);
  decoders.push(decoder);
  return decoder;
};
afterAll(async () => {
  for (const d of decoders) await d.close();
});

describe('the request decoder on its worker thread', () => {
  it('hands back what decoding on this thread gives: event summaries, identity work with its dates, COPY text', async () => {
    const body = {
      writeKey: 'wk_in_body',
      sentAt: '2024-05-01T12:00:01.000Z',
      context: { locale: 'de-DE' },
      batch: [
        { type: 'identify', messageId: 'm1', userId: 'u1', anonymousId: 'a1', traits: { email: 'Ada@Example.com' } },
        { type: 'track', messageId: 'm2', anonymousId: 'a1', event: 'Quote Requested', properties: { premium: 12.5 } },
      ],
    };
    const onWorker = await newDecoder().decode(input(body));
    const here = decodeRequest(input(body));
    if (!('batch' in onWorker) || !('batch' in here)) throw new Error('expected events');
    expect(onWorker.writeKey).toBe('wk_in_body');
    expect(onWorker.batch.events).toEqual(here.batch.events);
    expect(onWorker.batch.events[0]?.link?.at).toBeInstanceOf(Date);
    expect(onWorker.batch.events.map((e) => e.message_id)).toEqual(['m1', 'm2']);
    const lines = (b: typeof here.batch) =>
      [0, 1].map((i) => Buffer.from(b.copy.subarray(b.lineStarts[i], b.lineStarts[i + 1])).toString());
    // Traits are sealed with a fresh IV each time, so the two sides' ciphertexts differ; the rest is equal.
    expect(lines(onWorker.batch)[1]).toBe(lines(here.batch)[1]);
    expect(lines(onWorker.batch)[0]).toContain('de-DE');
    expect(onWorker.batch.copy.length).toBe(here.batch.lineStarts[2]);
  });

  it('hands back errors as HttpErrors with their status, code and issues', async () => {
    const decoder = newDecoder();
    const unreadable = await decoder.decode({ ...input({}), text: '{"batch": [' });
    expect('parseError' in unreadable && unreadable.parseError).toBeInstanceOf(HttpError);
    expect('parseError' in unreadable && unreadable.parseError.code).toBe('invalid_json');

    const invalid = await decoder.decode(input({ writeKey: 'wk', anonymousId: 'a' }, 'track'));
    if (!('error' in invalid)) throw new Error('expected a validation error');
    expect(invalid.writeKey).toBe('wk');
    expect(invalid.error).toBeInstanceOf(HttpError);
    expect(invalid.error.status).toBe(400);
    expect(invalid.error.issues?.map((i) => i.path)).toEqual(['event']);
  });

  it("hands back a batch's refused events beside the others", async () => {
    const decoded = await newDecoder().decode(
      input({
        batch: [
          { type: 'track', anonymousId: 'a', messageId: 'm0' },
          { type: 'track', anonymousId: 'a', event: 'e' },
        ],
      }),
    );
    if (!('batch' in decoded)) throw new Error('expected events');
    expect(decoded.batch.events.map((e) => e.index)).toEqual([1]);
    expect(decoded.refused).toEqual([
      {
        index: 0,
        messageId: 'm0',
        code: 'validation_failed',
        message: 'batch.0.event: Invalid input: expected string, received undefined',
        issues: [{ path: 'batch.0.event', message: 'Invalid input: expected string, received undefined' }],
      },
    ]);
  });

  it('can start its worker ahead of the first request, and keeps using that one', async () => {
    let spawned = 0;
    const decoder = newDecoder(() => {
      spawned++;
      return spawnDecodeWorker();
    });
    decoder.warm();
    expect(spawned).toBe(1);
    const decoded = await decoder.decode(input({ anonymousId: 'a', event: 'e' }, 'track'));
    expect('batch' in decoded && decoded.batch.events).toHaveLength(1);
    expect(spawned).toBe(1);
  });

  it('fails the requests a crashed worker held, and starts a new worker for the next', async () => {
    let spawned = 0;
    // The first worker dies on its first message, as a crash would; later ones are real.
    const decoder = newDecoder(() =>
      spawned++ === 0
        ? new Worker("require('node:worker_threads').parentPort.on('message', () => process.exit(3))", { eval: true })
        : spawnDecodeWorker(),
    );
    const track = input({ anonymousId: 'a', event: 'e' }, 'track');
    await expect(decoder.decode(track)).rejects.toThrow(/exit code 3/);
    const next = await decoder.decode(track);
    expect('batch' in next && next.batch.events).toHaveLength(1);
    expect(spawned).toBe(2);
  });
});
