/** `npm run migrate`: brings the database to the latest migration. */
import { bootData, main } from '../runtime/boot.js';
import { describeDatabase } from '../schema/db.js';

await main(async () => {
  const { config, db, applied } = await bootData();
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : `up to date (${describeDatabase(config.database)})\n`);
  await db.destroy();
});
