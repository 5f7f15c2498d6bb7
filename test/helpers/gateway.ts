/**
 * The gateway as tests run it: the stack's app on a real port, the sample upstream, and a real
 * nginx between them (gateway/nginx.conf.template), all stopped together.
 */
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { freePort } from '../../runtime/dev-server.js';
import { startGateway } from '../../runtime/gateway.js';
import { startSampleUpstream } from '../../runtime/sample-upstream.js';
import type { Stack } from './stack.js';

/** The stack's app over a real socket (the client address is the socket's peer). */
export async function serveApp(stack: Stack, hostname = '127.0.0.1') {
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: stack.app.fetch, port: 0, hostname }, () => resolve(s));
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** nginx on `port` (a free one by default) in front of the sample upstream, asking the stack's API. */
export async function startGatewayFor(stack: Stack, gatewayToken: string, port?: number) {
  const api = await serveApp(stack);
  const upstream = await startSampleUpstream();
  try {
    const gateway = await startGateway({
      port: port ?? (await freePort()),
      apiUpstream: `127.0.0.1:${api.port}`,
      upstream: `127.0.0.1:${upstream.port}`,
      gatewayToken,
      runtimeDir: path.join(stack.dir, 'gateway'),
    });
    return {
      gateway,
      upstream,
      api,
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
