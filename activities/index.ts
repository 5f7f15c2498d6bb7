import type { Db } from '../schema/db.js';
import type { LifecyclePolicy } from '../workflows/state.js';
import type { Environment } from '../workflows/messages.js';
import { gatherUsageEvidence, issueCredential } from './credentials.js';
import { Context } from '@temporalio/activity';
import { notify } from './notifications.js';
import type { WebhookConfig } from '../config/webhooks.js';
import { defaultRetryPolicy } from '../domain/notice-delivery.js';
import { applyTransition, grantAndActivate, openReview, recordedRevocation } from './transitions.js';
import type { GrantAndActivateInput, IssueCredentialInput, NotificationInput, TransitionRecord, UsageEvidence } from '../domain/lifecycle-records.js';
import { verifyRevocation, type GatewayProbe } from './verification.js';
import type { OpenReviewInput } from '../workflows/review-opening.js';

export interface ActivityDeps {
  db: Db;
  /** AES-256 key sealing the one-time pickup copies */
  pickupKey: Buffer;
  /** where notices are delivered (config/webhooks.ts); none: notices are only recorded */
  webhooks?: WebhookConfig;
  /** when set, revocations are verified through the gateway */
  gatewayProbe?: GatewayProbe;
  /** reads the policy file now: the lifecycle re-reads it every cycle */
  lifecyclePolicy: (environment: Environment) => LifecyclePolicy;
}

const noWebhooks: WebhookConfig = { endpoints: [], retry: defaultRetryPolicy };

/** The activities the lifecycle workflow calls, bound to their dependencies. */
export function createActivities(deps: ActivityDeps) {
  // the calling activity's meter: delivery outcomes are counted with the worker's activity metrics
  const noticeDeps = () => ({ db: deps.db, webhooks: deps.webhooks ?? noWebhooks, metricMeter: Context.current().metricMeter });
  return {
    async loadPolicy(environment: Environment): Promise<LifecyclePolicy> {
      return deps.lifecyclePolicy(environment);
    },
    applyTransition: (t: TransitionRecord) => applyTransition(noticeDeps(), t),
    issueCredential: (input: IssueCredentialInput) => issueCredential(deps.db, deps.pickupKey, input),
    /** the last approval, the first key and the opening of access: the three records above in one step */
    grantAndActivate: (input: GrantAndActivateInput) => grantAndActivate({ ...noticeDeps(), pickupKey: deps.pickupKey }, input),
    notify: (n: NotificationInput) => notify(noticeDeps(), n),
    gatherUsageEvidence: (partnerId: string) => gatherUsageEvidence(deps.db, partnerId),
    /** what a review is answered with (and, in runs from before `openReview`, opened with), in one step: the usage evidence and today's policy */
    async gatherReviewFacts(partnerId: string, environment: Environment): Promise<{ evidence: UsageEvidence; policy: LifecyclePolicy }> {
      return { evidence: await gatherUsageEvidence(deps.db, partnerId), policy: deps.lifecyclePolicy(environment) };
    },
    /** a review's opening: the two reads above, the grant held to today's policy, and its transition, in one step */
    openReview: (input: OpenReviewInput) => openReview({ ...noticeDeps(), lifecyclePolicy: deps.lifecyclePolicy }, input),
    verifyRevocation: (partnerId: string) => verifyRevocation(deps.db, deps.gatewayProbe, partnerId),
    recordedRevocation: (partnerId: string) => recordedRevocation(deps.db, partnerId),
  };
}
