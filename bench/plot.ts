/**
 * Draws the benchmark's recorded results as SVG charts (issue #17): `npm run bench:plot` reads
 * every file in bench/results/, takes for each chart the newest run that measured it, and writes
 * bench/plots/*.svg, which bench/README.md shows beside its tables. Plain SVG written here: no
 * plotting library, nothing fetched, the same bytes for the same results.
 */
import fs from 'node:fs';
import path from 'node:path';

const resultsDir = path.resolve(import.meta.dirname, 'results');
const plotsDir = path.resolve(import.meta.dirname, 'plots');

interface Bar {
  label: string;
  value: number;
  /** a second series drawn beside the first (p99 beside p50) */
  second?: number;
  note?: string;
}

interface Chart {
  file: string;
  title: string;
  unit: string;
  source: string;
  bars: Bar[];
  legend?: [string, string];
}

type Json = Record<string, any>;

/** Every results file, newest first, with its time. */
function runs(): Array<{ file: string; at: string; data: Json }> {
  return fs
    .readdirSync(resultsDir)
    .filter((f) => f.endsWith('.json') && !f.includes('smoke'))
    .map((file) => {
      const data = JSON.parse(fs.readFileSync(path.join(resultsDir, file), 'utf8')) as Json;
      return { file, at: String(data.at ?? ''), data };
    })
    // the charts show the worker as shipped: a run with a sandbox switch turned (an A/B run) is not drawn
    .filter(({ data }) => !data.workerSandbox || (data.workerSandbox.stackTraces === 'off' && data.workerSandbox.activationTimeout === '5s'))
    .sort((a, b) => b.at.localeCompare(a.at));
}

/** A gateway measurement is one run or several (direct and edge run twice, interleaved): their mean. */
function meanRps(m: unknown): number | undefined {
  if (!m || typeof m !== 'object') return undefined;
  const list = Array.isArray(m) ? m : 'rps' in (m as Json) ? [m] : Object.values(m as Json);
  const values = list.map((r) => (r as Json).rps).filter((v): v is number => typeof v === 'number');
  return values.length ? values.reduce((s, v) => s + v, 0) / values.length : undefined;
}

function charts(): Chart[] {
  const all = runs();
  const newest = (pick: (d: Json) => unknown) => all.find((r) => pick(r.data) !== undefined);
  const out: Chart[] = [];

  const gw = newest((d) => d.results?.gateway?.nginxEdge ?? d.results?.gateway?.nginxDirect);
  if (gw) {
    const g = gw.data.results.gateway;
    const direct = meanRps(g.nginxDirect);
    const bars: Bar[] = [
      { label: 'nginx straight to the upstream', value: direct ?? 0 },
      { label: 'edge mode (verdicts cached in nginx)', value: meanRps(g.nginxEdge) ?? 0 },
      { label: 'auth_request to the API', value: meanRps(g.nginxAuthRequest) ?? 0 },
    ].filter((b) => b.value > 0);
    for (const b of bars) if (direct) b.note = `${(b.value / direct).toFixed(2)}×`;
    out.push({ file: 'gateway-throughput.svg', title: 'A partner request through the gateway', unit: 'requests/s', source: gw.file, bars });
  }

  const intro = newest((d) => d.results?.introspection?.validKey);
  if (intro) {
    const i = intro.data.results.introspection;
    const base = i.baselineHealthz.rps as number;
    const bars: Bar[] = [
      { label: 'GET /healthz (the same server)', value: base },
      { label: 'POST /v1/introspect, valid key', value: i.validKey.rps },
      { label: 'POST /v1/introspect, bad checksum', value: i.invalidKey.rps },
    ].map((b) => ({ ...b, note: `${(b.value / base).toFixed(2)}×` }));
    out.push({ file: 'introspection.svg', title: 'Introspection against the same server\'s /healthz', unit: 'requests/s', source: intro.file, bars });
  }

  const scale = all.find((r) => r.file.startsWith('scale-out-'));
  if (scale) {
    const rows = scale.data.results as Json[];
    out.push({
      file: 'scale-out-introspection.svg',
      title: 'Introspection by database and API processes (all APIs at once)',
      unit: 'requests/s',
      source: scale.file,
      bars: rows.map((r) => ({ label: `${r.dialect === 'sqlite' ? 'SQLite' : 'Postgres'}, ${r.apis} API${r.apis > 1 ? 's' : ''}`, value: r.introspection.rps })),
    });
    out.push({
      file: 'scale-out-latency.svg',
      title: 'Decision round trip and revocation → refused through the other API',
      unit: 'ms',
      source: scale.file,
      legend: ['p50', 'p99'],
      bars: rows.flatMap((r) => {
        const who = `${r.dialect === 'sqlite' ? 'SQLite' : 'Postgres'} ×${r.apis}`;
        return [
          { label: `${who}: decision`, value: r.decisionRoundTripMs.p50, second: r.decisionRoundTripMs.p99 },
          { label: `${who}: revocation`, value: r.revocationToRefusedMs.p50, second: r.revocationToRefusedMs.p99 },
        ];
      }),
    });
  }

  const edge = newest((d) => d.results?.gateway?.edgeRevocation);
  if (edge) {
    const e = edge.data.results.gateway.edgeRevocation;
    out.push({
      file: 'edge-revocation.svg',
      title: `Revocation → refused at ${e.gateways} edge gateways under load (${e.revocations} revocations)`,
      unit: 'ms',
      source: edge.file,
      legend: ['p50', 'p99'],
      // since 2026-12-06 the gateways are asked while the request is in flight (requestAnswered: its own 202)
      bars: e.requestAnswered
        ? [
            { label: 'refused at both, from the request', value: e.fromRequest.p50ms, second: e.fromRequest.p99ms },
            { label: 'the request answered (202)', value: e.requestAnswered.p50ms, second: e.requestAnswered.p99ms },
          ]
        : [
            { label: 'from the revocation request', value: e.fromRequest.p50ms, second: e.fromRequest.p99ms },
            { label: 'from its 202 (committed)', value: e.from202.p50ms, second: e.from202.p99ms },
          ],
    });
  }

  const life = newest((d) => d.results?.decisionRoundTrip);
  if (life) {
    const r = life.data.results;
    out.push({
      file: 'lifecycle-latency.svg',
      title: 'Lifecycle commands on the embedded stack',
      unit: 'ms',
      source: life.file,
      legend: ['p50', 'p99'],
      bars: [
        { label: 'decision round trip', value: r.decisionRoundTrip.p50ms, second: r.decisionRoundTrip.p99ms },
        ...(r.revocation
          ? [
              { label: 'revocation → refused (worker up)', value: r.revocation.withWorker.p50ms, second: r.revocation.withWorker.p99ms },
              { label: 'revocation → refused (worker down)', value: r.revocation.withWorkerStopped.p50ms, second: r.revocation.withWorkerStopped.p99ms },
            ]
          : []),
      ],
    });
  }
  // every 10 000-review burst recorded, oldest first: issue #17's goal is 50 reviews/s reliably
  const waves = all
    .filter((r) => r.data.results?.scale?.partners === 10_000 && r.data.results.scale.wave?.mode === 'burst' && r.data.results.scale.wave.reviewsOpenedPerSecond)
    .reverse();
  if (waves.length) {
    // "195.2 s (110 %)" over the wave's reviews → ms per review
    const cpuMs = (cpu: unknown, reviews: number) => (typeof cpu === 'string' ? (Number.parseFloat(cpu) * 1000) / reviews : NaN);
    out.push({
      file: 'recertification-wave.svg',
      title: 'The wave: 10 000 reviews due at once (goal ≥ 50/s), run by run',
      unit: 'reviews/s (in brackets: CPU per review, worker + dev server)',
      source: waves.length > 1 ? `${waves[0]!.file} … ${waves.at(-1)!.file} (${waves.length} runs)` : waves[0]!.file,
      bars: waves.map((w) => {
        const { wave, partners } = w.data.results.scale;
        const worker = cpuMs(wave.cpu?.worker, partners);
        const server = cpuMs(wave.cpu?.temporalServer, partners);
        return {
          label: w.at.slice(0, 16).replace('T', ' '),
          value: wave.reviewsOpenedPerSecond,
          ...(Number.isFinite(worker) && Number.isFinite(server) ? { note: `${fmt(worker)} + ${fmt(server)} ms` } : {}),
        };
      }),
    });
  }
  return out;
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : String(Math.round(v * 10) / 10));

