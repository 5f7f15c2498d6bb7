/**
 * The Temporal Web UI's "codec server" for the embedded stack: the UI posts the payloads it shows
 * to `POST /decode` and displays what comes back, so the local operator reads decrypted inputs and
 * results while history itself stays ciphertext (runtime/payload-codec.ts).
 *
 * Decode only, on 127.0.0.1 only, and only for the UI's origin (CORS). There is deliberately no
 * `/encode`: an endpoint that encrypts whatever it is sent would let anyone who can reach it write
 * authenticated commands — the forgery the codec exists to stop. Not started in scale-out (`npm run
 * api` / `npm run worker`): there, a codec server is an operator's decision (see docs/SECURITY.md).
 */
import http from 'node:http';
import type { Payload } from '@temporalio/common';
import { decryptPayload, type PayloadKeyring } from './payload-codec.js';

/** The UI sends the payloads of one view at a time; anything larger is not a UI request. */
const maxBodyBytes = 4 * 1024 * 1024;

interface WirePayload {
  metadata?: Record<string, string>;
  data?: string;
}

const fromWire = (p: WirePayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(String(v), 'base64'))])),
  data: new Uint8Array(Buffer.from(String(p.data ?? ''), 'base64')),
});

const toWire = (p: Payload): WirePayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

export interface CodecServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `/decode` on 127.0.0.1:`port` for the Web UI at `uiOrigins` (e.g. http://127.0.0.1:8233). */
export async function startCodecServer(keyring: PayloadKeyring, port: number, uiOrigins: string[]): Promise<CodecServer> {
  const server = http.createServer((req, res) => {
    const origin = req.headers.origin;
    if (origin && uiOrigins.includes(origin)) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
      res.setHeader('access-control-allow-headers', 'content-type, x-namespace');
      res.setHeader('vary', 'origin');
    }
    const answer = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    // a page of another origin must not read decrypted payloads through the operator's browser
    if (origin && !uiOrigins.includes(origin)) return answer(403, { error: 'origin not allowed' });
    if (req.method === 'OPTIONS') return answer(204);
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/decode') return answer(404, { error: 'only POST /decode' });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        answer(413, { error: 'too large' });
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      if (res.writableEnded) return;
      let body: { payloads?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return answer(400, { error: 'body must be JSON: {"payloads": [...]}' });
      }
      if (!body || !Array.isArray(body.payloads) || !body.payloads.every((p) => typeof p === 'object' && p !== null)) {
        return answer(400, { error: 'body must be JSON: {"payloads": [...]}' });
      }
      answer(200, { payloads: (body.payloads as WirePayload[]).map((p) => toWire(decryptPayload(keyring, fromWire(p)))) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as import('node:net').AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
