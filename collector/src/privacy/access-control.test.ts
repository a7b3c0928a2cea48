import { inArray } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { identifyCustomer } from '../../test/customers';
import { testDatabases } from '../../test/databases';
import { basicAuth, useApp } from '../../test/harness';
import { customerEvents } from '../db/schema';
import { userHash } from './identity-verification';

const bearer = (key: string) => `Bearer ${key}`;

describe.each(testDatabases)('keys and access control on $name', (db) => {
  const h = useApp(db);

  const createKey = async (body: Record<string, unknown>) => {
    const res = await h.call('POST', '/api/v1/admin/keys', body);
    expect(res.status).toBe(201);
    return res.json();
  };

  it('creates keys whose secret is shown once and lists them by id and prefix only', async () => {
    const created = await createKey({ kind: 'read', name: 'analyst' });
    expect(created.secret).toMatch(/^rk_/);
    const list = await (await h.call('GET', '/api/v1/admin/keys?limit=100')).json();
    const listed = list.keys.find((k: { id: string }) => k.id === created.id);
    expect(listed).toMatchObject({ kind: 'read', name: 'analyst', prefix: created.secret.slice(0, 10) });
    expect(JSON.stringify(list)).not.toContain(created.secret);
  });

  it('lets a read key read but not change, and keeps the admin API for admin keys', async () => {
    const { secret } = await createKey({ kind: 'read' });
    const customerId = await identifyCustomer(h, `reader-${crypto.randomUUID()}`);
    expect((await h.call('GET', `/api/v1/cdp/traits/${customerId}`, undefined, bearer(secret))).status).toBe(200);
    const write = await h.call(
      'POST',
      `/api/v1/cdp/traits/${customerId}`,
      { traitKey: 'x', traitValue: 1, traitType: 'BEHAVIORAL' },
      bearer(secret),
    );
    expect(write.status).toBe(403);
    expect((await h.call('GET', '/api/v1/admin/keys', undefined, bearer(secret))).status).toBe(403);
  });

  it('refuses a write key on the read and admin APIs', async () => {
    const { secret } = await createKey({ kind: 'write' });
    expect((await h.call('GET', '/api/v1/cdp/events', undefined, bearer(secret))).status).toBe(403);
    expect((await h.call('GET', '/api/v1/admin/audit', undefined, bearer(secret))).status).toBe(403);
    expect((await h.call('POST', '/v1/track', { anonymousId: 'a', event: 'e' }, basicAuth(secret))).status).toBe(200);
  });

  it('stops a revoked key at once', async () => {
    const { id, secret } = await createKey({ kind: 'admin' });
    expect((await h.call('GET', '/api/v1/cdp/events', undefined, bearer(secret))).status).toBe(200);
    expect((await h.call('DELETE', `/api/v1/admin/keys/${id}`)).status).toBe(200);
    expect((await h.call('GET', '/api/v1/cdp/events', undefined, bearer(secret))).status).toBe(401);
    expect((await h.call('DELETE', `/api/v1/admin/keys/${crypto.randomUUID()}`)).status).toBe(404);
    expect((await h.call('DELETE', '/api/v1/admin/keys/not-a-uuid')).status).toBe(400);
  });

  describe('identity verification', () => {
    it('refuses an unsigned or wrongly signed identify and accepts a signed one', async () => {
      const key = await createKey({ kind: 'write', identityVerification: true });
      expect(key.verificationSecret).toMatch(/^vs_/);
      const userId = `verified-${crypto.randomUUID()}`;
      const anonymousId = crypto.randomUUID();
      const send = (context: Record<string, unknown>) =>
        h.call('POST', '/v1/identify', { userId, anonymousId, context }, basicAuth(key.secret));

      const unsigned = await send({});
      expect(unsigned.status).toBe(403);
      expect((await unsigned.json()).error.issues[0].path).toBe('context.userHash');
      expect((await send({ userHash: userHash('vs_not_the_secret', userId) })).status).toBe(403);
      expect((await send({ userHash: userHash(key.verificationSecret, userId) })).status).toBe(200);

      const resolved = await h.call(
        'GET',
        `/api/v1/cdp/identity/resolve?identityType=COOKIE_ID&identityValue=${anonymousId}`,
      );
      expect(resolved.status).toBe(200);
    });

    it('refuses an unsigned identify or alias of a batch on its own, and stores the rest of the batch', async () => {
      const key = await createKey({ kind: 'write', identityVerification: true });
      const userId = `batch-verified-${crypto.randomUUID()}`;
      const anonymousId = crypto.randomUUID();
      const signed = { userHash: userHash(key.verificationSecret, userId) };
      const batch = [
        { type: 'track', anonymousId, event: 'Viewed', messageId: `m-${crypto.randomUUID()}` },
        { type: 'identify', userId: 'someone-else', anonymousId, messageId: `m-${crypto.randomUUID()}` },
        { type: 'identify', userId, anonymousId, context: signed, messageId: `m-${crypto.randomUUID()}` },
        { type: 'alias', userId: 'someone-else', previousId: userId, messageId: `m-${crypto.randomUUID()}` },
      ];
      const res = await h.call('POST', '/v1/batch', { batch }, basicAuth(key.secret));
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.count).toBe(2);
      expect(body.refused.map((r: { index: number; code: string }) => [r.index, r.code])).toEqual([
        [1, 'identity_verification_failed'],
        [3, 'identity_verification_failed'],
      ]);
      expect(body.refused[0].issues[0].path).toBe('batch.1.context.userHash');
      const ids = batch.map((e) => e.messageId);
      const stored = await h.database.db
        .select({ messageId: customerEvents.messageId })
        .from(customerEvents)
        .where(inArray(customerEvents.messageId, ids));
      expect(stored.map((r) => r.messageId).sort()).toEqual([ids[0], ids[2]].sort());
      const resolved = await h.call(
        'GET',
        `/api/v1/cdp/identity/resolve?identityType=EXTERNAL_ID&identityValue=someone-else`,
      );
      expect(resolved.status).toBe(404);

      // Nothing left to store: the batch is refused with 403, naming each event.
      const none = await h.call('POST', '/v1/batch', { batch: [batch[1], batch[3]] }, basicAuth(key.secret));
      expect(none.status).toBe(403);
      expect((await none.json()).error.issues.map((i: { path: string }) => i.path)).toEqual([
        'batch.0.context.userHash',
        'batch.1.context.userHash',
      ]);
    });

    it("lets no call claim an identified customer but by that customer's signed userId", async () => {
      const key = await createKey({ kind: 'write', identityVerification: true });
      const sign = (userId: string) => ({ userHash: userHash(key.verificationSecret, userId) });
      const resolve = async (identityType: string, identityValue: string) => {
        const res = await h.call(
          'GET',
          `/api/v1/cdp/identity/resolve?identityType=${identityType}&identityValue=${encodeURIComponent(identityValue)}`,
        );
        return res.status === 200 ? (await res.json()).customerId : null;
      };
      const victim = `victim-${crypto.randomUUID()}`;
      const email = `${victim}@example.com`;
      const identify = await h.call(
        'POST',
        '/v1/identify',
        { userId: victim, anonymousId: crypto.randomUUID(), traits: { email }, context: sign(victim) },
        basicAuth(key.secret),
      );
      expect(identify.status).toBe(200);
      const victimCustomer = await resolve('EXTERNAL_ID', victim);
      expect(victimCustomer).toBeTruthy();

      // A signed alias of the attacker's own new userId naming the victim's as its previous ID.
      const attacker = `attacker-${crypto.randomUUID()}`;
      const attackerAnon = crypto.randomUUID();
      const alias = await h.call(
        'POST',
        '/v1/alias',
        { userId: attacker, previousId: victim, anonymousId: attackerAnon, context: sign(attacker) },
        basicAuth(key.secret),
      );
      expect(alias.status).toBe(200);
      // An identify without a userId, carrying the victim's email.
      const otherAnon = crypto.randomUUID();
      const anonymous = await h.call(
        'POST',
        '/v1/identify',
        { anonymousId: otherAnon, traits: { email, plan: 'stolen' } },
        basicAuth(key.secret),
      );
      expect(anonymous.status).toBe(200);
      await h.app.writer.idle();
      expect(await resolve('EXTERNAL_ID', attacker)).not.toBe(victimCustomer);
      expect(await resolve('COOKIE_ID', attackerAnon)).not.toBe(victimCustomer);
      expect(await resolve('COOKIE_ID', otherAnon)).not.toBe(victimCustomer);
      expect(await resolve('EMAIL', email)).toBe(victimCustomer);

      // An anonymous previous ID is still linked by a signed alias.
      const earlierAnon = crypto.randomUUID();
      const own = await h.call(
        'POST',
        '/v1/alias',
        { userId: attacker, previousId: earlierAnon, context: sign(attacker) },
        basicAuth(key.secret),
      );
      expect(own.status).toBe(200);
      await h.app.writer.idle();
      expect(await resolve('COOKIE_ID', earlierAnon)).toBe(await resolve('EXTERNAL_ID', attacker));
    });

    it("does not let a signed alias claim a userId before that user's own identify", async () => {
      const key = await createKey({ kind: 'write', identityVerification: true });
      const sign = (userId: string) => ({ userHash: userHash(key.verificationSecret, userId) });
      const attacker = `attacker-${crypto.randomUUID()}`;
      const future = `future-${crypto.randomUUID()}`;
      const send = (type: string, body: Record<string, unknown>) =>
        h.call('POST', `/v1/${type}`, body, basicAuth(key.secret));
      expect((await send('alias', { userId: attacker, previousId: future, context: sign(attacker) })).status).toBe(200);
      expect((await send('identify', { userId: future, context: sign(future) })).status).toBe(200);
      await h.app.writer.idle();
      const resolve = async (value: string) =>
        (
          await (
            await h.call('GET', `/api/v1/cdp/identity/resolve?identityType=EXTERNAL_ID&identityValue=${value}`)
          ).json()
        ).customerId;
      expect(await resolve(future)).not.toBe(await resolve(attacker));
    });

    it('stores an unsigned track naming a userId but does not let it link the visitor', async () => {
      const key = await createKey({ kind: 'write', identityVerification: true });
      const victim = `victim-${crypto.randomUUID()}`;
      await h.call(
        'POST',
        '/v1/identify',
        { userId: victim, context: { userHash: userHash(key.verificationSecret, victim) } },
        basicAuth(key.secret),
      );
      const attacker = crypto.randomUUID();
      const res = await h.call(
        'POST',
        '/v1/track',
        { userId: victim, anonymousId: attacker, event: 'e' },
        basicAuth(key.secret),
      );
      expect(res.status).toBe(200);
      const resolved = await h.call(
        'GET',
        `/api/v1/cdp/identity/resolve?identityType=COOKIE_ID&identityValue=${attacker}`,
      );
      expect(resolved.status).toBe(404);
    });
  });
});

describe.each(testDatabases)('rate limits on $name', (db) => {
  const h = useApp(db, { RATE_LIMIT_PER_SECOND: 3 });

  it('answers 429 with Retry-After once a key is over its rate', async () => {
    // Sent at once, so they all fall in the same second however slow the machine is.
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => h.send('track', { anonymousId: 'a', event: 'e' })),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(5);
    const limited = responses.find((r) => r.status === 429);
    expect(limited?.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await limited?.json())?.error.code).toBe('rate_limited');
    // Another key has its own budget.
    expect((await h.call('GET', '/api/v1/cdp/events?limit=1')).status).toBe(200);
  });
});
