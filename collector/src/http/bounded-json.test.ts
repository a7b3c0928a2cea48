import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkJson, JSON_LIMITS, jsonLimitError } from './bounded-json';

const nest = (depth: number, inner = '1') => `${'{"a":'.repeat(depth)}${inner}${'}'.repeat(depth)}`;

describe('checkJson', () => {
  it('lets 32 levels through and names the path of the first container too deep', () => {
    expect(checkJson(nest(32)).violations).toEqual([]);
    expect(checkJson(`[${nest(31)}]`).violations).toEqual([]);
    const [deep] = checkJson(`{"batch":[{"e":1},{"p":${nest(40)}}]}`).violations;
    expect(deep).toEqual({ code: 'json_too_deep', path: ['batch', 1, 'p', ...Array(29).fill('a')] });
  });

  it('counts the members of each object, not the elements of arrays', () => {
    const members = (n: number) =>
      JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])));
    expect(checkJson(`{"x":${members(JSON_LIMITS.objectMembers)}}`).violations).toEqual([]);
    expect(checkJson(`{"x":${members(JSON_LIMITS.objectMembers + 1)}}`).violations).toEqual([
      { code: 'json_too_many_members', path: ['x'] },
    ]);
    expect(checkJson(JSON.stringify({ a: Array.from({ length: 5000 }, (_, i) => i) })).violations).toEqual([]);
  });

  it('finds U+0000 in values and keys, and not an escaped backslash followed by u0000', () => {
    expect(checkJson('{"a":[1,"x\\u0000"]}').violations).toEqual([{ code: 'nul_character', path: ['a', 1] }]);
    expect(checkJson('{"k\\u0000":1}').violations).toEqual([{ code: 'nul_character', path: ['k\u0000'] }]);
    expect(checkJson('"\\u0000"').violations).toEqual([{ code: 'nul_character', path: [] }]);
    expect(checkJson('{"a":"\\\\u0000","b":"\\"\\u0000"}').violations).toEqual([
      { code: 'nul_character', path: ['b'] },
    ]);
  });

  it('replaces lone surrogate escapes with U+FFFD, keys included, and keeps pairs', () => {
    const { text } = checkJson('{"k\\ud800":"a\\udfffb","pair":"\\ud83d\\ude80","esc":"\\\\ud800","end":"\\ud800"}');
    expect(JSON.parse(text)).toEqual({ 'k\ufffd': 'a\ufffdb', pair: '🚀', esc: '\\ud800', end: '\ufffd' });
    const unchanged = '{"a":"b"}';
    expect(checkJson(unchanged).text).toBe(unchanged);
  });

  it('records one violation per value at groupDepth levels, up to maxViolations', () => {
    const body = `{"batch":[{"a":"\\u0000","b":"\\u0000"},1,{"p":${nest(40)},"q":"\\u0000"}]}`;
    expect(checkJson(body, { groupDepth: 2 }).violations.map((v) => [v.path.slice(0, 2), v.code])).toEqual([
      [['batch', 0], 'nul_character'],
      [['batch', 2], 'json_too_deep'],
    ]);
    const capped = checkJson(body, { groupDepth: 2, maxViolations: 1 });
    expect([capped.violations.length, capped.overflow]).toEqual([1, true]);
  });

  it('never throws, whatever the text, and what it lets through parses well-formed and within the depth', () => {
    // Strings of any UTF-16 code units: JSON.stringify writes lone surrogates as escapes.
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.string({ unit: 'binary', maxLength: 8 }),
        fc.integer(),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(fc.string({ unit: 'binary', maxLength: 4 }), tie('node'), { maxKeys: 3 }),
      ),
    })).node;
    const deep = fc.tuple(value, fc.integer({ min: 0, max: 40 })).map(([v, d]) => nest(d, JSON.stringify(v)));
    const wellFormed = (v: unknown): boolean =>
      typeof v === 'string'
        ? v.isWellFormed()
        : v && typeof v === 'object'
          ? Object.entries(v).every(([k, x]) => k.isWellFormed() && wellFormed(x))
          : true;
    const depthOf = (v: unknown): number =>
      v && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0;
    fc.assert(
      fc.property(fc.oneof(deep, fc.string({ unit: 'binary', maxLength: 200 })), (text) => {
        const checked = checkJson(text);
        let parsed: unknown;
        try {
          parsed = JSON.parse(checked.text);
        } catch {
          return; // not JSON: JSON.parse refuses it after the check
        }
        expect(checked.violations.some((v) => v.code === 'json_too_deep')).toBe(depthOf(parsed) > JSON_LIMITS.depth);
        if (!checked.violations.length) expect(wellFormed(parsed)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('names the field in the 400 that refuses a violation', () => {
    const error = jsonLimitError({ code: 'json_too_deep', path: ['traits', 0, 'traitValue'] }, 'json');
    expect(error).toMatchObject({ status: 400, code: 'json_too_deep', issues: [{ path: 'json.traits.0.traitValue' }] });
    expect(error.message).toBe('json.traits.0.traitValue: JSON may be nested at most 32 levels deep');
  });
});
