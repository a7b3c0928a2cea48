import { describe, expect, it } from 'vitest';
import { backoff, outcomeOf, parseRetryAfter, refusedIndices } from './retry-policy';

describe('outcomeOf', () => {
  it.each([200, 201, 204])('acknowledges %i', (s) => expect(outcomeOf(s)).toEqual({ kind: 'ok' }));
  it.each([500, 502, 503, 504, 408, 429])('retries %i', (s) => expect(outcomeOf(s).kind).toBe('retry'));
  it('retries when there was no answer at all (network error)', () => expect(outcomeOf(undefined).kind).toBe('retry'));
  it.each([undefined, 429, 502, 503, 504])('counts %s as the collector being unavailable, not the batch failing', (s) =>
    expect(outcomeOf(s)).toMatchObject({ kind: 'retry', unavailable: true }),
  );
  it.each([500, 501, 408])('counts %i against the batch', (s) => expect(outcomeOf(s)).toEqual({ kind: 'retry' }));
  it.each([400, 401, 403, 404, 413, 422])('drops %i', (s) => expect(outcomeOf(s)).toEqual({ kind: 'drop' }));

  it("honours a 429's Retry-After in seconds or as a date", () => {
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(outcomeOf(429, '7', now)).toEqual({ kind: 'retry', after: 7000, unavailable: true });
    expect(outcomeOf(429, 'Mon, 01 Jan 2024 00:00:30 GMT', now)).toEqual({
      kind: 'retry',
      after: 30_000,
      unavailable: true,
    });
    expect(outcomeOf(503, '2', now)).toEqual({ kind: 'retry', after: 2000, unavailable: true });
    expect(outcomeOf(500, '2', now)).toEqual({ kind: 'retry' });
  });

  it('ignores an unreadable Retry-After', () => {
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('-5')).toBe(0);
  });
});

describe('refusedIndices', () => {
  it("reads the events a 200 lists as refused, and those a 4xx's issues name", () => {
    const ok = {
      success: true,
      count: 3,
      refused: [{ index: 1, code: 'nul_character', message: 'batch.1: ...' }, { index: 4 }],
    };
    expect(refusedIndices(JSON.stringify(ok))).toEqual(new Set([1, 4]));
    const issues = [
      { path: 'batch.0.event', message: 'is required for track' },
      { path: 'batch.12', message: 'the database refused this event' },
      { path: 'context.page', message: 'too deep' },
    ];
    expect(refusedIndices(JSON.stringify({ error: { code: 'validation_failed', message: '', issues } }))).toEqual(
      new Set([0, 12, Number.NaN]),
    );
  });

  it('names none for an answer that lists none, or is not JSON', () => {
    for (const text of [
      '{"success":true,"count":2}',
      '{"error":{"code":"unauthorized","message":"no"}}',
      '<html>413</html>',
      '',
      undefined,
    ])
      expect(refusedIndices(text).size).toBe(0);
  });
});

describe('backoff', () => {
  const options = { minDelay: 100, maxDelay: 10_000 };

  it('doubles per attempt, between half and all of the ceiling', () => {
    expect(backoff(0, options, () => 0)).toBe(50);
    expect(backoff(0, options, () => 1)).toBe(100);
    expect(backoff(3, options, () => 0)).toBe(400);
    expect(backoff(3, options, () => 1)).toBe(800);
  });

  it('never exceeds the maximum', () => {
    expect(backoff(30, options, () => 1)).toBe(10_000);
    expect(backoff(1000, options, () => 1)).toBe(10_000);
  });

  it('jitters: clients that failed together spread out', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoff(4, options)));
    expect(delays.size).toBeGreaterThan(20);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(800);
    for (const d of delays) expect(d).toBeLessThanOrEqual(1600);
  });
});
