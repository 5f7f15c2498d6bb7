/** `npm run migrate`: brings the database to the latest migration. */
import { bootData, main } from '../runtime/boot.js';

await main(async () => {
  const { config, db, applied } = await bootData();
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : `up to date (${config.database.file})\n`);
  await db.destroy();
});
