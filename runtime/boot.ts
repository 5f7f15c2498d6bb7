import { ConfigError, loadConfig, type AppConfig } from '../config/env.js';
import { loadPolicyFile, PolicyError } from '../config/policy.js';
import { loadGatewayRoutes } from '../config/gateway-routes.js';
import { connectDatabase, migrateToLatest, type Db } from '../schema/db.js';
import { OperatorError } from './operators.js';
import { PortInUse } from './dev-server.js';
import { warnIfOpenDir } from './private-files.js';
import { TemporalCliMissing } from './temporal-cli.js';
import { NginxMissing } from './gateway.js';
import { PayloadKeysError } from '../domain/payload-keys.js';

/** Errors a person can fix: printed as one line, exit code 1, no stack trace. */
const expected = [ConfigError, PolicyError, TemporalCliMissing, PortInUse, OperatorError, NginxMissing, PayloadKeysError];

export async function main(run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    const known = expected.some((E) => err instanceof E);
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`partner-access: ${known ? message : `failed: ${message}`}\n`);
    if (!known && process.env.LOG_LEVEL === 'debug') console.error(err);
    process.exit(1);
  }
}

/** Configuration, policy check and database at the latest migration: what every role needs first. */
export async function bootData(): Promise<{ config: AppConfig; db: Db; applied: string[] }> {
  const config = loadConfig();
  loadPolicyFile(config.policyFile);
  try {
    loadGatewayRoutes(config.gatewayRoutesFile);
  } catch (err) {
    throw new PolicyError(`invalid gateway routes file ${config.gatewayRoutesFile}: ${(err as Error).message.split('\n')[0]}`);
  }
  warnIfOpenDir(config.dataDir);
  // an unreachable or misconfigured database stops the process here, with one line (DatabaseUnavailable)
  const db = await connectDatabase(config.database);
  const applied = await migrateToLatest(db);
  return { config, db, applied };
}

/** Runs `stop` once on SIGINT/SIGTERM, then exits. */
export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`partner-access: ${signal}, shutting down…\n`);
    stop().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`partner-access: shutdown error: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
