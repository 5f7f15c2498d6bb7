import { createRoute, z } from '@hono/zod-openapi';
import { introspectionResponseSchema, scopeNameSchema } from '../../schema/api.js';
import { requireRole } from '../auth.js';
import { bearerSecurity, problemResponses } from '../openapi.js';

/** The gateways' routes (nginx `auth_request`, the edge's miss, its change feed and usage reports): their contracts. */

export const auth = createRoute({
  method: 'get',
  path: '/auth',
  summary:
    'nginx auth_request endpoint (gateway): 204 with X-Partner-Id / X-Partner-Scopes and X-Upstream-Target (the normalised target nginx forwards), 401 inactive key, 403 missing scope; signalled as 403 with X-Auth-Status (nginx answers that status): 400 when the path cannot be normalised, 429 with Retry-After over the tier or over the failed-key budget of the client',
  security: bearerSecurity,
  middleware: [requireRole('gateway')] as const,
  responses: { 204: { description: 'Allowed' }, ...problemResponses(401, 403) },
});

export const verdict = createRoute({
  method: 'get',
  path: '/verdict',
  summary:
    'The edge gateway\'s question on a cache miss (issue #14): the verdict for the key in X-Partner-Key / X-Partner-Authorization, with its key id, for the gateway to cache until its expiry or until the change feed names it. 200 active, 401 inactive (reason in X-Auth-Reason, for the gateway log), 429 over the failed-key budget of X-Original-Remote-Addr; a revocation probe (pap_…) is 401 when its key is refused, 403 when it is live',
  security: bearerSecurity,
  middleware: [requireRole('gateway')] as const,
  responses: {
    200: {
      description: 'The key is live: what the gateway needs to serve it',
      content: { 'application/json': { schema: z.object({ keyId: z.string() }).and(introspectionResponseSchema.options[0]) } },
    },
    ...problemResponses(401, 403, 429),
  },
});

/** The long poll's longest wait: below nginx's and proxies' usual 60 s idle timeouts. */
export const MAX_CHANGES_WAIT_SECONDS = 25;

export const changes = createRoute({
  method: 'get',
  path: '/changes',
  summary:
    'The gateways\' change feed (issue #14): changes after the cursor `after` that can alter a cached verdict (a key: keyId set; every key of a partner: keyId null), in order, read from the database. Long poll: answers at once when there are changes, else after `wait` seconds (at most 25) with none. Without `after`: none, and the current cursor. `reset: true`: the cursor is older than what is kept (or unknown), so drop every cached verdict and go on from `cursor`',
  security: bearerSecurity,
  middleware: [requireRole('gateway')] as const,
  request: {
    query: z.strictObject({
      after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
      wait: z.coerce.number().int().min(0).max(MAX_CHANGES_WAIT_SECONDS).default(MAX_CHANGES_WAIT_SECONDS),
    }),
  },
  responses: {
    200: {
      description: 'Changes (possibly none) and the cursor to ask from next',
      content: {
        'application/json': {
          schema: z
            .object({
              cursor: z.number().int(),
              reset: z.boolean(),
              changes: z.array(z.object({ seq: z.number().int(), partnerId: z.string(), keyId: z.string().nullable(), kind: z.string(), at: z.string() })),
            })
            .openapi('GatewayChanges'),
        },
      },
    },
    ...problemResponses(400, 401, 403),
  },
});

/** At most this many key-and-scope counts per report (the API's 64 KiB body limit holds them). */
export const MAX_USAGE_REPORT = 500;
/** At most this many uses per report (an edge reports every few seconds; it splits bigger counts). */
export const MAX_USAGE_COUNT = 100_000;

export const usage = createRoute({
  method: 'post',
  path: '/usage',
  summary:
    'The edge gateway reports the requests it let through on cached verdicts (issue #14): counts per key id and scope since its last report, recorded as usage evidence for recertification like the requests /auth lets through',
  security: bearerSecurity,
  middleware: [requireRole('gateway')] as const,
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z.strictObject({
            uses: z
              .array(z.strictObject({ keyId: z.string().regex(/^[0-9A-Za-z]{16}$/), scope: scopeNameSchema, count: z.number().int().min(1).max(MAX_USAGE_COUNT) }))
              .max(MAX_USAGE_REPORT),
          }),
        },
      },
    },
  },
  responses: { 204: { description: 'Recorded' }, ...problemResponses(400, 401, 403, 413, 415, 422) },
});
