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

/** The history as text, payloads decoded: what a secret scan must search. */
export function historyText(history: temporal.api.history.v1.IHistory): string {
  return JSON.stringify(history, (_key, value) => {
    if (value && typeof value === 'object' && 'data' in value && value.data instanceof Uint8Array) {
      return { ...value, data: Buffer.from(value.data).toString('utf8') };
    }
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    return value;
  });
}
