import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { followPolicyFile, lifecyclePolicyFrom, loadPolicyFile, parsePolicy, policyVersion, PolicyError } from '../../config/policy.js';
import { requiredStages } from '../../workflows/state.js';
import { toLifecyclePolicy } from '../../config/policy.js';

const root = path.resolve(import.meta.dirname, '../..');
const shipped = loadPolicyFile(path.join(root, 'config/policy.json'));
const raw = () => JSON.parse(fs.readFileSync(path.join(root, 'config/policy.json'), 'utf8'));
/** the shipped policy's text with another sandbox suspension grace */
const withGrace = (grace: string) => {
  const p = raw();
  p.environments.sandbox.suspendedGrace = grace;
  return JSON.stringify(p);
};

describe('policy file', () => {
  it('the shipped policy and the fast test policy load', () => {
    expect(shipped.environments.production.maxAccess).toBe(365 * 86_400_000);
    expect(shipped.environments.sandbox.recertReminders).toEqual([14, 7, 1].map((d) => d * 86_400_000));
    const fast = loadPolicyFile(path.join(root, 'test/fixtures/policy.fast.json'));
    expect(fast.environments.sandbox.approvalTimeout).toBe(6000);
    expect(shipped.version).toMatch(/^sha256:[0-9a-f]{16}$/);
  });

  it('the version ignores key order and whitespace, and follows content', () => {
    const a = { b: 1, a: { d: [1, 2], c: 'x' } };
    const b = JSON.parse(JSON.stringify({ a: { c: 'x', d: [1, 2] }, b: 1 }, null, 4));
    expect(policyVersion(a)).toBe(policyVersion(b));
    expect(policyVersion(a)).not.toBe(policyVersion({ ...a, b: 2 }));
  });

  it('durations use Temporal strings; "M" is minutes; months and non-positive values are refused', () => {
    const p = raw();
    p.environments.sandbox.rotationOverlap = '5M';
    expect(parsePolicy(p).environments.sandbox.rotationOverlap).toBe(300_000);
    for (const bad of ['3 months', 'abc', '-1s', '0s']) {
      const q = raw();
      q.environments.sandbox.rotationOverlap = bad;
      expect(() => parsePolicy(q)).toThrow(/environments\.sandbox\.rotationOverlap/);
    }
  });

  it('cross-field rules name the field', () => {
    const cases: Array<[(p: any) => void, RegExp]> = [
      [(p) => (p.environments.sandbox.escalateAfter = '30 days'), /escalateAfter: must be before approvalTimeout/],
      [(p) => (p.environments.sandbox.approvalReminders = ['20 days']), /approvalReminders\.0/],
      [(p) => (p.environments.sandbox.recertReminders = ['100 days']), /recertReminders\.0/],
      [(p) => (p.environments.sandbox.recertReminders = []), /recertReminders/],
      [(p) => (p.environments.sandbox.defaultRateLimitTier = 'gold'), /defaultRateLimitTier/],
      [(p) => (p.environments.sandbox.surprise = 1), /surprise/],
      [(p) => delete p.environments.production, /production/],
      [(p) => (p.scopes['Bad Scope'] = { risk: 'low', description: 'x' }), /scopes\.Bad Scope/],
      [(p) => (p.scopes['orders:read'].risk = 'medium'), /risk/],
    ];
    for (const [mutate, message] of cases) {
      const p = raw();
      mutate(p);
      expect(() => parsePolicy(p)).toThrow(PolicyError);
      expect(() => parsePolicy(p)).toThrow(message);
    }
  });

  it('a missing or broken file is one readable error', () => {
    expect(() => loadPolicyFile('/nonexistent.json')).toThrow(/cannot read policy file/);
    expect(() => loadPolicyFile(path.join(root, 'package-lock.json'))).toThrow(/invalid policy/);
  });

  it('stage 2 for high-risk scopes, or always in production', () => {
    const sandbox = toLifecyclePolicy(shipped, 'sandbox');
    const production = toLifecyclePolicy(shipped, 'production');
    expect(requiredStages(sandbox, ['orders:read'])).toEqual(['sponsor']);
    expect(requiredStages(sandbox, ['orders:read', 'payments:read'])).toEqual(['sponsor', 'security']);
    expect(requiredStages(production, ['orders:read'])).toEqual(['sponsor', 'security']);
  });
});

