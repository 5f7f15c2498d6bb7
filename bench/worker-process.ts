/**
 * The worker under benchmark, as its own process (so its RSS is its own and it can be stopped):
 * the same role `npm run worker` runs, plus a `stats` message answering process.memoryUsage() and
 * the SQLite commits it made (groups and the transactions in them).
 */
import { bootData } from '../runtime/boot.js';
import { sqliteCommitStats } from '../schema/db.js';
import { runWorkerProcess } from '../runtime/processes.js';
import { createLogger } from '../runtime/services.js';
import { temporalTarget } from '../runtime/temporal.js';

const { config, db } = await bootData();
const worker = await runWorkerProcess(config, temporalTarget(config), db, createLogger('warn'));
process.on('message', (message) => {
  if (message === 'stats') process.send?.({ memory: process.memoryUsage(), commits: sqliteCommitStats(db) });
});
process.on('SIGTERM', () => {
  void worker.stop().then(() => db.destroy()).then(() => process.exit(0));
});
process.send?.('ready');
