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
