import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the core services behind the gateway: it answers JSON describing what reached
 * it — the partner headers the gateway set, and whether any key header got through.
 */
export async function startSampleUpstream(port = 0): Promise<{ port: number; server: Server; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        method: req.method,
        path: req.url,
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
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
