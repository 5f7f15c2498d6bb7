/** `npm run worker`: the worker role alone, against an existing Temporal cluster and database. */
import { bootData, main, onShutdown } from '../runtime/boot.js';
import { runWorkerProcess } from '../runtime/processes.js';
import { createLogger } from '../runtime/services.js';
import { temporalTarget } from '../runtime/temporal.js';

await main(async () => {
  const { config, db } = await bootData();
  const worker = await runWorkerProcess(config, temporalTarget(config), db, createLogger(config.logLevel));
  onShutdown(async () => {
    await worker.stop();
    await db.destroy();
  });
});
