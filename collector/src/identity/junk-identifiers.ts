/**
 * Values that broken integrations send as identifiers. Linking on them would stitch thousands of
 * unrelated visitors into one profile, so they never link anything.
 */
const JUNK = new Set([
  '',
  'undefined',
  'null',
  'nil',
  'none',
  'nan',
  '0',
  '-1',
  '1',
  'anonymous',
  'anon',
  'guest',
  'unknown',
  'user',
  'test',
  'true',
  'false',
  '[object object]',
  'n/a',
  'na',
  '00000000-0000-0000-0000-000000000000',
  'not set',
  '(not set)',
  'email',
  'no email',
  'noemail',
]);

export function isJunkIdentifier(value: unknown): boolean {
  if (typeof value !== 'string') return true;
  const v = value.trim().toLowerCase();
  return JUNK.has(v) || /^[\s\-_.0]*$/.test(v);
}

/** The identifier if it may link, else undefined. */
export function usableIdentifier(value: unknown): string | undefined {
  return typeof value === 'string' && !isJunkIdentifier(value) ? value.trim() : undefined;
}
