import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../workflows/messages.js';
import { Problem, problems } from './problem.js';

const byType: Record<string, (message: string) => Problem> = {
  [FailureTypes.notAllowedInState]: problems.conflict,
  [FailureTypes.alreadyDecided]: problems.conflict,
  // the grant's state against today's policy, not the request's form: narrow, or have security keep it
  [FailureTypes.policyDrift]: problems.conflict,
  [FailureTypes.forbidden]: problems.forbidden,
  [FailureTypes.invalidRequest]: problems.unprocessable,
};

/** Maps what Temporal answers to a problem; undefined for errors that are not Temporal's. */
export function mapTemporalError(err: unknown): Problem | undefined {
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
    const make = byType[err.cause.type ?? ''];
    if (make) return make(err.cause.message);
    // The server's answer to an admitted command whose workflow closed without answering it
    // (terminated from outside, or failed): the lifecycle is over, and the command did not complete.
    if (err.cause.type === 'AcceptedUpdateCompletedWorkflow') {
      return problems.conflict('the partner’s lifecycle ended before the request was answered; check the partner');
    }
  }
  if (err instanceof WorkflowNotFoundError) return problems.conflict('the partner’s lifecycle has ended');
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
    // The update may stay admitted on the server and still apply when a worker returns.
    return problems.unavailable('no worker confirmed the request in time; it may still be applied when one returns: check the partner before retrying', 5);
  }
  const code = (err as { code?: number } | undefined)?.code;
  // gRPC DEADLINE_EXCEEDED (4) / UNAVAILABLE (14): the server or a worker did not answer in time.
  if (code === 4 || code === 14) return problems.unavailable('the workflow service did not answer in time; retry later', 5);
  return undefined;
}
