import type { ServerOptions } from 'node:http';

/**
 * Options of the collector's HTTP server. Node's own defaults, pinned so that NODE_OPTIONS cannot
 * raise them: request headers are bounded (a request whose headers exceed 16 KB is answered 431 by
 * Node before it reaches the app).
 */
export const SERVER_OPTIONS = {
  maxHeaderSize: 16 * 1024,
} as const satisfies ServerOptions;
