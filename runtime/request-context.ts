/**
 * The API request id on its way through Temporal (workflows/request-context.ts has the workflow's
 * side): the client puts the id of the request it serves (api/request-scope.ts) in the `requestId`
 * header of every start, Update and signal; the worker adds the id an activity was scheduled with
 * to that activity's log lines. Always on: a header and a log attribute, no tracing needed.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { currentRequestId } from '../api/request-scope.js';
import { requestIdFrom, requestIdHeader } from '../workflows/request-context.js';

function withRequestId<T extends { headers: Record<string, import('@temporalio/common').Payload> }>(input: T): T {
  const requestId = currentRequestId();
  return requestId ? { ...input, headers: { ...input.headers, [requestIdHeader]: defaultPayloadConverter.toPayload(requestId) } } : input;
}

export const requestIdClientInterceptor: WorkflowClientInterceptor = {
  start: (input, next) => next(withRequestId(input)),
  startWithDetails: (input, next) => next(withRequestId(input)),
  startUpdate: (input, next) => next(withRequestId(input)),
  signal: (input, next) => next(withRequestId(input)),
  signalWithStart: (input, next) => next(withRequestId(input)),
};

/** The activity's log lines name the request its workflow was serving when it scheduled the activity. */
export const requestIdActivityInterceptor: ActivityInterceptorsFactory = () => {
  let requestId: string | undefined;
  return {
    inbound: {
      execute: (input, next) => {
        requestId = requestIdFrom(input.headers);
        return next(input);
      },
    },
    outbound: {
      getLogAttributes: (input, next) => next(requestId ? { ...input, requestId } : input),
    },
  };
};
