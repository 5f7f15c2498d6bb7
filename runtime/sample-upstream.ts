import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The resources behind the gateway (gateway/routes.json maps their scopes). */
const RESOURCES = new Set(['catalog', 'orders', 'payments', 'customers', 'reports']);

/**
 * The path an upstream framework routes on, read as leniently as the most lenient ones do: the
 * WHATWG pathname (dot segments resolved, `%2e` counted as a dot), percent-decoded, folded to NFKC,
 * backslashes taken as slashes, `;` path parameters dropped, and dot segments resolved once more
 * after decoding. A gateway that forwards only canonical paths gives every reader the same path;
 * anything else shows up here as a path of another resource. Undefined: not decodable (a 400).
 */
export function upstreamPathname(target: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(new URL(target, 'http://upstream').pathname).normalize('NFKC');
  } catch {
    return undefined;
  }
  const segments: string[] = [];
  const raw = decoded.replace(/\\/g, '/').split('/');
  for (const part of raw) {
    const segment = part.split(';')[0]!;
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return '/' + segments.join('/') + (segments.length > 0 && raw.at(-1) === '' ? '/' : '');
}

export interface UpstreamRequest {
  method: string;
  /** the request target as it arrived */
  target: string;
  /** the path it routed on (upstreamPathname) */
  path: string | null;
}

/**
 * A stand-in for the core services behind the gateway: it routes on the first segment of the
 * parsed path and answers JSON describing what reached it — the target as sent, the path it
 * routed on, the partner headers the gateway set, and whether any key header got through. The
 * last requests are kept in `seen` for tests.
 */
export async function startSampleUpstream(port = 0): Promise<{ port: number; server: Server; seen: UpstreamRequest[]; close(): Promise<void> }> {
  const seen: UpstreamRequest[] = [];
  const server = createServer((req, res) => {
    req.resume();
    const target = req.url ?? '';
    const path = upstreamPathname(target) ?? null;
    seen.push({ method: req.method ?? '', target, path });
    if (seen.length > 1000) seen.shift();
    const resource = path?.split('/')[1];
    const status = path === null ? 400 : resource && RESOURCES.has(resource) ? 200 : 404;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        method: req.method,
        path,
        target,
        resource: status === 200 ? resource : null,
        partnerId: req.headers['x-partner-id'] ?? null,
        scopes: req.headers['x-partner-scopes'] ?? null,
        keyHeadersReceived: Boolean(req.headers['x-api-key'] || req.headers.authorization),
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
