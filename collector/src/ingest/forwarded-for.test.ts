import { describe, expect, it } from 'vitest';
import { canonicalAddress, forwardedAddresses } from './forwarded-for';

describe('an address in one spelling', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:cb00:7107', '203.0.113.7'],
    ['2001:0DB8:0000::0001', '2001:db8::1'],
    ['::1', '::1'],
  ])('writes %s as %s', (text, address) => {
    expect(canonicalAddress(text)).toBe(address);
  });

  it.each(['', 'unknown', '_hidden', '203.0.113', '10.1', '203.0.113.7:80', 'example.com'])(
    'finds none in %j',
    (text) => {
      expect(canonicalAddress(text)).toBeNull();
    },
  );
});

describe('the addresses proxies reported', () => {
  it('reads X-Forwarded-For in the order written, with ports, brackets and junk', () => {
    expect(
      forwardedAddresses(
        '198.51.100.1, 203.0.113.7:4711,[2001:db8::1]:80 , [::ffff:192.0.2.9],,unknown, 2001:db8::2',
        undefined,
      ),
    ).toEqual(['198.51.100.1', '203.0.113.7', '2001:db8::1', '192.0.2.9', null, '2001:db8::2']);
  });

  it("reads each element's for= of Forwarded: quoted, bracketed, with ports, any case", () => {
    expect(
      forwardedAddresses(
        undefined,
        'for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711", proto=https;for="198.51.100.17:_port"',
      ),
    ).toEqual(['192.0.2.60', '2001:db8:cafe::17', '198.51.100.17']);
  });

  it('reads unknown, an obfuscated node and an element without for= as no address', () => {
    expect(
      forwardedAddresses(undefined, 'for=unknown, for=_hidden, for="_SEVKISEK", proto=https, for=192.0.2.1'),
    ).toEqual([null, null, null, null, '192.0.2.1']);
  });

  it("keeps a proxy's element whole after a caller's unbalanced quote", () => {
    expect(forwardedAddresses(undefined, 'for="198.51.100.1, for=203.0.113.7')).toEqual([null, '203.0.113.7']);
  });

  it('prefers X-Forwarded-For to Forwarded, which it reads only when X-Forwarded-For has no entry', () => {
    expect(forwardedAddresses('203.0.113.7', 'for=198.51.100.1')).toEqual(['203.0.113.7']);
    expect(forwardedAddresses(' , ', 'for=198.51.100.1')).toEqual(['198.51.100.1']);
    expect(forwardedAddresses(undefined, undefined)).toEqual([]);
  });
});