/** A horizontal bar chart: labels left, bars scaled to the largest value, values at the bar's end. */
export function svg(chart: Chart): string {
  const labelW = 300;
  const barMax = 380;
  const row = chart.legend ? 34 : 26;
  const top = chart.legend ? 62 : 48;
  const width = labelW + barMax + 150;
  const height = top + chart.bars.length * row + 36;
  const max = Math.max(...chart.bars.map((b) => Math.max(b.value, b.second ?? 0)), 1);
  const colors = ['#0b5cad', '#e08a00'];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="24" font-size="15" font-weight="600" fill="#1b1f24">${escape(chart.title)}</text>`,
    `<text x="12" y="42" fill="#4f5863">${escape(chart.unit)}</text>`,
  ];
  if (chart.legend) {
    chart.legend.forEach((name, i) => {
      const x = labelW + i * 80;
      parts.push(`<rect x="${x}" y="48" width="12" height="12" fill="${colors[i]}"/><text x="${x + 18}" y="58" fill="#1b1f24">${escape(name)}</text>`);
    });
  }
  chart.bars.forEach((b, i) => {
    const y = top + i * row;
    parts.push(`<text x="${labelW - 10}" y="${y + 14}" text-anchor="end" fill="#1b1f24">${escape(b.label)}</text>`);
    const series = b.second === undefined ? [b.value] : [b.value, b.second];
    const h = b.second === undefined ? 18 : 13;
    series.forEach((v, k) => {
      const w = Math.max(1, (v / max) * barMax);
      const by = y + k * (h + 2);
      parts.push(`<rect x="${labelW}" y="${by}" width="${w.toFixed(1)}" height="${h}" fill="${colors[k]}"/>`);
      const text = k === 0 && b.note ? `${fmt(v)} (${b.note})` : fmt(v);
      parts.push(`<text x="${labelW + w + 6}" y="${by + h - 3}" fill="#1b1f24">${escape(text)}</text>`);
    });
  });
  parts.push(`<text x="12" y="${height - 10}" font-size="11" fill="#4f5863">bench/results/${escape(chart.source)}</text>`, '</svg>');
  return parts.join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  fs.mkdirSync(plotsDir, { recursive: true });
  for (const chart of charts()) {
    fs.writeFileSync(path.join(plotsDir, chart.file), svg(chart));
    console.log(`bench/plots/${chart.file}  ← ${chart.source}`);
  }
}
