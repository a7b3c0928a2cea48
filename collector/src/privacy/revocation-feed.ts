import { sql } from 'drizzle-orm';
import type { Database, Db, Tx } from '../db/client';

/**
 * What each collector process keeps a copy of and must hear about at once: a key revoked (key
 * lookups are cached), a suppression added or lifted (the list is held in memory), a customer's data
 * deleted (identity links already made are remembered).
 */
export type RevocationChange = 'keys' | 'suppressions' | 'deletion';

const CHANNEL = 'tributary_revocations';
const CHANGES: readonly RevocationChange[] = ['keys', 'suppressions', 'deletion'];

/**
 * Tells every collector process on the database (this one included) of `change` once `tx` commits:
 * NOTIFY is delivered on commit, and not at all if the transaction rolls back.
 */
export async function announceRevocation(tx: Db | Tx, change: RevocationChange): Promise<void> {
  await tx.execute(sql`select pg_notify(${CHANNEL}, ${change})`);
}

export interface RevocationFeedOptions {
  /** Everything is refreshed this often anyway, should the listener be down without knowing. */
  fallbackMs?: number;
  /** Told of a refresh that failed (the next notice, reconnection or fallback tries again). */
  onError?: (error: unknown) => void;
}

/**
 * Keeps this process's copies in step with the database: a notice from any process refreshes what it
 * names within milliseconds; each time listening (re)starts, everything is refreshed, since notices
 * sent while the listener was away are lost; and every `fallbackMs` keys and suppressions are
 * refreshed too.
 */
export async function followRevocations(
  database: Pick<Database, 'listen'>,
  refresh: (change: RevocationChange) => Promise<void> | void,
  options: RevocationFeedOptions = {},
): Promise<{ stop(): Promise<void> }> {
  const { fallbackMs, onError } = { fallbackMs: 30_000, onError: () => {}, ...options };
  const run = (change: RevocationChange) => {
    try {
      void Promise.resolve(refresh(change)).catch(onError);
    } catch (e) {
      onError(e);
    }
  };
  const refreshAll = (changes: readonly RevocationChange[] = CHANGES) => {
    for (const change of changes) run(change);
  };
  const onNotify = (payload: string) => {
    if ((CHANGES as readonly string[]).includes(payload)) run(payload as RevocationChange);
  };
  const unlisten = await database.listen(CHANNEL, onNotify, () => refreshAll());
  // Not deletions: forgetting the links made would cost every visitor its identity work again, and a
  // deletion missed while not listening is caught up when listening starts again.
  const timer = setInterval(() => refreshAll(['keys', 'suppressions']), fallbackMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      // At shutdown the database may be away: closing it ends the listening connection anyway.
      let waited: NodeJS.Timeout | undefined;
      const giveUp = new Promise<void>((resolve) => {
        waited = setTimeout(resolve, 1000);
      });
      await Promise.race([unlisten().catch(onError), giveUp]);
      clearTimeout(waited);
    },
  };
}
