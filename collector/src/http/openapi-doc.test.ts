import { describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { useApp } from '../../test/harness';

describe.each(testDatabases)('OpenAPI document and docs page on $name', (db) => {
  const h = useApp(db);

  it('serves an OpenAPI 3.1 document listing the spec paths, generated from the zod schemas', async () => {
    const res = await h.call('GET', '/openapi.json', undefined, null);
    expect(res.status).toBe(200);
    const doc = JSON.parse(await res.text());
    expect(doc.openapi).toBe('3.1.0');
    const paths = Object.keys(doc.paths);
    for (const p of [
      '/api/v1/cdp/customer360/{customerId}',
      '/api/v1/cdp/customer360/{customerId}/compute-engagement',
      '/api/v1/cdp/customer360/{customerId}/compute-ltv',
      '/api/v1/cdp/traits/{customerId}/compute-engagement',
      '/api/v1/cdp/segments',
      '/api/v1/cdp/segments/{segmentId}',
      '/api/v1/cdp/segments/{segmentId}/members',
      '/api/v1/cdp/segments/{segmentId}/members/{customerId}',
      '/api/v1/cdp/segments/{segmentId}/evaluate',
      '/api/v1/cdp/events/track',
      '/api/v1/cdp/events',
      '/v1/track',
      '/v1/identify',
      '/v1/batch',
    ])
      expect(paths, p).toContain(p);
    expect(Object.keys(doc.paths['/api/v1/cdp/segments/{segmentId}'])).toEqual(
      expect.arrayContaining(['get', 'patch', 'delete']),
    );
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.basicAuth).toMatchObject({ type: 'http', scheme: 'basic' });
    expect(doc.paths['/v1/track'].post.security).toEqual([{ basicAuth: [] }, { bearerAuth: [] }]);
    // The request body of the track endpoint is the zod schema's: its event field is required.
    const track = doc.paths['/v1/track'].post.requestBody.content['application/json'].schema;
    expect(track.required).toContain('event');
  });

  it('serves a browsable docs page whose assets come from this server, not a CDN', async () => {
    const page = await h.call('GET', '/docs', undefined, null);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('SwaggerUIBundle');
    expect(html).not.toMatch(/https?:\/\//);
    const js = await h.call('GET', '/docs/swagger-ui-bundle.js', undefined, null);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
    expect((await js.text()).length).toBeGreaterThan(100_000);
    const css = await h.call('GET', '/docs/swagger-ui.css', undefined, null);
    expect(css.status).toBe(200);
  });
});
