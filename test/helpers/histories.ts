import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
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
 */
export function historyText(history: temporal.api.history.v1.IHistory): string {
  const text = (data: Uint8Array | string) => (typeof data === 'string' ? Buffer.from(data, 'base64') : Buffer.from(data)).toString('utf8');
  return JSON.stringify(history, (_key, value) => {
    if (value && typeof value === 'object' && 'metadata' in value && 'data' in value) {
      const data: unknown = value.data;
      if (data instanceof Uint8Array || typeof data === 'string') return { ...value, data: text(data) };
    }
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    return value;
  });
}
