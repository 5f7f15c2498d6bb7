import type { Db } from '../db.js';
import type { PortalSessionsTable } from '../database.js';

/**
 * Sessions of the portal and the console (migration 008). The caller hashes the session id; the
 * database never sees it. A session ends at its absolute expiry, after `idleMs` without a request,
 * or at sign-out; whether its credential still holds is the caller's check on every request.
 */

export type SessionRow = PortalSessionsTable;

export async function openSession(db: Db, row: SessionRow): Promise<void> {
  await db.insertInto('portal_sessions').values(row).execute();
}

/** The live session with this id hash: not past its expiry, seen within `idleMs`. */
export async function liveSession(db: Db, idHash: string, idleMs: number, now = new Date()): Promise<SessionRow | undefined> {
  const idleSince = new Date(now.getTime() - idleMs).toISOString();
  return db
    .selectFrom('portal_sessions')
    .selectAll()
    .where('id_hash', '=', idHash)
    .where('expires_at', '>', now.toISOString())
    .where('last_seen_at', '>', idleSince)
    .executeTakeFirst();
}

/** Marks the session as used now (the idle timeout counts from here). */
export async function touchSession(db: Db, idHash: string, now = new Date()): Promise<void> {
  await db.updateTable('portal_sessions').set({ last_seen_at: now.toISOString() }).where('id_hash', '=', idHash).execute();
}

export async function closeSession(db: Db, idHash: string): Promise<void> {
  await db.deleteFrom('portal_sessions').where('id_hash', '=', idHash).execute();
}

/** Deletes sessions that can no longer be used (expired or idle); a sign-in calls it, so the table stays small. */
export async function pruneSessions(db: Db, idleMs: number, now = new Date()): Promise<void> {
  const idleSince = new Date(now.getTime() - idleMs).toISOString();
  await db
    .deleteFrom('portal_sessions')
    .where((eb) => eb.or([eb('expires_at', '<=', now.toISOString()), eb('last_seen_at', '<=', idleSince)]))
    .execute();
}
