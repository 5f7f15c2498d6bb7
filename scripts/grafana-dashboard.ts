/**
 * The Grafana dashboard for partner-access (issue #17), written from this list of panels to
 * docs/grafana/partner-access.json (`npx tsx scripts/grafana-dashboard.ts`). Kept as code so that
 * test/unit/grafana-dashboard.test.ts can hold every query to the metrics the API and the worker
 * really export: a renamed metric fails a test instead of leaving an empty panel.
 *
 * Import: Grafana → Dashboards → Import → upload the JSON, pick the Prometheus data source that
 * scrapes the API's METRICS_PORT and the worker's WORKER_METRICS_ADDRESS (README, Metrics).
 */
import fs from 'node:fs';
import path from 'node:path';

interface Panel {
  title: string;
  description: string;
  /** PromQL; `legend` is Grafana's legend format for the series */
  targets: Array<{ expr: string; legend: string }>;
  unit: string;
  kind?: 'timeseries' | 'stat';
}

interface Row {
  title: string;
  panels: Panel[];
}

const rate = (metric: string, by: string, filter = '') => `sum by (${by}) (rate(${metric}${filter}[$__rate_interval]))`;
const quantile = (q: number, metric: string, by: string, filter = '') =>
  `histogram_quantile(${q}, sum by (le${by ? `, ${by}` : ''}) (rate(${metric}_bucket${filter}[$__rate_interval])))`;

export const rows: Row[] = [
  {
    title: 'Gateway verdicts',
    panels: [
      {
        title: 'Key verdicts by outcome',
        description: 'Every verdict on a presented key (introspection, the gateway endpoints): active/allowed or the reason of the refusal. A jump in unknown or bad_checksum is someone guessing keys.',
        targets: [{ expr: rate('partner_access_key_verdicts_total', 'endpoint, verdict'), legend: '{{endpoint}} {{verdict}}' }],
        unit: 'reqps',
      },
      {
        title: 'Introspection latency',
        description: 'POST /v1/introspect as other gateways (Kong, Envoy, APIM) see it.',
        targets: [
          { expr: quantile(0.5, 'partner_access_http_request_duration_seconds', '', '{route=~"/v1/introspect/?"}'), legend: 'p50' },
          { expr: quantile(0.99, 'partner_access_http_request_duration_seconds', '', '{route=~"/v1/introspect/?"}'), legend: 'p99' },
        ],
        unit: 's',
      },
      {
        title: 'Budget refusals',
        description: 'Requests refused by a budget (429), by budget: failed credentials per source, onboarding, decisions, the gateway\'s tiers.',
        targets: [{ expr: rate('partner_access_rate_limit_refusals_total', 'budget'), legend: '{{budget}}' }],
        unit: 'reqps',
      },
    ],
  },
  {
    title: 'API',
    panels: [
      {
        title: 'Requests by status',
        description: 'Every answer of the API, by status.',
        targets: [{ expr: rate('partner_access_http_requests_total', 'status'), legend: '{{status}}' }],
        unit: 'reqps',
      },
      {
        title: 'Server errors',
        description: 'Share of answers that are 5xx (503 while the database or Temporal is away; a 500 is a bug).',
        targets: [
          {
            expr: 'sum(rate(partner_access_http_requests_total{status=~"5.."}[$__rate_interval])) / clamp_min(sum(rate(partner_access_http_requests_total[$__rate_interval])), 1e-9)',
            legend: '5xx share',
          },
        ],
        unit: 'percentunit',
      },
      {
        title: 'Slowest routes (p99)',
        description: 'The p99 answer time of each route pattern.',
        targets: [{ expr: `topk(8, ${quantile(0.99, 'partner_access_http_request_duration_seconds', 'method, route')})`, legend: '{{method}} {{route}}' }],
        unit: 's',
      },
    ],
  },
  {
    title: 'Lifecycle',
    panels: [
      {
        title: 'Revocations',
        description: 'Partners cut off by an emergency revocation, single or bulk.',
        targets: [{ expr: 'sum by (kind) (increase(partner_access_revocations_total[$__range]))', legend: '{{kind}}' }],
        unit: 'short',
        kind: 'stat',
      },
      {
        title: 'Key pickups',
        description: 'One-time pickups, by outcome (gone: someone asked for a key already picked up).',
        targets: [{ expr: rate('partner_access_key_pickups_total', 'outcome'), legend: '{{outcome}}' }],
        unit: 'ops',
      },
      {
        title: 'Revocation signals not yet accepted by Temporal',
        description: 'The outbox (pending_signals). It should drain to 0 within seconds; a level that stays up means Temporal is unreachable.',
        targets: [{ expr: 'max(partner_access_outbox_pending_signals)', legend: 'pending' }],
        unit: 'short',
      },
      {
        title: 'Webhook deliveries',
        description: 'Delivery attempts of notices, by outcome (delivered, failed and retried, gave_up).',
        targets: [{ expr: rate('partner_access_webhook_deliveries', 'outcome'), legend: '{{outcome}}' }],
        unit: 'ops',
      },
    ],
  },
  {
    title: 'Worker (Temporal SDK)',
    panels: [
      {
        title: 'Workflow task schedule-to-start (p99)',
        description: 'How long a workflow task waits for the worker: the first sign that workers are too few or too busy.',
        targets: [{ expr: quantile(0.99, 'temporal_workflow_task_schedule_to_start_latency', 'task_queue'), legend: '{{task_queue}}' }],
        unit: 'ms',
      },
      {
        title: 'Activity execution (p99)',
        description: 'Time each activity takes, by type: the lifecycle\'s records run as local activities (in the workflow task), the gateway probe as an activity.',
        targets: [
          { expr: quantile(0.99, 'temporal_local_activity_execution_latency', 'activity_type'), legend: 'local {{activity_type}}' },
          { expr: quantile(0.99, 'temporal_activity_execution_latency', 'activity_type'), legend: '{{activity_type}}' },
        ],
        unit: 'ms',
      },
      {
        title: 'Activity failures',
        description: 'Failed activity attempts (each is retried by policy), by type.',
        targets: [
          { expr: rate('temporal_local_activity_execution_failed', 'activity_type'), legend: 'local {{activity_type}}' },
          { expr: rate('temporal_activity_execution_failed', 'activity_type'), legend: '{{activity_type}}' },
        ],
        unit: 'ops',
      },
      {
        title: 'Free task slots',
        description: 'Slots left for workflow and activity tasks (WORKER_MAX_CONCURRENT_*): at 0 the worker is saturated.',
        targets: [{ expr: 'sum by (worker_type) (temporal_worker_task_slots_available)', legend: '{{worker_type}}' }],
        unit: 'short',
      },
      {
        title: 'Cached workflows',
        description: 'Workflows held in the worker\'s cache (WORKER_MAX_CACHED_WORKFLOWS bounds it, and the worker\'s memory with it).',
        targets: [{ expr: 'sum(temporal_sticky_cache_size)', legend: 'cached' }],
        unit: 'short',
      },
    ],
  },
  {
    title: 'API process',
    panels: [
      {
        title: 'Resident memory',
        description: 'The API process\'s RSS.',
        targets: [{ expr: 'partner_access_process_resident_memory_bytes', legend: '{{instance}}' }],
        unit: 'bytes',
      },
      {
        title: 'Event-loop lag (p99)',
        description: 'One event loop answers every request: lag here is latency everywhere.',
        targets: [{ expr: 'partner_access_nodejs_eventloop_lag_p99_seconds', legend: '{{instance}}' }],
        unit: 's',
      },
    ],
  },
];

