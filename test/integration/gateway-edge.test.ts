import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32, toBase62 } from '../../domain/api-key.js';
import { createProbeToken } from '../../domain/probe-token.js';
import { freePort } from '../../runtime/dev-server.js';
import { dialectOf } from '../../schema/dialect.js';
import { edgeSettings, luaModuleAvailable, nginxModulesDir, startGateway } from '../../runtime/gateway.js';
import { startGatewayFor, rawGet } from '../helpers/gateway.js';
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
/** how often the gateways asked the API for a verdict (a cache miss) */
let verdictQuestions = 0;

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
  edge = await startGatewayFor(stack, t.gw!, {
    mode: 'edge',
    port: gatewayPort,
    workers: 2,
    observeApi: (request) => {
      if (new URL(request.url).pathname === '/v1/gateway/verdict') verdictQuestions += 1;
    },
  });
}, 90_000);
afterAll(async () => {
  if (process.env.EDGE_DEBUG) console.log(fs.readFileSync(path.join(stack.dir, 'gateway', 'error.log'), 'utf8').slice(-3000), fs.readFileSync(path.join(stack.dir, 'gateway', 'access.log'), 'utf8').slice(-1500));
  await edge?.stop();
  await stack?.stop();
});

const get = (route: string, key: string, headers: Record<string, string> = {}) =>
  fetch(`${edge.gateway.url}${route}`, { headers: { 'x-api-key': key, ...headers } });

const accessLog = () => fs.readFileSync(path.join(stack.dir, 'gateway', 'access.log'), 'utf8').trim().split('\n');

/**
 * A request and the reason the edge logged for it (hit, miss, or why it refused). nginx writes the
 * line after the response is sent, so it is awaited.
 */
async function withReason(send: () => Promise<Response>): Promise<{ res: Response; reason: string | undefined }> {
  const before = accessLog().length;
  const res = await send();
  await res.body?.cancel().catch(() => undefined);
  const line = await eventually(async () => accessLog()[before], 5000, 5);
  return { res, reason: /reason=(\S*)/.exec(line)?.[1] };
}

