import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { decryptPayload, type PayloadKeyring } from '../../runtime/payload-codec.js';
import { workflowIdFor } from '../../workflows/messages.js';

/** Every run of a partner's workflow, first to last, following the continue-as-new chain. */
export async function historiesOf(client: Client, partnerId: string, firstRunId: string) {
  const runs: { runId: string; history: temporal.api.history.v1.IHistory }[] = [];
  let runId: string | undefined = firstRunId;
  while (runId) {
    const history = await client.workflow.getHandle(workflowIdFor(partnerId), runId).fetchHistory();
    runs.push({ runId, history });
    const last = history.events?.at(-1);
    runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return runs;
}

/**
 * The history as text, payloads decoded: what a secret scan must search. A payload's `data` comes
 * back from `fetchHistory()` as base64 text (the history's JSON form), or as bytes from a decoded
 * protobuf: both are turned into the text they carry, or a scan would search base64 and find nothing.
 * With the stack's `keyring`, encrypted payloads are decrypted first (runtime/payload-codec.ts):
 * a scan of ciphertext would find nothing either.
 */
export function historyText(history: temporal.api.history.v1.IHistory, keyring?: PayloadKeyring): string {
  const bytes = (data: Uint8Array | string) => (typeof data === 'string' ? new Uint8Array(Buffer.from(data, 'base64')) : data);
  const asBytes = (metadata: Record<string, Uint8Array | string>) => Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, bytes(v)]));
  return JSON.stringify(history, (_key, value) => {
    if (value && typeof value === 'object' && 'metadata' in value && 'data' in value) {
      const data: unknown = value.data;
      if (data instanceof Uint8Array || typeof data === 'string') {
        const payload = keyring ? decryptPayload(keyring, { metadata: asBytes(value.metadata ?? {}), data: bytes(data) }) : { data: bytes(data) };
        return { ...value, data: Buffer.from(payload.data ?? []).toString('utf8') };
      }
    }
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    return value;
  });
}

/** The local activities a history ran, in order, by type (from core's markers, which are not encoded). */
export function localActivitiesOf(history: temporal.api.history.v1.IHistory): string[] {
  return (history.events ?? []).flatMap((e) => {
    const marker = e.markerRecordedEventAttributes;
    const data = marker?.markerName === 'core_local_activity' ? marker.details?.data?.payloads?.[0]?.data : undefined;
    if (!data) return [];
    const text = typeof data === 'string' ? Buffer.from(data, 'base64').toString('utf8') : Buffer.from(data).toString('utf8');
    return [(JSON.parse(text) as { activity_type: string }).activity_type];
  });
}
