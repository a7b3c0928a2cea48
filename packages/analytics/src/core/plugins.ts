import type { WireEvent } from './wire';

/**
 * A plugin sees every event before it is queued and may change it or return `null` to drop it
 * (filter PII, add fields, sample). The contract is defined here once, for browser and Node.
 *
 * @example
 * const noEmails: Plugin = { name: 'no-emails', enrich: (e) => { delete e.traits?.email; return e } };
 */
export interface Plugin {
  name: string;
  enrich?(event: WireEvent): WireEvent | null;
}

/** Runs the plugins in order; the first that returns null drops the event. */
export function applyPlugins(plugins: readonly Plugin[], event: WireEvent): WireEvent | null {
  let current: WireEvent | null = event;
  for (const p of plugins) {
    if (!current) break;
    if (p.enrich) current = p.enrich(current);
  }
  return current;
}
