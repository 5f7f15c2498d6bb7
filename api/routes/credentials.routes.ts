import { createRoute, z } from '@hono/zod-openapi';
import { issuedKeySchema, partnerIdSchema } from '../../schema/api.js';
import { bearerSecurity, problemResponses } from '../openapi.js';

const params = z.object({ id: partnerIdSchema });
const issued = { description: 'The plaintext key, shown this once', content: { 'application/json': { schema: issuedKeySchema } } };

export const pickup = createRoute({
  method: 'post',
  path: '/{id}/credentials/pickup',
  summary: 'Pick up the issued key, once (partner, with its request token)',
  security: bearerSecurity,
  request: { params },
  responses: { 200: issued, ...problemResponses(400, 401, 403, 404, 409, 410, 413, 415) },
});

export const rotate = createRoute({
  method: 'post',
  path: '/{id}/credentials/rotate',
  summary: 'Issue a new key; the current one stops working after the rotation overlap (partner, with its key)',
  security: bearerSecurity,
  request: { params },
  responses: { 200: issued, ...problemResponses(400, 401, 403, 404, 409, 410, 413, 415, 503) },
});
