import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { databaseUrl, testDatabases } from '../../test/databases';
import { API_KEY, type Harness, type Json, useApp, WRITE_KEY } from '../../test/harness';
import { type App, createApp } from '../app';
import { testConfig } from '../config';
import { type Database, queryRows } from '../db/client';
import { customerIdentities, customers, customerTraits } from '../db/schema';
import { open, parseKeyring } from './encryption';
import { identityMatches } from './identity-lookup';

const run = promisify(execFile);
let seq = 0;
const uid = (p: string) => `${p}-${Date.now().toString(36)}-${++seq}`;

/** Everything the database holds, as text: the real pg_dump on PostgreSQL, every row as JSON on PGlite. */
async function dumpDatabase(database: Database): Promise<string> {
  const url = databaseUrl(database);
  if (url) {
    const pgDump = ['/usr/lib/postgresql/15/bin/pg_dump', '/usr/bin/pg_dump'].find(existsSync) ?? 'pg_dump';
    const { stdout } = await run(pgDump, ['--no-owner', url], { maxBuffer: 256 * 1024 * 1024 });
    return stdout;
  }
  const tables = await queryRows<{ table_name: string }>(
    database.db,
    sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
  );
  const parts: string[] = [];
  for (const { table_name } of tables) {
    const rows = await queryRows<{ j: string }>(
      database.db,
      sql`select row_to_json(t)::text as j from ${sql.identifier(table_name)} t`,
    );
    parts.push(`-- ${table_name}`, ...rows.map((r) => r.j));
  }
  return parts.join('\n');
}

async function body(res: Response | Promise<Response>): Promise<Json> {
  const r = await res;
  if (r.status >= 300) throw new Error(`${r.status} ${await r.text()}`);
  return r.json();
}

