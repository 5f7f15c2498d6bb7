import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';
import type { AppConfig } from '../config/env.js';
import { payloadDataConverter, type PayloadKeyring } from './payload-codec.js';
import { requestIdClientInterceptor } from './request-context.js';
import { tracingClientInterceptors, type Tracing } from './tracing.js';

export interface TemporalTarget {
  address: string;
  namespace: string;
  /** TLS / API key / metadata from Temporal's standard variables and profiles */
  options: Omit<ReturnType<typeof loadClientConnectConfig>['connectionOptions'], 'address'>;
}

/**
 * Where Temporal is: the embedded dev server when TEMPORAL_ADDRESS is unset, otherwise the cluster
 * described by Temporal's standard environment variables (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE).
 */
export function temporalTarget(config: AppConfig): TemporalTarget {
  if (!config.temporal.address) {
    return { address: `127.0.0.1:${config.temporal.devPort}`, namespace: config.temporal.namespace, options: {} };
  }
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const { address, ...options } = connectionOptions;
  return { address: address ?? config.temporal.address, namespace: namespace ?? config.temporal.namespace, options };
}

/** A client whose payloads go through the deployment's codec: what it sends is encrypted and authenticated. */
export async function connectClient(target: TemporalTarget, keyring: PayloadKeyring, tracing?: Tracing): Promise<{ connection: Connection; client: Client }> {
  const connection = await Connection.connect({ address: target.address, ...(target.options as object) });
  const client = new Client({
    connection,
    namespace: target.namespace,
    dataConverter: payloadDataConverter(keyring),
    // the request id in every start, Update and signal; with tracing, the client's spans
    interceptors: { workflow: [requestIdClientInterceptor, ...tracingClientInterceptors(tracing)] },
  });
  return { connection, client };
}

export async function connectWorkerConnection(target: TemporalTarget): Promise<NativeConnection> {
  return NativeConnection.connect({ address: target.address, ...target.options });
}

/** Retries until the server answers (a dev server takes a few seconds to open its port). */
export async function waitForTemporal(target: TemporalTarget, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const connection = await Connection.connect({ address: target.address, ...(target.options as object) });
      await connection.healthService.check({});
      await connection.close();
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`Temporal at ${target.address} did not answer within ${timeoutMs} ms: ${(lastError as Error)?.message}`);
}
