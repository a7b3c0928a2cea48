import { describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { useApp } from '../../test/harness';

describe.each(testDatabases)('tracking API on $name', (db) => {
  const h = useApp(db);

  it('stores a track call and answers only after it is committed', async () => {
    const res = await h.send('track', { anonymousId: 'a-1', event: 'Clicked', properties: { n: 1 } });
    expect(res.status).toBe(200);
    const list = await h.call('GET', '/api/v1/cdp/events?eventType=CUSTOM');
    const body = await list.json();
    expect(body.events.map((e: { eventName: string }) => e.eventName)).toContain('Clicked');
  });
});
