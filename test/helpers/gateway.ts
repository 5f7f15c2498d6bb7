/**
 * The gateway as tests run it: the stack's app on a real port, the sample upstream, and a real
 * nginx between them (gateway/nginx.conf.template), all stopped together.
 */
import net from 'node:net';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { freePort } from '../../runtime/dev-server.js';
import { startGateway, type GatewayOptions } from '../../runtime/gateway.js';
import { startSampleUpstream } from '../../runtime/sample-upstream.js';
import type { Stack } from './stack.js';

/** The stack's app over a real socket (the client address is the socket's peer); `port` 0 picks one. */
export async function serveApp(stack: Stack, hostname = '127.0.0.1', port = 0, observe?: (request: Request) => void) {
  const fetch = observe ? (request: Request, ...rest: unknown[]) => (observe(request), (stack.app.fetch as (r: Request, ...a: unknown[]) => Response | Promise<Response>)(request, ...rest)) : stack.app.fetch;
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch, port, hostname }, () => resolve(s));
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    // long polls (the gateways' change feed) would hold close() open for their whole wait
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

export type GatewayTestOptions = Pick<GatewayOptions, 'mode' | 'staleTtlSeconds' | 'failedKeysPerMinute' | 'workers'> & {
  port?: number;
  runtimeDir?: string;
  /** sees every request the API is asked (what the gateway asks, counted by tests) */
  observeApi?: (request: Request) => void;
};

/**
 * nginx on `port` (a free one by default) in front of the sample upstream, asking the stack's API
 * (auth_request unless `mode` says edge). `restartApi()` takes the API off its port and back (the
 * edge's change feed has to find its way back).
 */
export async function startGatewayFor(stack: Stack, gatewayToken: string, portOrOptions?: number | GatewayTestOptions) {
  const options: GatewayTestOptions = typeof portOrOptions === 'number' ? { port: portOrOptions } : (portOrOptions ?? {});
  let api = await serveApp(stack, '127.0.0.1', 0, options.observeApi);
  const upstream = await startSampleUpstream();
  const gatewayPort = options.port ?? (await freePort());
  const startOptions = () => ({
    port: gatewayPort,
    apiUpstream: `127.0.0.1:${api.port}`,
    upstream: `127.0.0.1:${upstream.port}`,
    gatewayToken,
    runtimeDir: options.runtimeDir ?? path.join(stack.dir, 'gateway'),
    mode: options.mode,
    staleTtlSeconds: options.staleTtlSeconds,
    failedKeysPerMinute: options.failedKeysPerMinute,
    workers: options.workers,
  });
  try {
    let gateway = await startGateway(startOptions());
    return {
      get gateway() {
        return gateway;
      },
      upstream,
      /** nginx stopped (its shared memory gone with it); `during` runs while it is down; then started again on the same port */
      async restartGateway(during: () => Promise<void> = async () => {}) {
        await gateway.stop();
        await during();
        gateway = await startGateway(startOptions());
      },
      get api() {
        return api;
      },
      /** the API off its port; `during` runs while it is away; then back on the same port */
      async restartApi(during: () => Promise<void> = async () => {}) {
        const port = api.port;
        await api.close();
        await during();
        api = await serveApp(stack, '127.0.0.1', port, options.observeApi);
      },
      async stop() {
        await gateway.stop();
        await upstream.close();
        await api.close();
      },
    };
  } catch (err) {
    await upstream.close();
    await api.close();
    throw err;
  }
}

export interface RawResponse {
  status: number;
  /** header names lower-cased */
  headers: Record<string, string>;
  body: string;
}

/**
 * One HTTP/1.x request written byte for byte (the request line and headers as latin1, no client-side
 * normalisation), from `localAddress`; resolves the response when the server closes (send HTTP/1.0).
 */
export function rawRequest(port: number, requestLine: string, headers: Record<string, string> | [string, string][] = {}, localAddress = '127.0.0.1', body = ''): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    const chunks: Buffer[] = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
      if (!status) return reject(new Error(`no HTTP response to ${JSON.stringify(requestLine)}: ${JSON.stringify(text.slice(0, 200))}`));
      const parsed: Record<string, string> = {};
      for (const line of lines) parsed[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      resolve({ status, headers: parsed, body: text.slice(split + 4) });
    });
    const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
    const head = [['host', 'partner-api'] as [string, string], ...pairs].map(([k, v]) => `${k}: ${v}\r\n`).join('');
    // write, not end: a half-closed client looks like one that went away, and nginx drops it (499)
    socket.write(Buffer.from(`${requestLine}\r\n${head}\r\n${body}`, 'latin1'));
  });
}

/** A GET of `target` written as given (see rawRequest). */
export const rawGet = (port: number, target: string, headers: Record<string, string> = {}, localAddress?: string) => rawRequest(port, `GET ${target} HTTP/1.0`, headers, localAddress);
