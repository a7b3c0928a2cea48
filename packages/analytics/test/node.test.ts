import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCollector, startCollector } from '../../../collector/test/start-collector';
import { Analytics, isTributaryError, type TributaryError } from '../src/node';
import { startProxy } from './proxy';

const fast = { minDelay: 5, maxDelay: 50 };
let collector: RunningCollector;
beforeAll(async () => {
  collector = await startCollector();
});
afterAll(() => collector?.close());

const storedCount = async (ids: string[]) => {
  const list = ids.map((id) => `'${id}'`).join(',');
  const [row] = await collector.query<{ n: number | string }>(
    `select count(*) as n from customer_events where message_id in (${list})`,
  );
  return Number(row?.n);
};

describe('Node SDK against the real collector', () => {
  it('closeAndFlush delivers every call of every type and says so', async () => {
    const analytics = new Analytics({
      writeKey: collector.writeKey,
      host: collector.url,
      flushAt: 50,
      flushOnExit: false,
    });
    const ids: string[] = [];
    analytics.on('flush', ({ messageIds }) => ids.push(...messageIds));
    for (let i = 0; i < 300; i++) {
      analytics.track({ userId: `node-u${i % 7}`, event: 'Item Viewed', properties: { i } });
    }
    analytics.identify({ userId: 'node-u1', anonymousId: 'node-anon-1', traits: { email: 'node1@example.com' } });
    analytics.page({ anonymousId: 'node-anon-2', name: 'Pricing', properties: { path: '/pricing' } });
    analytics.group({ userId: 'node-u1', groupId: 'acme' });
    analytics.alias({ userId: 'node-u1', previousId: 'node-old-1' });
    analytics.track({ userId: 'node-u1', event: 'Order Completed', eventType: 'PURCHASE', properties: { total: 9 } });

    expect(await analytics.closeAndFlush({ timeout: 25_000 })).toEqual({ status: 'flushed', pending: 0 });
    expect(ids).toHaveLength(305);
    expect(await storedCount(ids)).toBe(305);
    const [purchase] = await collector.query<{ event_type: string; call_type: string }>(
      `select event_type, call_type from customer_events where message_id = '${ids[ids.length - 1]}'`,
    );
    expect(purchase).toEqual({ event_type: 'PURCHASE', call_type: 'track' });
  });

  it('calls each callback once its event is acknowledged', async () => {
    const analytics = new Analytics({
      writeKey: collector.writeKey,
      host: collector.url,
      flushAt: 5,
      flushOnExit: false,
    });
    const results = await Promise.all(
      Array.from(
        { length: 12 },
        (_, i) =>
          new Promise<TributaryError | undefined>((resolve) =>
            analytics.track({ anonymousId: `cb-${i}`, event: 'Callback' }, resolve),
          ),
      ),
    );
    expect(results).toEqual(Array(12).fill(undefined));
    await analytics.closeAndFlush();
  });

  it('retries a collector that answers 503 a few times: nothing lost, nothing sent twice', async () => {
    const proxy = await startProxy(collector.url, (n) =>
      n < 4 ? { status: 503, headers: { 'retry-after': '0' } } : 'forward',
    );
    const analytics = new Analytics({
      writeKey: collector.writeKey,
      host: proxy.url,
      flushAt: 20,
      maxRetries: 5,
      retry: fast,
      flushOnExit: false,
    });
    const sent: string[] = [];
    const errors: TributaryError[] = [];
    analytics.on('error', (e) => errors.push(e));
    for (let i = 0; i < 100; i++) {
      analytics.track({
        anonymousId: `retry-${i % 5}`,
        event: 'Retried',
        properties: { i },
        messageId: `retry-503-${i}`,
      });
      sent.push(`retry-503-${i}`);
    }
    expect((await analytics.closeAndFlush({ timeout: 10_000 })).status).toBe('flushed');
    await proxy.close();
    expect(errors).toEqual([]);
    expect(proxy.requests.filter((r) => typeof r.action === 'object')).toHaveLength(4);
    const forwarded = proxy.forwarded();
    expect(forwarded.sort()).toEqual([...sent].sort()); // each reached the collector exactly once
    expect(await storedCount(sent)).toBe(100);
  });

  it('outlasts an outage longer than its retries (503s, refused and hung requests): nothing dropped', async () => {
    // Twelve failed sends of each batch, each kind of outage, against the default maxRetries of 3.
    const proxy = await startProxy(collector.url, (n) =>
      n < 4 ? { status: 503, headers: { 'retry-after': '0' } } : n < 8 ? 'cut' : n < 12 ? 'hang' : 'forward',
    );
    const analytics = new Analytics({
      writeKey: collector.writeKey,
      host: proxy.url,
      flushAt: 10,
      concurrency: 1,
      retry: fast,
      timeout: 200,
      flushOnExit: false,
    });
    const errors: TributaryError[] = [];
    analytics.on('error', (e) => errors.push(e));
    const sent = Array.from({ length: 10 }, (_, i) => `outage-${i}`);
    for (const id of sent) analytics.track({ userId: 'outage-user', event: 'Through The Outage', messageId: id });
    expect((await analytics.closeAndFlush({ timeout: 20_000 })).status).toBe('flushed');
    await proxy.close();
    expect(errors).toEqual([]);
    expect(proxy.requests.length).toBe(13);
    expect(await storedCount(sent)).toBe(10);
  });

  it('resends when the answer is lost after the collector stored the batch; the messageId keeps it stored once', async () => {
    const proxy = await startProxy(collector.url, (n) => (n === 0 ? 'forward-and-cut' : n === 1 ? 'cut' : 'forward'));
    const analytics = new Analytics({
      writeKey: collector.writeKey,
      host: proxy.url,
      flushAt: 10,
      retry: fast,
      flushOnExit: false,
      concurrency: 1,
    });
    const sent = Array.from({ length: 10 }, (_, i) => `lost-answer-${i}`);
    for (const id of sent) analytics.track({ userId: 'lost-answer-user', event: 'Lost Answer', messageId: id });
    expect((await analytics.closeAndFlush({ timeout: 10_000 })).status).toBe('flushed');
    await proxy.close();
    expect(proxy.forwarded().filter((id) => id === 'lost-answer-0')).toHaveLength(2);
    expect(await storedCount(sent)).toBe(10);
  });

  it('reports the events the collector refuses in its 200, never sends them again, and delivers the rest', async () => {
    const proxy = await startProxy(collector.url, () => 'forward');
    const analytics = new Analytics({
      writeKey: collector.writeKey,
      host: proxy.url,
      flushAt: 10,
      flushOnExit: false,
    });
    const errors: TributaryError[] = [];
    analytics.on('error', (e) => errors.push(e));
    const ids = Array.from({ length: 10 }, (_, i) => `refused-${i}`);
    const deep = JSON.parse(`${'['.repeat(40)}${']'.repeat(40)}`);
    for (const [i, id] of ids.entries()) {
      // The collector refuses a userId over 512 characters and JSON over 32 levels, each on its own.
      const userId = i === 3 ? 'x'.repeat(600) : 'refused-user';
      analytics.track({ userId, event: 'Maybe', messageId: id, properties: i === 6 ? { deep } : {} });
    }
    expect((await analytics.closeAndFlush({ timeout: 10_000 })).status).toBe('flushed');
    await proxy.close();
    expect(errors).toHaveLength(1);
    expect(isTributaryError(errors[0])).toBe(true);
    expect(errors[0]).toMatchObject({ code: 'rejected', status: 200, messageIds: ['refused-3', 'refused-6'] });
    expect(errors[0]?.message).toMatch(/batch\.3\.userId/);
    expect(await storedCount(ids)).toBe(8);
    expect(proxy.requests).toHaveLength(1);
  });

  it('drops what a 4xx names, or the whole batch when it names none, and never sends it again', async () => {
    const issues = [
      { path: 'batch.1.event', message: 'is required for track' },
      { path: 'batch.2', message: 'the database refused this event' },
    ];
    const proxy = await startProxy(collector.url, (n) =>
      n === 0
        ? { status: 400, body: JSON.stringify({ error: { code: 'events_refused', message: 'refused', issues } }) }
        : n === 1
          ? { status: 413, body: '<html>Request Entity Too Large</html>' }
          : 'forward',
    );
    const analytics = new Analytics({
      writeKey: collector.writeKey,
      host: proxy.url,
      flushAt: 5,
      concurrency: 1,
      retry: fast,
      flushOnExit: false,
    });
    const errors: TributaryError[] = [];
    analytics.on('error', (e) => errors.push(e));
    for (let i = 0; i < 5; i++) analytics.track({ userId: 'u', event: 'Refused', messageId: `four-${i}` });
    expect((await analytics.closeAndFlush({ timeout: 10_000 })).status).toBe('flushed');
    await proxy.close();
    expect(errors.map((e) => [e.code, e.status, e.messageIds])).toEqual([
      ['rejected', 400, ['four-1', 'four-2']],
      ['rejected', 413, ['four-0', 'four-3', 'four-4']],
    ]);
    expect(proxy.requests.map((r) => r.messageIds)).toEqual([
      ['four-0', 'four-1', 'four-2', 'four-3', 'four-4'],
      ['four-0', 'four-3', 'four-4'],
    ]);
  });

  it('gives up after maxRetries and says so; closeAndFlush reports a timeout when the collector is unreachable', async () => {
    const proxy = await startProxy(collector.url, () => ({ status: 500 }));
    const analytics = new Analytics({
      writeKey: collector.writeKey,
      host: proxy.url,
      maxRetries: 2,
      retry: fast,
      flushOnExit: false,
    });
    const errors: TributaryError[] = [];
    analytics.on('error', (e) => errors.push(e));
    analytics.track({ userId: 'u', event: 'Doomed', messageId: 'doomed-1' });
    await analytics.flush();
    expect(proxy.requests).toHaveLength(3);
    expect(errors.map((e) => e.code)).toEqual(['retries_exhausted']);
    await proxy.close();

    const dead = new Analytics({
      writeKey: collector.writeKey,
      host: proxy.url,
      maxRetries: 100,
      retry: { minDelay: 50, maxDelay: 50 },
      flushOnExit: false,
    });
    dead.track({ userId: 'u', event: 'Never' });
    expect(await dead.closeAndFlush({ timeout: 300 })).toEqual({ status: 'timeout', pending: 1 });
  });

  it('bounds its queue, dropping the oldest with an error; refuses calls without an identity', async () => {
    const analytics = new Analytics({
      writeKey: collector.writeKey,
      host: 'http://127.0.0.1:9',
      maxQueueSize: 5,
      flushAt: 1000,
      flushOnExit: false,
    });
    const errors: TributaryError[] = [];
    analytics.on('error', (e) => errors.push(e));
    for (let i = 0; i < 8; i++) analytics.track({ userId: 'u', event: 'Over', messageId: `over-${i}` });
    expect(errors.map((e) => [e.code, e.messageIds])).toEqual([
      ['queue_overflow', ['over-0']],
      ['queue_overflow', ['over-1']],
      ['queue_overflow', ['over-2']],
    ]);
    // @ts-expect-error: a call without userId or anonymousId is a type error, and refused at run time
    analytics.track({ event: 'Nobody' });
    expect(errors.at(-1)?.code).toBe('invalid_call');
    expect((await analytics.closeAndFlush({ timeout: 50 })).pending).toBe(5);
  });
});
