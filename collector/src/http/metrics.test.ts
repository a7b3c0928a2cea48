import { describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { basicAuth, useApp, WRITE_KEY } from '../../test/harness';
import { newCustomer } from '../../test/profile-fixtures';

/** The value of one sample line of the Prometheus text format, or undefined. */
const sample = (text: string, line: string) => {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
};

describe.each(testDatabases)('Prometheus metrics on $name', (db) => {
  const h = useApp(db);
  const scrape = async () => {
    const res = await h.call('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    return res.text();
  };

  it('answers only a read or admin key, as Prometheus sends it (Authorization: Bearer)', async () => {
    const none = await h.call('GET', '/metrics', undefined, null);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await none.json()).error.code).toBe('unauthorized');
    expect((await h.call('GET', '/metrics', undefined, 'Bearer sk_not_a_key_at_all')).status).toBe(401);
    expect((await h.call('GET', '/metrics', undefined, basicAuth(WRITE_KEY))).status).toBe(403);
    const created = await h.call('POST', '/api/v1/admin/keys', { kind: 'read', name: 'prometheus' });
    const { secret } = await created.json();
    const read = await h.call('GET', '/metrics', undefined, `Bearer ${secret}`);
    expect(read.status).toBe(200);
    expect(await read.text()).toContain('tributary_events_accepted_total');
  });

  it('counts accepted events and their processing latency', async () => {
    const before = sample(await scrape(), 'tributary_events_accepted_total') ?? 0;
    await h.send('batch', {
      batch: [
        { type: 'track', anonymousId: 'm-1', event: 'A' },
        { type: 'page', anonymousId: 'm-1' },
      ],
    });
    const text = await scrape();
    expect(sample(text, 'tributary_events_accepted_total')).toBe(before + 2);
    expect(sample(text, 'tributary_event_processing_seconds_count')).toBeGreaterThanOrEqual(1);
    // The process defaults are there too.
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('counts identity resolutions and stitching outcomes', async () => {
    const c = await newCustomer(h, { email: 'm@example.com' });
    await h.call('GET', `/api/v1/cdp/identity/resolve?identityType=EXTERNAL_ID&identityValue=${c.userId}`);
    await h.call('GET', '/api/v1/cdp/identity/resolve?identityType=EXTERNAL_ID&identityValue=nobody-at-all');
    const text = await scrape();
    expect(sample(text, 'tributary_identity_resolution_total{operation="resolve",outcome="hit"}')).toBe(1);
    expect(sample(text, 'tributary_identity_resolution_total{operation="resolve",outcome="miss"}')).toBe(1);
    expect(
      sample(text, 'tributary_identity_resolution_total{operation="stitch",outcome="linked"}'),
    ).toBeGreaterThanOrEqual(1);
  });

  it('times trait computation and the Customer 360 view', async () => {
    const c = await newCustomer(h);
    await h.call('GET', `/api/v1/cdp/customer360/${c.id}`);
    await h.call('POST', `/api/v1/cdp/traits/${c.id}/compute-engagement`);
    const text = await scrape();
    expect(sample(text, 'tributary_customer360_seconds_count')).toBe(1);
    expect(sample(text, 'tributary_trait_computation_seconds_count{kind="engagement"}')).toBe(2);
    expect(sample(text, 'tributary_trait_computation_seconds_count{kind="lifetime_value"}')).toBe(1);
    expect(sample(text, 'tributary_trait_computation_seconds_count{kind="engagement_traits"}')).toBe(1);
  });
});
