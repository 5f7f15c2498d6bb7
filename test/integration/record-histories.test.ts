/**
 * Records lifecycle histories of the newer paths (suspension, hand-over, the extension's security
 * stage, drifted recertification, rate tier, offboarding, emergency revocation, an unanswered
 * review) as plaintext fixtures for the replay in test/integration/durability.test.ts. Skipped
 * unless RECORD_DIR is set; run it from a worktree of the commit whose workflow code the fixtures
 * must pin (docs/LIFECYCLE.md, "Replay fixtures"):
 *   RECORD_DIR=/tmp/out npx vitest run test/integration/record-histories.test.ts --maxWorkers=1
 * It never writes into test/fixtures/histories itself: a fixture there pins the histories of
 * workflows already running, and re-recording it from newer code would prove nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadPolicyFile } from '../../config/policy.js';
import { decryptPayload, payloadDataConverter } from '../../runtime/payload-codec.js';
import { unauthenticatedMarker } from '../../workflows/command-authentication.js';
import { workflowIdFor } from '../../workflows/messages.js';
import { historiesOf, historyText } from '../helpers/histories.js';
import { activePartner, decide, partnerRow, waitForAction, waitForState } from '../helpers/partners.js';
import { findSecrets } from '../helpers/secret-scan.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

const { History } = temporal.api.history.v1;
const outDir = process.env.RECORD_DIR;
const minutes = (n: number) => new Date(Date.now() + n * 60_000).toISOString();
const inSeconds = (n: number) => new Date(Date.now() + n * 1000).toISOString();

/** The history with every payload decrypted: fixtures must replay under any run's random keys. */
function plaintext(stack: Stack, history: temporal.api.history.v1.IHistory) {
  const copy = History.decode(History.encode(history).finish());
  const keyring = { ...stack.payloadKeyring, acceptPlaintext: true };
  const walk = (value: unknown): void => {
    if (!value || typeof value !== 'object' || value instanceof Uint8Array) return;
    if (Array.isArray(value)) return value.forEach(walk);
    const v = value as Record<string, unknown>;
    if ('metadata' in v && v.data instanceof Uint8Array) {
      const p = decryptPayload(keyring, { metadata: v.metadata as Record<string, Uint8Array>, data: v.data });
      v.metadata = p.metadata;
      v.data = p.data;
      return;
    }
    for (const key of Object.keys(v)) walk(v[key]);
  };
  walk(copy);
  return copy;
}

/**
 * Follows the partner's runs, checks each replays (encrypted, and decrypted as the fixture will be),
 * writes `<name>-run-<i>.pb` for the first `keep` runs (a later one may still be running).
 */
async function record(stack: Stack, name: string, partnerId: string, firstRunId: string, keep = Infinity) {
  const runs = await historiesOf(stack.client, partnerId, firstRunId);
  const workflowBundle = { code: fs.readFileSync(inject('workflowBundlePath'), 'utf8') };
  const workflowId = workflowIdFor(partnerId);
  const plain = runs.map((r) => plaintext(stack, r.history));
  for (const h of plain) {
    const text = historyText(h);
    expect(text).not.toContain(unauthenticatedMarker);
    expect(text).not.toContain('binary/encrypted');
    expect(findSecrets(text)).toEqual([]);
  }
  const replays = [
    { dataConverter: payloadDataConverter(stack.payloadKeyring), histories: runs.map((r) => ({ workflowId, history: r.history })) },
    { dataConverter: payloadDataConverter({ ...stack.payloadKeyring, acceptPlaintext: true }), histories: plain.map((history, i) => ({ workflowId: `${name}-run-${i}.pb`, history })) },
  ];
  for (const { dataConverter, histories } of replays) {
    let n = 0;
    for await (const result of Worker.runReplayHistories({ workflowBundle, dataConverter, replayName: name }, histories)) {
      expect(result.error, `replay of ${result.workflowId}`).toBeUndefined();
      n++;
    }
    expect(n).toBe(histories.length);
  }
  fs.mkdirSync(outDir!, { recursive: true });
  plain.slice(0, keep).forEach((h, i) => fs.writeFileSync(path.join(outDir!, `${name}-run-${i}.pb`), History.encode(h).finish()));
}

