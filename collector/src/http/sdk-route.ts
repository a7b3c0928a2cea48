import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { HttpError } from './errors';

export interface SdkRouteOptions {
  /** The built script-tag bundle (default: packages/analytics/dist/analytics.min.js of this repository). */
  file?: string;
  /** How long browsers and CDNs may reuse it, in seconds (default 1 hour: the URL has no version in it). */
  maxAge?: number;
  /**
   * Every load asks the collector again (a 304 while unchanged), and no shared cache keeps it: for a
   * collector that sets the anonymous-ID cookie in this answer.
   */
  revalidate?: boolean;
}

/** Where the script-tag build is served. */
export const SDK_PATH = '/sdk/v1/analytics.min.js';

const defaultFile = fileURLToPath(new URL('../../../packages/analytics/dist/analytics.min.js', import.meta.url));

/**
 * `GET /sdk/v1/analytics.min.js`: the SDK's script-tag build, which the snippet loads from the collector
 * itself. Cached in memory and revalidated by ETag; readable from any site (CORS, CORP).
 */
export function sdkRoute(options: SdkRouteOptions = {}) {
  const { file, maxAge, revalidate } = {
    file: defaultFile,
    maxAge: 3600,
    revalidate: false,
    ...options,
  } satisfies Required<SdkRouteOptions>;
  const cacheControl = revalidate ? 'private, no-cache' : `public, max-age=${maxAge}, stale-while-revalidate=86400`;
  let cached: { mtimeMs: number; body: Buffer; etag: string } | undefined;

  async function load() {
    let mtimeMs: number;
    try {
      ({ mtimeMs } = await stat(file));
    } catch {
      throw new HttpError(
        404,
        'sdk_not_built',
        'The SDK bundle is not built: run `pnpm build` (or `pnpm --filter @tributary/analytics build`)',
      );
    }
    if (cached?.mtimeMs !== mtimeMs) {
      const body = await readFile(file);
      cached = { mtimeMs, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    }
    return cached;
  }

  return new Hono().get(SDK_PATH, async function serveSdk(c) {
    const { body, etag } = await load();
    const headers = {
      'Content-Type': 'text/javascript; charset=utf-8',
      'Cache-Control': cacheControl,
      ETag: etag,
      'Access-Control-Allow-Origin': '*',
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'X-Content-Type-Options': 'nosniff',
    };
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
    return c.body(new Uint8Array(body), 200, headers);
  });
}
