import fs from 'node:fs';
import Database from 'better-sqlite3';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { redeliverPendingSignals } from '../../api/commands.js';
import { freePort, startDevServer, type DevServer } from '../../runtime/dev-server.js';
import { waitForTemporal } from '../../runtime/temporal.js';
import { activePartner, partnerRow, waitForAction } from '../helpers/partners.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

/**
 * A Temporal dev server of this file's own, persisted to SQLite, stopped and started again on the
 * same file in the middle of lifecycles: revocation works while it is down, pending timers fire
 * after it is back, every workflow finishes.
 */
let dir: string;
let server: DevServer;
let stack: Stack;
let ports: { port: number; uiPort: number };
const t: Record<string, string> = {};

function start() {
  return startDevServer({ cli: inject('temporalCliPath'), dbFile: path.join(dir, 'temporal.db'), ...ports, namespace: 'default' });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-restart-'));
  ports = { port: await freePort(), uiPort: await freePort() };
  server = start();
  await waitForTemporal({ address: server.address, namespace: 'default', options: {} }, 30_000);
  stack = await startStack({
    temporalAddress: server.address,
    policyOverrides: { recertifyEvery: '50 minutes', recertReminders: ['10 minutes'], rotationOverlap: '6s' },
  });
  t.alice = await stack.operator('alice', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.gw = await stack.operator('gw', ['gateway']);
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the Temporal server stopped and restarted on the same file', () => {
  it('revocation bites at once while it is down; timers and signals complete after it returns', async () => {
    const victim = await activePartner(stack, { sponsor: t.alice! });
    const rotating = await activePartner(stack, { sponsor: t.alice! });
    const rotated = await stack.call('POST', `/v1/partners/${rotating.partnerId}/credentials/rotate`, { token: rotating.apiKey });
    expect(rotated.status).toBe(200);

    await server.stop();
    const res = await stack.call('POST', `/v1/partners/${victim.partnerId}/revocation`, { token: t.sec, body: { reason: 'incident while Temporal is down' } });
    expect(res.status).toBe(202);
    expect(res.json.workflowSignalled).toBe(false);
    // after the 202, introspection is inactive at once (well within the 1 s the product promises)
    const after202 = performance.now();
    const verdict = await stack.call('POST', '/v1/introspect', { token: t.gw, body: { token: victim.apiKey } });
    expect(verdict.json).toEqual({ active: false, reason: 'revoked' });
    expect(performance.now() - after202).toBeLessThan(1000);
    const queued = await stack.db.selectFrom('pending_signals').selectAll().execute();
    expect(queued).toHaveLength(1);

    // The rotation overlap (6 s) passes while the server is down.
    await new Promise((r) => setTimeout(r, 6500));
    server = start();
    await waitForTemporal({ address: server.address, namespace: 'default', options: {} }, 30_000);

    // what the API process does every few seconds (runtime/roles.ts)
    const deps = { db: stack.db, temporal: { client: stack.client, taskQueue: stack.taskQueue }, logger: stack.logger };
    await eventually(async () => {
      await redeliverPendingSignals(deps);
      return (await stack.db.selectFrom('pending_signals').selectAll().execute()).length === 0;
    }, 30_000, 500);
    await waitForAction(stack, victim.partnerId, 'partner.revoked', 30_000);
    const result = await stack.client.workflow.getHandle(`partner-${victim.partnerId}`).result();
    expect(result).toEqual({ state: 'revoked', reason: 'incident while Temporal is down' });

    // The retirement timer that came due during the outage fired after the restart.
    await waitForAction(stack, rotating.partnerId, 'credential.retired', 30_000);
    const oldKey = await stack.db.selectFrom('credentials').select('status').where('key_id', '=', rotating.keyId).executeTakeFirstOrThrow();
    expect(oldKey.status).toBe('revoked');
    expect((await partnerRow(stack, rotating.partnerId)).state).toBe('active');

    // The server's file stays in WAL mode across the restart (one fsync per commit, still durable).
    const temporalDb = new Database(path.join(dir, 'temporal.db'), { readonly: true });
    try {
      expect(temporalDb.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      temporalDb.close();
    }
  }, 120_000);
});
