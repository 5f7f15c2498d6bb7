import { describe, expect, it } from 'vitest';
import { crc32, generateApiKey, generateOpaqueToken, hashApiKey, hashesEqual, parseApiKey, randomBase62, toBase62 } from '../../domain/api-key.js';
import { generateDataKey, open, parseDataKey, seal } from '../../domain/sealed-box.js';

describe('API key format', () => {
  it('pak_<env>_<keyId>_<secret>_<checksum> with the environment prefix', () => {
    const test = generateApiKey('sandbox');
    const live = generateApiKey('production');
    expect(test.apiKey).toMatch(/^pak_test_[0-9A-Za-z]{16}_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}$/);
    expect(live.apiKey).toMatch(/^pak_live_/);
    expect(test.prefix).toBe(`pak_test_${test.keyId}`);
    expect(test.apiKey.startsWith(test.prefix)).toBe(true);
  });

  it('round-trips through parse', () => {
    const { apiKey, keyId } = generateApiKey('production');
    expect(parseApiKey(apiKey)).toEqual({ ok: true, env: 'live', environment: 'production', keyId, prefix: `pak_live_${keyId}` });
  });

  it('every single-character change of the secret or checksum is caught', () => {
    const { apiKey } = generateApiKey('sandbox');
    const secretStart = apiKey.length - 6 - 1 - 32;
    for (let i = secretStart; i < apiKey.length; i++) {
      if (apiKey[i] === '_') continue;
      const replacement = apiKey[i] === 'a' ? 'b' : 'a';
      const mutated = apiKey.slice(0, i) + replacement + apiKey.slice(i + 1);
      expect(parseApiKey(mutated).ok, `position ${i}`).toBe(false);
    }
  });

  it('refuses malformed input', () => {
    const { apiKey } = generateApiKey('sandbox');
    for (const bad of [undefined, null, 42, {}, '', 'pak_test', apiKey.replace('pak_test_', 'pak_prod_'), `${apiKey}_x`, apiKey.replace(/_/g, '-'), `${apiKey}é`, 'x'.repeat(101), ` ${apiKey}`]) {
      expect(parseApiKey(bad)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('CRC32 matches the standard check values', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(crc32('')).toBe(0);
    expect(crc32('The quick brown fox jumps over the lazy dog')).toBe(0x414fa339);
  });

  it('base62 helpers', () => {
    expect(toBase62(0)).toBe('0');
    expect(toBase62(61)).toBe('z');
    expect(toBase62(62)).toBe('10');
    expect(toBase62(5, 4)).toBe('0005');
    const sample = randomBase62(62_000);
    expect(sample).toMatch(/^[0-9A-Za-z]+$/);
    const counts = new Map<string, number>();
    for (const ch of sample) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(62);
    for (const n of counts.values()) expect(Math.abs(n - 1000)).toBeLessThan(200); // no modulo bias
  });

  it('hashes are fixed-length and compared in constant time; anything odd is simply unequal', () => {
    const { apiKey } = generateApiKey('sandbox');
    const h = hashApiKey(apiKey);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(hashesEqual(h, hashApiKey(apiKey))).toBe(true);
    expect(hashesEqual(h, hashApiKey(`${apiKey}x`))).toBe(false);
    expect(hashesEqual(h, h.slice(0, 63))).toBe(false);
    expect(hashesEqual(h, h.toUpperCase())).toBe(false);
  });

  it('opaque tokens carry their prefix and ≥ 256 bits', () => {
    const token = generateOpaqueToken('pat');
    expect(token).toMatch(/^pat_[0-9A-Za-z]{43,}$/);
    expect(generateOpaqueToken('prt')).not.toBe(generateOpaqueToken('prt'));
  });
});

describe('sealed box (AES-256-GCM)', () => {
  const key = parseDataKey(generateDataKey());

  it('round-trips and is bound to its associated data', () => {
    const sealed = seal(key, 'pak_test_secret', 'key-1');
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain('secret');
    expect(open(key, sealed, 'key-1')).toBe('pak_test_secret');
    expect(() => open(key, sealed, 'key-2')).toThrow('sealed box could not be opened');
  });

  it('any tampering, a wrong key or a bad format fails', () => {
    const sealed = seal(key, 'hello', 'aad');
    const parts = sealed.split('.');
    for (let i = 1; i < parts.length; i++) {
      const tampered = [...parts];
      tampered[i] = (tampered[i]![0] === 'A' ? 'B' : 'A') + tampered[i]!.slice(1);
      expect(() => open(key, tampered.join('.'), 'aad')).toThrow('sealed box could not be opened');
    }
    expect(() => open(parseDataKey(generateDataKey()), sealed, 'aad')).toThrow();
    expect(() => open(key, 'v2.a.b.c', 'aad')).toThrow();
    expect(() => open(key, 'garbage', 'aad')).toThrow();
  });

  it('takes 32-byte keys as hex or base64 only', () => {
    expect(parseDataKey('00'.repeat(32))).toHaveLength(32);
    expect(parseDataKey(Buffer.alloc(32, 7).toString('base64'))).toHaveLength(32);
    expect(() => parseDataKey('abc')).toThrow(/32 bytes/);
  });
});

describe('secret scan patterns', async () => {
  const { findSecrets } = await import('../helpers/secret-scan.js');
  it('find whole keys and tokens, not their public prefixes', () => {
    const { apiKey, prefix } = generateApiKey('production');
    const pat = generateOpaqueToken('pat');
    const prt = generateOpaqueToken('prt');
    expect(findSecrets(`x ${apiKey} y ${pat} z ${prt}`)).toEqual([apiKey, prt, pat]);
    expect(findSecrets(`${prefix} and pat_short and ${hashApiKey(apiKey)}`)).toEqual([]);
  });
});
