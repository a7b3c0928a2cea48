import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { testConfig } from '../config';
import type { Database } from '../db/client';
import { apiKeys } from '../db/schema';
import { loadKeyring } from './keyring';
import { KeyStore } from './keys';

describe.each(testDatabases)('the key store on $name', (db) => {
  let database: Database;
  beforeAll(async () => {
    database = await db.open();
  });
  afterAll(() => database.close());

  it('a lookup in flight when the keys are invalidated does not put its answer back', async () => {
    const config = testConfig();
    const keys = new KeyStore(database.db, config, loadKeyring(config));
    const { id, secret } = await keys.create('write');
    // Looked up, then revoked (as another process would, its notice invalidating) while the lookup runs.
    const inFlight = keys.resolve(secret);
    keys.invalidate();
    await database.db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, id));
    expect(await inFlight).toMatchObject({ id });
    expect(await keys.resolve(secret)).toBeNull();
  });

  it('concurrent lookups of one key share one query', async () => {
    const config = testConfig();
    const keys = new KeyStore(database.db, config, loadKeyring(config));
    const { secret } = await keys.create('write');
    const [first, second] = [keys.resolve(secret), keys.resolve(secret)];
    expect(second).toBe(first);
    expect(await first).toMatchObject({ kind: 'write' });
  });
});
