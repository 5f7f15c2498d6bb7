#!/usr/bin/env node
/**
 * Two switches the Temporal TypeScript SDK's workflow sandbox lacks, patched into
 * @temporalio/worker at install (`postinstall`), idempotently, for the exact version pinned in
 * package.json only: any other version stops the install, so an upgrade is looked at again.
 *
 * Why (bench/README.md, "The workflow sandbox's two costs"): a CPU profile of the recertification
 * wave found the worker's workflow threads spending most of their time on two SDK safety nets,
 * not on workflow code.
 *
 * 1. The activation watchdog. Every call into the workflow sandbox runs `vm.Script#runInContext`
 *    with `timeout: isolateExecutionTimeout`, and Node enforces that timeout by creating and
 *    joining an OS thread per call (nodejs/node#47739, unmerged): 55 µs a call on this machine,
 *    four or more calls per activation. Patched: an `isolateExecutionTimeout` of 0 runs the
 *    sandbox without the watchdog (until now 0 made Node throw on every activation).
 *    partner-access passes 0 only when WORKER_ACTIVATION_TIMEOUT=off (config/env.ts).
 * 2. Stack traces for every promise. The SDK installs a V8 promise hook that, for each promise a
 *    workflow creates, compiles a function, captures an Error stack and maps every frame through
 *    the bundle's source map, only to answer the `__stack_trace` query (the Temporal UI's
 *    "Stack Trace" tab). Patched: the hook is installed only when WORKER_WORKFLOW_STACK_TRACES=on
 *    (createWorker sets it from the worker's config before the SDK starts its threads);
 *    otherwise the SDK answers that query "Workflow stack traces are not enabled on this worker",
 *    as it does on runtimes without promise hooks.
 *
 * Each edit is a literal replacement of the 1.24.0 text, checked before and after; the marker
 * lets worker.ts refuse to start with a setting the installed SDK cannot honour.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

export const PATCH_MARKER = '/* partner-access: sandbox switches */';
const SUPPORTED_VERSION = '1.24.0';

const require = createRequire(import.meta.url);

/** The directory of @temporalio/worker's compiled workflow sandbox, or null when it is not installed. */
export function sandboxDir() {
  try {
    return path.join(path.dirname(require.resolve('@temporalio/worker/package.json')), 'lib', 'workflow');
  } catch {
    return null;
  }
}

const timeoutOption = 'timeout: isolateExecutionTimeoutMs,';
const edits = [
  {
    file: 'reusable-vm.js',
    // every call into the reused context (the per-activation calls and the context's set-up)
    from: timeoutOption,
    to: `timeout: isolateExecutionTimeoutMs || undefined, ${PATCH_MARKER}`,
    count: 4,
  },
  {
    file: 'vm.js',
    from: timeoutOption,
    to: `timeout: isolateExecutionTimeoutMs || undefined, ${PATCH_MARKER}`,
    count: 1,
  },
  {
    file: 'vm-shared.js',
    from: '            this.setPromiseHook();',
    to: `            if (process.env.WORKER_WORKFLOW_STACK_TRACES === 'on') this.setPromiseHook(); ${PATCH_MARKER}`,
    count: 1,
  },
];

/** True when every file of the installed SDK carries the patch. */
export function isPatched(dir = sandboxDir()) {
  if (!dir) return false;
  return edits.every(({ file, count }) => fs.readFileSync(path.join(dir, file), 'utf8').split(PATCH_MARKER).length - 1 === count);
}

function apply() {
  const dir = sandboxDir();
  if (!dir) {
    console.log('patch-temporal-sdk: @temporalio/worker is not installed; nothing to patch');
    return;
  }
  const version = JSON.parse(fs.readFileSync(path.join(dir, '..', '..', 'package.json'), 'utf8')).version;
  if (version !== SUPPORTED_VERSION) {
    throw new Error(
      `patch-temporal-sdk: @temporalio/worker ${version} is installed, the patch is written for ${SUPPORTED_VERSION}: ` +
        'check whether the new version still needs it (scripts/patch-temporal-sdk.mjs), then update the patch and the pin together',
    );
  }
  let edited = 0;
  for (const { file, from, to, count } of edits) {
    const target = path.join(dir, file);
    const text = fs.readFileSync(target, 'utf8');
    if (text.includes(PATCH_MARKER)) continue;
    edited += 1;
    const found = text.split(from).length - 1;
    if (found !== count) throw new Error(`patch-temporal-sdk: expected ${count} × "${from}" in ${file}, found ${found}`);
    fs.writeFileSync(target, text.split(from).join(to));
  }
  if (!isPatched(dir)) throw new Error('patch-temporal-sdk: the patch did not apply cleanly');
  console.log(`patch-temporal-sdk: @temporalio/worker ${version} ${edited ? 'patched' : 'already patched'} (activation watchdog and stack traces switchable)`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    apply();
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
