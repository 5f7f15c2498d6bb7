/**
 * The dashboard in docs/grafana is the one scripts/grafana-dashboard.ts writes, and every
 * partner_access_ metric it queries is one the API registers (or the worker's own counter), so a
 * renamed metric fails here instead of leaving a panel empty. The worker's temporal_ series are held
 * to a real scrape in test/integration/worker-metrics.test.ts.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiMetrics } from '../../api/metrics.js';
import { dashboardFile, dashboardJson, rows } from '../../scripts/grafana-dashboard.js';

const queried = (prefix: string) =>
  [...new Set(rows.flatMap((r) => r.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(new RegExp(`\\b${prefix}[a-z0-9_]+`, 'g')) ?? []))))];

describe('Grafana dashboard', () => {
  it('is committed as generated', () => {
    expect(fs.readFileSync(dashboardFile, 'utf8')).toBe(dashboardJson());
  });

  it('queries only partner_access_ metrics that exist', async () => {
    const metrics = new ApiMetrics({ processMetrics: true });
    metrics.observeOutbox({} as never);
    const registered = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
    // the worker's own counter, created through the activity context's metric meter
    const worker = fs.readFileSync(new URL('../../activities/notifications.ts', import.meta.url), 'utf8');
    for (const name of queried('partner_access_')) {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      expect(registered.has(base) || worker.includes(`'${base}'`), `${name} is not exported`).toBe(true);
    }
  });
});
