import { request } from 'node:http';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { basicAuth } from '../../test/harness';
import { startCollector } from '../../test/start-collector';
import { requestIp } from './request-ip';
import { parseTrustProxy } from './trust-proxy';

/** The address requestIp picks for a request from `peer` (null: no socket) carrying `headers`. */
async function callerOf(trustProxy: string, peer: string | null, headers: Record<string, string> = {}) {
  const app = new Hono().get('/', (c) => c.json(requestIp(c, parseTrustProxy(trustProxy))));
  // @hono/node-server's getConnInfo reads the peer from the incoming message in the environment.
  const env = peer === null ? {} : { incoming: { socket: { remoteAddress: peer } } };
  return (await app.request('/', { headers }, env)).json();
}

describe("the caller's address", () => {
  it("is the socket's peer, headers ignored, when no proxy is trusted", async () => {
    expect(
      await callerOf('0', '203.0.113.7', { 'x-forwarded-for': '198.51.100.1', forwarded: 'for=198.51.100.2' }),
    ).toBe('203.0.113.7');
    expect(await callerOf('0', '::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(await callerOf('0', null)).toBeNull();
  });

  it('behind a count of proxies, is the entry that many from the right, or the leftmost', async () => {
    const xff = { 'x-forwarded-for': '192.0.2.66, 198.51.100.1, 10.0.0.2' };
    expect(await callerOf('1', '10.0.0.1', xff)).toBe('10.0.0.2');
    expect(await callerOf('2', '10.0.0.1', xff)).toBe('198.51.100.1');
    expect(await callerOf('5', '10.0.0.1', xff)).toBe('192.0.2.66');
    expect(await callerOf('1', '10.0.0.1')).toBe('10.0.0.1');
    // In-process requests have no socket: the count still reads the header.
    expect(await callerOf('1', null, xff)).toBe('10.0.0.2');
  });

  it('behind trusted ranges, is the first address from the right outside them', async () => {
    const headers = { 'x-forwarded-for': '192.0.2.66, 198.51.100.1, 10.0.0.3, 10.0.0.2' };
    expect(await callerOf('10.0.0.0/8', '10.0.0.1', headers)).toBe('198.51.100.1');
    // Trusted however many proxies the request passed: one, or none at all.
    expect(await callerOf('10.0.0.0/8', '10.0.0.1', { 'x-forwarded-for': '198.51.100.1' })).toBe('198.51.100.1');
    expect(await callerOf('10.0.0.0/8', '10.0.0.1')).toBe('10.0.0.1');
    expect(await callerOf('10.0.0.0/8', '10.0.0.1', { 'x-forwarded-for': '10.0.0.9, 10.0.0.2' })).toBe('10.0.0.9');
    expect(await callerOf('10.0.0.0/8,private', '::ffff:10.0.0.1', { 'x-forwarded-for': '::ffff:198.51.100.1' })).toBe(
      '198.51.100.1',
    );
  });

  it('ignores the headers of a peer outside the trusted ranges, and of a request without a socket', async () => {
    const forged = { 'x-forwarded-for': '198.51.100.1', forwarded: 'for=198.51.100.2' };
    expect(await callerOf('10.0.0.0/8', '203.0.113.7', forged)).toBe('203.0.113.7');
    expect(await callerOf('10.0.0.0/8', null, forged)).toBeNull();
  });

  it('is unknown where the trusted proxy wrote no address', async () => {
    expect(await callerOf('10.0.0.0/8', '10.0.0.1', { forwarded: 'for=unknown' })).toBeNull();
    expect(await callerOf('1', '10.0.0.1', { 'x-forwarded-for': 'garbage' })).toBeNull();
  });

  it('reads Forwarded when there is no X-Forwarded-For, X-Forwarded-For when there is', async () => {
    const forwarded = 'for=192.0.2.66, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.2';
    expect(await callerOf('10.0.0.0/8', '10.0.0.1', { forwarded })).toBe('2001:db8:cafe::17');
    expect(await callerOf('1', '10.0.0.1', { forwarded })).toBe('10.0.0.2');
    expect(await callerOf('1', '10.0.0.1', { forwarded, 'x-forwarded-for': '198.51.100.1' })).toBe('198.51.100.1');
  });
});

describe('TRUST_PROXY on a real socket', () => {
  /** Sends a track call from `localAddress` claiming `forwardedFor`; answers the IP stored with it. */
  async function storedIp(collector: Awaited<ReturnType<typeof startCollector>>, localAddress: string) {
    const messageId = crypto.randomUUID();
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: new URL(collector.url).port,
          localAddress,
          path: '/v1/track',
          method: 'POST',
          headers: {
            authorization: basicAuth(collector.writeKey),
            'content-type': 'application/json',
            'x-forwarded-for': '198.51.100.23',
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ anonymousId: 'a', event: 'e', messageId }));
    });
    expect(status).toBe(200);
    const [row] = await collector.query<{ ip_address: string | null }>(
      `select ip_address from customer_events where message_id = '${messageId}'`,
    );
    return row?.ip_address;
  }

  it('believes X-Forwarded-For from a trusted peer, and ignores it from any other', async () => {
    const collector = await startCollector({ config: { TRUST_PROXY: parseTrustProxy('127.0.0.1/32') } });
    try {
      expect(await storedIp(collector, '127.0.0.1')).toBe('198.51.100.23');
      expect(await storedIp(collector, '127.0.0.2')).toBe('127.0.0.2');
    } finally {
      await collector.close();
    }
  });
});
