/**
 * Issue #17: the Temporal SDK patch (scripts/patch-temporal-sdk.mjs) is on the installed SDK
 * (`npm ci` runs it), and a copy of the sandbox without it is told apart: createWorker refuses
 * WORKER_ACTIVATION_TIMEOUT=off on such an SDK rather than fail every workflow task.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPatched, PATCH_MARKER, sandboxDir } from '../../scripts/patch-temporal-sdk.mjs';

const files = ['reusable-vm.js', 'vm.js', 'vm-shared.js'];

describe('the Temporal SDK patch', () => {
  it('is on the installed SDK', () => {
    const dir = sandboxDir()!;
    expect(isPatched(dir)).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'vm-shared.js'), 'utf8')).toContain(`if (process.env.WORKER_WORKFLOW_STACK_TRACES === 'on') this.setPromiseHook();`);
    expect(fs.readFileSync(path.join(dir, 'reusable-vm.js'), 'utf8')).not.toMatch(/timeout: isolateExecutionTimeoutMs,/);
  });

  it('a sandbox missing any part of it is not taken for patched', () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-sdk-'));
    try {
      for (const f of files) fs.copyFileSync(path.join(sandboxDir()!, f), path.join(copy, f));
      expect(isPatched(copy)).toBe(true);
      const shared = path.join(copy, 'vm-shared.js');
      fs.writeFileSync(shared, fs.readFileSync(shared, 'utf8').replaceAll(PATCH_MARKER, ''));
      expect(isPatched(copy)).toBe(false);
      expect(isPatched(null)).toBe(false);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });
});
