import { z } from 'zod';

/**
 * A JSON object (properties, traits, metadata, page ...), taken as sent. A loose object rather than a
 * record: JSON keys are always strings, and checking each one cost every ingested event time and found nothing.
 */
export const JsonObject = z.looseObject({});
