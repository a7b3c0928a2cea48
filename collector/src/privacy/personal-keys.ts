/**
 * Which property and trait names hold personal data: the one list, and the matcher every place that
 * seals uses (ingestion on the decode worker, the CDP API, trait storage).
 *
 * An entry is a name written in any case and separator style (`firstName`, `first_name`, `First Name`
 * are one entry). It matches a key that is the same name, compared without case and separators, with
 * trailing digits ignored (`email2`, `address_line_1`). A leading `*` also matches keys that end with
 * the name as whole words (`*email`: `workEmail`, `billing_email`, `Contact Email`; not `iphone` for
 * `*phone`). `traits:` limits an entry to traits (identify and group traits, `context.traits`, the
 * customer's traits), where `name` names a person; in properties it names a product, a page or a
 * campaign. The match is by key, at any depth: `properties.recipient.email`, `traits.contacts[0].email`.
 */
export const DEFAULT_PERSONAL_KEYS: readonly string[] = [
  '*email',
  '*emails',
  '*emailAddress',
  '*phone',
  '*phones',
  '*phoneNumber',
  '*mobileNumber',
  'traits:mobile',
  'traits:name',
  '*firstName',
  '*lastName',
  '*fullName',
  '*middleName',
  '*surname',
  'givenName',
  'familyName',
  'maidenName',
  'birthday',
  'birthdate',
  '*dateOfBirth',
  'dob',
  'address',
  'addresses',
  '*streetAddress',
  '*homeAddress',
  '*billingAddress',
  '*shippingAddress',
  '*deliveryAddress',
  '*mailingAddress',
  '*postalAddress',
  '*addressLine',
  'street',
  '*emergencyContact',
];

/**
 * The list `PERSONAL_DATA_KEYS` makes: the defaults, plus its entries, minus those written `-name`
 * (`-traits:name`, `-*surname`: as the default is written). Throws naming a malformed entry.
 */
export function personalKeyList(setting: string | undefined): string[] {
  const list = [...DEFAULT_PERSONAL_KEYS];
  for (const raw of (setting ?? '').split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    const removed = entry.startsWith('-');
    const name = removed ? entry.slice(1).trim() : entry;
    if (!parseEntry(name)) throw new Error(`"${entry}" names no key`);
    const same = (e: string) => sameEntry(e, name);
    if (removed) {
      if (!list.some(same))
        throw new Error(`"${entry}" removes no default (defaults: ${DEFAULT_PERSONAL_KEYS.join(', ')})`);
      list.splice(0, list.length, ...list.filter((e) => !same(e)));
    } else if (!list.some(same)) list.push(name);
  }
  return list;
}

interface Entry {
  /** The name without case or separators. */
  joined: string;
  suffix: boolean;
  traitsOnly: boolean;
}

/** A key's words, lower-cased: split at separators and at lower-to-upper case changes; trailing digits dropped. */
function wordsOf(key: string): string[] {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  while (words.length && /^\d+$/.test(words[words.length - 1] ?? '')) words.pop();
  const last = words.length - 1;
  if (last >= 0) words[last] = (words[last] ?? '').replace(/\d+$/, '');
  return words;
}

function parseEntry(text: string): Entry | undefined {
  let rest = text.trim();
  const traitsOnly = /^traits:/i.test(rest);
  if (traitsOnly) rest = rest.slice('traits:'.length).trim();
  const suffix = rest.startsWith('*');
  if (suffix) rest = rest.slice(1);
  const joined = wordsOf(rest).join('');
  return joined ? { joined, suffix, traitsOnly } : undefined;
}

const sameEntry = (a: string, b: string) => {
  const x = parseEntry(a);
  const y = parseEntry(b);
  return !!x && !!y && x.joined === y.joined && x.suffix === y.suffix && x.traitsOnly === y.traitsOnly;
};

const NOT_PERSONAL = 0;
const ANYWHERE = 1;
const IN_TRAITS = 2;
/** Keys remembered per matcher; past that the memory starts over (hostile senders invent keys). */
const MAX_REMEMBERED = 10_000;
/** Longer keys are judged each time instead of remembered. */
const MAX_REMEMBERED_LENGTH = 64;

/** Decides whether a key holds personal data; remembers the keys it has seen, so the common key costs one map lookup. */
export class PersonalKeyMatcher {
  readonly #exact = new Map<string, number>();
  readonly #suffixes: { joined: string; scope: number }[] = [];
  readonly #seen = new Map<string, number>();

  constructor(list: readonly string[]) {
    for (const text of list) {
      const entry = parseEntry(text);
      if (!entry) continue;
      const scope = entry.traitsOnly ? IN_TRAITS : ANYWHERE;
      if (entry.suffix) this.#suffixes.push({ joined: entry.joined, scope });
      else this.#exact.set(entry.joined, Math.min(this.#exact.get(entry.joined) ?? scope, scope));
    }
  }

  /** Whether values under `key` are personal data; `inTraits` inside a traits object. */
  isPersonal(key: string, inTraits: boolean): boolean {
    let scope = this.#seen.get(key);
    if (scope === undefined) {
      scope = this.#judge(key);
      if (key.length <= MAX_REMEMBERED_LENGTH) {
        if (this.#seen.size >= MAX_REMEMBERED) this.#seen.clear();
        this.#seen.set(key, scope);
      }
    }
    return scope === ANYWHERE || (inTraits && scope === IN_TRAITS);
  }

  #judge(key: string): number {
    const words = wordsOf(key);
    const joined = words.join('');
    let scope = this.#exact.get(joined) ?? NOT_PERSONAL;
    if (scope === ANYWHERE) return scope;
    // Where each word starts in `joined`: a suffix entry must start at one of them.
    const starts = new Set<number>();
    let at = 0;
    for (const w of words) {
      starts.add(at);
      at += w.length;
    }
    for (const s of this.#suffixes) {
      if (joined.endsWith(s.joined) && starts.has(joined.length - s.joined.length)) {
        if (s.scope === ANYWHERE) return ANYWHERE;
        scope = IN_TRAITS;
      }
    }
    return scope;
  }
}

const matchers = new Map<string, PersonalKeyMatcher>();
let last: { list: readonly string[]; matcher: PersonalKeyMatcher } | undefined;

/**
 * The matcher of a list, made once per process (and per decode worker, which receives a copy of the
 * list with each request): what it remembers is what makes it cheap.
 */
export function personalKeyMatcher(list: readonly string[] = DEFAULT_PERSONAL_KEYS): PersonalKeyMatcher {
  if (last?.list === list) return last.matcher;
  const id = list.join('\n');
  let matcher = matchers.get(id);
  if (!matcher) {
    if (matchers.size >= 8) matchers.clear();
    matcher = new PersonalKeyMatcher(list);
    matchers.set(id, matcher);
  }
  last = { list, matcher };
  return matcher;
}
