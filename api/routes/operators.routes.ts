import { createRoute, z } from '@hono/zod-openapi';
import { operatorCreateSchema, operatorListSchema, operatorNameParamSchema, operatorRevocationSchema, operatorRotationSchema, operatorSchema, operatorTokenSchema } from '../../schema/api.js';
import { requireRole } from '../auth.js';
import { bearerSecurity, problemResponses } from '../openapi.js';

const params = z.object({ name: operatorNameParamSchema });
const json = <T extends z.ZodTypeAny>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });
const token = { description: 'The token, shown this once', content: { 'application/json': { schema: operatorTokenSchema } } };

export const create = createRoute({
  method: 'post',
  path: '/operators',
  summary: 'Create an operator with roles and a token that expires (admin; audited)',
  security: bearerSecurity,
  middleware: [requireRole('admin')] as const,
  request: { body: json(operatorCreateSchema) },
  responses: { 201: token, ...problemResponses(400, 401, 403, 409, 413, 415) },
});

export const list = createRoute({
  method: 'get',
  path: '/operators',
  summary: 'Every operator: roles, created, expiry, last rotation, revocation (admin, auditor)',
  security: bearerSecurity,
  middleware: [requireRole('admin', 'auditor')] as const,
  responses: { 200: { description: 'Operators, by name', content: { 'application/json': { schema: operatorListSchema } } }, ...problemResponses(401, 403) },
});

export const rotate = createRoute({
  method: 'post',
  path: '/operators/{name}/rotation',
  summary: 'Replace an operator’s token; the old one stops at once (admin; audited)',
  security: bearerSecurity,
  middleware: [requireRole('admin')] as const,
  request: { params, body: json(operatorRotationSchema) },
  responses: { 200: token, ...problemResponses(400, 401, 403, 404, 413, 415) },
});

export const revoke = createRoute({
  method: 'post',
  path: '/operators/{name}/revocation',
  summary:
    'Revoke an operator (admin; audited; never the last admin); the name is never reused. While it sponsors partners whose lifecycle has not ended: 409 listing them, unless `successor` names the approver who takes them over (each hand-over audited)',
  security: bearerSecurity,
  middleware: [requireRole('admin')] as const,
  request: { params, body: json(operatorRevocationSchema) },
  responses: { 200: { description: 'Revoked', content: { 'application/json': { schema: operatorSchema } } }, ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 503) },
});
