/**
 * What Temporal answers, mapped once (api/temporal-errors.ts). The races test drives the
 * terminated-before-acceptance path end to end; an update accepted and then left unanswered by a
 * terminated workflow needs the worker to record the acceptance first, which a decision's local
 * activities now do only when their workflow task completes, so that mapping is held here.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { mapTemporalError } from '../../api/temporal-errors.js';
import { FailureTypes } from '../../workflows/messages.js';

const updateFailed = (type: string, message = 'why') => new WorkflowUpdateFailedError('Workflow Update failed', ApplicationFailure.create({ type, message }));

describe('mapTemporalError', () => {
  it('an admitted update whose workflow closed without answering it: 409, the request did not complete', () => {
    const problem = mapTemporalError(updateFailed('AcceptedUpdateCompletedWorkflow', 'Workflow Update failed because the Workflow completed before the Update completed.'));
    expect(problem?.status).toBe(409);
    expect(problem?.detail).toMatch(/ended before the request was answered/);
  });

  it('a workflow that is gone: 409, the lifecycle has ended', () => {
    const problem = mapTemporalError(new WorkflowNotFoundError('workflow execution already completed', 'partner-x', undefined));
    expect(problem?.status).toBe(409);
    expect(problem?.detail).toBe('the partner’s lifecycle has ended');
  });

  it('typed refusals keep their status and their message', () => {
    expect(mapTemporalError(updateFailed(FailureTypes.forbidden, 'only operators decide'))).toMatchObject({ status: 403, detail: 'only operators decide' });
    expect(mapTemporalError(updateFailed(FailureTypes.invalidRequest, 'bad'))).toMatchObject({ status: 422, detail: 'bad' });
    expect(mapTemporalError(updateFailed(FailureTypes.policyDrift, 'drift'))).toMatchObject({ status: 409, detail: 'drift' });
  });

  it('no confirmation in time: 503 with a retry hint; anything else is not Temporal’s to map', () => {
    expect(mapTemporalError(new WorkflowUpdateRPCTimeoutOrCancelledError('timed out', { cause: new Error('x') }))?.status).toBe(503);
    expect(mapTemporalError(updateFailed('SomethingElse'))).toBeUndefined();
    expect(mapTemporalError(new Error('boom'))).toBeUndefined();
  });
});
