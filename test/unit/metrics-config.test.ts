/** Issue #17: the metrics and worker tuning variables, validated at start with one line naming the variable. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/env.js';
import { verdictLabel } from '../../api/metrics.js';

describe('metrics and worker tuning variables', () => {
  it('defaults: no metrics listeners, bounded worker cache and concurrency', () => {
    const config = loadConfig({});
    expect(config.metrics).toBeUndefined();
    expect(config.worker).toEqual({
      metricsAddress: undefined,
      tuning: {
        maxCachedWorkflows: 1000,
        maxConcurrentActivityTaskExecutions: 100,
        maxConcurrentWorkflowTaskExecutions: 40,
        workflowThreadPoolSize: 2,
        maxConcurrentWorkflowTaskPolls: 20,
        nonStickyToStickyPollRatio: 0.5,
        // the SDK's own guard, kept by default (scripts/patch-temporal-sdk.mjs)
        isolateExecutionTimeout: 5000,
        workflowStackTraces: false,
      },
    });
  });

  it('read when set', () => {
    const config = loadConfig({
      METRICS_PORT: '9100',
      WORKER_METRICS_ADDRESS: '0.0.0.0:9464',
      WORKER_MAX_CACHED_WORKFLOWS: '0',
      WORKER_MAX_CONCURRENT_ACTIVITIES: '20',
      WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '10',
      WORKER_WORKFLOW_THREADS: '3',
      WORKER_MAX_WORKFLOW_TASK_POLLS: '6',
      WORKER_NON_STICKY_POLL_RATIO: '1',
      WORKER_ACTIVATION_TIMEOUT: 'off',
      WORKER_WORKFLOW_STACK_TRACES: 'on',
    });
    expect(config.metrics).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(config.worker.metricsAddress).toBe('0.0.0.0:9464');
    // 0: no cache (every task replays its history), any concurrency
    expect(config.worker.tuning).toEqual({ maxCachedWorkflows: 0, maxConcurrentActivityTaskExecutions: 20, maxConcurrentWorkflowTaskExecutions: 10,
      workflowThreadPoolSize: 3,
      maxConcurrentWorkflowTaskPolls: 6,
      nonStickyToStickyPollRatio: 1,
      isolateExecutionTimeout: 0, // off: the patched SDK runs the sandbox without the watchdog
      workflowStackTraces: true,
    });
    expect(loadConfig({ WORKER_ACTIVATION_TIMEOUT: '2s' }).worker.tuning.isolateExecutionTimeout).toBe(2000);
    expect(loadConfig({ METRICS_PORT: '9100', METRICS_HOST: '10.0.0.5' }).metrics).toEqual({ host: '10.0.0.5', port: 9100 });
  });

  it.each([
    ['METRICS_PORT', '70000'],
    ['WORKER_METRICS_ADDRESS', '9464'],
    ['WORKER_METRICS_ADDRESS', 'http://127.0.0.1:9464'],
    ['WORKER_MAX_CACHED_WORKFLOWS', '-1'],
    ['WORKER_MAX_CONCURRENT_ACTIVITIES', '0'],
    ['WORKER_MAX_CONCURRENT_WORKFLOW_TASKS', '1'],
    ['WORKER_MAX_CONCURRENT_WORKFLOW_TASKS', 'many'],
    ['WORKER_WORKFLOW_THREADS', '0'],
    ['WORKER_MAX_WORKFLOW_TASK_POLLS', '1'],
    ['WORKER_NON_STICKY_POLL_RATIO', '0'],
    ['WORKER_NON_STICKY_POLL_RATIO', '1.5'],
    ['WORKER_ACTIVATION_TIMEOUT', '0'],
    ['WORKER_ACTIVATION_TIMEOUT', 'never'],
    ['WORKER_WORKFLOW_STACK_TRACES', 'yes'],
  ])('%s=%s is refused, naming it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^Invalid configuration: ${name}=`));
  });

  it('more workflow tasks at once than cached workflows is refused (the SDK would lower it quietly)', () => {
    expect(() => loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '10', WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '40' })).toThrow(ConfigError);
  });

  it('more workflow-task polls than task slots is refused (the SDK refuses it at start)', () => {
    expect(() => loadConfig({ WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '10', WORKER_MAX_WORKFLOW_TASK_POLLS: '20' })).toThrow(/WORKER_MAX_WORKFLOW_TASK_POLLS=20 must not exceed/);
  });
});

describe('verdict labels', () => {
  it('are short code words whatever the reason text holds', () => {
    expect(verdictLabel('revoked')).toBe('revoked');
    expect(verdictLabel('missing scope orders:read')).toBe('missing_scope');
    expect(verdictLabel('too many failed keys (unknown)')).toBe('too_many_failed_keys');
    expect(verdictLabel('probe: key active')).toBe('probe_key_active');
    expect(verdictLabel('control-character')).toBe('control-character');
    expect(verdictLabel('wrong_environment')).toBe('wrong_environment');
    expect(verdictLabel('P0123456789ABCDEF pak_test_x')).toBe('other');
    expect(verdictLabel('pabcdefghijklmnop')).toBe('other');
  });
});
