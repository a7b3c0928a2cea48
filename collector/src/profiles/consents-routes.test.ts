import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { insertCustomer } from '../../test/customers';
import { testDatabases } from '../../test/databases';
import { API_KEY, callCdp, useApp } from '../../test/harness';
import { customerConsents } from '../db/schema';
import { hashKey } from '../privacy/keys';

const UNKNOWN = '00000000-0000-4000-8000-000000000004';
const ACTOR = `env:${hashKey(API_KEY).slice(0, 12)}`;

const paths = (body: { error: { issues: { path: string }[] } }) => body.error.issues.map((i) => i.path);

describe.each(testDatabases)('consent API on $name', (db) => {
  const h = useApp(db);

  it('grants a consent and records who, when and from where', async () => {
    const id = await insertCustomer(h);
    const res = await callCdp(h, 'POST', `/consents/${id}`, {
      consentType: 'MARKETING_EMAIL',
      granted: true,
      source: 'customer_portal',
      ipAddress: '192.168.1.1',
      expiresAt: '2999-01-01T00:00:00Z',
      metadata: { form: 'signup' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      customerId: id,
      consent: {
        consentType: 'MARKETING_EMAIL',
        granted: true,
        status: 'GRANTED',
        source: 'customer_portal',
        ipAddress: '192.168.1.1',
        expiresAt: '2999-01-01T00:00:00.000Z',
        revokedAt: null,
        metadata: { form: 'signup' },
      },
      change: {
        consentType: 'MARKETING_EMAIL',
        granted: true,
        previousGranted: null,
        source: 'customer_portal',
        ipAddress: '192.168.1.1',
        actor: ACTOR,
      },
    });
    expect(Date.parse(res.body.consent.grantedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('revokes, keeping when it was granted, and history says what it was before', async () => {
    const id = await insertCustomer(h);
    const grant = await callCdp(h, 'POST', `/consents/${id}`, { consentType: 'PROFILING', granted: true });
    const revoke = await callCdp(h, 'POST', `/consents/${id}`, {
      consentType: 'PROFILING',
      granted: false,
      source: 'email_footer',
      ipAddress: '2001:db8::1',
    });
    expect(revoke.body.consent).toMatchObject({
      granted: false,
      status: 'REVOKED',
      grantedAt: grant.body.consent.grantedAt,
      source: 'email_footer',
    });
    expect(revoke.body.consent.revokedAt).not.toBeNull();
    expect(revoke.body.change).toMatchObject({ granted: false, previousGranted: true, ipAddress: '2001:db8::1' });
  });

  it('lists the current state of every consent type', async () => {
    const id = await insertCustomer(h);
    await callCdp(h, 'POST', `/consents/${id}`, { consentType: 'ANALYTICS_TRACKING', granted: true });
    await callCdp(h, 'POST', `/consents/${id}`, { consentType: 'MARKETING_SMS', granted: false });
    const res = await callCdp(h, 'GET', `/consents/${id}`);
    expect(res.status).toBe(200);
    const byType = Object.fromEntries(
      res.body.consents.map((c: { consentType: string; status: string }) => [c.consentType, c.status]),
    );
    expect(byType).toEqual({
      MARKETING_EMAIL: 'NOT_SET',
      MARKETING_SMS: 'REVOKED',
      MARKETING_PUSH: 'NOT_SET',
      DATA_PROCESSING: 'NOT_SET',
      THIRD_PARTY_SHARING: 'NOT_SET',
      ANALYTICS_TRACKING: 'GRANTED',
      PERSONALIZATION: 'NOT_SET',
      PROFILING: 'NOT_SET',
    });
    const one = await callCdp(h, 'GET', `/consents/${id}/ANALYTICS_TRACKING`);
    expect(one.body).toMatchObject({ customerId: id, consent: { consentType: 'ANALYTICS_TRACKING', granted: true } });
    const unset = await callCdp(h, 'GET', `/consents/${id}/PROFILING`);
    expect(unset.body.consent).toMatchObject({ granted: false, status: 'NOT_SET' });
  });

  it('reads an expired grant as not granted, and a new grant records that it was not', async () => {
    const id = await insertCustomer(h);
    await callCdp(h, 'POST', `/consents/${id}`, {
      consentType: 'PERSONALIZATION',
      granted: true,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    // Time passes: the grant's expiry is now behind us.
    await h.database.db
      .update(customerConsents)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(and(eq(customerConsents.customerId, id), eq(customerConsents.consentType, 'PERSONALIZATION')));
    const one = await callCdp(h, 'GET', `/consents/${id}/PERSONALIZATION`);
    expect(one.body.consent).toMatchObject({ granted: false, status: 'EXPIRED' });
    const list = await callCdp(h, 'GET', `/consents/${id}`);
    expect(list.body.consents.find((c: { consentType: string }) => c.consentType === 'PERSONALIZATION')).toMatchObject({
      granted: false,
      status: 'EXPIRED',
    });
    const renew = await callCdp(h, 'POST', `/consents/${id}`, { consentType: 'PERSONALIZATION', granted: true });
    expect(renew.body.change.previousGranted).toBe(false);
    expect(renew.body.consent).toMatchObject({ granted: true, status: 'GRANTED', expiresAt: null });
  });

  it('keeps every change as history, newest first, a page at a time', async () => {
    const id = await insertCustomer(h);
    for (const granted of [true, false, true])
      await callCdp(h, 'POST', `/consents/${id}`, { consentType: 'MARKETING_PUSH', granted, source: `s-${granted}` });
    await callCdp(h, 'POST', `/consents/${id}`, { consentType: 'DATA_PROCESSING', granted: true });
    const page = await callCdp(h, 'GET', `/consents/${id}/history?limit=2`);
    expect(page.status).toBe(200);
    expect(page.body.pagination).toEqual({ page: 1, limit: 2, total: 4, totalPages: 2 });
    expect(page.body.history[0]).toMatchObject({ consentType: 'DATA_PROCESSING', actor: ACTOR });
    const push = await callCdp(h, 'GET', `/consents/${id}/history?consentType=MARKETING_PUSH`);
    expect(
      push.body.history.map((e: { granted: boolean; previousGranted: boolean | null }) => [
        e.granted,
        e.previousGranted,
      ]),
    ).toEqual([
      [true, false],
      [false, true],
      [true, null],
    ]);
    const bad = await callCdp(h, 'GET', `/consents/${id}/history?consentType=SPAM`);
    expect(paths(bad.body)).toEqual(['query.consentType']);
  });

  it('refuses bad input with a 400 naming the field, and unknown customers with a 404', async () => {
    const id = await insertCustomer(h);
    const noGranted = await callCdp(h, 'POST', `/consents/${id}`, { consentType: 'PROFILING' });
    expect(noGranted.status).toBe(400);
    expect(paths(noGranted.body)).toEqual(['json.granted']);
    const badType = await callCdp(h, 'POST', `/consents/${id}`, { consentType: 'SPAM', granted: true });
    expect(paths(badType.body)).toEqual(['json.consentType']);
    const badIp = await callCdp(h, 'POST', `/consents/${id}`, {
      consentType: 'PROFILING',
      granted: true,
      ipAddress: 'x',
    });
    expect(paths(badIp.body)).toEqual(['json.ipAddress']);
    const past = await callCdp(h, 'POST', `/consents/${id}`, {
      consentType: 'PROFILING',
      granted: true,
      expiresAt: '2000-01-01',
    });
    expect(paths(past.body)).toEqual(['json.expiresAt']);
    const badParam = await callCdp(h, 'GET', `/consents/${id}/SPAM`);
    expect(paths(badParam.body)).toEqual(['param.consentType']);
    expect((await callCdp(h, 'GET', '/consents/xyz')).status).toBe(400);

    expect((await callCdp(h, 'POST', `/consents/${UNKNOWN}`, { consentType: 'PROFILING', granted: true })).status).toBe(
      404,
    );
    expect((await callCdp(h, 'GET', `/consents/${UNKNOWN}`)).status).toBe(404);
    expect((await callCdp(h, 'GET', `/consents/${UNKNOWN}/PROFILING`)).status).toBe(404);
    expect((await callCdp(h, 'GET', `/consents/${UNKNOWN}/history`)).status).toBe(404);
  });
});