describe('a running process follows the policy file', () => {
  it('picks up a changed file, refuses an invalid one (the last valid stays), and follows the fix', async () => {
    const os = await import('node:os');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-policy-'));
    const file = path.join(dir, 'policy.json');
    const write = (value: unknown) => fs.writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
    write(raw());
    const changes: string[] = [];
    const errors: string[] = [];
    const followed = followPolicyFile(file, { onChange: (p) => changes.push(p.version), onError: (e) => errors.push(e.message) }, 20);
    const waitFor = async (what: string, done: () => boolean) => {
      for (let i = 0; i < 300 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(done(), `${what}; changes ${changes.length}, errors ${errors.join(' | ')}`).toBe(true);
    };
    try {
      expect(followed.current().version).toBe(shipped.version);
      const shorter = raw();
      shorter.environments.sandbox.maxAccess = '170 days';
      write(shorter);
      await waitFor('the shorter maxAccess', () => changes.length === 1);
      expect(followed.current().environments.sandbox.maxAccess).toBe(170 * 86_400_000);
      expect(followed.current().version).not.toBe(shipped.version);

      write('{ "scopes": ');
      await waitFor('the broken file', () => errors.length >= 1);
      expect(errors[0]).toMatch(/not valid JSON/);
      expect(followed.current().environments.sandbox.maxAccess).toBe(170 * 86_400_000);

      write(raw());
      await waitFor('the fix', () => changes.length === 2);
      expect(followed.current().version).toBe(shipped.version);
    } finally {
      followed.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("each cycle's read sees the file as it is now: a same-size edit made at once, a broken file (every call throws), its fix", () => {
    const dir = fs.mkdtempSync(path.join(root, '.tmp-policy-'));
    const file = path.join(dir, 'policy.json');
    try {
      fs.writeFileSync(file, withGrace('10 days'));
      const today = lifecyclePolicyFrom(file);
      expect(today('sandbox').suspendedGraceMs).toBe(10 * 86_400_000);
      expect(today('sandbox').suspendedGraceMs).toBe(10 * 86_400_000);
      // the same number of bytes, written in place within the same tick as the read
      fs.writeFileSync(file, withGrace('20 days'));
      expect(today('sandbox').suspendedGraceMs).toBe(20 * 86_400_000);
      fs.writeFileSync(file, '{ "scopes": ');
      expect(() => today('sandbox')).toThrow(PolicyError);
      expect(() => today('sandbox')).toThrow(PolicyError);
      fs.writeFileSync(file, withGrace('30 days'));
      expect(today('sandbox').suspendedGraceMs).toBe(30 * 86_400_000);
      fs.rmSync(file);
      expect(() => today('sandbox')).toThrow(/cannot read policy file/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a file whose stamp did not move is not read again, unless it changed within the last ticks (coarse timestamps)', () => {
    const dir = fs.mkdtempSync(path.join(root, '.tmp-policy-'));
    const file = path.join(dir, 'policy.json');
    // a file system whose timestamps did not move across an edit of the same size
    const realStat = fs.statSync;
    let changedAt = Date.now() - 60_000;
    const stat = vi.spyOn(fs, 'statSync').mockImplementation(((f: fs.PathLike) => {
      const st = realStat(f);
      return Object.assign(st, { ino: 1, size: 100, mtimeMs: changedAt, ctimeMs: changedAt });
    }) as typeof fs.statSync);
    try {
      fs.writeFileSync(file, withGrace('10 days'));
      const today = lifecyclePolicyFrom(file);
      expect(today('sandbox').suspendedGraceMs).toBe(10 * 86_400_000);
      // an old stamp that did not move: the policy read before is used (the file is not read)
      fs.writeFileSync(file, withGrace('20 days'));
      expect(today('sandbox').suspendedGraceMs).toBe(10 * 86_400_000);
      // the same stamp, but within the racy window: read again
      changedAt = Date.now();
      expect(today('sandbox').suspendedGraceMs).toBe(20 * 86_400_000);
      fs.writeFileSync(file, withGrace('30 days'));
      expect(today('sandbox').suspendedGraceMs).toBe(30 * 86_400_000);
    } finally {
      stat.mockRestore();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
