/**
 * Workflow interceptors every partner-access worker runs (bundled with the workflow code: see
 * `workflowInterceptorModules` in worker.ts).
 *
 * Commands nobody can forge at Temporal: the payload codec (runtime/payload-codec.ts) decodes any
 * payload that is not authentically ours — plaintext sent with the Temporal CLI, another key,
 * altered bytes, a ciphertext copied from another partner's history — to an object carrying
 * `unauthenticatedMarker` instead of failing (a codec error fails the workflow task, which
 * Temporal retries forever: the partner would be wedged). Here such an input is refused:
 * - an Update: rejected in validation, so it is never accepted and leaves nothing in history;
 * - a signal: dropped (a signal cannot be refused; throwing would fail the task, again forever);
 * - a query: answered with an error;
 * - a start: the run fails at once, before any activity.
 */
import { ApplicationFailure, log, type WorkflowInterceptors } from '@temporalio/workflow';
import type { Next, QueryInput, SignalInput, UpdateInput, WorkflowExecuteInput, WorkflowInboundCallsInterceptor } from '@temporalio/workflow';

/** The key of the object a quarantined payload decodes to. */
export const unauthenticatedMarker = '$partnerAccessUnauthenticatedPayload';

/** The failure type a refused command carries (api/temporal-errors.ts maps unknown types to 5xx: the API never sends one). */
const unauthenticatedCommandType = 'UnauthenticatedCommand';

const isQuarantined = (arg: unknown): boolean => typeof arg === 'object' && arg !== null && unauthenticatedMarker in arg;

/**
 * Every start, Update and signal of ours carries one authenticated argument: one without any
 * (the CLI without --input) never went through the codec, and is refused like a forged one.
 */
function refusal(what: string, args: unknown[], argumentRequired = true): ApplicationFailure | undefined {
  const bad = args.find(isQuarantined) as Record<string, unknown> | undefined;
  const why = bad ? String(bad[unauthenticatedMarker]) : argumentRequired && args.length === 0 ? 'no payload' : undefined;
  if (!why) return undefined;
  return ApplicationFailure.nonRetryable(`${what} refused: its payload is not authenticated (${why})`, unauthenticatedCommandType);
}

class CommandAuthentication implements WorkflowInboundCallsInterceptor {
  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const failure = refusal('workflow start', input.args as unknown[]);
    if (failure) throw failure;
    return next(input);
  }

  validateUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'validateUpdate'>): void {
    const failure = refusal(`update ${input.name}`, input.args as unknown[]);
    if (failure) {
      log.warn('forged or unreadable update refused', { update: input.name });
      throw failure;
    }
    next(input);
  }

  async handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    // every update of ours has a validator; this holds for one that does not (or a replay of one)
    const failure = refusal(`update ${input.name}`, input.args as unknown[]);
    if (failure) throw failure;
    return next(input);
  }

  async handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>): Promise<void> {
    if (refusal(`signal ${input.signalName}`, input.args as unknown[])) {
      log.warn('forged or unreadable signal dropped', { signal: input.signalName });
      return;
    }
    return next(input);
  }

  async handleQuery(input: QueryInput, next: Next<WorkflowInboundCallsInterceptor, 'handleQuery'>): Promise<unknown> {
    const failure = refusal(`query ${input.queryName}`, input.args as unknown[], false); // our query takes no argument
    if (failure) throw failure;
    return next(input);
  }
}

export const interceptors = (): WorkflowInterceptors => ({
  // first: a quarantined command must be refused before any other interceptor sees it
  inbound: [new CommandAuthentication()],
});
