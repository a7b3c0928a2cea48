/**
 * The advisory lock keys the collector takes on PostgreSQL, in one place so that no two uses share
 * one by accident. Every collector process on a database takes the same keys.
 */
export const ADVISORY_LOCKS = {
  /** The flush sections that write customers' rows ("trib" in ASCII). */
  customerWrites: 0x74726962,
  /** Applying migrations at start ("migr"). */
  migrations: 0x6d696772,
} as const;
