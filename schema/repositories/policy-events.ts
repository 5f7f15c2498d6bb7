import type { Db } from '../db.js';
import { appendAudit } from './audit.js';

/**
 * Policy changes in the audit trail (issue #16, item 7): each API process records the version it
 * acts on at start and at every change of the file. The event names the version and the one before
 * it; several processes seeing one change write it once (its key is the pair of versions).
 * Whether a version is new is judged against the last one recorded, so a restart on an unchanged
 * file writes nothing.
 */
export function recordPolicyInForce(db: Db, version: string, at: string, file: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const last = await trx.selectFrom('audit_events').select('details').where('action', '=', 'policy.in_force').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    const previous = last?.details ? ((JSON.parse(last.details) as { version?: string }).version ?? null) : null;
    if (previous === version) return false;
    return appendAudit(trx, {
      eventKey: `policy:${previous ?? 'none'}->${version}`,
      at,
      actor: 'system:policy-file',
      action: 'policy.in_force',
      partnerId: null,
      details: { version, previous, file },
    });
  });
}
