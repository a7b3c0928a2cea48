import { OpenAPIHono } from '@hono/zod-openapi';
import type { AuthEnv } from './auth';
import { validationError } from './errors';

/**
 * A route group of the CDP API. Validation failures of params, query and body all become the
 * collector's 400 error naming the field (`query.limit: ...`).
 */
export function cdpRouter() {
  return new OpenAPIHono<AuthEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error, result.target);
    },
  });
}

export const jsonContent = <T>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});

/** A required JSON request body. */
export const jsonBody = <T>(schema: T) => ({ content: { 'application/json': { schema } }, required: true });
