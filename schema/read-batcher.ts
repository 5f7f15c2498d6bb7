/**
 * Point reads of one kind, batched without changing any answer. A key asked for while no read is
 * in flight is read at once; keys asked for while one is in flight wait for the next read, which
 * starts as soon as that one ends and carries all of them (each key once). So every answer comes
 * from a read that started after its question was asked: a commit made before the question (a
 * revocation, say) is seen by it, exactly as with one query per question. Joining a read already
 * in flight would not be: it may have taken its snapshot before the commit.
 *
 * What it saves is the per-query cost under concurrency: on Postgres a point read is a round trip
 * plus the driver's and Kysely's work per query, most of an introspection's CPU (bench/README.md,
 * issue #14); with N questions waiting, one read answers them all.
 */
import type { Kysely } from 'kysely';
import { dialectOf } from './dialect.js';

/**
 * Whether a database's point reads go through a ReadBatcher: on Postgres, where each read is a
 * round trip (its batched statements use `= any`, Postgres's syntax); not on SQLite, where a read
 * is in-process already; never inside a transaction, whose reads are its own and no other
 * caller's.
 */
export const sharesReads = (db: Kysely<any>): boolean => dialectOf(db) === 'postgres' && !db.isTransaction;

export class ReadBatcher<K, V> {
  /** batches whose read has not started, in order; each starts when the one before it ends */
  private readonly waiting: Batch<K, V>[] = [];
  private reading = false;

  constructor(
    /** the rows for these keys (a key without a row: absent from the map) */
    private readonly read: (keys: K[]) => Promise<Map<K, V>>,
    /** keys per read at most; more wait for the read after (a bound on one statement's size) */
    private readonly maxKeys = 500,
  ) {}

  get(key: K): Promise<V | undefined> {
    let batch = this.waiting.at(-1);
    if (!batch || (batch.keys.size >= this.maxKeys && !batch.keys.has(key))) {
      batch = new Batch<K, V>();
      this.waiting.push(batch);
    }
    batch.keys.add(key);
    if (!this.reading) this.startNext();
    return batch.promise.then((rows) => rows.get(key));
  }

  private startNext(): void {
    const batch = this.waiting.shift();
    if (!batch) return;
    this.reading = true;
    const done = (settle: () => void) => {
      this.reading = false;
      settle();
      this.startNext();
    };
    let read: Promise<Map<K, V>>;
    try {
      read = this.read([...batch.keys]);
    } catch (error) {
      read = Promise.reject(error);
    }
    read.then(
      (rows) => done(() => batch.resolve(rows)),
      (error: unknown) => done(() => batch.reject(error)),
    );
  }
}

class Batch<K, V> {
  readonly keys = new Set<K>();
  readonly promise: Promise<Map<K, V>>;
  resolve!: (rows: Map<K, V>) => void;
  reject!: (error: unknown) => void;

  constructor() {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // a failed read is each waiter's to handle; unobserved here, it is not a process-level rejection
    this.promise.catch(() => undefined);
  }
}
