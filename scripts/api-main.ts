/** `npm run api`: the HTTP API alone, against an existing Temporal cluster and database. */
import { bootData, main, onShutdown } from '../runtime/boot.js';
import { ensureFirstAdmin } from '../runtime/operators.js';
import { runApiProcess } from '../runtime/processes.js';
import { createLogger } from '../runtime/services.js';
import { temporalTarget } from '../runtime/temporal.js';

await main(async () => {
  const { config, db } = await bootData();
  const api = await runApiProcess(config, temporalTarget(config), db, createLogger(config.logLevel));
  const adminToken = await ensureFirstAdmin(db, config.adminToken);
  if (adminToken) process.stdout.write(`First admin operator created. Its token is shown once: ${adminToken}\n`);
  process.stdout.write(`API: ${api.url}\n`);
  onShutdown(async () => {
    await api.stop();
    await db.destroy();
  });
});
