import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The integration suite again with every test stack on Postgres (issue #13): each stack gets a
 * database of its own on the run's throwaway Postgres server (TEST_DATABASE=postgres,
 * test/helpers/stack.ts). `npm test` runs it after the SQLite run. Left out, each for its reason:
 */
const sqliteOnly = [
  // they are about SQLite itself: its file modes, its write lock, its file as a second process sees it
  'test/integration/sqlite-locking.test.ts',
  'test/integration/audit-verify.test.ts', // a second SQLite connection appending while verify reads (postgres.test.ts has the Postgres version)
  'test/integration/introspection.test.ts', // opens the stack's SQLite file from a second connection
  'test/integration/hardening.test.ts', // file modes of app.db, -wal, -shm; the embedded npm migrate
  'test/integration/processes.test.ts', // npm start: the embedded stack, SQLite by design
  'test/integration/durability.test.ts', // scans the SQLite file for secrets; the replays are dialect-free
  'test/integration/audit-checkpoints.test.ts', // the attacker drops SQLite's append-only triggers by name
  'test/integration/races.test.ts', // one race holds SQLite's write lock from another connection
  // they run on Postgres already, in both runs
  'test/integration/postgres.test.ts',
  'test/integration/scale-out.test.ts',
  'test/integration/shared-rate-limits.test.ts',
];

// Spread, not mergeConfig: mergeConfig concatenates `include`, which would run the unit tests again.
export default defineConfig({
  test: {
    ...base.test,
    include: ['test/integration/**/*.test.ts'],
    exclude: sqliteOnly,
    env: { TEST_DATABASE: 'postgres' },
  },
});