const firstRun = async (stack: Stack, partnerId: string) => (await stack.client.workflow.getHandle(workflowIdFor(partnerId)).describe()).runId;

describe.skipIf(!outDir)('quiet timers: no review opens', () => {
  let stack: Stack;
  const t = {} as Record<'alice' | 'bob' | 'sec' | 'root', string>;
  beforeAll(async () => {
    stack = await startStack({
      policyOverrides: {
        recertifyEvery: '50 minutes',
        recertReminders: ['10 minutes'],
        approvalTimeout: '10 minutes',
        escalateAfter: '9 minutes',
        approvalReminders: [],
        rateLimitTiers: { standard: { requests: 5, window: '2s' }, restricted: { requests: 1, window: '2s' } },
      },
    });
    t.alice = await stack.operator('alice', ['approver']);
    t.bob = await stack.operator('bob', ['approver']);
    t.sec = await stack.operator('sec', ['security']);
    t.root = await stack.operator('root', ['admin']);
  }, 120_000);
  afterAll(() => stack?.stop());

  it('a) high-risk: two-stage approval, pickup, rotation, extension with the security stage, planned offboarding', async () => {
    const p = await activePartner(stack, { sponsor: t.alice, security: t.sec }, { scopes: ['orders:read', 'payments:read'], accessUntil: minutes(30) });
    const runId = await firstRun(stack, p.partnerId);
    const rotated = await stack.call('POST', `/v1/partners/${p.partnerId}/credentials/rotate`, { token: p.apiKey });
    expect(rotated.status, rotated.text).toBe(200);
    await waitForAction(stack, p.partnerId, 'credential.retired');
    const ext = await stack.call('POST', `/v1/partners/${p.partnerId}/extension`, { token: rotated.json.apiKey, body: { accessUntil: minutes(45), reason: 'phase 2' } });
    expect(ext.status, ext.text).toBe(200);
    expect((await decide(stack, p.partnerId, t.alice, { decision: 'approve', reason: 'still needed' })).status).toBe(200);
    expect(JSON.parse((await partnerRow(stack, p.partnerId)).pending_extension!)).toMatchObject({ stage: 'security' });
    const sec = await decide(stack, p.partnerId, t.sec, { decision: 'approve', reason: 'reviewed' });
    expect(sec.status, sec.text).toBe(200);
    const plan = await stack.call('POST', `/v1/partners/${p.partnerId}/offboarding`, { token: t.alice, body: { at: inSeconds(2), reason: 'contract ends' } });
    expect(plan.status, plan.text).toBe(200);
    await waitForState(stack, p.partnerId, 'offboarded');
    await waitForAction(stack, p.partnerId, 'partner.offboarded');
    await eventually(async () => (await stack.client.workflow.getHandle(workflowIdFor(p.partnerId)).describe()).status.name === 'COMPLETED');
    await record(stack, 'high-risk-extension-offboarding', p.partnerId, runId);
  }, 120_000);

  it('b) suspension by security and resumption, a rate-tier change, a sponsor hand-over, immediate offboarding', async () => {
    const p = await activePartner(stack, { sponsor: t.alice });
    const runId = await firstRun(stack, p.partnerId);
    const s = await stack.call('POST', `/v1/partners/${p.partnerId}/suspension`, { token: t.sec, body: { reason: 'key seen in a public repository' } });
    expect(s.status, s.text).toBe(200);
    const r = await stack.call('POST', `/v1/partners/${p.partnerId}/resumption`, { token: t.sec, body: { reason: 'key rotated' } });
    expect(r.status, r.text).toBe(200);
    const tier = await stack.call('POST', `/v1/partners/${p.partnerId}/rate-tier`, { token: t.sec, body: { tier: 'restricted', reason: 'abusive polling' } });
    expect(tier.status, tier.text).toBe(200);
    const handed = await stack.call('POST', `/v1/partners/${p.partnerId}/sponsor`, { token: t.root, body: { sponsor: 'bob', reason: 'alice moved teams' } });
    expect(handed.status, handed.text).toBe(200);
    const off = await stack.call('POST', `/v1/partners/${p.partnerId}/offboarding`, { token: t.root, body: { reason: 'partner asked by phone' } });
    expect(off.status, off.text).toBe(200);
    await waitForState(stack, p.partnerId, 'offboarded');
    await eventually(async () => (await stack.client.workflow.getHandle(workflowIdFor(p.partnerId)).describe()).status.name === 'COMPLETED');
    await record(stack, 'suspension-tier-handover', p.partnerId, runId);
  }, 120_000);

  it('d) emergency revocation of an active partner', async () => {
    const p = await activePartner(stack, { sponsor: t.alice });
    const runId = await firstRun(stack, p.partnerId);
    const res = await stack.call('POST', `/v1/partners/${p.partnerId}/revocation`, { token: t.sec, body: { reason: 'key leaked on a public repo' } });
    expect(res.status, res.text).toBe(202);
    await waitForState(stack, p.partnerId, 'revoked');
    await waitForAction(stack, p.partnerId, 'partner.revoked');
    await eventually(async () => (await stack.client.workflow.getHandle(workflowIdFor(p.partnerId)).describe()).status.name === 'COMPLETED');
    await record(stack, 'emergency-revocation', p.partnerId, runId);
  }, 120_000);
});

