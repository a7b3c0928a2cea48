import { describe, expect, it } from 'vitest';
import { parseTrustProxy, trustsProxy } from './trust-proxy';

describe('reading TRUST_PROXY', () => {
  it.each([
    [undefined, 0],
    ['', 0],
    ['false', 0],
    ['0', 0],
    ['true', 1],
    ['TRUE', 1],
    ['1', 1],
    [' 2 ', 2],
  ])('reads %j as %i proxies', (value, proxies) => {
    expect(parseTrustProxy(value)).toBe(proxies);
  });

  it('reads a list of addresses and ranges, IPv4 and IPv6, with or without spaces', () => {
    const trust = parseTrustProxy('10.0.0.0/8, 192.168.1.7,fd00::/8 ,2001:DB8::1');
    expect(trust).toHaveLength(4);
    expect(trustsProxy(trust, '10.200.3.4', 0)).toBe(true);
    expect(trustsProxy(trust, '192.168.1.7', 0)).toBe(true);
    expect(trustsProxy(trust, '192.168.1.8', 0)).toBe(false);
    expect(trustsProxy(trust, 'fd12:3456::1', 0)).toBe(true);
    expect(trustsProxy(trust, '2001:db8::1', 0)).toBe(true);
    expect(trustsProxy(trust, '2001:db8::2', 0)).toBe(false);
    expect(trustsProxy(trust, '11.0.0.1', 0)).toBe(false);
  });

  it('knows loopback and private by name', () => {
    const trust = parseTrustProxy('loopback,private');
    const proxies = ['127.0.0.1', '127.9.9.9', '::1', '10.1.2.3', '172.31.255.255', '192.168.0.1', 'fd00::1'];
    const callers = ['172.32.0.1', '100.64.0.1', '8.8.8.8', '2001:db8::1', '::2'];
    expect(proxies.filter((address) => !trustsProxy(trust, address, 0))).toEqual([]);
    expect(callers.filter((address) => trustsProxy(trust, address, 0))).toEqual([]);
  });

  it('reads a range written as IPv4-mapped IPv6 as the IPv4 range it is', () => {
    const trust = parseTrustProxy('::ffff:10.0.0.0/104');
    expect(trustsProxy(trust, '10.9.8.7', 0)).toBe(true);
    expect(trustsProxy(trust, '11.9.8.7', 0)).toBe(false);
  });

  it.each([
    'yes',
    '-1',
    '1.5',
    '10.0.0.0/33',
    'fd00::/129',
    '10.0.0.0/8/8',
    '10.1/8',
    '10.0.0.0/x',
    '10.0.0.0/8, internal',
    'example.com',
    ',',
  ])('refuses %j, saying what it takes', (value) => {
    expect(() => parseTrustProxy(value)).toThrow(/must be a number of proxies .* CIDR ranges/);
  });

  it('names the entries it could not read', () => {
    expect(() => parseTrustProxy('10.0.0.0/8, internal, 300.1.1.1')).toThrow(/not "internal", "300.1.1.1"$/);
  });
});

describe('which hops are trusted', () => {
  it('with a count, the hops in front whatever their address, unknown too', () => {
    expect([0, 1, 2].map((hop) => trustsProxy(2, '203.0.113.7', hop))).toEqual([true, true, false]);
    expect(trustsProxy(1, null, 0)).toBe(true);
    expect(trustsProxy(0, '127.0.0.1', 0)).toBe(false);
  });

  it('with ranges, the addresses inside them at any hop, never an unknown one', () => {
    const trust = parseTrustProxy('10.0.0.0/8');
    expect(trustsProxy(trust, '10.0.0.1', 5)).toBe(true);
    expect(trustsProxy(trust, null, 0)).toBe(false);
    expect(trustsProxy(trust, 'unknown', 0)).toBe(false);
  });
});
