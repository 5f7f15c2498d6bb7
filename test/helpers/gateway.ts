/**
 * The gateway as tests run it: the stack's app on a real port, the sample upstream, and a real
 * nginx between them (gateway/nginx.conf.template), all stopped together.
 */
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
  try {
    const gateway = await startGateway({
      port: options.port ?? (await freePort()),
      apiUpstream: `127.0.0.1:${api.port}`,
      upstream: `127.0.0.1:${upstream.port}`,
      gatewayToken,
      runtimeDir: options.runtimeDir ?? path.join(stack.dir, 'gateway'),
      mode: options.mode,
      staleTtlSeconds: options.staleTtlSeconds,
      failedKeysPerMinute: options.failedKeysPerMinute,
      workers: options.workers,
    });
    return {
      gateway,
      upstream,
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
