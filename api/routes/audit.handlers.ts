import { stream } from 'hono/streaming';
import { auditEventsAfter, verifyAuditChain, type ChainVerification } from '../../schema/repositories/audit.js';
import type { AuditEventRow } from '../../schema/database.js';
import type { AppDeps } from '../deps.js';
import type { AppRouteHandler } from '../router.js';
import type * as routes from './audit.routes.js';

/** An audit row as the API shows it (the export here, an operator's timeline in directory). */
export const toAuditEvent = (e: AuditEventRow) => ({
  seq: e.seq,
  at: e.at,
  actor: e.actor,
  action: e.action,
  partnerId: e.partner_id,
  before: e.before,
  after: e.after,
  reason: e.reason,
  details: e.details ? (JSON.parse(e.details) as Record<string, unknown>) : null,
  prevHash: e.prev_hash,
  hash: e.hash,
});

/**
 * The NDJSON export (GET /v1/audit, and the console's download for a signed-in auditor): one
 * event per line, oldest first, read in pages of 500 so an export of any size holds one page in
 * memory.
 */
export async function* auditExportLines(deps: Pick<AppDeps, 'db'>, q: { partnerId?: string | undefined; afterSeq?: number | undefined; limit: number }): AsyncGenerator<string> {
  let after = q.afterSeq ?? 0;
  let left = q.limit;
  while (left > 0) {
    const rows = await auditEventsAfter(deps.db, { afterSeq: after, partnerId: q.partnerId, limit: Math.min(500, left) });
    if (rows.length === 0) break;
    yield rows.map((r) => `${JSON.stringify(toAuditEvent(r))}\n`).join('');
    after = rows.at(-1)!.seq;
    left -= rows.length;
  }
}

/**
 * The chain as the database shows it, then held against the signed checkpoints kept outside it:
 * a database rewritten and re-hashed forward is consistent in itself, never with them.
 */
export async function auditChainCheck(deps: Pick<AppDeps, 'db' | 'auditCheckpoints'>): Promise<ChainVerification & { checkpoint?: { seq: number; at: string } | null }> {
  const chain = await verifyAuditChain(deps.db);
  return deps.auditCheckpoints ? await deps.auditCheckpoints.check(deps.db, chain) : chain;
}

export function createAuditHandlers(deps: AppDeps) {
  const exportEvents: AppRouteHandler<typeof routes.exportEvents> = (c) => {
    const q = c.req.valid('query');
    c.header('Content-Type', 'application/x-ndjson');
    return stream(c, async (out) => {
      for await (const lines of auditExportLines(deps, q)) await out.write(lines);
    }) as never;
  };

  const verify: AppRouteHandler<typeof routes.verify> = async (c) => c.json(await auditChainCheck(deps), 200);

  return { exportEvents, verify };
}
