import { getPath } from 'hono/utils/url';

/**
 * The request path the app routes, for a collector that also answers under `prefix` (`/t`): a
 * reverse proxy on the site's own domain forwards `/t/v1/batch` as it is, and the collector answers
 * it as `/v1/batch`. Paths outside the prefix are routed unchanged, so a proxy that strips the prefix
 * itself works too. Undefined without a prefix: hono's own, unchanged.
 *
 * @example
 * new Hono({ getPath: prefixedPath('/t') }) // '/t/v1/batch' and '/v1/batch' both route to '/v1/batch'
 */
export function prefixedPath(prefix: string): ((request: Request) => string) | undefined {
  if (!prefix) return undefined;
  return (request) => {
    const path = getPath(request);
    return path.startsWith(prefix) && (path.length === prefix.length || path[prefix.length] === '/')
      ? path.slice(prefix.length) || '/'
      : path;
  };
}
