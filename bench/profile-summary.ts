/**
 * Where a process spent its CPU, from a V8 `.cpuprofile` (node --cpu-prof): self time grouped by
 * package / project file and the top functions. `tsx bench/profile-summary.ts <file.cpuprofile>`.
 * Used for the benchmark's "what dominates" (BENCH_WORKER_CPU_PROF=<dir> profiles the worker).
 */
import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const root = path.resolve(import.meta.dirname, '..');

/** what a frame belongs to: an npm package, a file of ours, Node itself, or V8's pseudo-frames */
export function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const file = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg) return pkg[1]!;
  if (file.startsWith(root)) return path.relative(root, file);
  return file;
}

export function summarize(profile: Profile, top = 15) {
  // self time per node: the sum of the time deltas of the samples that landed on it
  const selfMicros = new Map<number, number>();
  profile.samples.forEach((id, i) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const micros = selfMicros.get(node.id) ?? 0;
    if (micros === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const area = areaOf(url, functionName);
    byArea.set(area, (byArea.get(area) ?? 0) + micros);
    const fn = `${functionName || '(anonymous)'} ${area}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + micros);
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, micros]) => ({ name, seconds: Math.round(micros / 1e4) / 100, share: `${((micros / total) * 100).toFixed(1)} %` }));
  return { sampledSeconds: Math.round(total / 1e4) / 100, areas: rank(byArea), functions: rank(byFunction) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  const summary = summarize(JSON.parse(fs.readFileSync(file, 'utf8')) as Profile, Number(process.argv[3] ?? 15));
  process.stdout.write(`${file}: ${summary.sampledSeconds} s sampled\n\nby area (self time)\n`);
  for (const a of summary.areas) process.stdout.write(`  ${a.share.padStart(7)}  ${a.seconds.toFixed(2).padStart(7)} s  ${a.name}\n`);
  process.stdout.write('\nby function (self time)\n');
  for (const f of summary.functions) process.stdout.write(`  ${f.share.padStart(7)}  ${f.seconds.toFixed(2).padStart(7)} s  ${f.name}\n`);
}