describe.skipIf(!outDir)('reviews: a drifted policy, an unanswered review', () => {
  let stack: Stack;
  const t = {} as Record<'alice' | 'sec', string>;
  beforeAll(async () => {
    // a review opens 6 s after activation and is due 20 s after it; grace 4 s (fast policy)
    stack = await startStack({
      policyOverrides: { recertifyEvery: '20s', recertReminders: ['14s'], expiryWarnings: [] },
      appOverrides: { policy: () => loadPolicyFile(stack.policyFile) },
    });
    t.alice = await stack.operator('alice', ['approver']);
    t.sec = await stack.operator('sec', ['security']);
  }, 120_000);
  afterAll(() => stack?.stop());

  it('c) a review under a policy where a scope became high-risk, kept by security; e) a review never answered: suspended, then offboarded', async () => {
    const risky = await activePartner(stack, { sponsor: t.alice }, { name: 'Orders Ltd', scopes: ['orders:read'] });
    const silent = await activePartner(stack, { sponsor: t.alice }, { name: 'Quiet Ltd', scopes: ['catalog:read'] });
    const riskyRun = await firstRun(stack, risky.partnerId);
    const silentRun = await firstRun(stack, silent.partnerId);
    const raw = JSON.parse(fs.readFileSync(stack.policyFile, 'utf8'));
    raw.scopes['orders:read'].risk = 'high';
    fs.writeFileSync(stack.policyFile, JSON.stringify(raw));

    await waitForState(stack, risky.partnerId, 'recertification_due');
    const opened = await waitForAction(stack, risky.partnerId, 'recertification.opened');
    expect(JSON.parse(opened!.details!).drift.findings.map((f: { rule: string }) => f.rule)).toEqual(['security_stage_missing']);
    const refused = await stack.call('POST', `/v1/partners/${risky.partnerId}/recertifications`, { token: t.alice, body: { decision: 'keep', reason: 'still needed' } });
    expect(refused.status, refused.text).toBe(409);
    const kept = await stack.call('POST', `/v1/partners/${risky.partnerId}/recertifications`, { token: t.sec, body: { decision: 'keep', reason: 'reviewed the order data flow' } });
    expect(kept.status, kept.text).toBe(200);
    // the keep continued as new: run 0 is the complete cycle
    await eventually(async () => (await historiesOf(stack.client, risky.partnerId, riskyRun)).length >= 2);

    await waitForState(stack, silent.partnerId, 'suspended', 40_000);
    await waitForState(stack, silent.partnerId, 'offboarded', 30_000);
    await eventually(async () => (await stack.client.workflow.getHandle(workflowIdFor(silent.partnerId)).describe()).status.name === 'COMPLETED');

    // only the first run of the drift chain: the second is still waiting for its next review
    await record(stack, 'recert-drift-security-keep', risky.partnerId, riskyRun, 1);
    await record(stack, 'recert-unanswered-offboarded', silent.partnerId, silentRun);
  }, 180_000);
});
