import { describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { API_KEY, basicAuth, type Json, useApp, WRITE_KEY } from '../../test/harness';
import { createApp } from '../app';
import { testConfig } from '../config';
import { environmentKeyId } from './keys';

const SPARE_WRITE_KEY = 'wk_spare_environment_write_key';
const SPARE_ADMIN_KEY = 'sk_spare_environment_admin_key';
const config = {
  WRITE_KEYS: [WRITE_KEY, SPARE_WRITE_KEY],
  API_KEYS: [API_KEY, SPARE_ADMIN_KEY],
};

describe.each(testDatabases)('keys from the environment on $name', (db) => {
  const h = useApp(db, config);

  const listed = async (): Promise<Json[]> => {
    const res = await h.call('GET', '/api/v1/admin/keys?limit=500');
    expect(res.status).toBe(200);
    return (await res.json()).keys;
  };
  const environmentKey = async (secret: string) => {
    const key = (await listed()).find((k) => k.id === environmentKeyId(secret));
    expect(key).toMatchObject({ source: 'environment', prefix: secret.slice(0, 8), createdAt: null });
    return key;
  };
  const track = (app: { request: typeof h.app.request }, key: string) =>
    app.request('/v1/track', {
      method: 'POST',
      headers: { authorization: basicAuth(key), 'content-type': 'application/json' },
      body: JSON.stringify({ anonymousId: 'env-key', event: 'e' }),
    });

  it('lists them, marked as from the environment, without their secret', async () => {
    const keys = await listed();
    const fromEnvironment = keys.filter((k) => k.source === 'environment');
    expect(fromEnvironment.map((k) => k.name).sort()).toEqual(['API_KEYS', 'API_KEYS', 'WRITE_KEYS', 'WRITE_KEYS']);
    for (const k of fromEnvironment) expect(k.id).toMatch(/^env:[0-9a-f]{12}$/);
    expect(await environmentKey(SPARE_WRITE_KEY)).toMatchObject({ kind: 'write', name: 'WRITE_KEYS', revokedAt: null });
    expect(await environmentKey(SPARE_ADMIN_KEY)).toMatchObject({ kind: 'admin', name: 'API_KEYS', revokedAt: null });
    expect(JSON.stringify(keys)).not.toContain(SPARE_WRITE_KEY);
    expect(JSON.stringify(keys)).not.toContain(API_KEY);
  });

  it('revokes one through the API, and it stays revoked for a new app on the same database', async () => {
    const write = await environmentKey(SPARE_WRITE_KEY);
    expect((await track(h.app, SPARE_WRITE_KEY)).status).toBe(200);
    const revoked = await h.call('DELETE', `/api/v1/admin/keys/${write.id}`);
    expect(revoked.status).toBe(200);
    expect((await track(h.app, SPARE_WRITE_KEY)).status).toBe(401);
    expect((await track(h.app, WRITE_KEY)).status).toBe(200);
    expect((await environmentKey(SPARE_WRITE_KEY)).revokedAt).toEqual(expect.any(String));

    const admin = await environmentKey(SPARE_ADMIN_KEY);
    expect((await h.call('GET', '/api/v1/admin/keys', undefined, `Bearer ${SPARE_ADMIN_KEY}`)).status).toBe(200);
    expect((await h.call('DELETE', `/api/v1/admin/keys/${admin.id}`)).status).toBe(200);
    expect((await h.call('GET', '/api/v1/admin/keys', undefined, `Bearer ${SPARE_ADMIN_KEY}`)).status).toBe(401);

    // A restart: a new app with the same environment, on the same database.
    const restarted = createApp({ database: h.database, config: testConfig(config) });
    expect((await track(restarted, SPARE_WRITE_KEY)).status).toBe(401);
    const mint = await restarted.request('/api/v1/admin/keys', {
      method: 'POST',
      headers: { authorization: `Bearer ${SPARE_ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'admin' }),
    });
    expect(mint.status).toBe(401);
    expect((await track(restarted, WRITE_KEY)).status).toBe(200);
    await restarted.writer.idle();
    await restarted.audit.flush();
  });

  it('answers 404 for an environment id that names no configured key', async () => {
    expect((await h.call('DELETE', '/api/v1/admin/keys/env:000000000000')).status).toBe(404);
    expect((await h.call('DELETE', '/api/v1/admin/keys/env:nothex')).status).toBe(400);
  });
});