/** Warm: the key passes and the next request is served from the cache. */
async function warm(key: string, route = '/orders/1') {
  await eventually(async () => {
    const { res, reason } = await withReason(() => get(route, key));
    expect(res.status).toBe(200);
    return reason === 'hit';
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

/** A key with `key`'s id and checksum-valid form but another secret. */
function forgedFrom(key: string): string {
  const [, env, keyId] = /^pak_(test|live)_([0-9A-Za-z]{16})_/.exec(key)!;
  const body = `pak_${env}_${keyId}_${'F'.repeat(32)}`;
  return `${body}_${toBase62(crc32(body), 6)}`;
}

describe('edge mode: verdicts cached in nginx, changes pushed by the feed', () => {
  it('a valid key passes with the partner headers and the RateLimit headers, then from the cache', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const res = await get('/orders/42', p.apiKey, { 'x-partner-id': 'someone-else' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ path: '/orders/42', partnerId: p.partnerId, scopes: 'orders:read', keyHeadersReceived: false });
    expect(res.headers.get('ratelimit-policy')).toBe('"standard";q=1000;w=10');
    expect(res.headers.get('ratelimit')).toMatch(/^"standard";r=\d+;t=\d+$/);
    await warm(p.apiKey);
    // what passed on cached verdicts reaches the usage evidence (the edge reports it every 2 s)
    for (let i = 0; i < 5; i++) expect((await get('/orders/1', p.apiKey)).status).toBe(200);
    const used = await eventually(async () => {
      const row = await stack.db.selectFrom('usage_counters').select('count').where('key_id', '=', p.keyId).where('scope', '=', 'orders:read').executeTakeFirst();
      return row && row.count >= 7 ? row.count : undefined;
    }, 10_000, 200);
    expect(used).toBeGreaterThanOrEqual(7);
  });

  it('concurrent misses for one key ask the API once per nginx worker', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const before = verdictQuestions;
    const statuses = await Promise.all(Array.from({ length: 40 }, () => get('/orders/1', p.apiKey).then(async (r) => (await r.body?.cancel(), r.status))));
    expect(new Set(statuses)).toEqual(new Set([200]));
    // two workers: one question each (twice if the feed delivered this partner's own activation
    // in between, which makes a fresh answer uncacheable once)
    expect(verdictQuestions - before).toBeGreaterThanOrEqual(1);
    expect(verdictQuestions - before).toBeLessThanOrEqual(4);
    // and then none: the verdict is cached
    await warm(p.apiKey);
    const settled = verdictQuestions;
    for (let i = 0; i < 10; i++) expect((await get('/orders/1', p.apiKey)).status).toBe(200);
    expect(verdictQuestions).toBe(settled);
  });

  it('revoked, suspended, narrowed: refused at the gateway within the bound, cache warm', async () => {
    const revoked = await activePartner(stack, { sponsor: t.alice! });
    const suspended = await activePartner(stack, { sponsor: t.alice! });
    const narrowed = await activePartner(stack, { sponsor: t.alice! }, { scopes: ['orders:read', 'catalog:read'] });
    for (const p of [revoked, suspended, narrowed]) await warm(p.apiKey);
    const took = {
      revoked: await refusedWithin(revoked.apiKey, async () =>
        expect((await stack.call('POST', `/v1/partners/${revoked.partnerId}/revocation`, { token: t.sec, body: { reason: 'leak' } })).status).toBe(202),
      ),
      // any writer: the triggers on the tables put the change on the feed
      suspended: await refusedWithin(suspended.apiKey, () =>
        stack.db.updateTable('partners').set({ state: 'suspended' }).where('id', '=', suspended.partnerId).execute(),
      ),
      narrowed: await refusedWithin(
        narrowed.apiKey,
        () => stack.db.updateTable('partners').set({ scopes: JSON.stringify(['catalog:read']) }).where('id', '=', narrowed.partnerId).execute(),
        403,
      ),
    };
    for (const [name, ms] of Object.entries(took)) expect(ms, name).toBeLessThan(BOUND_MS);
    // the narrowed key still has what it kept
    expect((await get('/catalog/1', narrowed.apiKey)).status).toBe(200);
  });

  it('rotation: the old key is refused once retired, the new one passes', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    await warm(p.apiKey);
    const rotated = await stack.call('POST', `/v1/partners/${p.partnerId}/credentials/rotate`, { token: p.apiKey });
    expect(rotated.status, rotated.text).toBe(200);
    const fresh = await stack.call('POST', `/v1/partners/${p.partnerId}/credentials/pickup`, { token: p.requestToken });
    const newKey = (fresh.status === 200 ? fresh.json.apiKey : rotated.json.apiKey) as string;
    expect((await get('/orders/1', newKey)).status).toBe(200);
    const retireAt = (await stack.db.selectFrom('credentials').select('retire_at').where('key_id', '=', p.keyId).executeTakeFirstOrThrow()).retire_at!;
    expect(retireAt).toBeTruthy();
    // served (from the cache) while the overlap lasts, refused from its end on
    await warm(p.apiKey);
    await eventually(async () => (await get('/orders/1', p.apiKey)).status === 401, 10_000, 20);
    expect(Date.now() - Date.parse(retireAt)).toBeLessThan(BOUND_MS + 100);
    expect((await get('/orders/1', newKey)).status).toBe(200);
  });

  it('a cached verdict is never served past its expiry (no change on the feed needed)', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    await stack.db.updateTable('credentials').set({ expires_at: expiresAt }).where('key_id', '=', p.keyId).execute();
    await warm(p.apiKey);
    const statuses: number[] = [];
    while (Date.now() < Date.parse(expiresAt) + 300) {
      const res = await get('/orders/1', p.apiKey);
      statuses.push(res.status);
      // a pass must have begun before the expiry
      if (res.status === 200) expect(Date.now() - 50).toBeLessThan(Date.parse(expiresAt) + 50);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(statuses.at(-1)).toBe(401);
  });

  it('a forged key with a cached key’s id is refused; the real key still passes', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    await warm(p.apiKey);
    const forged = forgedFrom(p.apiKey);
    expect(forged).not.toBe(p.apiKey);
    const refused = await withReason(() => get('/orders/1', forged));
    expect(refused.res.status).toBe(401);
    expect(refused.reason).toBe('unknown');
    const real = await withReason(() => get('/orders/1', p.apiKey));
    expect(real.res.status).toBe(200);
    expect(real.reason).toBe('hit');
  });

  it('a tier change reaches the edge: 429 with RateLimit-Policy, RateLimit and Retry-After', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    await warm(p.apiKey);
    await stack.db.updateTable('partners').set({ rate_limit_tier: 'tiny' }).where('id', '=', p.partnerId).execute();
    await eventually(async () => (await get('/orders/1', p.apiKey)).headers.get('ratelimit-policy') === '"tiny";q=5;w=30', 5000, 20);
    let limited: Response | undefined;
    for (let i = 0; i < 8 && !limited; i++) {
      const res = await get('/orders/1', p.apiKey);
      if (res.status === 429) limited = res;
      else expect(res.status).toBe(200);
    }
    expect(limited, 'no 429 within 8 requests of a 5-request tier').toBeDefined();
    expect(limited!.headers.get('ratelimit-policy')).toBe('"tiny";q=5;w=30');
    expect(limited!.headers.get('ratelimit')).toMatch(/^"tiny";r=0;t=\d+$/);
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    // another partner has a budget of its own
    const other = await activePartner(stack, { sponsor: t.alice! });
    expect((await get('/orders/1', other.apiKey)).status).toBe(200);
  });

  it('the feed resumes after an API restart: a change made while cut off is refused after reconnecting', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const stranger = await activePartner(stack, { sponsor: t.alice! });
    await warm(p.apiKey);
    let servedWhileAway = 0;
    let strangerWhileAway = 0;
    await edge.restartApi(async () => {
      await stack.db.updateTable('credentials').set({ status: 'revoked' }).where('key_id', '=', p.keyId).execute();
      // cut off: the cached verdict is honoured (bounded by the stale TTL), a key never seen is refused
      servedWhileAway = (await get('/orders/1', p.apiKey)).status;
      strangerWhileAway = (await get('/orders/1', stranger.apiKey)).status;
    });
    expect(servedWhileAway).toBe(200);
    expect(strangerWhileAway).toBe(503);
    const started = Date.now();
    await eventually(async () => (await get('/orders/1', p.apiKey)).status === 401, 10_000, 20);
    // reconnecting backs off up to 2 s
    expect(Date.now() - started).toBeLessThan(2000 + BOUND_MS);
    expect((await get('/orders/1', stranger.apiKey)).status).toBe(200);
  });

  it('after an nginx reload the new workers follow the feed from the kept cursor, with the cache they inherit', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    await warm(p.apiKey);
    process.kill(edge.gateway.process.pid!, 'SIGHUP');
    // the old workers are gone (worker_shutdown_timeout 3 s): only the new follower can apply it
    await new Promise((r) => setTimeout(r, 4000));
    const { reason } = await withReason(() => get('/orders/1', p.apiKey));
    expect(reason).toBe('hit');
    await stack.db.updateTable('credentials').set({ status: 'revoked' }).where('key_id', '=', p.keyId).execute();
    const started = Date.now();
    await eventually(async () => {
      const res = await get('/orders/1', p.apiKey);
      await res.body?.cancel();
      // served while the change is on its way, never anything else; then refused
      expect([200, 401]).toContain(res.status);
      return res.status === 401;
    }, 10_000, 10);
    expect(Date.now() - started).toBeLessThan(BOUND_MS);
  });

  it('a revocation made while nginx reloads, cut off from the API, is refused as soon as the API answers: the inherited cache waits for the feed', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const other = await activePartner(stack, { sponsor: t.alice! });
    await warm(p.apiKey);
    await warm(other.apiKey);
    await edge.restartApi(async () => {
      await stack.db.updateTable('credentials').set({ status: 'revoked' }).where('key_id', '=', p.keyId).execute();
      process.kill(edge.gateway.process.pid!, 'SIGHUP');
      // the old workers are gone; the new ones inherit the cache and cannot reach the feed
      await new Promise((r) => setTimeout(r, 4000));
      // cut off, the cached verdict is honoured (the stale TTL), as without a reload
      const cutOff = await withReason(() => get('/orders/1', other.apiKey));
      expect([cutOff.res.status, cutOff.reason]).toEqual([200, 'hit-api-unavailable']);
    });
    // back: before the follower has caught up, a cached verdict is asked about again
    const { res, reason } = await withReason(() => get('/orders/1', p.apiKey));
    expect(res.status).toBe(401);
    expect(reason).not.toMatch(/^hit/);
    expect((await get('/orders/1', other.apiKey)).status).toBe(200);
    // and once it has, the cache serves again
    await warm(other.apiKey);
  });

  it('a revocation made while nginx was stopped is refused right after it is back; other keys pass', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const other = await activePartner(stack, { sponsor: t.alice! });
    await warm(p.apiKey);
    await warm(other.apiKey);
    await edge.restartGateway(async () => {
      await stack.call('POST', `/v1/partners/${p.partnerId}/revocation`, { token: t.sec, body: { reason: 'while the gateway was down' } });
    });
    expect((await get('/orders/1', p.apiKey)).status).toBe(401);
    expect((await get('/orders/1', other.apiKey)).status).toBe(200);
    await warm(other.apiKey);
    expect((await get('/orders/1', p.apiKey)).status).toBe(401);
  });

  it('verified revocation: the probe goes through the cache logic and is refused', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    await warm(p.apiKey);
    // a probe for a live, cached key is never a pass
    const live = await fetch(`${edge.gateway.url}/orders/`, { headers: { 'x-api-key': createProbeToken(probeSecret, p.keyId) } });
    expect(live.status).toBe(403);
    await stack.call('POST', `/v1/partners/${p.partnerId}/revocation`, { token: t.sec, body: { reason: 'incident' } });
    const event = await waitForAction(stack, p.partnerId, 'revocation.verified');
    expect(JSON.parse(event.details!).keys).toMatchObject([{ keyId: p.keyId, status: 401 }]);
    expect((await get('/orders/1', p.apiKey)).status).toBe(401);
  });

  it('a feed that cannot account for the changes since the cursor (reset) drops every cached verdict', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    await warm(p.apiKey);
    // the feed's history is gone and its numbering starts over (a restored or replaced database)
    await edge.restartApi(async () => {
      await stack.db.deleteFrom('gateway_changes').execute();
      if (dialectOf(stack.db) === 'postgres') await sql`select setval(pg_get_serial_sequence('gateway_changes', 'seq'), 1, false)`.execute(stack.db);
      else await sql`update sqlite_sequence set seq = 0 where name = 'gateway_changes'`.execute(stack.db);
    });
    const reasons: (string | undefined)[] = [];
    await eventually(async () => {
      const { res, reason } = await withReason(() => get('/orders/1', p.apiKey));
      expect(res.status).toBe(200);
      reasons.push(reason);
      return reason === 'miss';
    }, 5000, 20);
    await warm(p.apiKey);
    expect(reasons.at(-1)).toBe('miss');
  });
});

