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
