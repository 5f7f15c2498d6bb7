import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Environment } from './partner-states.js';

/**
 * Partner API keys: `pak_<env>_<keyId>_<secret>_<checksum>`. The checksum (CRC32 of everything
 * before it, base62) lets scanners and the gateway reject typos and forgeries without a database
 * hit; only SHA-256(key) and the display prefix `pak_<env>_<keyId>` are ever stored.
 */
export type { Environment };
export type KeyEnv = 'test' | 'live';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_ID_LENGTH = 16;
const SECRET_LENGTH = 32; // 32 base62 characters ≈ 190 bits
const CHECKSUM_LENGTH = 6;
const KEY_PATTERN = /^pak_(test|live)_([0-9A-Za-z]{16})_([0-9A-Za-z]{32})_([0-9A-Za-z]{6})$/;

export const keyEnvFor = (environment: Environment): KeyEnv => (environment === 'production' ? 'live' : 'test');
export const environmentFor = (env: KeyEnv): Environment => (env === 'live' ? 'production' : 'sandbox');

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(data: string | Uint8Array): number {
  // ASCII text (every key) is its own UTF-8: read it in place, without a buffer (introspection's hot path)
  const ascii = typeof data === 'string' && /^[\x00-\x7f]*$/.test(data);
  const bytes = typeof data === 'string' && !ascii ? Buffer.from(data, 'utf8') : data;
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    const byte = typeof bytes === 'string' ? bytes.charCodeAt(i) : bytes[i]!;
    crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

export function toBase62(value: number | bigint, minLength = 0): string {
  let n = BigInt(value);
  if (n < 0n) throw new RangeError('toBase62 takes a non-negative number');
  let out = '';
  do {
    out = ALPHABET[Number(n % 62n)]! + out;
    n /= 62n;
  } while (n > 0n);
  return out.padStart(minLength, '0');
}

/** Uniform base62 characters: bytes ≥ 248 are discarded, so there is no modulo bias. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(Math.ceil((length - out.length) * 1.1) + 4)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

const checksumOf = (body: string) => toBase62(crc32(body), CHECKSUM_LENGTH);

/** The display prefix of a key (what is stored and shown beside the hash): `pak_<env>_<keyId>`. */
export const keyPrefix = (environment: Environment, keyId: string): string => `pak_${keyEnvFor(environment)}_${keyId}`;

export function generateApiKey(environment: Environment): { apiKey: string; keyId: string; prefix: string } {
  const keyId = randomBase62(KEY_ID_LENGTH);
  const prefix = keyPrefix(environment, keyId);
  const body = `${prefix}_${randomBase62(SECRET_LENGTH)}`;
  return { apiKey: `${body}_${checksumOf(body)}`, keyId, prefix };
}

export type ParsedApiKey =
  | { ok: true; env: KeyEnv; environment: Environment; keyId: string; prefix: string }
  | { ok: false; reason: 'malformed' | 'bad_checksum' };

/** Validates shape and checksum without any I/O. */
export function parseApiKey(raw: unknown): ParsedApiKey {
  if (typeof raw !== 'string' || raw.length > 100) return { ok: false, reason: 'malformed' };
  const match = KEY_PATTERN.exec(raw);
  if (!match) return { ok: false, reason: 'malformed' };
  const [, env, keyId, , checksum] = match as unknown as [string, KeyEnv, string, string, string];
  if (checksumOf(raw.slice(0, raw.length - CHECKSUM_LENGTH - 1)) !== checksum) return { ok: false, reason: 'bad_checksum' };
  return { ok: true, env, environment: environmentFor(env), keyId, prefix: `pak_${env}_${keyId}` };
}

export const hashApiKey = (apiKey: string): string => hash('sha256', apiKey, 'hex');
export const hashToken = hashApiKey;

const HEX64 = /^[0-9a-f]{64}$/;
/** Constant-time comparison of two SHA-256 hex digests; false for anything else. */
export function hashesEqual(a: string, b: string): boolean {
  if (!HEX64.test(a) || !HEX64.test(b)) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

/** Opaque bearer tokens: `pat_…` for operators, `prt_…` for partner request tokens (≈ 256 bits). */
const opaqueLength = (bytes: number) => Math.ceil((bytes * 8) / 5.95);
export const generateOpaqueToken = (prefix: string, bytes = 32): string => `${prefix}_${randomBase62(opaqueLength(bytes))}`;

/** Whether `raw` has the shape generateOpaqueToken(prefix) gives: junk is refused without a lookup. */
export function isOpaqueToken(prefix: string, raw: string, bytes = 32): boolean {
  const body = raw.startsWith(`${prefix}_`) ? raw.slice(prefix.length + 1) : '';
  return body.length === opaqueLength(bytes) && /^[0-9A-Za-z]+$/.test(body);
}
