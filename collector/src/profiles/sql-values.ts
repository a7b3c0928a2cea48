/** Drivers differ in what they return for counts and timestamps (postgres.js: strings and Dates; PGlite: numbers and Dates). */
export const toNumber = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
export const toDate = (v: unknown): Date | null =>
  v === null || v === undefined ? null : v instanceof Date ? v : new Date(String(v));
