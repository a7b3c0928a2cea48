import { describe, expect, it } from 'vitest';
import { identifyCustomer, insertCustomer } from '../../test/customers';
import { testDatabases } from '../../test/databases';
import { callCdp, useApp, WRITE_KEY } from '../../test/harness';

const UNKNOWN = '00000000-0000-4000-8000-000000000001';
type Identity = { identityValue: string; isPrimary: boolean };

describe.each(testDatabases)('identity API on $name', (db) => {
  const h = useApp(db);
  const call = (method: string, path: string, body?: unknown) => callCdp(h, method, path, body);
  const paths = (body: { error: { issues: { path: string }[] } }) => body.error.issues.map((i) => i.path);

  it('creates an identity with its value normalized', async () => {
    const id = await insertCustomer(h);
    const email = await call('POST', `/identities/${id}`, {
      identityType: 'EMAIL',
      identityValue: '  Ada.Lovelace@Example.COM ',
      provider: 'crm',
      metadata: { from: 'import' },
    });
    expect(email.status).toBe(201);
    expect(email.body).toEqual({
      customerId: id,
      identity: expect.objectContaining({
        customerId: id,
        identityType: 'EMAIL',
        identityValue: 'ada.lovelace@example.com',
        isPrimary: false,
        verifiedAt: null,
        provider: 'crm',
        metadata: { from: 'import' },
      }),
    });
    const phone = await call('POST', `/identities/${id}`, { identityType: 'PHONE', identityValue: '(415) 555-2671' });
    expect(phone.status).toBe(201);
    expect(phone.body.identity.identityValue).toBe('+14155552671');
  });

  it('answers 200 and updates the fields when the customer already has the identity', async () => {
    const id = await insertCustomer(h);
    await call('POST', `/identities/${id}`, { identityType: 'DEVICE_ID', identityValue: 'dev-1' });
    const again = await call('POST', `/identities/${id}`, {
      identityType: 'DEVICE_ID',
      identityValue: ' dev-1 ',
      provider: 'ios',
      verifiedAt: '2024-02-03T04:05:06Z',
    });
    expect(again.status).toBe(200);
    expect(again.body.identity).toMatchObject({ provider: 'ios', verifiedAt: '2024-02-03T04:05:06.000Z' });
    const list = await call('GET', `/identities/${id}`);
    expect(list.body.identities).toHaveLength(1);
  });

  it('refuses with 409 naming the owner an identity that another customer owns', async () => {
    const owner = await insertCustomer(h);
    const other = await insertCustomer(h);
    await call('POST', `/identities/${owner}`, { identityType: 'EMAIL', identityValue: 'taken@example.com' });
    const res = await call('POST', `/identities/${other}`, {
      identityType: 'EMAIL',
      identityValue: 'TAKEN@example.com',
    });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain(owner);
    expect(paths(res.body)).toEqual(['json.identityValue']);
    // Nothing changed hands.
    const resolved = await call('GET', '/identity/resolve?identityType=EMAIL&identityValue=taken@example.com');
    expect(resolved.body.customerId).toBe(owner);
  });

  it('refuses junk and malformed values with a 400 naming identityValue', async () => {
    const id = await insertCustomer(h);
    for (const [identityType, identityValue] of [
      ['EMAIL', 'not-an-email'],
      ['PHONE', '12'],
      ['EXTERNAL_ID', 'undefined'],
      ['COOKIE_ID', 'null'],
      ['DEVICE_ID', '0'],
    ]) {
      const res = await call('POST', `/identities/${id}`, { identityType, identityValue });
      expect(res.status, `${identityType} ${identityValue}`).toBe(400);
      expect(paths(res.body)).toEqual(['json.identityValue']);
    }
    const list = await call('GET', `/identities/${id}`);
    expect(list.body.identities).toEqual([]);
  });

  it('validates params and body, naming the field', async () => {
    const id = await insertCustomer(h);
    const badType = await call('POST', `/identities/${id}`, { identityType: 'FAX', identityValue: 'x' });
    expect(badType.status).toBe(400);
    expect(paths(badType.body)).toEqual(['json.identityType']);
    const missing = await call('POST', `/identities/${id}`, { identityType: 'EMAIL' });
    expect(paths(missing.body)).toEqual(['json.identityValue']);
    const badFlag = await call('POST', `/identities/${id}`, {
      identityType: 'EMAIL',
      identityValue: 'a@b.co',
      isPrimary: 'yes',
    });
    expect(paths(badFlag.body)).toEqual(['json.isPrimary']);
    const badParam = await call('POST', '/identities/not-a-uuid', { identityType: 'EMAIL', identityValue: 'a@b.co' });
    expect(badParam.status).toBe(400);
    expect(paths(badParam.body)).toEqual(['param.customerId']);
    const badQuery = await call('GET', `/identities/${id}?limit=0`);
    expect(paths(badQuery.body)).toEqual(['query.limit']);
  });

  it('answers 404 for an unknown customer', async () => {
    const body = { identityType: 'EMAIL', identityValue: 'nobody@example.com' };
    expect((await call('POST', `/identities/${UNKNOWN}`, body)).status).toBe(404);
    expect((await call('GET', `/identities/${UNKNOWN}`)).status).toBe(404);
    expect((await call('POST', `/identities/${UNKNOWN}/verify`, body)).status).toBe(404);
    expect((await call('POST', `/identities/${UNKNOWN}/set-primary`, body)).status).toBe(404);
  });

  it('lists identities a page at a time, filtered by type', async () => {
    const id = await insertCustomer(h);
    for (const v of ['d1', 'd2', 'd3'])
      await call('POST', `/identities/${id}`, { identityType: 'DEVICE_ID', identityValue: v });
    await call('POST', `/identities/${id}`, { identityType: 'EMAIL', identityValue: 'pages@example.com' });
    const first = await call('GET', `/identities/${id}?limit=3`);
    expect(first.status).toBe(200);
    expect(first.body.pagination).toEqual({ page: 1, limit: 3, total: 4, totalPages: 2 });
    const second = await call('GET', `/identities/${id}?limit=3&page=2`);
    const all = [...first.body.identities, ...second.body.identities].map((i: Identity) => i.identityValue);
    expect(all.sort()).toEqual(['d1', 'd2', 'd3', 'pages@example.com']);
    const devices = await call('GET', `/identities/${id}?identityType=DEVICE_ID`);
    expect(devices.body.pagination.total).toBe(3);
  });

  it('resolves an identity to its customer, normalizing the value asked for', async () => {
    const id = await identifyCustomer(h, 'resolver-1', { traits: { email: 'Resolve@Example.com' } });
    const res = await call('GET', '/identity/resolve?identityType=EMAIL&identityValue=%20RESOLVE@example.COM');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      customerId: id,
      customer: { id, email: 'resolve@example.com', isVerified: false },
      identity: { identityType: 'EMAIL', identityValue: 'resolve@example.com', customerId: id },
    });
    const unknown = await call('GET', '/identity/resolve?identityType=EMAIL&identityValue=ghost@example.com');
    expect(unknown.status).toBe(404);
    const missingType = await call('GET', '/identity/resolve?identityValue=ghost@example.com');
    expect(missingType.status).toBe(400);
    expect(paths(missingType.body)).toEqual(['query.identityType']);
    const malformed = await call('GET', '/identity/resolve?identityType=PHONE&identityValue=abc');
    expect(malformed.status).toBe(400);
    expect(paths(malformed.body)).toEqual(['query.identityValue']);
  });

  it('verifies an identity named by type and value or by ID, and the customer with it', async () => {
    const id = await insertCustomer(h);
    const created = await call('POST', `/identities/${id}`, { identityType: 'EMAIL', identityValue: 'v@example.com' });
    const byValue = await call('POST', `/identities/${id}/verify`, {
      identityType: 'EMAIL',
      identityValue: 'V@EXAMPLE.COM',
      verifiedAt: '2024-05-06T07:08:09Z',
    });
    expect(byValue.status).toBe(200);
    expect(byValue.body.identity).toMatchObject({
      id: created.body.identity.id,
      verifiedAt: '2024-05-06T07:08:09.000Z',
    });
    const resolved = await call('GET', '/identity/resolve?identityType=EMAIL&identityValue=v@example.com');
    expect(resolved.body.customer.isVerified).toBe(true);

    const device = await call('POST', `/identities/${id}`, { identityType: 'DEVICE_ID', identityValue: 'dv' });
    const before = Date.now();
    const byId = await call('POST', `/identities/${id}/verify`, { identityId: device.body.identity.id });
    expect(byId.status).toBe(200);
    expect(Date.parse(byId.body.identity.verifiedAt)).toBeGreaterThanOrEqual(before - 1000);
  });

  it('refuses to verify what is not an identity of that customer', async () => {
    const id = await insertCustomer(h);
    const other = await insertCustomer(h);
    const theirs = await call('POST', `/identities/${other}`, { identityType: 'DEVICE_ID', identityValue: 'theirs' });
    const res = await call('POST', `/identities/${id}/verify`, { identityId: theirs.body.identity.id });
    expect(res.status).toBe(404);
    const empty = await call('POST', `/identities/${id}/verify`, {});
    expect(empty.status).toBe(400);
    expect(paths(empty.body)).toEqual(['json.identityType', 'json.identityValue']);
    const badDate = await call('POST', `/identities/${id}/verify`, { identityId: UNKNOWN, verifiedAt: 'soon' });
    expect(paths(badDate.body)).toEqual(['json.verifiedAt']);
  });

  it('keeps one primary identity per type', async () => {
    const id = await insertCustomer(h);
    const a = await call('POST', `/identities/${id}`, {
      identityType: 'EMAIL',
      identityValue: 'a@primary.com',
      isPrimary: true,
    });
    const phone = await call('POST', `/identities/${id}`, {
      identityType: 'PHONE',
      identityValue: '+442071838750',
      isPrimary: true,
    });
    await call('POST', `/identities/${id}`, { identityType: 'EMAIL', identityValue: 'b@primary.com' });
    const set = await call('POST', `/identities/${id}/set-primary`, {
      identityType: 'EMAIL',
      identityValue: 'b@primary.com',
    });
    expect(set.status).toBe(200);
    expect(set.body.identity).toMatchObject({ identityValue: 'b@primary.com', isPrimary: true });
    const primaries = async () => {
      const list = await call('GET', `/identities/${id}`);
      return list.body.identities.filter((i: Identity) => i.isPrimary).map((i: Identity) => i.identityValue);
    };
    expect((await primaries()).sort()).toEqual(['+442071838750', 'b@primary.com']);
    // Creating a new primary takes the mark from the old one.
    await call('POST', `/identities/${id}`, { identityType: 'EMAIL', identityValue: 'c@primary.com', isPrimary: true });
    expect((await primaries()).sort()).toEqual(['+442071838750', 'c@primary.com']);
    const byId = await call('POST', `/identities/${id}/set-primary`, { identityId: a.body.identity.id });
    expect(byId.body.identity.isPrimary).toBe(true);
    expect((await primaries()).sort()).toEqual(['+442071838750', 'a@primary.com']);
    expect(phone.body.identity.isPrimary).toBe(true);
  });

  it('needs an API key: none is 401, a write key 403', async () => {
    const id = await insertCustomer(h);
    expect((await h.call('GET', `/api/v1/cdp/identities/${id}`, undefined, null)).status).toBe(401);
    expect((await h.call('GET', `/api/v1/cdp/identities/${id}`, undefined, `Bearer ${WRITE_KEY}`)).status).toBe(403);
  });
});
