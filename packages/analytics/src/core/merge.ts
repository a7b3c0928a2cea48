const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Deep merge of plain objects where `over` wins; arrays and other values are replaced, not merged. */
export function mergeDeep<T extends Record<string, unknown>>(base: T, over: Record<string, unknown> | undefined): T {
  if (!over) return base;
  const out: Record<string, unknown> = { ...base };
  for (const k in over) {
    const v = over[k];
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? mergeDeep(b, v) : v;
  }
  return out as T;
}
