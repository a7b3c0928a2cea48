import { request } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { testDatabases } from '../../test/databases';
import { basicAuth, type JsonResponse, useApp, WRITE_KEY } from '../../test/harness';
import { startCollector } from '../../test/start-collector';
import { sharedRequestDecoder } from '../ingest/request-decoder';
import { ipBucket } from './rate-limit';

describe('the budget an address counts against', () => {
  it('is the IPv4 address itself, however it is written', () => {
    expect(ipBucket('203.0.113.7')).toBe('203.0.113.7');
    expect(ipBucket('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(ipBucket('203.0.113.8')).not.toBe(ipBucket('203.0.113.7'));
  });

  it("is an IPv6 address's /64, however it is written", () => {
    const bucket = ipBucket('2001:db8:aa:bb::1');
    expect(ipBucket('2001:0DB8:00aa:00bb:ffff:ffff:ffff:ffff')).toBe(bucket);
    expect(ipBucket('2001:db8:aa:bb:1:2:3:4')).toBe(bucket);
    expect(ipBucket('2001:db8:aa:bc::1')).not.toBe(bucket);
  });

  it('is nothing for what is not an address', () => {
    expect(ipBucket('not an address')).toBeNull();
    expect(ipBucket('')).toBeNull();
  });
});

let seq = 0;
const uid = (p: string) => `${p}-${Date.now().toString(36)}-${++seq}`;

describe.each(testDatabases)('per-address rate limits on the tracking routes on $name', (db) => {
  // Behind one trusted proxy: the caller is the last X-Forwarded-For entry.
  const h = useApp(db, { RATE_LIMIT_PER_SECOND: 12, RATE_LIMIT_PER_IP_PER_SECOND: 3, TRUST_PROXY: 1 });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const from = (forwardedFor: string, body: string | Record<string, unknown> = {}, auth = basicAuth(WRITE_KEY)) =>
    h.app.request('/v1/track', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor, authorization: auth },
      body: typeof body === 'string' ? body : JSON.stringify({ anonymousId: uid('a'), event: 'e', ...body }),
    }) as Promise<JsonResponse>;
  /** A write key of the calling test's own, whose budget no other test spends. */
  const ownKey = async () => {
    const created = await h.call('POST', '/api/v1/admin/keys', { kind: 'write' });
    return basicAuth((await created.json()).secret);
  };
  const statuses = (responses: Response[]) => responses.map((r) => r.status);
  const count = (responses: Response[], status: number) => statuses(responses).filter((s) => s === status).length;

  it("answers one address over its rate with 429 naming the limit, without spending the site's key", async () => {
    const auth = await ownKey();
    const [abuser, visitors] = await Promise.all([
      // Sent at once, so they all fall in the same second however slow the machine is. The entries
      // left of the last were written by the caller, not by the trusted proxy: they change nothing.
      Promise.all(Array.from({ length: 10 }, () => from(`198.51.100.${++seq % 200}, 203.0.113.66`, {}, auth))),
      Promise.all(
        ['203.0.113.1', '203.0.113.2', '203.0.113.3'].flatMap((ip) => [from(ip, {}, auth), from(ip, {}, auth)]),
      ),
    ]);
    expect(count(abuser, 200)).toBe(3);
    expect(count(abuser, 429)).toBe(7);
    // 3 + 6 of the key's 12: had the abuser's refused requests spent it, visitors would be refused.
    expect(statuses(visitors)).toEqual(Array(6).fill(200));
    const limited = abuser.find((r) => r.status === 429) as JsonResponse;
    expect(limited.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(limited.headers.get('access-control-expose-headers')).toBe('Retry-After');
    const { error } = await limited.json();
    expect(error.code).toBe('rate_limited');
    expect(error.message).toMatch(/IP address/);
    expect(error.message).toMatch(/RATE_LIMIT_PER_IP_PER_SECOND/);
  });

  it('gives the addresses of one IPv6 /64 one budget', async () => {
    const auth = await ownKey();
    const sameNetwork = ['2001:db8:aa:bb::1', '2001:db8:aa:bb::2', '2001:db8:aa:bb:ffff::3', '2001:0db8:aa:bb::4'];
    const responses = await Promise.all(sameNetwork.flatMap((ip) => [from(ip, {}, auth), from(ip, {}, auth)]));
    expect(count(responses, 200)).toBe(3);
    expect(count(responses, 429)).toBe(5);
    const neighbour = await Promise.all([from('2001:db8:aa:bc::1', {}, auth), from('2001:db8:aa:bc::2', {}, auth)]);
    expect(statuses(neighbour)).toEqual([200, 200]);
  });

  it('reads an address a proxy wrote with its port (as some load balancers do) as the address', async () => {
    const forms = ['203.0.113.50:4711', '203.0.113.50:4712', '203.0.113.50', '[2001:db8:5::1]:4711', '2001:db8:5::2'];
    const auth = await ownKey();
    const responses = await Promise.all(forms.flatMap((ip) => [from(ip, {}, auth), from(ip, {}, auth)]));
    expect(count(responses, 200)).toBe(6);
    expect(count(responses, 429)).toBe(4);
  });

  it('counts a caller over its rate before decoding its body, even when the key is in the body', async () => {
    const ip = '203.0.113.90';
    const auth = await ownKey();
    const first = await Promise.all(Array.from({ length: 3 }, () => from(ip, {}, auth)));
    expect(statuses(first)).toEqual([200, 200, 200]);
    const decode = vi.spyOn(sharedRequestDecoder, 'decode');
    const noHeader = await h.app.request('/v1/track', {
      method: 'POST',
      headers: { 'x-forwarded-for': ip },
      body: `{"writeKey": "${WRITE_KEY}", "anonymousId": ${'x'.repeat(100_000)}`,
    });
    expect(noHeader.status).toBe(429);
    const wrongKey = await from(ip, '{', basicAuth('wk_not_a_real_key_at_all'));
    expect(wrongKey.status).toBe(429);
    expect(decode).not.toHaveBeenCalled();
  });
});

describe.each(testDatabases)('per-address rate limits on a real socket on $name', (db) => {
  it('limits 127.0.0.1 and 127.0.0.2 apart, by their socket addresses', async () => {
    const collector = await startCollector({
      database: await db.open(),
      config: { RATE_LIMIT_PER_IP_PER_SECOND: 2 },
    });
    try {
      const { port } = new URL(collector.url);
      const body = JSON.stringify({ anonymousId: 'a', event: 'e' });
      const send = (localAddress: string) =>
        new Promise<number>((resolve, reject) => {
          const req = request(
            {
              host: '127.0.0.1',
              port,
              localAddress,
              path: '/v1/track',
              method: 'POST',
              // A forged header is not believed without TRUST_PROXY.
              headers: { authorization: basicAuth(WRITE_KEY), 'x-forwarded-for': `192.0.2.${++seq % 200}` },
            },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      const one = await Promise.all(Array.from({ length: 5 }, () => send('127.0.0.1')));
      const two = await Promise.all(Array.from({ length: 2 }, () => send('127.0.0.2')));
      expect(one.filter((s) => s === 200)).toHaveLength(2);
      expect(one.filter((s) => s === 429)).toHaveLength(3);
      expect(two).toEqual([200, 200]);
    } finally {
      await collector.close();
    }
  });
});
