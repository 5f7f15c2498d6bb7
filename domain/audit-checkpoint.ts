import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * A signed checkpoint of the audit chain's head: "event `seq` hashed to `hash`, as of `at`",
 * with an HMAC under a key that never lives in the database. Anyone with write access to the
 * database can rewrite the chain and re-hash it forward, but cannot produce a checkpoint for the
 * rewritten head, and cannot make the checkpoints already written agree with it.
 */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
  at: string;
  mac: string;
}

const message = (c: Omit<AuditCheckpoint, 'mac'>) => `partner-access audit checkpoint\n${c.seq}\n${c.hash}\n${c.at}`;

export function signCheckpoint(key: Buffer, c: Omit<AuditCheckpoint, 'mac'>): AuditCheckpoint {
  return { ...c, mac: createHmac('sha256', key).update(message(c)).digest('hex') };
}

export function checkpointIsAuthentic(key: Buffer, c: AuditCheckpoint): boolean {
  const expected = createHmac('sha256', key).update(message(c)).digest();
  const given = Buffer.from(c.mac, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** One line of the checkpoint file, or undefined when it is not one (a torn last line, junk). */
export function parseCheckpoint(line: string): AuditCheckpoint | undefined {
  try {
    const v = JSON.parse(line) as Partial<AuditCheckpoint>;
    if (!Number.isInteger(v.seq) || typeof v.hash !== 'string' || !/^[0-9a-f]{64}$/.test(v.hash)) return undefined;
    if (typeof v.at !== 'string' || typeof v.mac !== 'string' || !/^[0-9a-f]{64}$/.test(v.mac)) return undefined;
    return { seq: v.seq!, hash: v.hash, at: v.at, mac: v.mac };
  } catch {
    return undefined;
  }
}
