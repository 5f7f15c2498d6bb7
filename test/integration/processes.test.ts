import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { freePort } from '../../runtime/dev-server.js';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';

/**
 * `npm start` as a person runs it: the real entry point as a child process, on free ports and a
 * data dir of its own. Ready, answering, stopped cleanly, resumed from the same files; and the
 * errors a person can fix are one line with a non-zero exit.
 */
const root = path.resolve(import.meta.dirname, '../..');
const startScript = path.join(root, 'scripts', 'start.ts');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function runToExit(env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', startScript], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stderr: result.stderr.trim(), stdout: result.stdout.trim() };
}

async function freshEnv() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-start-'));
  dirs.push(dataDir);
  const policyFile = path.join(dataDir, 'policy.json');
  fs.copyFileSync(path.join(root, 'config', 'policy.json'), policyFile);
  return {
    DATA_DIR: dataDir,
    POLICY_FILE: policyFile,
    PORT: String(await freePort()),
    TEMPORAL_DEV_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    TEMPORAL_CLI_PATH: inject('temporalCliPath'),
    LOG_LEVEL: 'warn',
  };
}

function start(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', startScript], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

async function waitReady(url: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not ready within ${timeoutMs} ms`);
}

/** pids whose command line mentions `text` (read from /proc: no procps needed) */
function processesMentioning(text: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start', () => {
  it('is ready within 30 s, stops cleanly on SIGINT, and resumes partners from the same files', async () => {
    const env = await freshEnv();
    const api = `http://127.0.0.1:${env.PORT}`;
    const first = start(env);
    const began = Date.now();
    await waitReady(api, 30_000);
    const readyMs = Date.now() - began;
    expect(readyMs).toBeLessThan(30_000);
    const ui = await fetch(`http://127.0.0.1:${env.TEMPORAL_UI_PORT}/`);
    expect(ui.status).toBe(200);
    const output = first.output();
    expect(output).toMatch(/API: +http:\/\/127\.0\.0\.1:\d+/);
    expect(output).toMatch(/Temporal UI: +http:\/\/127\.0\.0\.1:\d+/);
    expect(output).toMatch(/Temporal address: +127\.0\.0\.1:\d+/);
    const adminToken = /shown once: (pat_\S+)/.exec(output)?.[1];
    expect(adminToken).toBeTruthy();

    // An approver, created with the operator CLI while the product runs.
    const cli = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'operator.ts'), 'create', '--name', 'alice', '--roles', 'approver'], {
      cwd: root,
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    expect(cli.status, cli.stderr).toBe(0);
    const alice = cli.stdout.trim().split('\n').at(-1)!;
    expect(alice).toMatch(/^pat_/);

    const submitted = await fetch(`${api}/v1/partners`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Acme', contactEmail: 'a@acme.example', sponsor: 'alice', environment: 'sandbox', scopes: ['orders:read'], justification: 'j' }),
    });
    expect(submitted.status).toBe(202);
    const { partnerId } = (await submitted.json()) as { partnerId: string };

    const temporalPids = processesMentioning(path.join(env.DATA_DIR, 'temporal.db'));
    expect(temporalPids.length).toBe(1);
    first.child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => first.child.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(temporalPids.filter(alive)).toEqual([]); // no orphan dev server

    const second = start(env);
    try {
      await waitReady(api, 30_000);
      const view = await fetch(`${api}/v1/partners/${partnerId}`, { headers: { authorization: `Bearer ${alice}` } });
      expect(view.status).toBe(200);
      expect(await view.json()).toMatchObject({ partnerId, state: 'pending_approval' });
      // the workflow is still there and running: the decision goes through
      const decided = await fetch(`${api}/v1/partners/${partnerId}/decisions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'approve', reason: 'after restart' }),
      });
      expect(decided.status).toBe(200);
      expect(((await decided.json()) as { state: string }).state).toBe('active');
      expect(second.output()).not.toContain('First admin'); // created once, not again

      // An edited policy file reaches the running API (as it reaches the worker at each cycle): /readyz
      // names the version it acts on, and a submission from then on records it.
      const readiness = async () => ((await (await fetch(`${api}/readyz`)).json()) as { policyVersion: string }).policyVersion;
      const before = await readiness();
      const edited = JSON.parse(fs.readFileSync(env.POLICY_FILE, 'utf8'));
      edited.environments.sandbox.maxAccess = '170 days';
      fs.writeFileSync(env.POLICY_FILE, JSON.stringify(edited));
      let after = before;
      for (let i = 0; i < 50 && after === before; i++) {
        await new Promise((r) => setTimeout(r, 100));
        after = await readiness();
      }
      expect(after).not.toBe(before);
      const next = await fetch(`${api}/v1/partners`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Beta', contactEmail: 'b@beta.example', sponsor: 'alice', environment: 'sandbox', scopes: ['orders:read'], justification: 'j' }),
      });
      const { partnerId: nextId } = (await next.json()) as { partnerId: string };
      const nextView = await fetch(`${api}/v1/partners/${nextId}`, { headers: { authorization: `Bearer ${alice}` } });
      expect(((await nextView.json()) as { policyVersion: string }).policyVersion).toBe(after);
      // the versions in force are in the audit trail: the first at start (once, not again at the
      // restart), then the edit, naming the version before it
      const audit = await fetch(`${api}/v1/audit`, { headers: { authorization: `Bearer ${adminToken}` } });
      const events = (await audit.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { action: string; details: { version: string; previous: string | null } });
      const policies = events.filter((e) => e.action === 'policy.in_force').map((e) => e.details);
      expect(policies).toEqual([expect.objectContaining({ version: before, previous: null }), expect.objectContaining({ version: after, previous: before })]);
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
    }
  }, 120_000);

  it('a missing Temporal CLI, a bad variable, a port in use: one line each, non-zero exit', async () => {
    const env = await freshEnv();
    const missing = runToExit({ ...env, TEMPORAL_CLI_PATH: '/nonexistent/temporal' });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr.split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain('TEMPORAL_CLI_PATH');

    const badVar = runToExit({ ...env, PORT: 'eighty' });
    expect(badVar.status).not.toBe(0);
    expect(badVar.stderr.split('\n')).toHaveLength(1);
    expect(badVar.stderr).toContain('PORT');

    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(Number(env.PORT), '127.0.0.1', () => r()));
    try {
      const busy = runToExit(env);
      expect(busy.status).not.toBe(0);
      expect(busy.stderr.split('\n')).toHaveLength(1);
      expect(busy.stderr).toContain(`port ${env.PORT}`);
    } finally {
      blocker.close();
    }
  }, 120_000);
});
