import { problemSchema } from '../schema/api.js';

const descriptions: Record<number, string> = {
  400: 'Invalid body or parameters (the zod issues are listed)',
  401: 'Missing or invalid credentials',
  403: 'Wrong role, or not yours',
  404: 'Unknown partner',
  409: 'Not allowed in the current state',
  410: 'Already picked up',
  413: 'Body too large',
  415: 'Body is not JSON',
  422: 'Semantically invalid',
  429: 'Over the rate limit (see Retry-After)',
  503: 'No worker accepted the request in time (see Retry-After)',
};

/** The problem+json responses a route can give, for its OpenAPI entry. */
export function problemResponses<const C extends readonly number[]>(...codes: C) {
  return Object.fromEntries(
    codes.map((code) => [code, { description: descriptions[code] ?? 'Error', content: { 'application/problem+json': { schema: problemSchema } } }]),
  ) as { [K in C[number]]: { description: string; content: { 'application/problem+json': { schema: typeof problemSchema } } } };
}

export const bearerSecurity = [{ bearer: [] }];

const httpMethods = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/**
 * Authentication runs before every `/v1` route (api/auth.ts): whatever the route, a request that
 * carries a credential can be refused 401 (invalid) or 429 (its source is over the failed-credential
 * budget). The document says so on every `/v1` operation, so no route's entry can forget it.
 */
export function withAuthenticationResponses<D extends { paths?: object }>(doc: D): D {
  const added = problemResponses(401, 429);
  const paths = (doc.paths ?? {}) as Record<string, Record<string, { responses?: Record<string, unknown> }>>;
  for (const [path, operations] of Object.entries(paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const [method, operation] of Object.entries(operations)) {
      if (!httpMethods.has(method)) continue;
      operation.responses = { ...added, ...(operation.responses ?? {}) };
    }
  }
  return doc;
}
