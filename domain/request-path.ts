/**
 * The one normalisation of a request target at the gateway. The scope is decided on the path this
 * returns and nginx forwards exactly that path, so no reading of the client's raw target (by nginx,
 * the upstream's framework, a proxy in between) can differ from the one the decision was made on.
 *
 * Rule, in order:
 * 1. The target is origin-form (`/…`), at most MAX_TARGET_LENGTH characters, split at the first `?`.
 * 2. Path: raw characters must be printable ASCII; a raw `\`, `;` or `#` is refused.
 * 3. Each `/`-separated segment is percent-decoded exactly once into UTF-8 (malformed escapes and
 *    invalid UTF-8 are refused). A decoded character that would change the structure for anyone who
 *    decodes again or parses more leniently is refused: `/` (`%2F`), `\`, `;` (path parameters),
 *    `%` (`%25`: a double-encoded form), controls, and the characters whose NFKC compatibility form
 *    contains one of `/ \ . ; % ? #` (e.g. U+FF0F FULLWIDTH SOLIDUS, U+2025 TWO DOT LEADER).
 * 4. Empty segments collapse (`//` → `/`); `.` and `..` segments are resolved (RFC 3986 5.2.4 on
 *    decoded segments, so `%2e%2e` is `..`); `..` above the root is refused.
 * 5. The result is re-encoded canonically: unreserved, sub-delims (without `;`), `:` and `@` stay,
 *    everything else is percent-encoded from its UTF-8 bytes in upper-case hex. Canonical paths
 *    therefore never hold a dot segment, `//`, `%2F`, `%25` or `;`, and decoding one once more
 *    changes nothing.
 * 6. The query is passed through unchanged (it never decides a scope) if it is printable ASCII
 *    without `#`.
 *
 * Input convention (shared with the edge's port, test/fixtures/path-vectors.json): the target as
 * nginx passes `$request_uri`, byte for byte; a JS string holds one byte per character (U+0000 to
 * U+00FF, as Node decodes header values).
 */

export const MAX_TARGET_LENGTH = 4096;

/** Why a target is refused: stable codes (the edge port answers with the same ones). */
export const pathRefusals = {
  'not-origin-form': 'the request target must start with /',
  'too-long': `the request target is longer than ${MAX_TARGET_LENGTH} characters`,
  'control-character': 'the path contains a control character (raw or percent-encoded)',
  'invalid-character': 'the path contains a character that must be percent-encoded (space, #, non-ASCII)',
  backslash: 'the path contains a backslash (raw or %5C)',
  'path-parameter': 'the path contains ; (path parameters are not accepted, raw or %3B)',
  'encoded-slash': 'the path contains an encoded slash (%2F)',
  'double-encoding': 'the path contains an encoded percent sign (%25): double encoding is not accepted',
  'malformed-escape': 'the path contains a % not followed by two hexadecimal digits',
  'invalid-utf8': 'the percent-encoded bytes of the path are not valid UTF-8',
  'ambiguous-character': 'the path contains a character whose compatibility form is path syntax (e.g. U+FF0F)',
  'above-root': 'the path climbs above the root with ..',
  'invalid-query': 'the query contains a character that must be percent-encoded (space, #, control, non-ASCII)',
} as const;
export type PathRefusal = keyof typeof pathRefusals;

/** A path in the gateway's canonical form: only normalizeRequestPath (or canonicalRoutePath) makes one. */
export type CanonicalPath = string & { readonly __canonical: true };

export type NormalizedTarget =
  | { ok: true; path: CanonicalPath; query: string; target: string }
  | { ok: false; reason: PathRefusal };

