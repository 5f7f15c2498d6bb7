/**
 * The Postgres dialect against the run's real Postgres server (test/global-setup.ts): the
 * migrations, the audit chain under concurrent writers in two "processes" (two pools), append-only
 * enforced by the database, and the one-line start-up error when the server cannot be used.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { dialectOf, isTransientDatabaseError, lockForUpdate, migrateToLatest, openDatabase, type Db } from '../../schema/db.js';
import { lastAutoIncrement } from '../../schema/dialect.js';
import { migrationProvider } from '../../schema/migrations/index.js';
import { appendAudit, verifyAuditChain } from '../../schema/repositories/audit.js';
import { gatewayChangesAfter } from '../../schema/repositories/gateway-changes.js';
import { credentialForVerdict } from '../../schema/repositories/credentials.js';
import { writeUsage } from '../../schema/repositories/usage.js';
import { createTestDatabase, dropTestDatabase, startPostgres } from '../helpers/postgres.js';
import { eventually } from '../helpers/stack.js';
import { createApp } from '../../api/app.js';
import { startLocalStack } from '../../runtime/local-stack.js';
import { createLogger } from '../../runtime/services.js';
import { Writable } from 'node:stream';

const projectRoot = path.resolve(import.meta.dirname, '../..');

describe('Postgres', () => {
  let url: string;
  let db: Db;
  const opened: Db[] = [];

  beforeAll(async () => {
    url = await createTestDatabase(inject('postgresUrl'));
    db = openDatabase({ kind: 'postgres', url });
    opened.push(db);
  });

  afterAll(async () => {
    for (const each of opened) await each.destroy();
    if (url) await dropTestDatabase(url);
  });

  it('runs every migration on a fresh database, in one transaction per run', async () => {
    expect(dialectOf(db)).toBe('postgres');
    const applied = await migrateToLatest(db);
    expect(applied).toEqual(Object.keys(await migrationProvider.getMigrations()));
    // again: nothing left to do (several processes starting together migrate once: Kysely's advisory lock)
    expect(await migrateToLatest(db)).toEqual([]);
    const head = await db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
    expect(head).toEqual({ id: 1, seq: 0, hash: '0'.repeat(64) });
    // the autoincrement keys became identity columns: the database numbers them
    const columns = await sql<{ table_name: string; is_identity: string }>`
      select table_name, is_identity from information_schema.columns
      where column_name = 'id' and table_name in ('decisions', 'recertifications', 'pending_signals') order by table_name`.execute(db);
    expect(columns.rows).toEqual([
      { table_name: 'decisions', is_identity: 'YES' },
      { table_name: 'pending_signals', is_identity: 'YES' },
      { table_name: 'recertifications', is_identity: 'YES' },
    ]);
    const signal = await db
      .insertInto('pending_signals')
      .values({ workflow_id: 'partner-P1', signal: 'revoke', args: '[]', created_at: new Date().toISOString(), attempts: 0 })
      .returning('id')
      .executeTakeFirstOrThrow();
    expect(signal.id).toBe(1);
    // int8 comes back as a number, as SQLite's integers do
    const count = await db.selectFrom('pending_signals').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(count.n).toBe(1);
  });

  it('lockForUpdate adds FOR UPDATE on Postgres only', () => {
    const query = (on: Db) => lockForUpdate(on, on.selectFrom('audit_head').select('seq').where('id', '=', 1)).compile().sql;
    expect(query(db)).toMatch(/ for update$/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-dialect-'));
    const sqlite = openDatabase({ kind: 'sqlite', file: path.join(dir, 'app.db') });
    try {
      expect(dialectOf(sqlite)).toBe('sqlite');
      expect(query(sqlite)).not.toMatch(/for update/i);
    } finally {
      void sqlite.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lastAutoIncrement names the last number handed out, rows deleted or not, on both dialects', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-dialect-'));
    const sqlite = openDatabase({ kind: 'sqlite', file: path.join(dir, 'app.db') });
    try {
      for (const each of [db, sqlite]) {
        if (each === sqlite) await migrateToLatest(sqlite);
        const before = await lastAutoIncrement(each, 'pending_signals', 'id');
        for (let i = 0; i < 2; i++) {
          await each.insertInto('pending_signals').values({ workflow_id: 'partner-P2', signal: 'revoke', args: '[]', created_at: new Date().toISOString(), attempts: 0 }).execute();
        }
        await each.deleteFrom('pending_signals').execute();
        expect(await lastAutoIncrement(each, 'pending_signals', 'id')).toBe(before + 2);
      }
    } finally {
      await sqlite.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('appends one unforked audit chain from many concurrent writers in two processes', async () => {
    // two pools = two API/worker processes, each with several connections writing at once
    const processes = [openDatabase({ kind: 'postgres', url }, { poolSize: 8 }), openDatabase({ kind: 'postgres', url }, { poolSize: 8 })];
    opened.push(...processes);
    const perProcess = 60;
    const at = new Date().toISOString();
    const appends = processes.flatMap((each, p) =>
      Array.from({ length: perProcess }, (_, i) =>
        each.transaction().execute((trx) =>
          appendAudit(trx, { eventKey: `concurrent-${p}-${i}`, at, actor: `system:test-${p}`, action: 'test.appended', partnerId: `P${i % 7}`, details: { p, i } }),
        ),
      ),
    );
    // the same step recorded by both processes at once (an activity retried elsewhere): written once
    const duplicates = processes.map((each) =>
      each.transaction().execute((trx) => appendAudit(trx, { eventKey: 'the-same-step', at, actor: 'system:test', action: 'test.once', partnerId: null })),
    );
    const results = await Promise.all([...appends, ...duplicates]);
    expect(results.slice(0, appends.length).every(Boolean)).toBe(true);
    expect(results.slice(appends.length).filter(Boolean)).toHaveLength(1);

    const total = 2 * perProcess + 1;
    const verification = await verifyAuditChain(db);
    expect(verification).toEqual({ ok: true, events: total, headSeq: total });
    const seqs = await db.selectFrom('audit_events').select('seq').orderBy('seq').execute();
    expect(seqs.map((r) => r.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });

  it('refuses UPDATE, DELETE and TRUNCATE on audit_events in the database itself', async () => {
    const before = await verifyAuditChain(db);
    expect(before.events).toBeGreaterThan(0);
    await expect(db.updateTable('audit_events').set({ reason: 'edited' }).where('seq', '=', 1).execute()).rejects.toThrow(/append-only/);
    await expect(db.deleteFrom('audit_events').where('seq', '=', 1).execute()).rejects.toThrow(/append-only/);
    await expect(sql`truncate audit_events`.execute(db)).rejects.toThrow(/append-only/);
    expect(await verifyAuditChain(db)).toEqual(before);
  });
});

describe('the gateways\' change feed on Postgres', () => {
  let url: string;
  let db: Db;
  beforeAll(async () => {
    url = await createTestDatabase(inject('postgresUrl'));
    db = openDatabase({ kind: 'postgres', url });
    await migrateToLatest(db);
    const at = new Date().toISOString();
    await db.insertInto('partners').values(partnerRow('P1', at)).execute();
    for (const keyId of ['K1', 'K2']) await db.insertInto('credentials').values({ ...credentialRow(keyId, 'P1', at), version: Number(keyId.slice(1)) }).execute();
  });
  afterAll(async () => {
    await db?.destroy();
    if (url) await dropTestDatabase(url);
  });

  it('records what changes a verdict, as the SQLite triggers do', async () => {
    await db.updateTable('credentials').set({ last_used_at: new Date().toISOString() }).where('key_id', '=', 'K1').execute();
    await db.updateTable('credentials').set({ status: 'revoked' }).where('key_id', '=', 'K1').execute();
    await db.updateTable('partners').set({ state: 'suspended' }).where('id', '=', 'P1').execute();
    await db.updateTable('partners').set({ state: 'suspended' }).where('id', '=', 'P1').execute();
    const rows = await db.selectFrom('gateway_changes').select(['seq', 'partner_id', 'key_id', 'kind', 'at']).orderBy('seq').execute();
    expect(rows.map((r) => [r.seq, r.key_id, r.kind])).toEqual([
      [1, 'K1', 'credential.created'],
      [2, 'K2', 'credential.created'],
      [3, 'K1', 'credential.status'],
      [4, null, 'partner.state'],
    ]);
    expect(rows[3]!.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('hands out seq in commit order: a second writer waits for the first to commit', async () => {
    let releaseFirst!: () => void;
    const firstMayCommit = new Promise<void>((resolve) => (releaseFirst = resolve));
    let firstWrote!: () => void;
    const firstHasWritten = new Promise<void>((resolve) => (firstWrote = resolve));
    const order: string[] = [];
    const first = db.transaction().execute(async (trx) => {
      await trx.updateTable('credentials').set({ status: 'revoked' }).where('key_id', '=', 'K2').execute();
      firstWrote();
      await firstMayCommit;
      order.push('first commits');
    });
    await firstHasWritten;
    const second = db.transaction().execute(async (trx) => {
      await trx.updateTable('partners').set({ state: 'active' }).where('id', '=', 'P1').execute();
      order.push('second wrote');
    });
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(order).toEqual([]);
    } finally {
      // on failure too: an open transaction would hold its connection past the test
      releaseFirst();
      await Promise.all([first, second]);
    }
    expect(order).toEqual(['first commits', 'second wrote']);
    const last = await db.selectFrom('gateway_changes').select(['seq', 'kind']).where('seq', '>', 4).orderBy('seq').execute();
    expect(last).toEqual([
      { seq: 5, kind: 'credential.status' },
      { seq: 6, kind: 'partner.state' },
    ]);
  });

  it('a gateway starting while a change is uncommitted gets its cursor only once that change is committed, never past it', async () => {
    let release!: () => void;
    const mayCommit = new Promise<void>((resolve) => (release = resolve));
    let wrote!: () => void;
    const hasWritten = new Promise<void>((resolve) => (wrote = resolve));
    const revocation = db.transaction().execute(async (trx) => {
      await trx.updateTable('partners').set({ state: 'revoked' }).where('id', '=', 'P1').execute();
      wrote();
      await mayCommit;
    });
    await hasWritten;
    let answered = false;
    const start = gatewayChangesAfter(db, undefined).then((page) => ((answered = true), page));
    try {
      // the sequence already names the uncommitted change: a cursor now would skip it
      await new Promise((r) => setTimeout(r, 300));
      expect(answered).toBe(false);
    } finally {
      release();
      await revocation;
    }
    const page = await start;
    const committed = await db.selectFrom('gateway_changes').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirstOrThrow();
    expect(page.cursor).toBe(Number(committed.seq));
    expect((await db.selectFrom('partners').select('state').where('id', '=', 'P1').executeTakeFirstOrThrow()).state).toBe('revoked');
  });
});

describe('one write-order lock on Postgres', () => {
  let url: string;
  let db: Db;
  beforeAll(async () => {
    url = await createTestDatabase(inject('postgresUrl'));
    db = openDatabase({ kind: 'postgres', url });
    await migrateToLatest(db);
  });
  afterAll(async () => {
    await db?.destroy();
    if (url) await dropTestDatabase(url);
  });

  it('an audit append and a feed write taken in opposite orders by two transactions do not deadlock', async () => {
    const at = new Date().toISOString();
    await db.insertInto('partners').values(partnerRow('PA', at)).execute();
    await db.insertInto('partners').values(partnerRow('PB', at)).execute();
    await db.insertInto('credentials').values(credentialRow('KB', 'PB', at)).execute();
    let headLocked!: () => void;
    const firstHoldsHead = new Promise<void>((resolve) => (headLocked = resolve));
    // a transition: audit event first, then the partner's state (a feed write)
    const transition = db.transaction().execute(async (trx) => {
      await appendAudit(trx, { eventKey: 'PA:t1', at, actor: 'system:test', action: 'partner.suspended', partnerId: 'PA' });
      headLocked();
      await new Promise((r) => setTimeout(r, 300));
      await trx.updateTable('partners').set({ state: 'suspended' }).where('id', '=', 'PA').execute();
    });
    await firstHoldsHead;
    // an emergency revocation: keys first (a feed write), then its audit event
    const revocation = db.transaction().execute(async (trx) => {
      await trx.updateTable('credentials').set({ status: 'revoked' }).where('partner_id', '=', 'PB').execute();
      await appendAudit(trx, { eventKey: 'PB:revoked', at, actor: 'operator:sam', action: 'partner.revoked', partnerId: 'PB' });
    });
    await Promise.all([transition, revocation]);
    expect(await verifyAuditChain(db)).toEqual({ ok: true, events: 2, headSeq: 2 });
    const feed = await db.selectFrom('gateway_changes').select(['partner_id', 'kind']).where('kind', '!=', 'credential.created').orderBy('seq').execute();
    expect(feed).toEqual([
      { partner_id: 'PA', kind: 'partner.state' },
      { partner_id: 'PB', kind: 'credential.status' },
    ]);
  });
});

describe('usage flushed by two API processes on Postgres', () => {
  let url: string;
  let pools: Db[] = [];
  beforeAll(async () => {
    url = await createTestDatabase(inject('postgresUrl'));
    pools = [openDatabase({ kind: 'postgres', url }), openDatabase({ kind: 'postgres', url })];
    await migrateToLatest(pools[0]!);
    const at = new Date().toISOString();
    await pools[0]!.insertInto('partners').values(partnerRow('PU', at)).execute();
    for (let i = 0; i < 40; i++) await pools[0]!.insertInto('credentials').values({ ...credentialRow(`U${i}`, 'PU', at), version: i + 1 }).execute();
  });
  afterAll(async () => {
    for (const pool of pools) await pool.destroy();
    if (url) await dropTestDatabase(url);
  });

  it('batches over the same keys in different orders neither deadlock nor lose a count', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `U${i}`);
    const batch = (order: string[], at: string) => ({
      lastUsed: new Map(order.map((k) => [k, at] as const)),
      counts: order.map((keyId) => ({ keyId, scope: 'orders:read', day: at.slice(0, 10), count: 1 })),
    });
    for (let round = 0; round < 10; round++) {
      const at = new Date(Date.now() + round).toISOString();
      // each process orders its batch by first use: here one ascending, the other descending
      await Promise.all([writeUsage(pools[0]!, batch(keys, at)), writeUsage(pools[1]!, batch([...keys].reverse(), at))]);
    }
    const total = await pools[0]!.selectFrom('usage_counters').select((eb) => eb.fn.sum<number>('count').as('n')).executeTakeFirstOrThrow();
    expect(Number(total.n)).toBe(40 * 2 * 10);
  });
});

function partnerRow(id: string, at: string) {
  return {
    id, name: 'Acme', contact_email: 'dev@acme.example', sponsor: 'alice', requested_by: 'anonymous', environment: 'sandbox',
    scopes: '["orders:read"]', justification: 'test', state: 'active', stage: null, escalated: 0, access_until: at,
    next_deadline_at: null, next_deadline_action: null, policy_version: 'v', rate_limit_tier: 'standard', request_token_hash: `h-${id}`,
    recert_cycle: 0, last_certified_at: null, pending_extension: null, planned_offboarding: null, end_reason: null, ended_at: null,
    transition_seq: 0, created_at: at, updated_at: at,
  } as const;
}

function credentialRow(keyId: string, partnerId: string, at: string) {
  return { key_id: keyId, partner_id: partnerId, version: 1, hash: `hash-${keyId}`, prefix: 'pak_test_', environment: 'sandbox', status: 'active', created_at: at, expires_at: at } as const;
}

describe('a Postgres that goes away at run time', () => {
  it('is a 503 with Retry-After on the API, never a 500; back when the server is', async () => {
    // a server of this test's own: it is stopped under a running app
    const server = await startPostgres();
    const url = await createTestDatabase(server.url);
    const logLines: string[] = [];
    const logger = createLogger('info', new Writable({ write: (chunk, _enc, done) => (logLines.push(String(chunk)), done()) }));
    const local = await startLocalStack({ name: 'pa-pg-gone-', temporalAddress: inject('temporalAddress'), logger, database: { kind: 'postgres', url } });
    try {
      const app = createApp(local.appDeps());
      const token = await local.operator('auditor', ['auditor']);
      const list = () => app.request('/v1/partners', { headers: { authorization: `Bearer ${token}` } });
      expect((await list()).status).toBe(200);

      // a query in flight on a connection in use when the server goes: its own error, no crash of the process
      const inFlight = sql`select pg_sleep(30)`.execute(local.db).then(
        () => undefined,
        (err: unknown) => err,
      );
      await new Promise((r) => setTimeout(r, 200));
      server.pause();
      expect(isTransientDatabaseError(await inFlight)).toBe(true);
      for (let i = 0; i < 3; i++) {
        const gone = await list();
        expect(gone.status, await gone.clone().text()).toBe(503);
        expect(gone.headers.get('retry-after')).toBe('1');
        expect(((await gone.json()) as { detail: string }).detail).toMatch(/retry shortly/);
      }
      expect(logLines.join('')).not.toMatch(/unhandled error/);

      server.resume();
      await eventually(async () => (await list()).status === 200, 20_000);
    } finally {
      await local.stop();
      await server.stop();
    }
  });
});

describe('a Postgres that cannot be used at start-up', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-pg-start-'));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  /** `npm run migrate` (the start path every process shares) with this DATABASE_URL */
  function migrate(databaseUrl: string, env: Record<string, string> = {}) {
    const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'scripts', 'migrate.ts')], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: databaseUrl, DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { status: result.status, stderr: result.stderr.trim(), stdout: result.stdout.trim() };
  }

  it('is one line naming DATABASE_URL and the cause, exit 1, password hidden: closed port', () => {
    // a port nothing listens on: the run's server's port + 1 was free when it started, but may not be now; port 1 is privileged
    const result = migrate('postgres://pa:s3cret@127.0.0.1:1/pa');
    expect(result.status).toBe(1);
    expect(result.stderr.split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^partner-access: DATABASE_URL=postgres:\/\/pa:\*\*\*@127\.0\.0\.1:1\/pa: cannot use the database: .*ECONNREFUSED/);
    expect(result.stderr).not.toContain('s3cret');
  });

  it('is one line naming DATABASE_URL and the cause: a database that does not exist on a live server', () => {
    const server = new URL(inject('postgresUrl'));
    server.pathname = '/no_such_database';
    const result = migrate(server.toString());
    expect(result.status).toBe(1);
    expect(result.stderr.split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('DATABASE_URL=');
    expect(result.stderr).toContain('database "no_such_database" does not exist');
  });

  it('is one line naming DATABASE_URL and the cause: TLS required (sslmode, or PGSSLMODE) from a server without it', () => {
    const server = new URL(inject('postgresUrl'));
    server.searchParams.set('sslmode', 'require');
    for (const result of [migrate(server.toString()), migrate(inject('postgresUrl'), { PGSSLMODE: 'require' })]) {
      expect(result.status).toBe(1);
      // one line: no warning of pg's about what `require` means either
      expect(result.stderr.split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/^partner-access: DATABASE_URL=postgres:.*: cannot use the database: The server does not support SSL connections$/);
    }
  });

  it('migrates a reachable one and says so', async () => {
    const fresh = await createTestDatabase(inject('postgresUrl'));
    try {
      const first = migrate(fresh);
      expect(first.status, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/^applied: 2026_11_23_001_initial/);
      const again = migrate(fresh);
      expect(again.stdout).toBe(`up to date (${fresh})`);
    } finally {
      await dropTestDatabase(fresh);
    }
  });
});

