import { HttpError } from './errors';

/**
 * How deep and how wide any JSON body may be. PGlite's jsonb parser recurses once per level on a
 * WebAssembly stack that PostgreSQL's `max_stack_depth` check does not guard: a `properties` array
 * 7,000 levels deep overflowed it, corrupted the embedded database and hung the process. JSON.stringify,
 * zod and deep merges recurse too. Real payloads use a few levels, and hundreds of members at most.
 */
export const JSON_LIMITS = { depth: 32, objectMembers: 1_000 } as const;

export type JsonViolationCode = 'json_too_deep' | 'json_too_many_members' | 'nul_character';

export interface JsonViolation {
  code: JsonViolationCode;
  /** The keys and indices leading to the value (`['batch', 3, 'properties', 'a']`); [] is the body. */
  path: (string | number)[];
}

export interface CheckedJson {
  /** The text, with every lone UTF-16 surrogate escape (`\ud800`) replaced by `\ufffd`. */
  text: string;
  /** What breaks the limits, in the order met: at most one per value at `groupDepth` levels. */
  violations: JsonViolation[];
  /** More violations than `maxViolations`: those past it were not recorded. */
  overflow: boolean;
}

export interface CheckJsonOptions {
  maxDepth?: number;
  maxMembers?: number;
  /** Record one violation per value at this many levels (2: one per event of `{"batch":[...]}`). */
  groupDepth?: number;
  /** Stop recording after this many. */
  maxViolations?: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const U = 0x75;

/** The code unit a `\uXXXX` escape whose hex digits start at `at` stands for; -1 when not four hex digits. */
function hex4(text: string, at: number): number {
  let v = 0;
  for (let i = at; i < at + 4; i++) {
    const c = text.charCodeAt(i);
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/**
 * Checks JSON text against the limits in one pass before it is parsed: nesting depth, members per
 * object, U+0000 (which PostgreSQL cannot store in text or jsonb) and lone surrogates (which jsonb
 * refuses; they become U+FFFD, keys included). Strings are skipped with `indexOf`, so the cost is
 * about one character test per byte of structure. It judges what is well-formed JSON; anything
 * else is for `JSON.parse` to refuse.
 */
export function checkJson(text: string, options: CheckJsonOptions = {}): CheckedJson {
  const maxDepth = options.maxDepth ?? JSON_LIMITS.depth;
  const maxMembers = options.maxMembers ?? JSON_LIMITS.objectMembers;
  const groupDepth = options.groupDepth ?? 0;
  const maxViolations = options.maxViolations ?? Number.POSITIVE_INFINITY;
  // Each level up to one past the limit: its kind, its members or elements so far, where its last key is.
  const levels = maxDepth + 1;
  const isArray = new Uint8Array(levels + 1);
  const counts = new Uint32Array(levels + 1);
  const keyStart = new Int32Array(levels + 1);
  const keyEnd = new Int32Array(levels + 1);
  const violations: JsonViolation[] = [];
  let overflow = false;
  let lone: number[] | undefined;
  let lastGroup = '';

  const keyAt = (level: number): string => {
    const raw = text.slice(keyStart[level], (keyEnd[level] as number) + 1);
    try {
      return JSON.parse(raw) as string;
    } catch {
      return raw.slice(1, -1);
    }
  };
  const pathTo = (depth: number) => {
    const path: (string | number)[] = [];
    for (let l = 1; l <= Math.min(depth, levels); l++) path.push(isArray[l] ? (counts[l] as number) : keyAt(l));
    return path;
  };
  const violation = (code: JsonViolationCode, depth: number) => {
    if (overflow) return;
    const path = pathTo(depth);
    if (groupDepth) {
      const group = JSON.stringify(path.slice(0, groupDepth));
      if (path.length >= groupDepth && group === lastGroup) return;
      lastGroup = group;
    }
    if (violations.length >= maxViolations) overflow = true;
    else violations.push({ code, path });
  };

  const n = text.length;
  let nextBackslash = text.indexOf('\\');
  if (nextBackslash < 0) nextBackslash = n;
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i;
      let from = i + 1;
      let nul = false;
      let end: number;
      for (;;) {
        end = text.indexOf('"', from);
        if (end < 0) end = n;
        if (nextBackslash < from) {
          nextBackslash = text.indexOf('\\', from);
          if (nextBackslash < 0) nextBackslash = n;
        }
        if (nextBackslash >= end) break;
        // An escape before the quote: the quote may be escaped, and \u escapes are what to look at.
        const b = nextBackslash;
        from = b + 2;
        if (text.charCodeAt(b + 1) === U) {
          const unit = hex4(text, b + 2);
          from = b + 6;
          let alone = unit >= 0xdc00 && unit <= 0xdfff;
          if (unit === 0) nul = true;
          else if (unit >= 0xd800 && unit <= 0xdbff) {
            const low = text.charCodeAt(b + 6) === BACKSLASH && text.charCodeAt(b + 7) === U ? hex4(text, b + 8) : -1;
            if (low >= 0xdc00 && low <= 0xdfff) from = b + 12;
            else alone = true;
          }
          if (alone) {
            lone ??= [];
            lone.push(b);
          }
        }
      }
      i = end;
      if (expectKey) {
        if (depth <= levels) {
          keyStart[depth] = start;
          keyEnd[depth] = end;
        }
        expectKey = false;
      }
      if (nul) violation('nul_character', depth);
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth <= levels) {
        isArray[depth] = c === 0x5b ? 1 : 0;
        counts[depth] = 0;
      }
      if (depth === levels) violation('json_too_deep', depth - 1);
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      if (depth > 0) depth--;
      expectKey = false;
    } else if (c === 0x2c && depth > 0 && depth <= levels) {
      // The commas met so far: an array's index, one less than an object's members.
      const commas = (counts[depth] as number) + 1;
      counts[depth] = commas;
      if (!isArray[depth]) {
        expectKey = true;
        if (commas === maxMembers) violation('json_too_many_members', depth - 1);
      }
    }
  }

  if (!lone) return { text, violations, overflow };
  const parts: string[] = [];
  let at = 0;
  for (const b of lone) {
    parts.push(text.slice(at, b), '\\ufffd');
    at = b + 6;
  }
  parts.push(text.slice(at));
  return { text: parts.join(''), violations, overflow };
}

const MESSAGES: Record<JsonViolationCode, string> = {
  json_too_deep: `JSON may be nested at most ${JSON_LIMITS.depth} levels deep`,
  json_too_many_members: `a JSON object may have at most ${JSON_LIMITS.objectMembers.toLocaleString('en-US')} members`,
  nul_character: 'U+0000 cannot be stored',
};

/** A violation as the 400 that refuses it, naming the field as validation errors do (`json.traits.0.traitValue`). */
export function jsonLimitError(v: JsonViolation, prefix?: string): HttpError {
  const path = [prefix, ...v.path.map(String)].filter((p) => p !== undefined).join('.');
  const message = MESSAGES[v.code];
  return new HttpError(400, v.code, `${path || '(body)'}: ${message}`, [{ path, message }]);
}
