import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { createApp } from './app';
import { loadConfig } from './config';
import { openDatabase } from './db/client';
import { ensurePrivateDir } from './db/private-dir';
import { errorSummary, stackOf } from './http/errors';
import { SERVER_OPTIONS } from './http/server-options';
import { sharedRequestDecoder } from './ingest/request-decoder';
import { loadKeyring } from './privacy/keyring';
import { startRetention } from './privacy/retention';
import { startTraitCleanup } from './profiles/trait-cleanup';

/** Process entry: config -> database -> migrate -> serve. */
async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
  // Before anything is written there: PGlite's files, the generated keys and the audit journal.
  ensurePrivateDir(config.DATA_DIR);
  const database = await openDatabase(config);
  await database.migrate();
  const keyring = loadKeyring(config, (line) => console.log(line));
  const app = createApp({ database, config, keyring, auditJournalPath: join(config.DATA_DIR, 'audit-journal.ndjson') });
  const recovered = await app.audit.recover();
  if (recovered) console.log(`Audit trail: stored ${recovered} entries journaled before the last stop`);
  await app.suppressions.reload();
  const revocations = await app.followRevocations({
    onError: (e) => console.error(`Refreshing keys or suppressions failed: ${(e as Error).message}`),
  });
  const traitCleanup = startTraitCleanup(database.db);
  const retention = startRetention(database.db, config.RETENTION_INTERVAL_SECONDS);

  const created = await app.keys.bootstrap();
  if (created) {
    console.log('Created keys (shown once; only their hashes are stored):');
    console.log(`  write key (send events):   ${created.writeKey}`);
    console.log(`  API key (read and admin):  ${created.apiKey}`);
  }

  sharedRequestDecoder.warm();
  const server = serve(
    { fetch: app.fetch, port: config.PORT, hostname: config.HOST, serverOptions: SERVER_OPTIONS },
    (info) => {
      const where = config.DATABASE_URL ? 'PostgreSQL' : `embedded PGlite in ${config.DATA_DIR}`;
      console.log(`Tributary collector listening on http://localhost:${info.port} (${where})`);
    },
  );

  const shutdown = async () => {
    server.close();
    await app.writer.idle();
    // Segment work for what was acknowledged runs now: its dirty list lives only in this process.
    await app.refresher.idle();
    app.refresher.close();
    await app.audit.flush();
    await app.rateLimits.close();
    await traitCleanup.stop();
    await retention.stop();
    await revocations.stop();
    await database.close();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((e) => {
  console.error(`The collector could not start: ${errorSummary(e)}${stackOf(e)}`);
  process.exit(1);
});