describe('a key\'s verdict row on Postgres', () => {
  let url: string;
  let db: Db;
  const at = new Date().toISOString();
  beforeAll(async () => {
    url = await createTestDatabase(inject('postgresUrl'));
    db = openDatabase({ kind: 'postgres', url });
    await migrateToLatest(db);
    await db.insertInto('partners').values(partnerRow('PV', at)).execute();
    for (let i = 0; i < 30; i++) await db.insertInto('credentials').values({ ...credentialRow(`V${i}`, 'PV', at), version: i + 1 }).execute();
  });
  afterAll(async () => {
    await db?.destroy();
    if (url) await dropTestDatabase(url);
  });

  /** The database as the API opens it, with each read's result held until the test lets it through. */
  function observedDatabase() {
    const reads: { keys: string[]; release: () => void }[] = [];
    let hold = false;
    const observed = db.withPlugin({
      transformQuery: (args) => args.node,
      transformResult: async (args) => {
        const gate = new Promise<void>((release) => reads.push({ keys: args.result.rows.map((r) => String(r.key_id)), release }));
        if (hold) await gate;
        return args.result;
      },
    });
    return { observed, reads, holdReads: (on: boolean) => (hold = on) };
  }

  it('concurrent questions share reads, and each gets its own key\'s row (or none)', async () => {
    const { observed, reads } = observedDatabase();
    const asked = [...Array.from({ length: 30 }, (_, i) => `V${i}`), 'V3', 'V7', 'nobody', 'V29'];
    const rows = await Promise.all(asked.map((keyId) => credentialForVerdict(observed, keyId)));
    // the first question is read at once; the other 33, asked while it was in flight, in one read after it
    expect(reads).toHaveLength(2);
    rows.forEach((row, i) => {
      if (asked[i] === 'nobody') expect(row).toBeUndefined();
      else expect(row).toMatchObject({ hash: `hash-${asked[i]}`, status: 'active', partner_id: 'PV', state: 'active' });
    });
  });

  it('a question asked after a commit sees it, even while a read that started before the commit is in flight', async () => {
    const { observed, reads, holdReads } = observedDatabase();
    holdReads(true);
    const before = credentialForVerdict(observed, 'V5');
    await eventually(async () => reads.length === 1); // read before the revocation, its answer held
    await db.updateTable('credentials').set({ status: 'revoked' }).where('key_id', '=', 'V5').execute();
    const after = credentialForVerdict(observed, 'V5');
    holdReads(false);
    reads[0]!.release();
    expect((await before)?.status).toBe('active');
    expect((await after)?.status).toBe('revoked');
    expect(reads).toHaveLength(2);
  });
});
