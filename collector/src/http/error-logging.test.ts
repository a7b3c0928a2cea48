import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { identifyCustomer } from '../../test/customers';
import { testDatabases } from '../../test/databases';
import { useApp } from '../../test/harness';

/** What the collector wrote to the console while a test ran, whatever the level. */
function captureConsole() {
  const spies: MockInstance[] = [];
  beforeEach(() => {
    for (const level of ['error', 'warn', 'log', 'info', 'debug'] as const)
      spies.push(vi.spyOn(console, level).mockImplementation(() => {}));
  });
  afterEach(() => {
    for (const spy of spies.splice(0)) spy.mockRestore();
  });
  return () => spies.flatMap((s) => s.mock.calls.map((args) => args.map(String).join(' '))).join('\n');
}

describe.each(testDatabases)('error logs on $name', (db) => {
  const h = useApp(db);
  const logged = captureConsole();

  it('a database error with personal data in its parameters logs no parameter, value or request body', async () => {
    const customerId = await identifyCustomer(h, `logs-${crypto.randomUUID()}`);
    // A real refusal by the database: `source` no longer takes text, so the value comes back in the message.
    await h.database.db.execute(sql`alter table customer_traits alter column source type uuid using null`);
    const secret = {
      source: 'Source Lq1 alice.lq1@example.com',
      value: 'Value Lq2 +1 415 555 0177',
      key: 'favouriteQuoteLq3',
    };
    const res = await h.call('POST', `/api/v1/cdp/traits/${customerId}`, {
      traitKey: secret.key,
      traitValue: secret.value,
      traitType: 'PREFERENCE',
      source: secret.source,
      metadata: { note: 'Metadata Lq4' },
    });
    expect(res.status).toBe(500);
    expect((await res.json()).error.code).toBe('internal');

    const output = logged();
    const leaked = [secret.source, 'Lq1', 'Lq2', secret.key, 'Lq4', customerId, 'params'].filter((s) =>
      output.includes(s),
    );
    expect(leaked, output).toEqual([]);
    // Logged enough to find the fault: the route, PostgreSQL's code and what it refused, where.
    expect(output).toContain('POST /api/v1/cdp/traits/:customerId');
    expect(output).toContain('22P02');
    expect(output).toMatch(/invalid input syntax for type uuid/);
    expect(output).toMatch(/\n\s+at /);
  });

  it("the audit trail's retry log names no value of the entries it could not write", async () => {
    const customerId = await identifyCustomer(h, `audit-logs-${crypto.randomUUID()}`);
    await h.app.audit.flush();
    // The entry's endpoint goes into a column that no longer takes text: PostgreSQL quotes it back.
    await h.database.db.execute(
      sql`alter table audit_log alter column endpoint type uuid using '00000000-0000-0000-0000-000000000000'`,
    );
    try {
      await h.call('GET', `/api/v1/cdp/traits/${customerId}/plan-Lq5`);
      await h.app.audit.flush();
      const output = logged();
      expect(
        [customerId, 'Lq5', 'params'].filter((s) => output.includes(s)),
        output,
      ).toEqual([]);
      expect(output).toContain('audit trail');
      expect(output).toMatch(/code [0-9A-Z]{5}/);
    } finally {
      await h.database.db.execute(sql`alter table audit_log alter column endpoint type text using endpoint::text`);
      await h.app.audit.flush();
    }
  });
});
