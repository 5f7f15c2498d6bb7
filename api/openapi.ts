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