/** The dashboard in Grafana's JSON model (schema 39), panels laid out 8 columns wide, rows in order. */
export function dashboard(): Record<string, unknown> {
  let id = 0;
  let y = 0;
  const panels: unknown[] = [];
  for (const row of rows) {
    panels.push({ id: ++id, type: 'row', title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: y++ }, panels: [] });
    row.panels.forEach((p, i) => {
      const x = (i % 3) * 8;
      if (i > 0 && i % 3 === 0) y += 8;
      panels.push({
        id: ++id,
        type: p.kind ?? 'timeseries',
        title: p.title,
        description: p.description,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: 8, x, y },
        fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
        options: p.kind === 'stat' ? { reduceOptions: { calcs: ['lastNotNull'] } } : { legend: { displayMode: 'list', placement: 'bottom' } },
        targets: p.targets.map((t, k) => ({ refId: String.fromCharCode(65 + k), expr: t.expr, legendFormat: t.legend, datasource: { type: 'prometheus', uid: '${datasource}' } })),
      });
    });
    y += 8;
  }
  return {
    title: 'partner-access',
    uid: 'partner-access',
    description: 'The API, the gateway verdicts, the lifecycle and the worker of partner-access (generated by scripts/grafana-dashboard.ts)',
    tags: ['partner-access', 'temporal'],
    schemaVersion: 39,
    version: 1,
    editable: true,
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    templating: { list: [{ name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus' }] },
    panels,
  };
}

export const dashboardFile = path.resolve(import.meta.dirname, '../docs/grafana/partner-access.json');
export const dashboardJson = () => `${JSON.stringify(dashboard(), null, 2)}\n`;

if (import.meta.url === `file://${process.argv[1]}`) {
  fs.mkdirSync(path.dirname(dashboardFile), { recursive: true });
  fs.writeFileSync(dashboardFile, dashboardJson());
  console.log(`wrote ${path.relative(process.cwd(), dashboardFile)}`);
}
