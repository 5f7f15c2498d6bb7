import type SQLite from 'better-sqlite3';
import { SelectQueryNode, type CompiledQuery, type DatabaseConnection, type Driver, type QueryResult } from 'kysely';

/**
 * SQLite's driver, with group commit.
 *
 * With `synchronous = FULL` every COMMIT waits for the disk (about 2 ms on the benchmark machine),
 * and better-sqlite3 waits on the process's one thread: a worker finishing a burst of local
 * activities spent a seventh of its main thread in COMMIT and BEGIN (bench/README.md). So
 * transactions that queue for the connection while one runs join its database transaction, each
 * inside a savepoint of its own, and one COMMIT makes the group durable:
 *
 * - a member's `transaction().execute()` resolves only after the COMMIT that contains it: nothing
 *   is acknowledged before it is on disk, as before;
 * - a member that fails rolls back to its savepoint; the others are unaffected;
 * - a query outside a transaction never runs inside an open group (it would be answered before the
 *   group is durable, or read what may yet fail to commit): the group commits first;
 * - a COMMIT that fails (or an error after which SQLite itself rolled back, a full disk) fails
 *   every member of the group, each with that error: their callers retry, as after any failed
 *   transaction;
 * - a group is closed after MAX_GROUP members, so the other process's writers (the API beside the
 *   worker) wait for one group at most, not for a stream of them.
 *
 * Members run one after the other on the one connection, as transactions did before. A group
 * takes the transactions that queued while it ran and, when COMMITs come close together, those
 * that start within one more turn of the event loop (BUSY_WITHIN_MS).
 */
export const MAX_GROUP = 16;
/**
 * COMMITs this close together mean transactions arrive faster than the disk commits them; then a
 * group with no one queued waits one turn of the event loop before its COMMIT, for the
 * transactions the process is about to start (each local activity starts from its own callback,
 * so none is queued while another runs). At a lower rate every COMMIT happens at once, as before.
 * So a transaction's answer can need a turn of the event loop: code that waits for one must not
 * spin on promises that resolve in microtasks alone, which would starve that turn (nothing in the
 * product does; test/integration/audit-verify.test.ts's reader yields a turn per check).
 */
export const BUSY_WITHIN_MS = 20;

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Group {
  /** members whose part is done and who wait for the COMMIT */
  waiting: Waiter[];
  members: number;
  /** whether the group already waited a turn of the event loop for others (it waits once) */
  deferred: boolean;
}

/** One holder's use of the connection (acquireConnection → releaseConnection). */
class Lease implements DatabaseConnection {
  /** plain: no transaction; member: inside its savepoint; handed-over: done, waiting for the group's COMMIT */
  state: 'plain' | 'member' | 'handed-over' = 'plain';
  constructor(private readonly driver: GroupCommitSqliteDriver) {}
  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    return Promise.resolve(this.driver.run<R>(this, compiledQuery));
  }
  async *streamQuery<R>(compiledQuery: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (!SelectQueryNode.is(compiledQuery.query)) throw new Error('Sqlite driver only supports streaming of select queries');
    this.driver.beforePlainQuery(this);
    for (const row of this.driver.sqlite.prepare(compiledQuery.sql).iterate(compiledQuery.parameters)) yield { rows: [row as R] };
  }
}

export class GroupCommitSqliteDriver implements Driver {
  #locked = false;
  #lastCommitAt = -Infinity;
  readonly #queue: (() => void)[] = [];
  #group: Group | undefined;
  /** groups committed and their members, for the benchmark's account */
  readonly stats = { groups: 0, members: 0 };

