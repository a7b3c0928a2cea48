import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { insertCustomer } from '../../test/customers';
import { testDatabases } from '../../test/databases';
import { callCdp, useApp } from '../../test/harness';
import { queryRows } from '../db/client';
import { customerTraits } from '../db/schema';

const UNKNOWN = '00000000-0000-4000-8000-000000000003';

const paths = (body: { error: { issues: { path: string }[] } }) => body.error.issues.map((i) => i.path);
const keys = (traits: { traitKey: string }[]) => traits.map((t) => t.traitKey);

describe.each(testDatabases)('trait API on $name', (db) => {
  const h = useApp(db);

  it('sets a trait and answers with it', async () => {
    const id = await insertCustomer(h);
    const res = await callCdp(h, 'POST', `/traits/${id}`, {
      traitKey: 'risk_score',
      traitValue: 85,
      traitType: 'RISK',
      source: 'computed',
      computedAt: '2024-03-04T05:06:07Z',
      expiresAt: '2999-01-01T00:00:00Z',
      metadata: { model: 'v2' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      customerId: id,
      trait: expect.objectContaining({
        customerId: id,
        traitKey: 'risk_score',
        traitValue: 85,
        traitType: 'RISK',
        source: 'computed',
        computedAt: '2024-03-04T05:06:07.000Z',
        expiresAt: '2999-01-01T00:00:00.000Z',
        metadata: { model: 'v2' },
      }),
    });
  });

  it("keeps each value's JSON type", async () => {
    const id = await insertCustomer(h);
    const values: Record<string, unknown> = {
      text: 'auto',
      numeric_text: '42',
      number: 3.5,
      yes: true,
      nothing: null,
      list: [1, 'two', { three: 3 }],
      object: { nested: { deep: [true] } },
    };
    for (const [traitKey, traitValue] of Object.entries(values))
      expect(
        (await callCdp(h, 'POST', `/traits/${id}`, { traitKey, traitValue, traitType: 'PREFERENCE' })).status,
      ).toBe(200);
    for (const [key, value] of Object.entries(values))
      expect((await callCdp(h, 'GET', `/traits/${id}/${key}`)).body.trait.traitValue, key).toEqual(value);
    // Stored as jsonb of the same type, not as a string holding JSON.
    const types = await queryRows<{ trait_key: string; t: string }>(
      h.database.db,
      sql`select trait_key, jsonb_typeof(trait_value) as t from customer_traits where customer_id = ${id}`,
    );
    expect(Object.fromEntries(types.map((r) => [r.trait_key, r.t]))).toEqual({
      text: 'string',
      numeric_text: 'string',
      number: 'number',
      yes: 'boolean',
      nothing: 'null',
      list: 'array',
      object: 'object',
    });
  });

  it('upserts by traitKey', async () => {
    const id = await insertCustomer(h);
    await callCdp(h, 'POST', `/traits/${id}`, { traitKey: 'tier', traitValue: 'silver', traitType: 'LIFECYCLE' });
    const again = await callCdp(h, 'POST', `/traits/${id}`, {
      traitKey: 'tier',
      traitValue: 'gold',
      traitType: 'COMPUTED',
    });
    expect(again.body.trait).toMatchObject({ traitValue: 'gold', traitType: 'COMPUTED', source: 'api' });
    const list = await callCdp(h, 'GET', `/traits/${id}`);
    expect(list.body.traits).toHaveLength(1);
  });

  it('refuses a bad body or parameter with a 400 naming the field', async () => {
    const id = await insertCustomer(h);
    const missing = await callCdp(h, 'POST', `/traits/${id}`, { traitKey: 'a', traitType: 'RISK' });
    expect(missing.status).toBe(400);
    expect(paths(missing.body)).toEqual(['json.traitValue']);
    const badType = await callCdp(h, 'POST', `/traits/${id}`, { traitKey: 'a', traitValue: 1, traitType: 'MOOD' });
    expect(paths(badType.body)).toEqual(['json.traitType']);
    const past = await callCdp(h, 'POST', `/traits/${id}`, {
      traitKey: 'a',
      traitValue: 1,
      traitType: 'RISK',
      expiresAt: '2001-01-01',
    });
    expect(paths(past.body)).toEqual(['json.expiresAt']);
    const badParam = await callCdp(h, 'GET', '/traits/123/a');
    expect(badParam.status).toBe(400);
    expect(paths(badParam.body)).toEqual(['param.customerId']);
    const badQuery = await callCdp(h, 'GET', `/traits/${id}?traitType=MOOD`);
    expect(paths(badQuery.body)).toEqual(['query.traitType']);
  });

  it('answers 404 for an unknown customer', async () => {
    const trait = { traitKey: 'a', traitValue: 1, traitType: 'RISK' };
    expect((await callCdp(h, 'POST', `/traits/${UNKNOWN}`, trait)).status).toBe(404);
    expect((await callCdp(h, 'POST', `/traits/${UNKNOWN}/batch`, { traits: [trait] })).status).toBe(404);
    expect((await callCdp(h, 'GET', `/traits/${UNKNOWN}`)).status).toBe(404);
    expect((await callCdp(h, 'GET', `/traits/${UNKNOWN}/a`)).status).toBe(404);
    expect((await callCdp(h, 'DELETE', `/traits/${UNKNOWN}/a`)).status).toBe(404);
  });

  it('stores a batch whole', async () => {
    const id = await insertCustomer(h);
    const res = await callCdp(h, 'POST', `/traits/${id}/batch`, {
      traits: [
        { traitKey: 'preferred_insurance_type', traitValue: 'auto', traitType: 'PREFERENCE' },
        { traitKey: 'risk_score', traitValue: 85, traitType: 'RISK', source: 'computed' },
        { traitKey: 'customer_segment', traitValue: 'high_value', traitType: 'LIFECYCLE' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.customerId).toBe(id);
    expect(keys(res.body.traits).sort()).toEqual(['customer_segment', 'preferred_insurance_type', 'risk_score']);
  });

  it('stores nothing of a batch with an invalid item, and names every invalid item', async () => {
    const id = await insertCustomer(h);
    await callCdp(h, 'POST', `/traits/${id}`, { traitKey: 'kept', traitValue: 'old', traitType: 'RISK' });
    const res = await callCdp(h, 'POST', `/traits/${id}/batch`, {
      traits: [
        { traitKey: 'kept', traitValue: 'new', traitType: 'RISK' },
        { traitKey: 'ok', traitValue: 1, traitType: 'NOPE' },
        { traitKey: 'fine', traitValue: 2, traitType: 'RISK' },
        { traitKey: '', traitValue: 3, traitType: 'RISK' },
      ],
    });
    expect(res.status).toBe(400);
    expect(paths(res.body).sort()).toEqual(['json.traits.1.traitType', 'json.traits.3.traitKey']);
    const list = await callCdp(h, 'GET', `/traits/${id}`);
    expect(list.body.traits.map((t: { traitValue: unknown }) => t.traitValue)).toEqual(['old']);

    const dup = await callCdp(h, 'POST', `/traits/${id}/batch`, {
      traits: [
        { traitKey: 'x', traitValue: 1, traitType: 'RISK' },
        { traitKey: 'x', traitValue: 2, traitType: 'RISK' },
      ],
    });
    expect(dup.status).toBe(400);
    expect(paths(dup.body)).toEqual(['json.traits.1.traitKey']);
    // A value PostgreSQL cannot store is caught before anything is written.
    const nul = await callCdp(h, 'POST', `/traits/${id}/batch`, {
      traits: [
        { traitKey: 'kept', traitValue: 'newer', traitType: 'RISK' },
        { traitKey: 'bad', traitValue: 'a\u0000b', traitType: 'RISK' },
      ],
    });
    expect(paths(nul.body)).toEqual(['json.traits.1.traitValue']);
    expect((await callCdp(h, 'GET', `/traits/${id}/kept`)).body.trait.traitValue).toBe('old');
    expect((await callCdp(h, 'POST', `/traits/${id}/batch`, { traits: [] })).status).toBe(400);
  });

  it('lists live traits a page at a time, by key, leaving expired ones out', async () => {
    const id = await insertCustomer(h);
    await callCdp(h, 'POST', `/traits/${id}/batch`, {
      traits: ['d', 'b', 'a', 'c'].map((k) => ({
        traitKey: k,
        traitValue: k,
        traitType: k === 'a' ? 'RISK' : 'BEHAVIORAL',
      })),
    });
    await h.database.db.insert(customerTraits).values({
      customerId: id,
      traitKey: 'expired',
      traitValue: 'gone',
      traitType: 'RISK',
      expiresAt: new Date(Date.now() - 1000),
    });
    const first = await callCdp(h, 'GET', `/traits/${id}?limit=3`);
    expect(keys(first.body.traits)).toEqual(['a', 'b', 'c']);
    expect(first.body.pagination).toEqual({ page: 1, limit: 3, total: 4, totalPages: 2 });
    const second = await callCdp(h, 'GET', `/traits/${id}?limit=3&page=2`);
    expect(keys(second.body.traits)).toEqual(['d']);
    const risk = await callCdp(h, 'GET', `/traits/${id}?traitType=RISK`);
    expect(keys(risk.body.traits)).toEqual(['a']);
    expect((await callCdp(h, 'GET', `/traits/${id}/expired`)).status).toBe(404);
  });

  it('gets one trait, 404 when missing', async () => {
    const id = await insertCustomer(h);
    await callCdp(h, 'POST', `/traits/${id}`, { traitKey: 'with space', traitValue: 1, traitType: 'RISK' });
    const got = await callCdp(h, 'GET', `/traits/${id}/with%20space`);
    expect(got.status).toBe(200);
    expect(got.body.trait.traitKey).toBe('with space');
    expect((await callCdp(h, 'GET', `/traits/${id}/missing`)).status).toBe(404);
  });

  it('deletes a trait', async () => {
    const id = await insertCustomer(h);
    await callCdp(h, 'POST', `/traits/${id}`, { traitKey: 'temp', traitValue: 1, traitType: 'RISK' });
    const res = await callCdp(h, 'DELETE', `/traits/${id}/temp`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ customerId: id, deleted: true, traitKey: 'temp' });
    expect((await callCdp(h, 'GET', `/traits/${id}/temp`)).status).toBe(404);
    expect((await callCdp(h, 'DELETE', `/traits/${id}/temp`)).status).toBe(404);
  });
});