describe.each(testDatabases)('personal data at rest on $name', (db) => {
  const h = useApp(db);
  const api = (path: string, init?: { method: string; body: unknown }) =>
    body(h.call(init?.method ?? 'GET', `/api/v1/cdp${path}`, init?.body));

  it('a dump of the database holds no email, phone number, name, birthday or address, while the API returns and resolves them', async () => {
    const grace = uid('grace');
    const alan = uid('alan');
    const anon = uid('anon');
    // Each person's data in the form sent, with the normalized forms the collector derives from it.
    const sent = {
      graceEmail: ' Grace.Hopper.Xq7@Navy.Example ',
      gracePhone: '(415) 555-0132',
      alanEmail: 'Alan.Turing.Zk3@Bletchley.Example',
      alanPhone: '+44 20 7946 0321',
      apiEmail: 'Work.Address.Pv9@Corp.Example',
      apiPhone: '+1 212-555-0187',
      apiIp: '203.0.113.77',
      traitPhone: '+1 415 555 0199',
      groupEmail: 'billing.Mw4@Company.Example',
      contextEmail: 'Context.Trait.Rb2@Mail.Example',
    };
    const plainNeedles = [
      'grace.hopper.xq7@navy.example',
      '(415) 555-0132',
      '+14155550132',
      '4155550132',
      'alan.turing.zk3@bletchley.example',
      '+44 20 7946 0321',
      '+442079460321',
      '2079460321',
      'work.address.pv9@corp.example',
      '+12125550187',
      '212-555-0187',
      '2125550187',
      '203.0.113.77',
      '+1 415 555 0199',
      '+14155550199',
      'billing.mw4@company.example',
      'context.trait.rb2@mail.example',
      'Gracexq',
      'Hopperzq',
      'Alanqv',
      'Turingwx',
      '1906-12-09',
      '1912-06-23',
      'Analytical Engine Lane',
      'Hut Eight Road',
    ];

    await body(
      h.send('identify', {
        userId: grace,
        anonymousId: anon,
        traits: {
          email: sent.graceEmail,
          phone: sent.gracePhone,
          firstName: 'Gracexq',
          lastName: 'Hopperzq',
          birthday: '1906-12-09',
          address: { street: '1 Analytical Engine Lane', city: 'Arlington', country: 'US' },
          plan: 'gold-plain-control',
        },
      }),
    );
    await body(
      h.send('batch', {
        batch: [
          {
            type: 'identify',
            userId: alan,
            traits: {
              email: sent.alanEmail,
              phone_number: sent.alanPhone,
              name: 'Alanqv Turingwx',
              date_of_birth: '1912-06-23',
              address: { street: '8 Hut Eight Road', city: 'Bletchley', country: 'GB' },
            },
          },
          { type: 'group', userId: alan, groupId: 'g1', traits: { name: 'Hut Eight', email: sent.groupEmail } },
          {
            type: 'track',
            userId: alan,
            event: 'Newsletter Joined',
            context: { traits: { email: sent.contextEmail } },
          },
          // Same person, from another device, named only by the email in another case: stitched by the blind index.
          { type: 'identify', anonymousId: anon, traits: { email: sent.graceEmail.trim().toUpperCase() } },
        ],
      }),
    );
    await h.app.writer.idle();

    const graceId = (await api(`/identity/resolve?identityType=EXTERNAL_ID&identityValue=${grace}`)).customerId;
    const alanId = (await api(`/identity/resolve?identityType=EXTERNAL_ID&identityValue=${alan}`)).customerId;
    await api(`/identities/${graceId}`, {
      method: 'POST',
      body: { identityType: 'EMAIL', identityValue: sent.apiEmail },
    });
    await api(`/identities/${graceId}`, {
      method: 'POST',
      body: { identityType: 'PHONE', identityValue: sent.apiPhone },
    });
    await api(`/identities/${graceId}`, {
      method: 'POST',
      body: { identityType: 'IP_ADDRESS', identityValue: sent.apiIp },
    });
    await api(`/traits/${graceId}`, {
      method: 'POST',
      body: { traitKey: 'phoneNumber', traitValue: sent.traitPhone, traitType: 'DEMOGRAPHIC' },
    });

    // The dump: none of it in plain text, in any case; but it is a real dump of that data.
    const dump = await dumpDatabase(h.database);
    const lower = dump.toLowerCase();
    expect(dump).toContain(grace);
    expect(dump).toContain('gold-plain-control');
    expect(dump).toContain('enc:test:');
    for (const needle of plainNeedles) expect(lower, `"${needle}" is in the dump`).not.toContain(needle.toLowerCase());

    // The API returns all of it, in plain text.
    const identities = (await api(`/identities/${graceId}`)).identities as {
      identityType: string;
      identityValue: string;
    }[];
    expect(identities.map((i) => `${i.identityType} ${i.identityValue}`)).toEqual(
      expect.arrayContaining([
        'EMAIL grace.hopper.xq7@navy.example',
        'PHONE +14155550132',
        'EMAIL work.address.pv9@corp.example',
        'PHONE +12125550187',
        'IP_ADDRESS 203.0.113.77',
        `EXTERNAL_ID ${grace}`,
        `COOKIE_ID ${anon}`,
      ]),
    );
    for (const [type, value, owner] of [
      ['EMAIL', 'GRACE.HOPPER.XQ7@navy.example', graceId],
      ['PHONE', sent.gracePhone, graceId],
      ['EMAIL', sent.apiEmail, graceId],
      ['PHONE', '212 555 0187', graceId],
      ['IP_ADDRESS', sent.apiIp, graceId],
      ['EMAIL', sent.alanEmail, alanId],
      ['PHONE', '+442079460321', alanId],
    ]) {
      const resolved = await api(
        `/identity/resolve?identityType=${type}&identityValue=${encodeURIComponent(value as string)}`,
      );
      expect(resolved.customerId, `${type} ${value}`).toBe(owner);
    }
    const resolved = await api('/identity/resolve?identityType=EMAIL&identityValue=alan.turing.zk3@bletchley.example');
    expect(resolved.customer).toMatchObject({
      email: 'alan.turing.zk3@bletchley.example',
      phoneNumber: '+442079460321',
      firstName: 'Alanqv',
      lastName: 'Turingwx',
    });
    expect(resolved.identity.identityValue).toBe('alan.turing.zk3@bletchley.example');
    expect(resolved.identity).not.toHaveProperty('valueHash');

    const traits = Object.fromEntries(
      ((await api(`/traits/${graceId}?limit=100`)).traits as { traitKey: string; traitValue: unknown }[]).map((t) => [
        t.traitKey,
        t.traitValue,
      ]),
    );
    expect(traits).toMatchObject({
      // The later identify from the other device sent the email in capitals.
      email: sent.graceEmail.trim().toUpperCase(),
      phone: sent.gracePhone,
      firstName: 'Gracexq',
      birthday: '1906-12-09',
      address: { street: '1 Analytical Engine Lane', city: 'Arlington', country: 'US' },
      phoneNumber: sent.traitPhone,
      plan: 'gold-plain-control',
    });
    expect((await api(`/traits/${graceId}/phoneNumber`)).trait.traitValue).toBe(sent.traitPhone);

    const view = await api(`/customer360/${graceId}`);
    expect(view.customer).toMatchObject({
      email: 'grace.hopper.xq7@navy.example',
      phoneNumber: '+14155550132',
      firstName: 'Gracexq',
      lastName: 'Hopperzq',
    });
    expect(view.profile).toMatchObject({
      dateOfBirth: '1906-12-09',
      address: { street: '1 Analytical Engine Lane', city: 'Arlington', country: 'US' },
    });
    expect(view.identities.map((i: Json) => i.identityValue)).toContain('work.address.pv9@corp.example');
    expect(view.traits.find((t: Json) => t.traitKey === 'firstName')?.traitValue).toBe('Gracexq');

    const events = (await api(`/events/${alanId}/recent`)).events as Json[];
    const byType = (callType: string) => events.find((e) => e.callType === callType);
    expect(byType('identify')?.metadata.traits).toMatchObject({
      email: sent.alanEmail,
      phone_number: sent.alanPhone,
      name: 'Alanqv Turingwx',
      address: { street: '8 Hut Eight Road' },
    });
    expect(byType('group')?.metadata.traits).toEqual({ name: 'Hut Eight', email: sent.groupEmail });
    expect(byType('track')?.context.traits).toEqual({ email: sent.contextEmail });
    expect(view.recentEvents.find((e: Json) => e.callType === 'identify')?.metadata.traits.email).toBeDefined();

    const exported = await body(h.call('GET', `/api/v1/admin/customers/${alanId}/export`));
    expect(exported.customer).toMatchObject({ email: 'alan.turing.zk3@bletchley.example', firstName: 'Alanqv' });
    expect(exported.profile).toMatchObject({ dateOfBirth: '1912-06-23', address: { city: 'Bletchley' } });
    expect(exported.traits.find((t: Json) => t.traitKey === 'email')?.traitValue).toBe(sent.alanEmail);
    expect(exported.events.find((e: Json) => e.callType === 'identify')?.metadata.traits.email).toBe(sent.alanEmail);
  });
});

