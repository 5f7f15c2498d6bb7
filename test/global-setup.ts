/**
 * One real Temporal dev server for the whole run (the CLI binary, resolved like `npm start` does),
 * one throwaway Postgres server (each stack on it makes a database of its own), and the workflow
 * code bundled once; test files connect to them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { TestProject } from 'vitest/node';
import { searchAttributeKeys } from '../runtime/search-attributes.js';
import { nginxBinary } from '../runtime/gateway.js';
import { resolveTemporalCli } from '../runtime/temporal-cli.js';
import { bundleWorkflows } from '../worker.js';
import { generatePayloadKeys, payloadKeyring, type PayloadKeyring } from '../runtime/payload-codec.js';
import { historyText } from './helpers/histories.js';
import { findSecrets } from './helpers/secret-scan.js';
import { startPostgres, type PostgresServer } from './helpers/postgres.js';
import { chromiumPath } from './helpers/browser.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    temporalCliPath: string;
    /** the run's Postgres server (maintenance database): createTestDatabase() makes one per stack */
    postgresUrl: string;
    /** PAYLOAD_KEYS of every test stack of the run: the history scan below decrypts with it */
    payloadKeys: string;
  }
}

let env: TestWorkflowEnvironment | undefined;
let bundleDir: string | undefined;
let postgres: PostgresServer | undefined;
let keyring: PayloadKeyring | undefined;

export async function setup(project: TestProject) {
  const cli = resolveTemporalCli({ explicitPath: process.env.TEMPORAL_CLI_PATH, autoInstall: true });
  // the gateway tests put a real nginx in front of the API: installed here when missing, like the CLI
  nginxBinary({ autoInstall: true });
  // and the portal's tests a real Chromium
  chromiumPath({ autoInstall: true });
  postgres = await startPostgres({ autoInstall: true });
  env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli },
      ip: '127.0.0.1',
      searchAttributes: searchAttributeKeys,
      log: { format: 'pretty', level: 'error' },
    },
  });
  const { code } = await bundleWorkflows();
  bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-bundle-'));
  const bundlePath = path.join(bundleDir, 'workflows.js');
  fs.writeFileSync(bundlePath, code);
  project.provide('temporalAddress', env.address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('temporalCliPath', cli);
  project.provide('postgresUrl', postgres.url);
  const payloadKeys = generatePayloadKeys();
  keyring = payloadKeyring(payloadKeys);
  project.provide('payloadKeys', payloadKeys);
}

/**
 * NHI2 across the whole suite: every workflow history on the run's server is scanned for
 * anything shaped like a secret before the server goes away.
 */
async function scanHistories(environment: TestWorkflowEnvironment) {
  let histories = 0;
  const leaks: string[] = [];
  for await (const wf of environment.client.workflow.list()) {
    const history = await environment.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    // payloads decrypted and decoded: ciphertext or base64 would match no secret pattern
    const text = historyText(history, keyring);
    leaks.push(...findSecrets(text).map((s) => `${wf.workflowId}: ${s.slice(0, 12)}…`));
    histories++;
  }
  process.stdout.write(`secret scan: ${histories} workflow histories, ${leaks.length} plaintext secrets\n`);
  if (leaks.length > 0) {
    // vitest does not fail the run for a teardown error: set the exit code ourselves
    process.stderr.write(`plaintext secrets in workflow histories: ${leaks.join(', ')}\n`);
    process.exitCode = 1;
  }
}

export async function teardown() {
  try {
    if (env) await scanHistories(env);
    await env?.teardown();
  } finally {
    // the cluster runs detached (pg_ctl): stopped whatever happened above
    await postgres?.stop();
    if (bundleDir) fs.rmSync(bundleDir, { recursive: true, force: true });
  }
}
