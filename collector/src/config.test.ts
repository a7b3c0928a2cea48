import { describe, expect, it } from 'vitest';
import { loadConfig } from './config';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ PORT: 3002, DATA_DIR: '.data', WRITE_KEYS: [], API_KEYS: [] });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('splits comma-separated keys', () => {
    const config = loadConfig({ WRITE_KEYS: 'wk_aaaaaaaa, wk_bbbbbbbb', API_KEYS: 'sk_cccccccc' });
    expect(config.WRITE_KEYS).toEqual(['wk_aaaaaaaa', 'wk_bbbbbbbb']);
    expect(config.API_KEYS).toEqual(['sk_cccccccc']);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ API_KEYS: 'short' }, 'API_KEYS'],
  ])('refuses %j naming %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(new RegExp(name));
  });
});

describe('rate limit and Redis configuration', () => {
  it('limits each IP address to 100 requests a second, trusts no proxy and shares nothing by default', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ RATE_LIMIT_PER_IP_PER_SECOND: 100, TRUST_PROXY: 0, REDIS_KEY_PREFIX: 'tributary:' });
    expect(config.REDIS_URL).toBeUndefined();
  });

  it.each([
    ['true', 1],
    ['false', 0],
    ['2', 2],
  ])('reads TRUST_PROXY=%s as %i proxies', (value, proxies) => {
    expect(loadConfig({ TRUST_PROXY: value }).TRUST_PROXY).toBe(proxies);
  });

  it.each([
    [{ TRUST_PROXY: 'yes' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '-1' }, 'TRUST_PROXY'],
    [{ RATE_LIMIT_PER_IP_PER_SECOND: '0' }, 'RATE_LIMIT_PER_IP_PER_SECOND'],
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, 'REDIS_URL'],
  ])('refuses %j naming %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(new RegExp(name));
  });
});
