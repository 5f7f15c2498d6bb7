import { describe, expect, it } from 'vitest';
import { budgetSourceOf, canonicalAddress, clientAddressOf, parseTrustedProxies, TrustedProxiesError } from '../../domain/client-address.js';
import { generateOpaqueToken, isOpaqueToken } from '../../domain/api-key.js';

describe('canonicalAddress', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:CB00:7107', '203.0.113.7'],
    ['0:0:0:0:0:ffff:203.0.113.7', '203.0.113.7'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8:0000:0001:0000:0000:0000:0001', '2001:db8:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::1', '::1'],
    ['::', '::'],
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
  ])('%s → %s', (raw, canonical) => {
    expect(canonicalAddress(raw)).toBe(canonical);
  });

  it.each(['', 'unknown', '203.0.113.256', '01.2.3.4', '203.0.113.7:80', '[2001:db8::1]', 'fe80::1%eth0', '2001:db8::1::2', '1.2.3.4/8'])('refuses %j', (raw) => {
    expect(canonicalAddress(raw)).toBeUndefined();
  });
});

describe('budgetSourceOf', () => {
  it('keeps IPv4 addresses and groups an IPv6 host by its /64', () => {
    expect(budgetSourceOf('203.0.113.7')).toBe('203.0.113.7');
    expect(budgetSourceOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(budgetSourceOf('2001:db8:1:2:ffff:ffff:ffff:fffe')).toBe('2001:db8:1:2::/64');
    expect(budgetSourceOf('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(budgetSourceOf('unknown')).toBe('unknown');
  });
});

describe('parseTrustedProxies', () => {
  it('reads addresses and CIDRs of both families, mapped addresses as IPv4', () => {
    const trusted = parseTrustedProxies(' 10.0.0.0/8, 192.0.2.1 ,2001:db8:ff::/48,::ffff:198.51.100.0/120, ::ffff:203.0.113.9');
    expect(trusted.check('10.200.3.4', 'ipv4')).toBe(true);
    expect(trusted.check('11.0.0.1', 'ipv4')).toBe(false);
    expect(trusted.check('192.0.2.1', 'ipv4')).toBe(true);
    expect(trusted.check('192.0.2.2', 'ipv4')).toBe(false);
    expect(trusted.check('2001:db8:ff:1::9', 'ipv6')).toBe(true);
    expect(trusted.check('2001:db8:fe::9', 'ipv6')).toBe(false);
    expect(trusted.check('198.51.100.77', 'ipv4')).toBe(true);
    expect(trusted.check('198.51.101.1', 'ipv4')).toBe(false);
    expect(trusted.check('203.0.113.9', 'ipv4')).toBe(true);
  });

  it('an empty list trusts nobody', () => {
    expect(parseTrustedProxies('').check('127.0.0.1', 'ipv4')).toBe(false);
    expect(parseTrustedProxies(' , ').check('::1', 'ipv6')).toBe(false);
  });

  it.each(['nginx', '10.0.0.0/33', '2001:db8::/129', '10.0.0.0/-1', '10.0.0.0/', '0.0.0.0/0', '::/0', 'fe80::1%eth0', '10.0.0.1/8/8', '::ffff:10.0.0.0/90'])(
    'refuses %j',
    (entry) => {
      expect(() => parseTrustedProxies(`10.0.0.1,${entry}`)).toThrow(TrustedProxiesError);
    },
  );
});

describe('clientAddressOf', () => {
  const trusted = parseTrustedProxies('10.0.0.0/8,2001:db8:ff::/48');
  it.each([
    // [case, peer, X-Forwarded-For, client]
    ['no header: the peer', '198.51.100.1', undefined, '198.51.100.1'],
    ['spoofed header from an untrusted peer is ignored', '198.51.100.1', '203.0.113.5', '198.51.100.1'],
    ['spoofed chain from an untrusted peer is ignored', '198.51.100.1', '10.0.0.1, 203.0.113.5', '198.51.100.1'],
    ['one trusted proxy: the address it saw', '10.0.0.2', '203.0.113.5', '203.0.113.5'],
    ['the client’s own spoofed entries left of it are not believed', '10.0.0.2', '1.1.1.1, 2.2.2.2, 203.0.113.5', '203.0.113.5'],
    ['two trusted proxies', '10.0.0.2', '203.0.113.5, 10.1.1.1', '203.0.113.5'],
    ['trusted proxy without a header: the proxy', '10.0.0.2', undefined, '10.0.0.2'],
    ['every hop trusted: the leftmost', '10.0.0.2', '10.9.9.9, 10.1.1.1', '10.9.9.9'],
    ['garbage right of the client stops at the last trusted hop', '10.0.0.2', '203.0.113.5, garbage', '10.0.0.2'],
    ['garbage behind a trusted hop stops there', '10.0.0.2', '203.0.113.5, nonsense, 10.1.1.1', '10.1.1.1'],
    ['garbage left of the client is never read', '10.0.0.2', 'nonsense, 203.0.113.5', '203.0.113.5'],
    ['an empty entry is garbage', '10.0.0.2', '203.0.113.5, ', '10.0.0.2'],
    ['"unknown" is garbage', '10.0.0.2', 'unknown', '10.0.0.2'],
    ['IPv4 with a port', '10.0.0.2', '203.0.113.5:4711', '203.0.113.5'],
    ['IPv6 client', '10.0.0.2', '2001:DB8:1::7', '2001:db8:1::7'],
    ['bracketed IPv6 with a port', '10.0.0.2', '[2001:db8:1::7]:443', '2001:db8:1::7'],
    ['an IPv6 trusted proxy', '2001:db8:ff:1::2', '203.0.113.5', '203.0.113.5'],
    ['a mapped peer matches IPv4 rules', '::ffff:10.0.0.2', '203.0.113.5', '203.0.113.5'],
    ['a mapped untrusted peer is reported as IPv4', '::ffff:198.51.100.1', '203.0.113.5', '198.51.100.1'],
    ['a mapped trusted hop in the header', '10.0.0.2', '203.0.113.5, ::ffff:10.3.3.3', '203.0.113.5'],
    ['a mapped client in the header', '10.0.0.2', '::ffff:203.0.113.5', '203.0.113.5'],
    ['a peer with a zone id', 'fe80::1%lo', '203.0.113.5', 'fe80::1'],
    ['no peer', undefined, '203.0.113.5', 'unknown'],
  ])('%s', (_case, peer, forwardedFor, client) => {
    expect(clientAddressOf(peer, forwardedFor, trusted)).toBe(client);
  });

  it('trusts nothing without TRUSTED_PROXIES', () => {
    expect(clientAddressOf('10.0.0.2', '203.0.113.5', parseTrustedProxies(''))).toBe('10.0.0.2');
  });
});

describe('isOpaqueToken', () => {
  it('accepts what generateOpaqueToken gives and nothing else', () => {
    const token = generateOpaqueToken('prt');
    expect(isOpaqueToken('prt', token)).toBe(true);
    expect(isOpaqueToken('pat', token)).toBe(false);
    for (const junk of ['prt_x', 'prt_', `${token}A`, token.slice(0, -1), `${token.slice(0, -1)}-`, `prt-${token.slice(4)}`, ` ${token}`]) {
      expect(isOpaqueToken('prt', junk), junk).toBe(false);
    }
  });
});