// Kept as they are in a canonical path: RFC 3986 unreserved, sub-delims without ";", ":" and "@".
const KEPT = /^[A-Za-z0-9\-._~!$&'()*+,=:@]$/;
// Path syntax that a compatibility mapping (NFKC) must not be able to produce.
const PATH_SYNTAX = /[/\\.;%?#]/;
const HEX = /^[0-9A-Fa-f]{2}$/;
// ignoreBOM: a leading U+FEFF is kept as a character, never dropped silently.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

const isControl = (cp: number) => cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);

/** A non-ASCII character some parser may fold into path syntax (NFKC). */
export function isAmbiguousCharacter(cp: number): boolean {
  return cp > 0x7f && PATH_SYNTAX.test(String.fromCodePoint(cp).normalize('NFKC'));
}

type Decoded = { ok: true; text: string } | { ok: false; reason: PathRefusal };

/** One raw segment (no "/"): percent-decoded once, checked character by character. */
function decodeSegment(raw: string): Decoded {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code === 0x25) {
      const hex = raw.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return { ok: false, reason: 'malformed-escape' };
      bytes.push(parseInt(hex, 16));
      i += 2;
      continue;
    }
    if (code < 0x20 || code === 0x7f) return { ok: false, reason: 'control-character' };
    if (code === 0x20 || code === 0x23 || code > 0x7e) return { ok: false, reason: 'invalid-character' };
    bytes.push(code);
  }
  let text: string;
  try {
    text = utf8.decode(Uint8Array.from(bytes));
  } catch {
    return { ok: false, reason: 'invalid-utf8' };
  }
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === '/') return { ok: false, reason: 'encoded-slash' };
    if (ch === '\\') return { ok: false, reason: 'backslash' };
    if (ch === ';') return { ok: false, reason: 'path-parameter' };
    if (ch === '%') return { ok: false, reason: 'double-encoding' };
    if (isControl(cp)) return { ok: false, reason: 'control-character' };
    if (isAmbiguousCharacter(cp)) return { ok: false, reason: 'ambiguous-character' };
  }
  return { ok: true, text };
}

function encodeSegment(text: string): string {
  let out = '';
  for (const ch of text) {
    if (KEPT.test(ch)) out += ch;
    else for (const byte of utf8Encoder.encode(ch)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function normalizeRequestPath(rawTarget: string): NormalizedTarget {
  if (!rawTarget.startsWith('/')) return { ok: false, reason: 'not-origin-form' };
  if (rawTarget.length > MAX_TARGET_LENGTH) return { ok: false, reason: 'too-long' };
  const mark = rawTarget.indexOf('?');
  const rawPath = mark === -1 ? rawTarget : rawTarget.slice(0, mark);
  const query = mark === -1 ? '' : rawTarget.slice(mark + 1);
  // Backslash and ";" are refused raw before decoding too: they delimit differently elsewhere.
  if (rawPath.includes('\\')) return { ok: false, reason: 'backslash' };
  if (rawPath.includes(';')) return { ok: false, reason: 'path-parameter' };

  const raw = rawPath.split('/').slice(1);
  const out: string[] = [];
  let trailingSlash = false;
  for (const [index, rawSegment] of raw.entries()) {
    const last = index === raw.length - 1;
    const decoded = decodeSegment(rawSegment);
    if (!decoded.ok) return decoded;
    const segment = decoded.text;
    trailingSlash = last && (segment === '' || segment === '.' || segment === '..');
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (out.length === 0) return { ok: false, reason: 'above-root' };
      out.pop();
      continue;
    }
    out.push(encodeSegment(segment));
  }
  for (let i = 0; i < query.length; i++) {
    const code = query.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f || code === 0x23) return { ok: false, reason: 'invalid-query' };
  }
  const path = ('/' + out.join('/') + (trailingSlash && out.length > 0 ? '/' : '')) as CanonicalPath;
  const target = query ? `${path}?${query}` : path;
  if (target.length > MAX_TARGET_LENGTH) return { ok: false, reason: 'too-long' };
  return { ok: true, path, query, target };
}

/** A configured route path, accepted only if it is already canonical (so routes and requests compare alike). */
export function canonicalRoutePath(path: string): CanonicalPath | undefined {
  const normalized = normalizeRequestPath(path);
  return normalized.ok && normalized.path === path ? normalized.path : undefined;
}