  constructor(
    readonly sqlite: SQLite.Database,
    private readonly onDestroy: () => void,
  ) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.#locked) await new Promise<void>((resolve) => this.#queue.push(resolve));
    else this.#locked = true;
    return new Lease(this);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const lease = connection as Lease;
    if (!this.#group) {
      // immediate: the write lock first (schema/db.ts says why), so contention waits out the busy timeout
      this.#exec('begin immediate');
      this.#group = { waiting: [], members: 0, deferred: false };
    }
    this.#exec('savepoint group_member');
    this.#group.members += 1;
    lease.state = 'member';
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const lease = connection as Lease;
    this.#exec('release group_member');
    const group = this.#group!;
    const queued = this.#queue.length > 0;
    const busy = !group.deferred && performance.now() - this.#lastCommitAt < BUSY_WITHIN_MS;
    if ((queued || busy) && group.members < MAX_GROUP) {
      // Others wait for the connection (or are about to): they join this group, and this member
      // is durable with its COMMIT. The connection goes to the next now; releaseConnection has
      // nothing left to do.
      const committed = new Promise<void>((resolve, reject) => group.waiting.push({ resolve, reject }));
      lease.state = 'handed-over';
      if (!queued) {
        group.deferred = true;
        setImmediate(() => this.#commitIfIdle(group));
      }
      this.#unlock();
      return committed;
    }
    lease.state = 'plain';
    this.#commitGroup();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const lease = connection as Lease;
    // a member whose group failed to commit: the connection is someone else's by now
    if (lease.state === 'handed-over') return;
    lease.state = 'plain';
    const group = this.#group;
    if (!group) return; // the COMMIT that failed was this member's: #commitGroup rolled back
    if (this.sqlite.inTransaction) {
      this.#exec('rollback to group_member');
      this.#exec('release group_member');
      group.members -= 1;
      if (group.members === 0) {
        this.#group = undefined;
        this.#exec('rollback');
      }
      return;
    }
    // SQLite rolled the whole transaction back (a full disk, an I/O error): the members before
    // this one are gone with it
    this.#group = undefined;
    const err = new GroupRolledBack();
    for (const waiter of group.waiting) waiter.reject(err);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const lease = connection as Lease;
    if (lease.state === 'handed-over') return;
    // the last holder of a group with no one left to join it commits it
    if (this.#group && this.#queue.length === 0) this.#commitGroupOrFail();
    this.#unlock();
  }

  async destroy(): Promise<void> {
    if (this.#group) this.#commitGroupOrFail();
    this.onDestroy();
    this.sqlite.close();
  }

  /** One query on the connection. Outside a transaction, an open group commits first. */
  run<R>(lease: Lease, { sql, parameters }: CompiledQuery): QueryResult<R> {
    this.beforePlainQuery(lease);
    const statement = this.sqlite.prepare(sql);
    if (statement.reader) return { rows: statement.all(parameters) as R[] };
    const { changes, lastInsertRowid } = statement.run(parameters);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  beforePlainQuery(lease: Lease): void {
    // a COMMIT that fails here is the members' failure (they are told), not this query's
    if (lease.state === 'plain' && this.#group) this.#commitGroupOrFail();
  }

  /** After a group's turn of waiting: its COMMIT, unless it was made meanwhile or a holder of the connection will make it. */
  #commitIfIdle(group: Group): void {
    if (this.#group !== group || this.#locked) return;
    this.#locked = true;
    this.#commitGroupOrFail();
    this.#unlock();
  }

  #exec(statement: string): void {
    this.sqlite.prepare(statement).run();
  }

  #unlock(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#locked = false;
  }

  /** COMMIT the open group; every member waiting for it learns the outcome. Throws what COMMIT threw. */
  #commitGroup(): void {
    const group = this.#group!;
    this.#group = undefined;
    try {
      this.#exec('commit');
    } catch (err) {
      if (this.sqlite.inTransaction) this.#exec('rollback');
      for (const waiter of group.waiting) waiter.reject(err);
      throw err;
    }
    this.#lastCommitAt = performance.now();
    this.stats.groups += 1;
    this.stats.members += group.members;
    for (const waiter of group.waiting) waiter.resolve();
  }

  /** As #commitGroup, where no caller of ours is left to throw to: the members hear of a failure. */
  #commitGroupOrFail(): void {
    try {
      this.#commitGroup();
    } catch {
      // every member's transaction has been rejected with the error
    }
  }
}

/** A transaction whose group SQLite rolled back because of another member's failure (a full disk, an I/O error). */
export class GroupRolledBack extends Error {
  readonly code = 'SQLITE_GROUP_ROLLED_BACK';
  constructor() {
    super('the transaction was rolled back with its commit group (SQLite rolled back after an error of another member)');
  }
}
