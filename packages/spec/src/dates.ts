import { z } from 'zod';

const EARLIEST = Date.UTC(1000, 0, 1);
const LATEST = Date.UTC(9999, 11, 31);
const inRange = (t: number) => t >= EARLIEST && t <= LATEST;
const RANGE = 'must be between years 1000 and 9999';

/**
 * A date PostgreSQL and every client can round-trip: ISO-8601, years 1000 to 9999. (JavaScript reads
 * `+275760-09-13`, PostgreSQL refuses it: outside the range it would be a 500, not a 400.)
 */
export const isoDate = z
  .string()
  .max(64)
  .superRefine((s, ctx) => {
    // One parse for both checks: every ingested event carries two or three dates.
    const t = Date.parse(s);
    if (Number.isNaN(t)) ctx.addIssue({ code: 'custom', message: 'must be an ISO-8601 date' });
    else if (!inRange(t)) ctx.addIssue({ code: 'custom', message: RANGE });
  });

/** The same range for the CDP API's dates, read as `Date` (query strings and JSON bodies alike). */
export const apiDate = z.coerce
  .date({ error: 'must be a date' })
  .refine((d) => inRange(d.getTime()), { message: RANGE });
