import { describe, expect, it } from 'vitest';
import { API_KEY, type Json, WRITE_KEY } from '../../test/harness';
import { createApp } from '../app';
import { testConfig } from '../config';
import { openPostgres } from '../db/client';

// Nothing listens on port 1: every query fails to connect, as when the server is down.
const unreachable = 'postgres://postgres@127.0.0.1:1/test';

describe('a database outage', () => {
  it('answers 503 with Retry-After on ingestion and on the API, and acknowledges nothing', async () => {
    const database = await openPostgres(unreachable);
    const app = createApp({ database, config: testConfig({ WRITE_KEYS: [WRITE_KEY], API_KEYS: [API_KEY] }) });
    try {
      const ingest = await app.request('/v1/track', {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
        body: JSON.stringify({ anonymousId: 'a', event: 'Lost?' }),
      });
      expect(ingest.status).toBe(503);
      expect(ingest.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(((await ingest.json()) as Json).error.code).toBe('database_unavailable');

      const read = await app.request('/api/v1/cdp/events', { headers: { authorization: `Bearer ${API_KEY}` } });
      expect(read.status).toBe(503);
      expect(read.headers.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      await database.close();
    }
  });
});
