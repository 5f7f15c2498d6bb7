/**
 * The API request id, carried from the HTTP request into the workflow's and its activities' logs
 * (bundled with the workflow code: see `workflowInterceptorModules` in worker.ts). The API's
 * Temporal client puts it in the `requestId` header of a start, Update or signal
 * (runtime/request-context.ts); here the latest one received is added to every workflow log line
 * and to the header of every activity scheduled after it, where the worker adds it to the
 * activity's log lines. Headers are part of history, so a replay sees the same ids.
 */
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { isRequestId } from '../domain/request-id.js';
import type {
  ActivityInput,
  GetLogAttributesInput,
  LocalActivityInput,
  Next,
  SignalInput,
  UpdateInput,
  WorkflowExecuteInput,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptors,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

export const requestIdHeader = 'requestId';

/** A request id read back from a header: the API's format only (anyone can write a header). */
export function requestIdFrom(headers: Record<string, Payload> | undefined): string | undefined {
  const payload = headers?.[requestIdHeader];
  if (!payload) return undefined;
  try {
    const value: unknown = defaultPayloadConverter.fromPayload(payload);
    return isRequestId(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

class RequestContext implements WorkflowInboundCallsInterceptor, WorkflowOutboundCallsInterceptor {
  private requestId: string | undefined;

  private seen(headers: Record<string, Payload>): void {
    this.requestId = requestIdFrom(headers) ?? this.requestId;
  }

  private withHeader<T extends { headers: Record<string, Payload> }>(input: T): T {
    if (!this.requestId) return input;
    return { ...input, headers: { ...input.headers, [requestIdHeader]: defaultPayloadConverter.toPayload(this.requestId) } };
  }

  execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    this.seen(input.headers);
    return next(input);
  }

  handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    this.seen(input.headers);
    return next(input);
  }

  handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>): Promise<void> {
    this.seen(input.headers);
    return next(input);
  }

  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>): Promise<unknown> {
    return next(this.withHeader(input));
  }

  scheduleLocalActivity(input: LocalActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>): Promise<unknown> {
    return next(this.withHeader(input));
  }

  getLogAttributes(input: GetLogAttributesInput, next: Next<WorkflowOutboundCallsInterceptor, 'getLogAttributes'>): Record<string, unknown> {
    return next(this.requestId ? { ...input, requestId: this.requestId } : input);
  }
}

export const interceptors = (): WorkflowInterceptors => {
  const context = new RequestContext();
  return { inbound: [context], outbound: [context] };
};
