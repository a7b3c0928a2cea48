import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { OpenAPIHono } from '@hono/zod-openapi';
import {
  AliasCall,
  BatchEnvelope,
  ErrorBody,
  GroupCall,
  IdentifyCall,
  PageCall,
  ScreenCall,
  TrackCall,
  TrackingAnswer,
} from '@tributary/spec';
import type { Env } from 'hono';
import { jsonBody, jsonContent } from './openapi-app';

const TRACKING_CALLS = {
  track: TrackCall,
  identify: IdentifyCall,
  page: PageCall,
  screen: ScreenCall,
  group: GroupCall,
  alias: AliasCall,
  batch: BatchEnvelope,
} as const;

/**
 * The OpenAPI 3.1 document at `/openapi.json`, generated from the same zod schemas that validate
 * requests: the CDP routes register themselves; the Segment-compatible tracking endpoints (plain Hono
 * routes, since they accept several content types) are declared here. Call after mounting the routes.
 */
export function openApiDocument<E extends Env>(app: OpenAPIHono<E>) {
  const registry = app.openAPIRegistry;
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'A secret API key (read or admin) for the CDP API. Write keys are refused with 403.',
  });
  registry.registerComponent('securitySchemes', 'basicAuth', {
    type: 'http',
    scheme: 'basic',
    description: "A write key as the Basic auth username, empty password (Segment's convention).",
  });
  for (const [type, schema] of Object.entries(TRACKING_CALLS)) {
    registry.registerPath({
      method: 'post',
      path: `/v1/${type}`,
      tags: ['Tracking (Segment-compatible)'],
      summary: type === 'batch' ? 'Send up to 2,500 calls at once' : `A Segment ${type} call`,
      description:
        `Also at \`/v1/${type[0]}\`, the path analytics.js posts to.${type === 'batch' ? " RudderStack's beacon posts the same body to `/beacon/v1/batch?writeKey=...`." : ''} ` +
        'Answered 200 once the events are committed; retrying with the same messageId is harmless. A batch event that cannot be stored (invalid, over a limit, refused by the database) is listed in `refused` and the others are stored; when none is left the answer is 400 (413 when all were too large). The write key may also travel as `writeKey` in the body. The body may be compressed (`Content-Encoding: gzip` or `deflate`); the 500 KB limit applies to it inflated.',
      security: [{ basicAuth: [] }, { bearerAuth: [] }],
      request: { body: jsonBody(schema) },
      responses: {
        200: jsonContent(TrackingAnswer, 'Stored, but for the events listed in refused'),
        400: jsonContent(
          ErrorBody,
          'Invalid call or body (JSON over 32 levels, 1,000 members per object, U+0000), naming the field, or a compressed body that does not inflate',
        ),
        401: jsonContent(ErrorBody, 'No valid write key'),
        403: jsonContent(
          ErrorBody,
          'A read or admin key (only write keys send events), or an unsigned verified identify',
        ),
        413: jsonContent(ErrorBody, 'Event over 32 KB, request over 500 KB (inflated) or batch over 2,500 calls'),
        415: jsonContent(ErrorBody, 'A Content-Encoding other than gzip, deflate or identity'),
        429: jsonContent(ErrorBody, "Over the key's or the IP address's rate limit; Retry-After says when to retry"),
      },
    });
  }
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Tributary',
      version: '0.1.0',
      description:
        'Segment-compatible event collection and the customer data platform API: identities, traits, consents, segments, scores, lifetime value and the Customer 360 view.',
    },
    security: [{ bearerAuth: [] }],
  });
}

const require = createRequire(import.meta.url);
const assetsDir = () => dirname(require.resolve('swagger-ui-dist/package.json'));
const ASSETS = { 'swagger-ui.css': 'text/css', 'swagger-ui-bundle.js': 'text/javascript' } as const;

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Tributary API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="docs"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#docs', deepLinking: true, persistAuthorization: true });
  </script>
</body>
</html>`;

/**
 * A browsable API reference at `/docs`: Swagger UI served from the swagger-ui-dist package, so the
 * page needs no internet access (no CDN).
 */
export function docsPage<E extends Env>(app: OpenAPIHono<E>) {
  const cache = new Map<string, string>();
  app.get('/docs', (c) => c.html(PAGE));
  for (const [name, type] of Object.entries(ASSETS)) {
    app.get(`/docs/${name}`, async (c) => {
      let body = cache.get(name);
      if (body === undefined) {
        body = await readFile(join(assetsDir(), name), 'utf8');
        cache.set(name, body);
      }
      c.header('Content-Type', `${type}; charset=utf-8`);
      c.header('Cache-Control', 'public, max-age=86400');
      return c.body(body);
    });
  }
}