describe('the change feed (GET /v1/gateway/changes)', () => {
  it('gateway role only; every change in order from the cursor; answers at once when there are rows', async () => {
    expect((await stack.call('GET', '/v1/gateway/changes', { token: t.alice })).status).toBe(403);
    expect((await stack.call('GET', '/v1/gateway/changes?after=-1', { token: t.gw })).status).toBe(400);
    expect((await stack.call('GET', '/v1/gateway/changes?wait=26', { token: t.gw })).status).toBe(400);
    const head = await stack.call('GET', '/v1/gateway/changes', { token: t.gw });
    expect(head.json).toMatchObject({ changes: [], reset: false });
    const p = await activePartner(stack, { sponsor: t.alice! });
    await stack.db.updateTable('partners').set({ rate_limit_tier: 'tiny' }).where('id', '=', p.partnerId).execute();
    await stack.db.updateTable('credentials').set({ status: 'revoked' }).where('key_id', '=', p.keyId).execute();
    const started = Date.now();
    const page = await stack.call('GET', `/v1/gateway/changes?after=${head.json.cursor}`, { token: t.gw });
    expect(Date.now() - started).toBeLessThan(1000);
    const mine = (page.json.changes as { seq: number; partnerId: string; keyId: string | null; kind: string }[]).filter((c) => c.partnerId === p.partnerId);
    expect(mine.map((c) => [c.kind, c.keyId])).toEqual(
      expect.arrayContaining([
        ['credential.created', p.keyId],
        ['partner.rate_limit_tier', null],
        ['credential.status', p.keyId],
      ]),
    );
    const seqs = (page.json.changes as { seq: number }[]).map((c) => c.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(page.json.cursor).toBe(seqs.at(-1));
    // a change no gateway needs to hear about (the name) is not on the feed
    await stack.db.updateTable('partners').set({ name: 'Renamed' }).where('id', '=', p.partnerId).execute();
    const quiet = await stack.call('GET', `/v1/gateway/changes?after=${page.json.cursor}&wait=0`, { token: t.gw });
    expect(quiet.json).toEqual({ changes: [], cursor: page.json.cursor, reset: false });
  });

  it('a cursor older than what is kept (pruned) gets reset: true and the head', async () => {
    const { pruneGatewayChanges } = await import('../../schema/repositories/gateway-changes.js');
    const head = await stack.call('GET', '/v1/gateway/changes', { token: t.gw });
    expect(head.json.cursor).toBeGreaterThan(2);
    // keep only the newest change
    const newest = await stack.db.selectFrom('gateway_changes').select('at').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
    await pruneGatewayChanges(stack.db, newest.at);
    const stale = await stack.call('GET', '/v1/gateway/changes?after=1&wait=0', { token: t.gw });
    expect(stale.json).toEqual({ changes: [], cursor: head.json.cursor, reset: true });
    const current = await stack.call('GET', `/v1/gateway/changes?after=${head.json.cursor}&wait=0`, { token: t.gw });
    expect(current.json.reset).toBe(false);
    // a cursor from another database (ahead of the head) is reset too
    expect((await stack.call('GET', `/v1/gateway/changes?after=${head.json.cursor + 1000}&wait=0`, { token: t.gw })).json.reset).toBe(true);
  });
});

describe('edge mode: what a client can send', () => {
  it('never a 500: odd methods, keys, headers and targets get 4xx answers', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    await warm(p.apiKey);
    const port = Number(new URL(edge.gateway.url).port);
    const keys = ['', ' ', 'pap_', 'pap_AAAAAAAAAAAAAAAA_1_x', `pap_${p.keyId}_9999999999_${'0'.repeat(64)}`, 'pak_', 'x'.repeat(300), 'pak_test_\u00ff\u00fe', p.apiKey + ' ', `${p.apiKey}, ${p.apiKey}`];
    const statuses = new Set<number>();
    for (const key of keys) {
      for (const header of ['x-api-key', 'authorization']) {
        const value = header === 'authorization' ? `Bearer ${key}` : key;
        const res = await rawGet(port, '/orders/1', { [header]: value });
        statuses.add(res.status);
        expect(res.status, `${header}: ${JSON.stringify(value)}`).toBeLessThan(500);
      }
    }
    for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer', 'bearer  ', `BEARER ${p.apiKey}`]) {
      expect((await rawGet(port, '/orders/1', { authorization })).status, authorization).toBeLessThan(500);
    }
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'FOO']) {
      const res = await fetch(`${edge.gateway.url}/orders/1`, { method, headers: { 'x-api-key': p.apiKey }, ...(method === 'POST' || method === 'PUT' ? { body: '{}' } : {}) });
      await res.body?.cancel();
      expect(res.status, method).toBeLessThan(500);
    }
    for (const target of ['/orders/%zz', '/orders/%C0%AF', `/orders/${'a'.repeat(5000)}`, '/orders/?' + 'q'.repeat(4100), '/%EF%BC%8F', '/orders/\u00e9']) {
      const res = await rawGet(port, target, { 'x-api-key': p.apiKey });
      expect(res.status, target.slice(0, 40)).toBeLessThan(500);
    }
    expect(statuses.has(401)).toBe(true);
  });
});

