import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * Who is on the other end of a request, for per-source budgets. The socket peer is the only
 * address nobody can write; `X-Forwarded-For` is believed only as far as it was written by proxies
 * the operator declared (TRUSTED_PROXIES). Everything here is pure: no sockets, no headers object.
 */

/** Addresses spelled one way: IPv4 dotted, IPv4-mapped IPv6 as IPv4, IPv6 as RFC 5952 text. */
export function canonicalAddress(raw: string): string | undefined {
  const address = raw.trim();
  if (isIPv4(address)) return address;
  const groups = ipv6Groups(address);
  if (!groups) return undefined;
  if (isMapped(groups)) return mappedIPv4(groups);
  return formatIPv6(groups);
}

/**
 * The budget key for an address: an IPv4 address, or an IPv6 address's /64. One IPv6 host usually
 * owns a whole /64, so keying on the full address would give it 2^64 fresh budgets.
 */
export function budgetSourceOf(address: string): string {
  const groups = isIPv4(address) ? undefined : ipv6Groups(address);
  if (!groups) return address;
  return `${formatIPv6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`;
}

export class TrustedProxiesError extends Error {}

/**
 * TRUSTED_PROXIES: comma-separated addresses and CIDRs (IPv4, IPv6, IPv4-mapped IPv6), parsed once.
 * A prefix of 0 is refused: trusting every peer would let anyone write their own address.
 */
export function parseTrustedProxies(list: string): BlockList {
  const trusted = new BlockList();
  for (const entry of list.split(',').map((e) => e.trim()).filter(Boolean)) {
    const match = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(entry);
    const address = match ? canonicalAddress(match[1]!) : undefined;
    if (!match || !address || match[1]!.includes('%')) throw new TrustedProxiesError(`"${entry}" is not an IP address or CIDR`);
    const family = isIPv4(address) ? 'ipv4' : 'ipv6';
    const bits = family === 'ipv4' ? 32 : 128;
    let prefix = match[2] === undefined ? bits : Number(match[2]);
    // ::ffff:10.0.0.0/104 is 10.0.0.0/8: mapped networks become IPv4 rules like the addresses they match
    if (family === 'ipv4' && isIPv6(match[1]!.trim()) && match[2] !== undefined) prefix -= 96;
    if (prefix < 0 || prefix > bits) throw new TrustedProxiesError(`"${entry}" has a prefix outside 0-${bits}`);
    if (prefix === 0) throw new TrustedProxiesError(`"${entry}" would trust every address`);
    trusted.addSubnet(address, prefix, family);
  }
  return trusted;
}

const isTrusted = (trusted: BlockList, address: string) => trusted.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');

/** One X-Forwarded-For entry: an address, optionally `[v6]`, `[v6]:port` or `v4:port`. */
function forwardedEntry(raw: string): string | undefined {
  const entry = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(entry);
  if (bracketed) return isIPv6(bracketed[1]!) ? canonicalAddress(bracketed[1]!) : undefined;
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(entry);
  if (v4WithPort) return canonicalAddress(v4WithPort[1]!);
  return entry.includes('%') ? undefined : canonicalAddress(entry);
}

/** Is the socket peer one of the trusted proxies (whose X-Forwarded-* headers we believe)? */
export function isTrustedPeer(peer: string | undefined, trusted: BlockList): boolean {
  const address = peer === undefined ? undefined : canonicalAddress(peer.replace(/%.*$/, ''));
  return address !== undefined && isTrusted(trusted, address);
}

/**
 * The client's address. The socket peer, unless the peer is a trusted proxy: then
 * X-Forwarded-For is read from right to left (each proxy appends the peer it saw), skipping
 * trusted hops; the first untrusted address is the client. A malformed entry ends the walk at the
 * last trusted hop: what lies left of it was written by nobody we trust.
 */
export function clientAddressOf(peer: string | undefined, forwardedFor: string | undefined, trusted: BlockList): string {
  const peerAddress = peer === undefined ? undefined : canonicalAddress(peer.replace(/%.*$/, ''));
  if (!peerAddress) return 'unknown';
  if (!forwardedFor || !isTrusted(trusted, peerAddress)) return peerAddress;
  let hop = peerAddress;
  const entries = forwardedFor.split(',');
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = forwardedEntry(entries[i]!);
    if (!entry) return hop;
    if (!isTrusted(trusted, entry)) return entry;
    hop = entry;
  }
  return hop;
}

function ipv6Groups(raw: string): number[] | undefined {
  if (!isIPv6(raw) || raw.includes('%')) return undefined;
  let text = raw.toLowerCase();
  // an embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) becomes two hex groups
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const groups = rest === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

const isMapped = (g: number[]) => g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
const mappedIPv4 = (g: number[]) => [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join('.');

/** RFC 5952: lower-case hex, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
function formatIPv6(groups: number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
