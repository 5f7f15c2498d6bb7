/**
 * Fuzzes the running API with schemathesis against its own OpenAPI document, once per kind of
 * caller (each operator role, a partner's request token and key, no credentials), with all
 * checks: no 5xx, every response as documented, unauthenticated calls refused.
 * `node --import tsx scripts/fuzz-api.ts [--max-examples 25] [--seed 1]`; needs `st` (PyPI
 * schemathesis) on PATH or in SCHEMATHESIS.
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startEmbeddedStack } from '../runtime/embedded-stack.js';
import { createOperator } from '../runtime/operators.js';

const { values } = parseArgs({ options: { 'max-examples': { type: 'string', default: '25' }, seed: { type: 'string', default: '20261123' } } });
const st = process.env.SCHEMATHESIS ?? 'st';

const stack = await startEmbeddedStack({ recertifyEvery: '50 minutes', recertReminders: ['10 minutes'] });
let failed = 0;
try {
  const auditor = await createOperator(stack.db, 'aud', ['auditor']);
  const admin = await createOperator(stack.db, 'root', ['admin']);
  const sub = await stack.call('POST', '/v1/partners', undefined, {
    name: 'Fuzz target',
    contactEmail: 'fuzz@example.com',
    sponsor: 'alice',
    environment: 'sandbox',
    scopes: ['orders:read', 'catalog:read'],
    justification: 'fuzzing',
  });
  const { partnerId, requestToken } = sub.json as { partnerId: string; requestToken: string };
  await new Promise((r) => setTimeout(r, 1000));
  await stack.call('POST', `/v1/partners/${partnerId}/decisions`, stack.tokens.alice, { decision: 'approve', reason: 'fuzz' });
  const pickup = await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, requestToken);
  const callers: Record<string, string | undefined> = {
    anonymous: undefined,
    approver: stack.tokens.alice,
    security: stack.tokens.sec,
    gateway: stack.tokens.gw,
    auditor,
    admin,
    requestToken,
    apiKey: pickup.json.apiKey as string,
  };
  for (const [name, token] of Object.entries(callers)) {
    const args = [
      'run',
      `${stack.api}/openapi.json`,
      '--checks',
      'all',
      // Schema-valid is not business-valid here: an unknown sponsor or scope is a documented 422,
      // a decision outside its stage a 409. Everything else runs.
      '--exclude-checks',
      'positive_data_acceptance',
      '--max-examples',
      values['max-examples']!,
      '--seed',
      values.seed!,
      '--workers',
      '1',
      '--request-timeout',
      '30',
      ...(token ? ['--header', `Authorization: Bearer ${token}`] : []),
    ];
    const started = Date.now();
    // asynchronously: the API under test runs in this very process
    const result = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(st, args, { env: { ...process.env, NO_COLOR: '1' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.once('exit', (status) => resolve({ status, stdout, stderr }));
    });
    const summary = (result.stdout ?? '').trim().split('\n').slice(-3).join(' | ');
    process.stdout.write(`${name.padEnd(13)} exit ${result.status} in ${Math.round((Date.now() - started) / 1000)} s: ${summary}\n`);
    if (result.status !== 0) {
      failed++;
      process.stdout.write(`${result.stdout}\n${result.stderr}\n`);
    }
  }
} finally {
  await stack.stop();
}
process.exit(failed > 0 ? 1 : 0);
