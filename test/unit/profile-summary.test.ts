import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { areaOf, summarize } from '../../bench/profile-summary.js';

const root = path.resolve(import.meta.dirname, '../..');

describe('CPU profile summary', () => {
  it('names the area a frame belongs to', () => {
    expect(areaOf('file:///srv/app/node_modules/@temporalio/worker/lib/worker.js', 'run')).toBe('@temporalio/worker');
    expect(areaOf('file:///srv/app/node_modules/kysely/dist/esm/index.js', 'executeQuery')).toBe('kysely');
    expect(areaOf('node:internal/streams/readable', 'read')).toBe('node internals');
    expect(areaOf(`file://${root}/activities/audit.ts`, 'appendAudit')).toBe(path.join('activities', 'audit.ts'));
    expect(areaOf('', '(garbage collector)')).toBe('(garbage collector)');
    expect(areaOf('', 'runInContext')).toBe('(native)');
  });

  it('adds self time per area and per function from the samples', () => {
    const frame = (id: number, functionName: string, url: string) => ({ id, callFrame: { functionName, url, lineNumber: 9 } });
    const profile = {
      nodes: [frame(1, '(root)', ''), frame(2, 'executeQuery', 'file:///x/node_modules/kysely/a.js'), frame(3, 'run', 'file:///x/node_modules/kysely/b.js'), frame(4, '(idle)', '')],
      startTime: 0,
      endTime: 10_000,
      samples: [2, 2, 3, 4, 4, 4, 4, 2],
      timeDeltas: [1000, 1000, 2000, 1000, 1000, 1000, 1000, 2000],
    };
    const summary = summarize(profile);
    expect(summary.sampledSeconds).toBe(0.01);
    expect(summary.areas[0]).toEqual({ name: 'kysely', seconds: 0.01, share: '60.0 %' });
    expect(summary.areas[1]).toEqual({ name: '(idle)', seconds: 0, share: '40.0 %' });
    expect(summary.functions[0]).toEqual({ name: 'executeQuery kysely:10', seconds: 0, share: '40.0 %' });
  });
});