describe('both modes: the upstream acts on the decided method and path only', () => {
  it('method-override, original-URL and forwarding headers a client sends never reach the upstream', async () => {
    const received: http.IncomingHttpHeaders[] = [];
    const recorder = http.createServer((req, res) => {
      req.resume();
      received.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', r));
    const gateways: Awaited<ReturnType<typeof startGateway>>[] = [];
    try {
      const p = await activePartner(stack, { sponsor: t.alice! });
      for (const mode of ['auth_request', 'edge'] as const) {
        gateways.push(
          await startGateway({
            mode,
            port: await freePort(),
            apiUpstream: `127.0.0.1:${edge.api.port}`,
            upstream: `127.0.0.1:${(recorder.address() as AddressInfo).port}`,
            gatewayToken: t.gw!,
            runtimeDir: path.join(stack.dir, `gateway-forgeries-${mode}`),
          }),
        );
      }
      const forged = {
        'x-http-method-override': 'POST',
        'x-http-method': 'DELETE',
        'x-method-override': 'PUT',
        'x-original-url': '/payments/1',
        'x-rewrite-url': '/payments/1',
        'x-original-method': 'POST',
        'x-original-uri': '/payments/1',
        forwarded: 'for=10.0.0.1;host=admin.internal;proto=https',
        'x-forwarded-host': 'admin.internal',
        'x-forwarded-port': '8443',
        'x-forwarded-prefix': '/payments',
        'x-forwarded-proto': 'https',
        'x-forwarded-for': '10.0.0.1',
        'x-real-ip': '10.0.0.1',
      };
      for (const gateway of gateways) {
        const res = await fetch(`${gateway.url}/orders/1`, { headers: { 'x-api-key': p.apiKey, ...forged } });
        expect(res.status).toBe(200);
        const headers = received.at(-1)!;
        for (const name of ['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-url', 'x-rewrite-url', 'x-original-method', 'x-original-uri', 'forwarded', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-prefix']) {
          expect(headers[name], name).toBeUndefined();
        }
        expect(headers['x-forwarded-for']).toBe('127.0.0.1');
        expect(headers['x-real-ip']).toBe('127.0.0.1');
        expect(headers['x-forwarded-proto']).toBe('http');
      }
    } finally {
      for (const gateway of gateways) await gateway.stop();
      recorder.closeAllConnections();
      await new Promise<void>((r) => recorder.close(() => r()));
    }
  });
});

describe('edge mode: cut off from the API, cached verdicts are honoured for a bounded time', () => {
  it(`a cached key passes while the feed is lost, and is refused once what the gateway knows is older than GATEWAY_STALE_TTL`, async () => {
    const staleTtl = 30;
    const cutOff = await startGatewayFor(stack, t.gw!, { mode: 'edge', staleTtlSeconds: staleTtl, runtimeDir: path.join(stack.dir, 'gateway-stale') });
    try {
      const p = await activePartner(stack, { sponsor: t.alice! });
      const status = async () => {
        const res = await fetch(`${cutOff.gateway.url}/orders/1`, { headers: { 'x-api-key': p.apiKey } });
        await res.body?.cancel();
        return res.status;
      };
      await eventually(async () => (await status()) === 200 && (await status()) === 200, 10_000, 50);
      let cut = 0;
      const seen: { at: number; status: number }[] = [];
      await cutOff.restartApi(async () => {
        cut = Date.now();
        while (Date.now() - cut < (staleTtl + 5) * 1000) {
          const s = await status();
          seen.push({ at: Date.now() - cut, status: s });
          if (s !== 200) break;
          await new Promise((r) => setTimeout(r, 250));
        }
      });
      // honoured at first; refused (the API cannot be asked) within the TTL of the last poll's start
      expect(seen[0]!.status).toBe(200);
      const refused = seen.find((s) => s.status !== 200);
      expect(refused, JSON.stringify(seen.slice(-3))).toMatchObject({ status: 503 });
      expect(refused!.at).toBeLessThanOrEqual(staleTtl * 1000 + 1000);
      // back: the key passes again
      await eventually(async () => (await status()) === 200, 10_000, 50);
    } finally {
      await cutOff.stop();
    }
  }, 90_000);
});

describe('edge mode: failed keys are budgeted per client at the edge', () => {
  it('after the budget a client gets 429 + Retry-After before its key is looked at; another client is unaffected', async () => {
    const budgeted = await startGatewayFor(stack, t.gw!, { mode: 'edge', failedKeysPerMinute: 5, runtimeDir: path.join(stack.dir, 'gateway-budget') });
    try {
      const p = await activePartner(stack, { sponsor: t.alice! });
      const port = Number(new URL(budgeted.gateway.url).port);
      const badChecksum = p.apiKey.slice(0, -1) + (p.apiKey.endsWith('A') ? 'B' : 'A');
      for (let i = 0; i < 5; i++) expect((await rawGet(port, '/orders/1', { 'x-api-key': badChecksum })).status).toBe(401);
      const refused = await rawGet(port, '/orders/1', { 'x-api-key': p.apiKey });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect((await rawGet(port, '/orders/1', { 'x-api-key': p.apiKey }, '127.0.0.2')).status).toBe(200);
    } finally {
      await budgeted.stop();
    }
  });
});

/**
 * The path rule's vectors through the Lua port, in a real nginx with the module: the vector goes
 * in the body (so nginx's own request-line parser, which refuses some of them first, is not in the
 * way) and the port answers what it decided. The gateway above forwards exactly that decision.
 */
describe('edge mode: the Lua port of the path rule gives the vectors’ answers', () => {
  const vectors = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../fixtures/path-vectors.json'), 'utf8')) as {
    vectors: { name: string; input: string; ok: boolean; path?: string; query?: string; reason?: string }[];
  };
  let harness: Awaited<ReturnType<typeof startLuaHarness>>;
  beforeAll(async () => {
    harness = await startLuaHarness(stack.dir);
  });
  afterAll(async () => harness?.stop());

  it('every vector', async () => {
    expect(vectors.vectors.length).toBeGreaterThan(50);
    for (const v of vectors.vectors) {
      const res = await fetch(`${harness.url}/normalize`, { method: 'POST', body: Buffer.from(v.input, 'latin1') });
      const got = (await res.json()) as Record<string, unknown>;
      expect(got, v.name).toEqual(v.ok ? { ok: true, path: v.path, query: v.query } : { ok: false, reason: v.reason });
    }
  });

  it('what nginx accepts on the request line is forwarded exactly as the vector says', async () => {
    const p = await activePartner(stack, { sponsor: t.alice!, security: t.sec! }, { scopes: ['orders:read', 'payments:read'] });
    const simple = vectors.vectors.filter((v) => v.ok && /^\/[\x21-\x7e]*$/.test(v.input) && !v.input.includes('#') && (v.path!.startsWith('/orders') || v.path!.startsWith('/payments')));
    expect(simple.length).toBeGreaterThan(5);
    for (const v of simple) {
      const res = await rawGet(Number(new URL(edge.gateway.url).port), v.input, { 'x-api-key': p.apiKey });
      expect(res.status, v.name).toBe(200);
      expect(JSON.parse(res.body).target, v.name).toBe(v.query ? `${v.path}?${v.query}` : v.path);
    }
  });
});

/** nginx with the Lua module and gateway/partner_request_path.lua, answering normalize(body). */
async function startLuaHarness(dir: string) {
  const runtimeDir = path.join(dir, 'lua-harness');
  fs.mkdirSync(path.join(runtimeDir, 'tmp'), { recursive: true });
  const port = await freePort();
  const settings = edgeSettings({ port, apiUpstream: '127.0.0.1:9', upstream: '127.0.0.1:9', gatewayToken: 'pat_x', runtimeDir });
  fs.writeFileSync(path.join(runtimeDir, 'ambiguous.json'), JSON.stringify(settings.ambiguousCodePoints));
  const conf = `
load_module ${nginxModulesDir()}/ndk_http_module.so;
load_module ${nginxModulesDir()}/ngx_http_lua_module.so;
worker_processes 1; daemon off; pid ${runtimeDir}/nginx.pid; error_log ${runtimeDir}/error.log warn;
events { worker_connections 64; }
http {
  lua_package_path '${path.resolve(import.meta.dirname, '../../gateway')}/?.lua;;';
  client_body_temp_path ${runtimeDir}/tmp; access_log off;
  init_by_lua_block {
    local f = io.open('${runtimeDir}/ambiguous.json'); require('partner_request_path').set_ambiguous(require('cjson').decode(f:read('*a'))); f:close()
  }
  server {
    listen 127.0.0.1:${port};
    location = /normalize {
      content_by_lua_block {
        ngx.req.read_body()
        local r, reason = require('partner_request_path').normalize(ngx.req.get_body_data() or '')
        ngx.say(require('cjson').encode(r and { ok = true, path = r.path, query = r.query } or { ok = false, reason = reason }))
      }
    }
  }
}`;
  return startGateway({ port, apiUpstream: '127.0.0.1:9', upstream: '127.0.0.1:9', gatewayToken: 'pat_x', runtimeDir, render: () => conf });
}
