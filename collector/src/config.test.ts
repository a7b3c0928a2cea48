import { describe, expect, it } from 'vitest';
import { loadConfig } from './config';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ PORT: 3002, DATA_DIR: '.data', WRITE_KEYS: [], API_KEYS: [] });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('splits comma-separated keys', () => {
    const [a, b, c] = ['wk_'.padEnd(24, 'a'), 'wk_'.padEnd(24, 'b'), 'sk_'.padEnd(30, 'c')];
    const config = loadConfig({ WRITE_KEYS: `${a}, ${b}`, API_KEYS: c });
    expect(config.WRITE_KEYS).toEqual([a, b]);
    expect(config.API_KEYS).toEqual([c]);
  });

  it.each(['WRITE_KEYS', 'API_KEYS'])('refuses a key of %s under 24 characters, naming the variable', (name) => {
    const strong = 'k'.repeat(24);
    expect(() => loadConfig({ [name]: `${strong},${'k'.repeat(23)}` })).toThrow(
      new RegExp(`${name}: each key must be at least 24 characters`),
    );
    expect(loadConfig({ [name]: strong })[name as 'WRITE_KEYS']).toEqual([strong]);
  });

  it('adds PERSONAL_DATA_KEYS to the default personal-data keys', () => {
    expect(loadConfig({}).PERSONAL_DATA_KEYS).toContain('*email');
    const config = loadConfig({ PERSONAL_DATA_KEYS: 'iban, *taxId, -traits:name' });
    expect(config.PERSONAL_DATA_KEYS).toEqual(expect.arrayContaining(['*email', 'iban', '*taxId']));
    expect(config.PERSONAL_DATA_KEYS).not.toContain('traits:name');
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ API_KEYS: 'short' }, 'API_KEYS'],
    [{ PERSONAL_DATA_KEYS: 'iban, -nickname' }, 'PERSONAL_DATA_KEYS'],
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

  it('reads TRUST_PROXY as the addresses of trusted proxies', () => {
    const trust = loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.7, fd00::/8, loopback' }).TRUST_PROXY;
    expect(Array.isArray(trust) && trust.map(([ip, bits]) => `${ip}/${bits}`)).toEqual([
      '10.0.0.0/8',
      '192.168.1.7/32',
      'fd00::/8',
      '127.0.0.0/8',
      '::1/128',
    ]);
  });

  it('refuses a TRUST_PROXY it cannot read, saying what it takes', () => {
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/8, intranet' })).toThrow(
      /TRUST_PROXY: must be a number of proxies .* CIDR ranges .*; not "intranet"/,
    );
  });

  it.each([
    [{ TRUST_PROXY: 'yes' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '-1' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY'],
    [{ RATE_LIMIT_PER_IP_PER_SECOND: '0' }, 'RATE_LIMIT_PER_IP_PER_SECOND'],
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, 'REDIS_URL'],
  ])('refuses %j naming %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(new RegExp(name));
  });
});
