import fs from 'node:fs';

/** CPU seconds (user + system) a process has used so far, from /proc; undefined where there is no /proc. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // fields after the command name (which may contain spaces): utime is the 12th, stime the 13th
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/**
 * Where the CPU went during a phase: seconds per process and the share of the phase's wall time
 * (2 cores = up to 200 %). Answers "what dominates" without a profiler attached.
 */
export function cpuMeter(processes: () => Record<string, number | undefined>) {
  const start = performance.now();
  const pidsBefore = processes();
  const before = Object.fromEntries(Object.entries(pidsBefore).map(([name, pid]) => [name, cpuSeconds(pid)]));
  return () => {
    const wall = (performance.now() - start) / 1000;
    const out: Record<string, string> = {};
    for (const [name, pid] of Object.entries(processes())) {
      if (pid !== pidsBefore[name]) {
        out[name] = 'restarted during the phase';
        continue;
      }
      const now = cpuSeconds(pid);
      const was = before[name];
      if (now === undefined || was === undefined) continue;
      out[name] = `${(now - was).toFixed(1)} s (${Math.round(((now - was) / wall) * 100)} %)`;
    }
    return out;
  };
}

/** The whole machine's busy and idle CPU seconds so far, summed over its cores (Linux /proc/stat). */
export function machineCpuSeconds(): { busy: number; idle: number } | undefined {
  try {
    // cpu  user nice system idle iowait irq softirq steal …
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const idle = fields[3]! + fields[4]!;
    return { busy: fields.reduce((sum, v) => sum + v, 0) / 100 - idle / 100, idle: idle / 100 };
  } catch {
    return undefined;
  }
}