describe.each(testDatabases)('personal data under any key name, at any depth, on $name', (db) => {
  const h = useApp(db);
  const api = (path: string, init?: { method: string; body: unknown }) =>
    body(h.call(init?.method ?? 'GET', `/api/v1/cdp${path}`, init?.body));

  it('a dump holds none of the personal data of properties, context, metadata, previousId, consent and trait metadata, while the API opens it', async () => {
    const ada = uid('ada');
    const anon = uid('anon');
    const previousId = uid('previous-id-pv8');
    const sent = {
      emailAddress: 'Addr.Key.Ea1@Mail.Example',
      workEmail: 'Work.Key.We2@Corp.Example',
      mobileNumber: '+1 646 555 0143',
      arrayEmail: 'Nested.Array.Na3@Mail.Example',
      objectEmail: 'Nested.Obj.No4@Mail.Example',
      propertyEmail: 'Prop.Ep5@Mail.Example',
      deepEmail: 'Deep.Prop.Dp6@Mail.Example',
      contextWorkEmail: 'Ctx.Work.Cw7@Mail.Example',
      consentNote: 'Consent Meta Note Cm9',
      traitNote: 'Trait Meta Note Tm1',
      cdpEmail: 'Cdp.Track.Ct2@Mail.Example',
      identityNote: 'Identity Meta Note Im3',
    };
    const needles = [
      ...Object.values(sent),
      '6465550143',
      'Surnamexv',
      'Difference Engine Street',
      'Firstqz',
      'Fullnameqk',
      'Groupmail.Gm4@Company.Example',
    ];
    // Values that are no personal data by their key: stored as sent, so segment rules can use them.
    const controls = ['plan-plain-control2', 'Plain Product Name Control', 'Plain Campaign Control', 'spouse-control'];

    await body(
      h.send('identify', {
        userId: ada,
        anonymousId: anon,
        traits: {
          email_address: sent.emailAddress,
          workEmail: sent.workEmail,
          mobileNumber: sent.mobileNumber,
          surname: 'Surnamexv',
          contacts: [{ email: sent.arrayEmail, relation: 'spouse-control' }],
          billing: { email: sent.objectEmail, street: '1 Difference Engine Street' },
          plan: 'plan-plain-control2',
        },
      }),
    );
    await body(
      h.send('batch', {
        batch: [
          {
            type: 'track',
            userId: ada,
            event: 'Order Completed',
            properties: {
              email: sent.propertyEmail,
              recipient: { email_address: sent.deepEmail, firstName: 'Firstqz' },
              products: [{ name: 'Plain Product Name Control', price: 3 }],
            },
            context: {
              traits: { workEmail: sent.contextWorkEmail },
              campaign: { name: 'Plain Campaign Control' },
            },
          },
          { type: 'alias', userId: ada, previousId },
          { type: 'group', userId: ada, groupId: 'g2', traits: { Email: 'Groupmail.Gm4@Company.Example' } },
        ],
      }),
    );
    await h.app.writer.idle();
    const adaId = (await api(`/identity/resolve?identityType=EXTERNAL_ID&identityValue=${ada}`)).customerId;
    await api(`/consents/${adaId}`, {
      method: 'POST',
      body: { consentType: 'MARKETING_EMAIL', granted: true, metadata: { form: 'footer', note: sent.consentNote } },
    });
    await api(`/traits/${adaId}`, {
      method: 'POST',
      body: { traitKey: 'vip', traitValue: true, traitType: 'PREFERENCE', metadata: { note: sent.traitNote } },
    });
    await api(`/identities/${adaId}`, {
      method: 'POST',
      body: { identityType: 'DEVICE_ID', identityValue: uid('device'), metadata: { note: sent.identityNote } },
    });
    await api('/events/track', {
      method: 'POST',
      body: {
        customerId: adaId,
        eventType: 'CUSTOM',
        eventName: 'Cdp Tracked',
        properties: { email: sent.cdpEmail },
        metadata: { previousOwner: { fullName: 'Fullnameqk' } },
      },
    });

    const dump = (await dumpDatabase(h.database)).toLowerCase();
    expect(
      controls.filter((c) => !dump.includes(c.toLowerCase())),
      'missing from the dump',
    ).toEqual([]);
    expect(
      needles.filter((n) => dump.includes(n.toLowerCase())),
      'in the dump',
    ).toEqual([]);
    // The previous ID is an identity (COOKIE_ID, in plain text like every anonymous ID), but no event shows it.
    const plainPrevious = await queryRows<{ n: number }>(
      h.database.db,
      sql`select count(*)::int as n from customer_events where metadata::text like ${`%${previousId}%`}`,
    );
    expect(plainPrevious[0]?.n).toBe(0);

    // Every answer opens it.
    const traits = Object.fromEntries(
      ((await api(`/traits/${adaId}?limit=100`)).traits as Json[]).map((t) => [t.traitKey, t]),
    );
    expect(traits.email_address?.traitValue).toBe(sent.emailAddress);
    expect(traits.workEmail?.traitValue).toBe(sent.workEmail);
    expect(traits.mobileNumber?.traitValue).toBe(sent.mobileNumber);
    expect(traits.contacts?.traitValue).toEqual([{ email: sent.arrayEmail, relation: 'spouse-control' }]);
    expect(traits.billing?.traitValue).toEqual({ email: sent.objectEmail, street: '1 Difference Engine Street' });
    expect(traits.vip?.metadata).toEqual({ note: sent.traitNote });
    expect((await api(`/traits/${adaId}/vip`)).trait.metadata).toEqual({ note: sent.traitNote });

    const events = (await api(`/events?customerId=${adaId}&limit=100`)).events as Json[];
    const byType = (callType: string) => events.find((e) => e.callType === callType);
    expect(byType('track')?.properties).toEqual({
      email: sent.propertyEmail,
      recipient: { email_address: sent.deepEmail, firstName: 'Firstqz' },
      products: [{ name: 'Plain Product Name Control', price: 3 }],
    });
    expect(byType('track')?.context.traits).toEqual({ workEmail: sent.contextWorkEmail });
    expect(byType('identify')?.metadata.traits.contacts).toEqual([
      { email: sent.arrayEmail, relation: 'spouse-control' },
    ]);
    expect(byType('alias')?.metadata.previousId).toBe(previousId);
    expect(byType('group')?.metadata.traits).toEqual({ Email: 'Groupmail.Gm4@Company.Example' });
    expect(byType('cdp')?.properties).toEqual({ email: sent.cdpEmail });
    expect(byType('cdp')?.metadata).toEqual({ previousOwner: { fullName: 'Fullnameqk' } });
    const recent = (await api(`/events/${adaId}/recent?limit=100`)).events as Json[];
    expect(recent.find((e) => e.callType === 'track')?.properties.email).toBe(sent.propertyEmail);

    const consent = (await api(`/consents/${adaId}/MARKETING_EMAIL`)).consent;
    expect(consent.metadata).toEqual({ form: 'footer', note: sent.consentNote });
    const consents = (await api(`/consents/${adaId}`)).consents as Json[];
    expect(consents.find((c) => c.consentType === 'MARKETING_EMAIL')?.metadata.note).toBe(sent.consentNote);
    const history = (await api(`/consents/${adaId}/history`)).history as Json[];
    expect(history[0]?.metadata.note).toBe(sent.consentNote);
    const identities = (await api(`/identities/${adaId}`)).identities as Json[];
    expect(identities.find((i) => i.identityType === 'DEVICE_ID')?.metadata).toEqual({ note: sent.identityNote });

    const view = await api(`/customer360/${adaId}`);
    expect(view.traits.find((t: Json) => t.traitKey === 'workEmail')?.traitValue).toBe(sent.workEmail);
    expect(view.consents.find((c: Json) => c.consentType === 'MARKETING_EMAIL')?.metadata.note).toBe(sent.consentNote);
    expect(view.recentEvents.find((e: Json) => e.callType === 'track')?.properties.email).toBe(sent.propertyEmail);

    const exported = await body(h.call('GET', `/api/v1/admin/customers/${adaId}/export`));
    expect(exported.traits.find((t: Json) => t.traitKey === 'vip')?.metadata).toEqual({ note: sent.traitNote });
    expect(exported.consents.find((c: Json) => c.consentType === 'MARKETING_EMAIL')?.metadata.note).toBe(
      sent.consentNote,
    );
    expect(exported.consentHistory[0]?.metadata.note).toBe(sent.consentNote);
    expect(exported.events.find((e: Json) => e.callType === 'track')?.properties.recipient.email_address).toBe(
      sent.deepEmail,
    );
    expect(exported.events.find((e: Json) => e.callType === 'alias')?.metadata.previousId).toBe(previousId);
  });
});

