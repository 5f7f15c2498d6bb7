/**
 * `npm start`: the whole product on one machine. Without TEMPORAL_ADDRESS it runs a local Temporal
 * dev server persisted under the data dir; then migrations, the worker and the API.
 */
import { assertPortFree, startDevServer, type DevServer } from '../runtime/dev-server.js';
import { bootData, main, onShutdown } from '../runtime/boot.js';
import { ensureFirstAdmin } from '../runtime/operators.js';
import { runApiProcess, runWorkerProcess } from '../runtime/processes.js';
import { createLogger, loadPayloadKeyring } from '../runtime/services.js';
import { startCodecServer, type CodecServer } from '../runtime/codec-server.js';
import { resolveTemporalCli } from '../runtime/temporal-cli.js';
import { temporalTarget, waitForTemporal } from '../runtime/temporal.js';

await main(async () => {
  const { config, db } = await bootData();
  const logger = createLogger(config.logLevel);
  await assertPortFree(config.port, config.host, 'API, PORT');

  let devServer: DevServer | undefined;
  let codecServer: CodecServer | undefined;
  if (!config.temporal.address) {
    const cli = resolveTemporalCli({ explicitPath: config.temporal.cliPath, autoInstall: true });
    await assertPortFree(config.temporal.devPort, '127.0.0.1', 'Temporal dev server, TEMPORAL_DEV_PORT');
    await assertPortFree(config.temporal.uiPort, '127.0.0.1', 'Temporal Web UI, TEMPORAL_UI_PORT');
    await assertPortFree(config.temporal.codecPort, '127.0.0.1', 'Web UI codec endpoint, TEMPORAL_UI_CODEC_PORT');
    // the UI shows decrypted payloads to the local operator; history stays ciphertext
    codecServer = await startCodecServer(loadPayloadKeyring(config), config.temporal.codecPort, [`http://127.0.0.1:${config.temporal.uiPort}`, `http://localhost:${config.temporal.uiPort}`]);
    devServer = startDevServer({
      cli,
      dbFile: config.temporal.devDbFile,
      port: config.temporal.devPort,
      uiPort: config.temporal.uiPort,
      namespace: config.temporal.namespace,
      codecEndpoint: codecServer.url,
    });
  }
  const target = temporalTarget(config);
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await devServer?.stop();
    await codecServer?.close();
    await db.destroy();
  };
  onShutdown(stopAll);
  try {
    await waitForTemporal(target, 30_000);
    const worker = await runWorkerProcess(config, target, db, logger);
    stops.push(worker.stop);
    const api = await runApiProcess(config, target, db, logger);
    stops.push(api.stop);

    const adminToken = await ensureFirstAdmin(db, config.adminToken);
    if (adminToken) {
      process.stdout.write(`First admin operator created. Its token is shown once: ${adminToken}\n`);
    }
    process.stdout.write(`API:              ${api.url}  (docs ${api.url}/docs)\n`);
    process.stdout.write(`Portal / console: ${api.url}/portal  ${api.url}/console\n`);
    if (devServer) process.stdout.write(`Temporal UI:      ${devServer.uiUrl}  (payloads decrypted by ${codecServer?.url})\n`);
    process.stdout.write(`Temporal address: ${target.address} (namespace ${target.namespace})\n`);
  } catch (err) {
    await stopAll();
    throw err;
  }
});
