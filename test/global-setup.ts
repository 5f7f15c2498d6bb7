/**
 * One real Temporal dev server for the whole run (the CLI binary, resolved like `npm start` does),
 * and the workflow code bundled once; test files connect to both.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { searchAttributeKeys } from '../runtime/search-attributes.js';
import { resolveTemporalCli } from '../runtime/temporal-cli.js';
import { workflowsPath } from '../worker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    temporalCliPath: string;
  }
}

let env: TestWorkflowEnvironment | undefined;
let bundleDir: string | undefined;

export async function setup(project: TestProject) {
  const cli = resolveTemporalCli({ explicitPath: process.env.TEMPORAL_CLI_PATH, autoInstall: true });
  env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli },
      ip: '127.0.0.1',
      searchAttributes: searchAttributeKeys,
      log: { format: 'pretty', level: 'error' },
    },
  });
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never });
  bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-bundle-'));
  const bundlePath = path.join(bundleDir, 'workflows.js');
  fs.writeFileSync(bundlePath, code);
  project.provide('temporalAddress', env.address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('temporalCliPath', cli);
}

export async function teardown() {
  await env?.teardown();
  if (bundleDir) fs.rmSync(bundleDir, { recursive: true, force: true });
}