const CHROME_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36 Uniq/Xq9';
const FIREFOX_UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0 Uniq/Fz8';

describe.each(testDatabases.flatMap((db) => (['keep', 'truncate', 'drop'] as const).map((mode) => ({ ...db, mode }))))(
  'IP_MODE=$mode on IP addresses and user agents on $name',
  (db) => {
    const h = useApp(db, { IP_MODE: db.mode });
    const api = (path: string, init?: { method: string; body: unknown }) =>
      body(h.call(init?.method ?? 'GET', `/api/v1/cdp${path}`, init?.body));

    it('keeps, truncates or drops them wherever they are stored', async () => {
      const userId = uid('ip-mode');
      await body(
        h.send('batch', {
          batch: [
            { type: 'identify', userId },
            {
              type: 'track',
              userId,
              event: 'Browsed',
              context: {
                ip: '198.51.100.203',
                userAgent: CHROME_UA,
                userAgentData: { brands: [{ brand: 'Chromium', version: '120' }], mobile: false, platform: 'Windows' },
                // A revocation, which an event may always record (it only restricts).
                consent: { categoryPreferences: { marketing: false } },
              },
            },
          ],
        }),
      );
      await h.app.writer.idle();
      const customerId = (await api(`/identity/resolve?identityType=EXTERNAL_ID&identityValue=${userId}`)).customerId;
      await api(`/consents/${customerId}`, {
        method: 'POST',
        body: { consentType: 'DATA_PROCESSING', granted: true, ipAddress: '192.0.2.147' },
      });
      await api('/events/track', {
        method: 'POST',
        body: { customerId, eventType: 'CUSTOM', eventName: 'Cdp', ipAddress: '203.0.113.219', userAgent: FIREFOX_UA },
      });

      const dump = await dumpDatabase(h.database);
      const events = (await api(`/events?customerId=${customerId}&limit=100`)).events as Json[];
      const track = events.find((e) => e.callType === 'track');
      const cdp = events.find((e) => e.callType === 'cdp');
      const consent = (await api(`/consents/${customerId}/DATA_PROCESSING`)).consent;
      const fromEvent = (await api(`/consents/${customerId}/MARKETING_EMAIL`)).consent;

      if (db.mode === 'keep') {
        // As sent, in plain text (the README lists them).
        const plain = ['198.51.100.203', 'Uniq/Xq9', '192.0.2.147', '203.0.113.219', 'Uniq/Fz8'];
        expect(
          plain.filter((p) => !dump.includes(p)),
          'missing from the dump',
        ).toEqual([]);
        expect(track).toMatchObject({ ipAddress: '198.51.100.203', userAgent: CHROME_UA, browser: 'Chrome 120' });
        expect(track.context).toMatchObject({ ip: '198.51.100.203', userAgent: CHROME_UA });
        expect(cdp).toMatchObject({ ipAddress: '203.0.113.219', userAgent: FIREFOX_UA, browser: 'Firefox 121' });
        expect(consent.ipAddress).toBe('192.0.2.147');
        expect(fromEvent.ipAddress).toBe('198.51.100.203');
        return;
      }
      const gone = ['198.51.100.203', 'Uniq/Xq9', 'userAgentData', '192.0.2.147', '203.0.113.219', 'Uniq/Fz8'];
      expect(
        gone.filter((g) => dump.includes(g)),
        'in the dump',
      ).toEqual([]);
      expect(track).toMatchObject({ userAgent: null });
      expect(track.context).not.toHaveProperty('userAgent');
      expect(track.context).not.toHaveProperty('userAgentData');
      expect(cdp).toMatchObject({ userAgent: null });
      if (db.mode === 'truncate') {
        // The network, not the host; the browser's family and major version, not its exact build.
        expect(track).toMatchObject({ ipAddress: '198.51.100.0', browser: 'Chrome 120', os: 'Windows 10' });
        expect(track.context.ip).toBe('198.51.100.0');
        expect(cdp).toMatchObject({ ipAddress: '203.0.113.0', browser: 'Firefox 121', deviceType: 'desktop' });
        expect(consent.ipAddress).toBe('192.0.2.0');
        expect(fromEvent.ipAddress).toBe('198.51.100.0');
      } else {
        expect(track).toMatchObject({ ipAddress: null, browser: null, os: null, deviceType: null });
        expect(track.context).not.toHaveProperty('ip');
        expect(cdp).toMatchObject({ ipAddress: null, browser: null, os: null, deviceType: null });
        expect(consent.ipAddress).toBeNull();
        expect(fromEvent.ipAddress).toBeNull();
      }
    });
  },
);

