import fs from 'node:fs';
import path from 'node:path';
import { checkpointIsAuthentic, parseCheckpoint, signCheckpoint, type AuditCheckpoint } from '../domain/audit-checkpoint.js';
import type { Db } from './db.js';
import { auditEventHash, auditEventHashes, auditHead, type ChainVerification } from './repositories/audit.js';

/**
 * Signed checkpoints of the audit chain, kept outside the database: a file that is only ever
 * appended to (one JSON line per checkpoint, 0600), signed with a key that is not in the database
 * either (AUDIT_CHECKPOINT_KEY or its key file). `write` adds a checkpoint when the head has moved;
 * `check` holds the chain the database shows against the latest authentic checkpoint.
 */
/** The database's chain does not extend the last signed checkpoint: it was rewritten or truncated. */
export class AuditChainDiverged extends Error {}

export class AuditCheckpoints {
  /** the last checkpoint in the file, read once and then kept as this process appends */
  private last: AuditCheckpoint | undefined | null = null;

  constructor(
    private readonly file: string,
    private readonly key: Buffer,
  ) {}

  /** Every line of the file that parses, oldest first (a forged line is kept, and reported by `check`). */
  read(): AuditCheckpoint[] {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return text
      .split('\n')
      .map(parseCheckpoint)
      .filter((c): c is AuditCheckpoint => c !== undefined);
  }

  /** Appends a checkpoint of the head when it moved since the last one; returns it, or undefined. */
  async write(db: Db, at = new Date().toISOString()): Promise<AuditCheckpoint | undefined> {
    const head = await auditHead(db);
    if (this.last === null) this.last = this.read().at(-1);
    const last = this.last;
    if (head.seq === 0 || (last && last.seq === head.seq && last.hash === head.hash)) return undefined;
    // Only a chain that still extends the last checkpoint is signed: otherwise whoever rewrote the
    // database would only have to wait for the next checkpoint to have the rewrite signed.
    if (last && (head.seq < last.seq || (await auditEventHash(db, last.seq)) !== last.hash)) {
      throw new AuditChainDiverged(`the audit chain no longer extends the checkpoint at seq ${last.seq} of ${last.at}: not signing it`);
    }
    const checkpoint = signCheckpoint(this.key, { seq: head.seq, hash: head.hash, at });
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    // O_APPEND: concurrent writers (two processes on one machine) each add whole lines
    fs.appendFileSync(this.file, `${JSON.stringify(checkpoint)}\n`, { mode: 0o600 });
    this.last = checkpoint;
    return checkpoint;
  }

  /**
   * The chain as the database shows it, held against the checkpoints: every line must be
   * authentic (signed with our key), the chain must reach the latest checkpoint's event, and that
   * event must still hash to what was signed. A rewrite re-hashed forward, a truncation below the
   * checkpoint and a deleted head all fail here, however consistent the database is in itself.
   */
  async check(db: Db, chain: ChainVerification): Promise<ChainVerification & { checkpoint: { seq: number; at: string } | null }> {
    const checkpoints = this.read();
    const forged = checkpoints.find((c) => !checkpointIsAuthentic(this.key, c));
    if (forged) return { ...chain, ok: false, problem: `checkpoint at seq ${forged.seq} is not signed with this deployment's key`, checkpoint: null };
    const latest = checkpoints.at(-1);
    if (!latest) return { ...chain, checkpoint: null };
    const checkpoint = { seq: latest.seq, at: latest.at };
    if (!chain.ok) return { ...chain, checkpoint };
    if (chain.headSeq < latest.seq) {
      return { ...chain, ok: false, brokenAt: chain.headSeq + 1, problem: `the chain ends at ${chain.headSeq}, before the signed checkpoint at ${latest.seq} (truncated)`, checkpoint };
    }
    // every checkpoint, not only the latest: each one signed a prefix the chain must still have
    const stored = await auditEventHashes(db, checkpoints.map((c) => c.seq));
    for (const c of [...checkpoints].reverse()) {
      if (stored.get(c.seq) !== c.hash) {
        return { ...chain, ok: false, brokenAt: c.seq, problem: `event ${c.seq} does not match the signed checkpoint of ${c.at} (rewritten)`, checkpoint };
      }
    }
    return { ...chain, checkpoint };
  }
}
