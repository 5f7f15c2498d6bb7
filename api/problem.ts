import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** An RFC 9457 problem the API answers with; `detail` is always safe to show to the caller. */
export class Problem extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly title: string,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
  }
}

export const problems = {
  badRequest: (detail: string, extra?: Record<string, unknown>) => new Problem(400, 'Bad Request', detail, extra),
  unauthorized: (detail = 'missing or invalid credentials') =>
    new Problem(401, 'Unauthorized', detail, {}, { 'WWW-Authenticate': 'Bearer realm="partner-access"' }),
  forbidden: (detail = 'not allowed for this caller') => new Problem(403, 'Forbidden', detail),
  notFound: (detail = 'not found') => new Problem(404, 'Not Found', detail),
  conflict: (detail: string) => new Problem(409, 'Conflict', detail),
  gone: (detail: string) => new Problem(410, 'Gone', detail),
  unprocessable: (detail: string) => new Problem(422, 'Unprocessable Content', detail),
  tooMany: (retryAfterSeconds: number) =>
    new Problem(429, 'Too Many Requests', 'rate limit exceeded', {}, { 'Retry-After': String(retryAfterSeconds) }),
  unavailable: (detail: string, retryAfterSeconds = 5) =>
    new Problem(503, 'Service Unavailable', detail, {}, { 'Retry-After': String(retryAfterSeconds) }),
};

export function problemResponse(c: Context, p: Problem): Response {
  const body = {
    type: 'about:blank',
    title: p.title,
    status: p.status,
    ...(p.detail ? { detail: p.detail } : {}),
    instance: c.req.path,
    requestId: c.get('requestId' as never) as string | undefined,
    ...p.extra,
  };
  return c.body(JSON.stringify(body), p.status, { 'Content-Type': 'application/problem+json', ...p.headers });
}
