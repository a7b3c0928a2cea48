import { z } from 'zod';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A JSON object (properties, traits, metadata, page ...), taken as sent: checked to be an object and
 * passed on as it is, without a copy. A copy cost every ingested event a pass over its keys, and
 * zod's copy drops a `__proto__` key, which is data here like any other. Depth and size are bounded
 * where the body is read (the collector's bounded-json), before anything is parsed.
 */
export const JsonObject = z
  .custom<Record<string, unknown>>(isObject, { message: 'must be an object' })
  .meta({ type: 'object', additionalProperties: {} });

/** A JSON object whose values are booleans (consent categories), checked in place like `JsonObject`. */
export const BooleanRecord = z
  .custom<Record<string, boolean>>((v) => isObject(v) && Object.values(v).every((x) => typeof x === 'boolean'), {
    message: 'must be an object of booleans',
  })
  .meta({ type: 'object', additionalProperties: { type: 'boolean' } });
