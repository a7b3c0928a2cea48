import { SegmentCall } from '@tributary/spec';
import { inArray, sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { type Json, useApp } from '../../test/harness';
import { queryRows } from '../db/client';
import { customerEvents } from '../db/schema';
import { toIngestBatch } from './ingest-batch';
import { normalizeCall } from './normalize-call';

let seq = 0;
const uid = (p: string) => `${p}-${Date.now().toString(36)}-${++seq}`;
const REFUSED_BY_DATABASE = 'Refused By The Database';
const track = (messageId: string, fields: Record<string, unknown> = {}) => ({
  type: 'track',
  anonymousId: 'refusal',
  event: 'Valid',
  messageId,
  ...fields,
});

describe.each(testDatabases)('one bad event never fails its batch, on $name', (db) => {
  const h = useApp(db);
  const stored = async (ids: string[]) =>
    (
      await h.database.db
        .select({ id: customerEvents.messageId })
        .from(customerEvents)
        .where(inArray(customerEvents.messageId, ids))
    )
      .map((r) => r.id)
      .sort();

  beforeAll(async () => {
    // An event that passes validation but that the database refuses with a data exception (SQLSTATE
    // class 22): a real refusal by the real database, which no input reaches any more by itself.
    // A sequence counts the refusals: nextval is not undone when the transaction fails.
    await h.database.db.execute(sql.raw('create sequence refusals'));
    await h.database.db.execute(
      sql.raw(`create function refuse_marked_event() returns trigger language plpgsql as $$
        begin
          if new.event_name = '${REFUSED_BY_DATABASE}' then
            perform nextval('refusals');
            raise exception 'this event cannot be stored' using errcode = '22023';
          end if;
          return new;
        end $$`),
    );
    await h.database.db.execute(
      sql.raw(`create trigger refuse_marked_event before insert on customer_events
        for each row execute function refuse_marked_event()`),
    );
  });

  it('stores every valid event and names each refused one by index, with its messageId and reason', async () => {
    const ids = Array.from({ length: 10 }, (_, i) => uid(`mixed-${i}`));
    const batch: unknown[] = ids.map((id) => track(id));
    batch[1] = { type: 'track', anonymousId: 'refusal', messageId: ids[1] }; // no event name
    batch[3] = track(ids[3] as string, { properties: { blob: 'x'.repeat(33 * 1024) } });
    batch[5] = track(ids[5] as string, { event: 'constructor', properties: { __proto__: 1, constructor: 2 } });
    batch[6] = track(ids[6] as string, { properties: { nul: 'a\u0000b' } });
    batch[7] = track(ids[7] as string, { event: REFUSED_BY_DATABASE });
    const res = await h.send('batch', { batch });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.success).toBe(true);
    expect(body.count).toBe(6);
    expect(body.refused.map((r: Json) => [r.index, r.messageId, r.code])).toEqual([
      [1, ids[1], 'validation_failed'],
      [3, ids[3], 'event_too_large'],
      [6, ids[6], 'nul_character'],
      [7, ids[7], 'not_storable'],
    ]);
    expect(body.refused[0].issues).toEqual([{ path: 'batch.1.event', message: expect.any(String) }]);
    for (const r of body.refused) expect(r.message).toMatch(new RegExp(`^batch\\.${r.index}`));
    expect(await stored(ids)).toEqual([0, 2, 4, 5, 8, 9].map((i) => ids[i]).sort());
  });

  it('leaves the requests sharing the group commit unaffected by one the database refuses', async () => {
    const requests = Array.from({ length: 12 }, (_, r) => Array.from({ length: 8 }, (_, i) => uid(`group-${r}-${i}`)));
    const answers = await Promise.all(
      requests.map((ids, r) =>
        h.send('batch', {
          batch: ids.map((id, i) => track(id, r === 5 && i === 2 ? { event: REFUSED_BY_DATABASE } : {})),
        }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(requests.map(() => 200));
    const bodies = await Promise.all(answers.map((a) => a.json()));
    bodies.forEach((body, r) => {
      if (r === 5) expect(body.refused).toEqual([expect.objectContaining({ index: 2, code: 'not_storable' })]);
      else expect(body).toEqual({ success: true, count: 8 });
    });
    const expected = requests.flat().filter((id) => id !== requests[5]?.[2]);
    expect(await stored(requests.flat())).toEqual(expected.sort());
  });

  it('narrows a group commit the database refuses down to the one event; the other request of the group is stored whole', async () => {
    const info = { receivedAt: new Date(), ip: null, userAgent: null, keyring: h.app.keyring };
    const batchOf = (ids: string[], refusedAt = -1) =>
      toIngestBatch(
        ids.map((id, i) =>
          normalizeCall(SegmentCall.parse(track(id, i === refusedAt ? { event: REFUSED_BY_DATABASE } : {})), info),
        ),
      ).batch;
    const [a, b] = [0, 1].map((r) => Array.from({ length: 9 }, (_, i) => uid(`writer-${r}-${i}`))) as [
      string[],
      string[],
    ];
    // Written in one turn of the event loop, the two share one flush.
    const [first, second] = await Promise.all([h.app.writer.write(batchOf(a, 3)), h.app.writer.write(batchOf(b))]);
    expect(first.refused.map((r) => [r.event.index, r.event.message_id, r.code])).toEqual([[3, a[3], '22023']]);
    expect(second.refused).toEqual([]);
    expect(await stored([...a, ...b])).toEqual([...a.filter((_, i) => i !== 3), ...b].sort());
  });

  it('spends a bounded number of commits on a request the database refuses everywhere', async () => {
    const refusals = async () =>
      Number((await queryRows<{ n: string }>(h.database.db, sql`select last_value as n from refusals`))[0]?.n);
    const before = await refusals();
    const batch = Array.from({ length: 300 }, (_, i) => track(uid(`everywhere-${i}`), { event: REFUSED_BY_DATABASE }));
    const res = await h.send('batch', { batch });
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error.code).toBe('not_storable');
    expect(error.issues).toHaveLength(300);
    // Halving down to each of 300 events would take about 600 commits.
    expect((await refusals()) - before).toBeLessThan(100);
  });

  it('answers 400 naming every event when all of a batch are refused; single calls keep their 400 and 413', async () => {
    const ids = [uid('all'), uid('all')];
    const all = await h.send('batch', {
      batch: [
        { type: 'track', anonymousId: 'a', messageId: ids[0] },
        track(ids[1] as string, { event: REFUSED_BY_DATABASE }),
      ],
    });
    expect(all.status).toBe(400);
    const { error } = await all.json();
    expect(error.issues.map((i: Json) => i.path)).toEqual(['batch.0.event', 'batch.1']);
    expect(await stored(ids)).toEqual([]);

    const big = await h.send('batch', { batch: [track(uid('big'), { properties: { blob: 'x'.repeat(33 * 1024) } })] });
    expect(big.status).toBe(413);
    const single = await h.send('track', { anonymousId: 'a', event: REFUSED_BY_DATABASE });
    expect(single.status).toBe(400);
    expect((await single.json()).error.code).toBe('not_storable');
    const invalid = await h.send('track', { anonymousId: 'a' });
    expect(invalid.status).toBe(400);
  });
});
