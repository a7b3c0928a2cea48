import { describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { API_KEY, basicAuth, useApp, WRITE_KEY } from '../../test/harness';
import { createApp } from '../app';
import { testConfig } from '../config';

/** Polls `check` until it holds, for at most a second: how soon another process must hear of a change. */
async function withinASecond(check: () => Promise<boolean> | boolean) {
  const until = performance.now() + 1000;
  while (!(await check())) {
    if (performance.now() > until) throw new Error('not within a second');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each(testDatabases)('the revocation feed on $name', (db) => {
  const h = useApp(db);

  /** A second app on the same database, following what the first one changes, as another process would. */
  async function otherProcess() {
    const other = createApp({
      database: h.database,
      config: testConfig({ WRITE_KEYS: [WRITE_KEY], API_KEYS: [API_KEY] }),
    });
    const feed = await other.followRevocations();
    const send = (path: string, body: unknown) =>
      other.request(`/v1/${path}`, {
        method: 'POST',
        headers: { authorization: basicAuth(WRITE_KEY), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const close = async () => {
      await feed.stop();
      await other.writer.idle();
      await other.audit.flush();
    };
    return { other, send, close };
  }

  it('tells another app of a revoked key and of a suppression', async () => {
    const { other, close } = await otherProcess();
    try {
      const created = await (await h.call('POST', '/api/v1/admin/keys', { kind: 'write' })).json();
      expect(await other.keys.resolve(created.secret)).toMatchObject({ id: created.id });
      expect((await h.call('DELETE', `/api/v1/admin/keys/${created.id}`)).status).toBe(200);
      await withinASecond(async () => (await other.keys.resolve(created.secret)) === null);

      const anonymousId = crypto.randomUUID();
      const event = { user_id: null, anonymous_id: anonymousId, customer_id: null, identifiers: null };
      expect(other.suppressions.suppresses(event)).toBe(false);
      await h.call('POST', '/api/v1/admin/regulations', {
        regulationType: 'SUPPRESS',
        identityType: 'COOKIE_ID',
        identityValue: anonymousId,
      });
      await withinASecond(() => other.suppressions.suppresses(event));
    } finally {
      await close();
    }
  });

  it('tells another app of a deletion: the deleted visitor’s next event there makes a profile again', async () => {
    const { send, close } = await otherProcess();
    try {
      const userId = `deleted-${crypto.randomUUID()}`;
      const resolve = async () =>
        (await h.call('GET', `/api/v1/cdp/identity/resolve?identityType=EXTERNAL_ID&identityValue=${userId}`)).status;
      // The other app links this visitor, and remembers it did.
      expect((await send('track', { userId, event: 'Before' })).status).toBe(200);
      const { customerId } = await (
        await h.call('GET', `/api/v1/cdp/identity/resolve?identityType=EXTERNAL_ID&identityValue=${userId}`)
      ).json();
      expect(
        (await h.call('POST', '/api/v1/admin/regulations', { regulationType: 'DELETE_ONLY', customerId })).status,
      ).toBe(201);
      expect(await resolve()).toBe(404);
      // Deleted without suppression: what the visitor sends next starts a new profile.
      await withinASecond(async () => {
        await send('track', { userId, event: 'After' });
        return (await resolve()) === 200;
      });
    } finally {
      await close();
    }
  });
});
