import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, describe, expect, it } from 'vitest';
import { errorResponse } from './errors';
import { sdkRoute } from './sdk-route';

describe('GET /sdk/v1/analytics.min.js', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-sdk-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const appFor = (file: string) => new Hono().onError(errorResponse).route('/', sdkRoute({ file }));

  it('serves the bundle as JavaScript, cacheable, readable cross-origin, revalidated by ETag', async () => {
    const file = join(dir, 'analytics.min.js');
    await writeFile(file, '!function(){window.ok=1}();');
    const app = appFor(file);
    const res = await app.request('/sdk/v1/analytics.min.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toMatch(/public, max-age=\d+/);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(await res.text()).toBe('!function(){window.ok=1}();');
    const etag = res.headers.get('etag');
    expect(etag).toBeTruthy();
    const again = await app.request('/sdk/v1/analytics.min.js', { headers: { 'if-none-match': etag ?? '' } });
    expect(again.status).toBe(304);
  });

  it('answers 404 with a JSON error saying to build when the bundle is missing', async () => {
    const res = await appFor(join(dir, 'missing.js')).request('/sdk/v1/analytics.min.js');
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('sdk_not_built');
    expect(body.error.message).toMatch(/pnpm build/);
  });
});