const keyOf = (byte: number) => Buffer.alloc(32, byte).toString('base64');
const OLD = `old:${keyOf(1)}`;
const NEW = `new:${keyOf(2)}`;

describe.each(testDatabases)('key rotation on $name', (db) => {
  const h = useApp(db, { ENCRYPTION_KEY: OLD });

  /** A second collector on the same database, as after a restart with a new ENCRYPTION_KEY. */
  async function withApp(encryptionKey: string, test: (app: App, call: Harness['call']) => Promise<void>) {
    const app = createApp({
      database: h.database,
      config: testConfig({ WRITE_KEYS: [WRITE_KEY], API_KEYS: [API_KEY], ENCRYPTION_KEY: encryptionKey }),
    });
    const call: Harness['call'] = (method, path, payload, auth = `Bearer ${API_KEY}`) =>
      Promise.resolve(
        app.request(path, {
          method,
          headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
          ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
        }),
      );
    try {
      await test(app, call);
    } finally {
      await app.writer.idle();
      await app.audit.flush();
      await app.refresher.idle();
      app.refresher.close();
    }
  }

  const storedEmail = async (customerId: string) => {
    const [row] = await h.database.db.select().from(customers).where(eq(customers.id, customerId));
    const [trait] = await h.database.db.select().from(customerTraits).where(eq(customerTraits.customerId, customerId));
    return { column: row?.email, trait: trait?.traitValue };
  };

  it('reads rows sealed under the old key after rotation, and seals new writes with the new key', async () => {
    const before = uid('before');
    const beforeEmail = `${before}@old-key.example`;
    await body(h.send('identify', { userId: before, traits: { email: beforeEmail } }));
    await h.app.writer.idle();
    const beforeId = (
      await body(h.call('GET', `/api/v1/cdp/identity/resolve?identityType=EXTERNAL_ID&identityValue=${before}`))
    ).customerId;
    const [oldRow] = await h.database.db
      .select()
      .from(customerIdentities)
      .where(identityMatches(h.app.keyring, 'EMAIL', beforeEmail));
    expect(oldRow?.identityValue).toMatch(/^enc:old:/);
    expect((await storedEmail(beforeId)).column).toMatch(/^enc:old:/);

    await withApp(`${NEW},${OLD}`, async (app, call) => {
      // Old rows: still found through the blind index and opened with the old key.
      const resolved = await body(
        call('GET', `/api/v1/cdp/identity/resolve?identityType=EMAIL&identityValue=${beforeEmail}`),
      );
      expect(resolved.customerId).toBe(beforeId);
      expect(resolved.identity.identityValue).toBe(beforeEmail);
      expect(resolved.customer.email).toBe(beforeEmail);
      const traits = await body(call('GET', `/api/v1/cdp/traits/${beforeId}/email`));
      expect(traits.trait.traitValue).toBe(beforeEmail);

      // New writes: sealed with the new key.
      const after = uid('after');
      const afterEmail = `${after}@new-key.example`;
      await body(
        call(
          'POST',
          '/v1/identify',
          { userId: after, traits: { email: afterEmail } },
          `Basic ${btoa(`${WRITE_KEY}:`)}`,
        ),
      );
      await app.writer.idle();
      const afterId = (
        await body(call('GET', `/api/v1/cdp/identity/resolve?identityType=EMAIL&identityValue=${afterEmail}`))
      ).customerId;
      const stored = await storedEmail(afterId);
      expect(stored.column).toMatch(/^enc:new:/);
      expect(stored.trait).toMatch(/^enc:new:/);
      const [newRow] = await h.database.db
        .select()
        .from(customerIdentities)
        .where(identityMatches(app.keyring, 'EMAIL', afterEmail));
      expect(newRow?.identityValue).toMatch(/^enc:new:/);
      // The old key is what opens the old rows: without it they cannot be read.
      const newOnly = parseKeyring(NEW, keyOf(9));
      expect(() => open(newOnly, oldRow?.identityValue ?? '')).toThrow(/old/);
      expect(open(app.keyring, oldRow?.identityValue ?? '')).toBe(beforeEmail);
    });
  });
});
