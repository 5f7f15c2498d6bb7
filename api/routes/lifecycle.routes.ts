import { createRoute, z } from '@hono/zod-openapi';
import {
  commandResultSchema,
  decisionSchema,
  extensionSchema,
  offboardingSchema,
  partnerIdSchema,
  recertificationSchema,
  revocationAcceptedSchema,
  revocationSchema,
  rateTierChangeSchema,
  sponsorChangeSchema,
  suspensionSchema,
} from '../../schema/api.js';
import { requireRole } from '../auth.js';
import { bearerSecurity, problemResponses } from '../openapi.js';

const params = z.object({ id: partnerIdSchema });
const json = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });
const ok = { 200: { description: 'Done: the workflow’s answer', content: { 'application/json': { schema: commandResultSchema } } } };
const commandProblems = problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 503);
// decisions and recertifications spend a per-operator budget
const decisionProblems = { ...commandProblems, ...problemResponses(429) };

export const decide = createRoute({
  method: 'post',
  path: '/{id}/decisions',
  summary: 'Approve or reject the pending stage (sponsor, then security), or a pending extension (sponsor)',
  security: bearerSecurity,
  middleware: [requireRole('approver', 'security')] as const,
  request: { params, body: json(decisionSchema) },
  responses: { ...ok, ...decisionProblems },
});

export const recertify = createRoute({
  method: 'post',
  path: '/{id}/recertifications',
  summary: 'Answer a due recertification: keep, narrow or revoke (sponsor; security, whose keep is the security stage a drifted grant lacks)',
  security: bearerSecurity,
  middleware: [requireRole('approver', 'security')] as const,
  request: { params, body: json(recertificationSchema) },
  responses: { ...ok, ...decisionProblems },
});

export const requestExtension = createRoute({
  method: 'post',
  path: '/{id}/extension',
  summary: 'Ask the sponsor for a later access end (partner)',
  security: bearerSecurity,
  request: { params, body: json(extensionSchema) },
  responses: { ...ok, ...commandProblems },
});

export const offboard = createRoute({
  method: 'post',
  path: '/{id}/offboarding',
  summary: 'Offboard now or plan it for a date (partner, sponsor, admin)',
  security: bearerSecurity,
  request: { params, body: json(offboardingSchema) },
  responses: { ...ok, ...commandProblems },
});

export const revoke = createRoute({
  method: 'post',
  path: '/{id}/revocation',
  summary: 'Emergency revocation: every key dies in this request; the workflow finishes the clean-up (security)',
  security: bearerSecurity,
  middleware: [requireRole('security')] as const,
  request: { params, body: json(revocationSchema) },
  responses: {
    202: { description: 'Revoked in the database; the workflow is signalled', content: { 'application/json': { schema: revocationAcceptedSchema } } },
    ...problemResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

export const suspend = createRoute({
  method: 'post',
  path: '/{id}/suspension',
  summary:
    'Suspend a live partner (security; reversible, audited): its keys are refused from the answer on, at introspection and at every edge gateway; no grace countdown runs',
  security: bearerSecurity,
  middleware: [requireRole('security')] as const,
  request: { params, body: json(suspensionSchema) },
  responses: { ...ok, ...commandProblems },
});

export const resume = createRoute({
  method: 'post',
  path: '/{id}/resumption',
  summary: 'Lift a suspension by security (security; audited): the partner returns to the state it was suspended from',
  security: bearerSecurity,
  middleware: [requireRole('security')] as const,
  request: { params, body: json(suspensionSchema) },
  responses: { ...ok, ...commandProblems },
});

/** DESIGN.md's name for the same command: DELETE the suspension (with its reason) is the resumption. */
export const endSuspension = createRoute({ ...resume, method: 'delete', path: '/{id}/suspension' });

export const changeSponsor = createRoute({
  method: 'post',
  path: '/{id}/sponsor',
  summary: 'Hand the partner to another sponsor, an active approver (admin, security; audited): pending approvals and reviews follow',
  security: bearerSecurity,
  middleware: [requireRole('admin', 'security')] as const,
  request: { params, body: json(sponsorChangeSchema) },
  responses: { ...ok, ...commandProblems },
});

export const changeRateTier = createRoute({
  method: 'post',
  path: '/{id}/rate-tier',
  summary: "Set a live partner's rate tier to one of the policy's (security, admin; audited): every gateway enforces it at once",
  security: bearerSecurity,
  middleware: [requireRole('admin', 'security')] as const,
  request: { params, body: json(rateTierChangeSchema) },
  responses: { ...ok, ...commandProblems },
});
