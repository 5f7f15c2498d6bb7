import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { findDuplicateKey } from '../../domain/json-duplicates.js';
import { introspectionRequestSchema } from '../../schema/api.js';
import { assertRole, type AppEnv, type Authenticator } from '../auth.js';
import type { IntrospectionJudge } from './introspect.handlers.js';

export interface LeanIntrospectionOptions {
  principalOf: Authenticator['principalOf'];
  judge: IntrospectionJudge;
  /** the /v1 body limit (api/body.ts) */
  maxBodyBytes: number;
  /** what the middlewares this path skips put on every answer (api/headers.ts `fixedResponseHeaders`) */
  headers: () => Promise<ReadonlyArray<readonly [string, string]>>;
}

const jsonType = /^application\/json\s*(;|$)/i;

/**
 * The whole body, if Node's parser has already taken all of it in (a small body arrives with its
 * headers, and the handler runs after the parser has read that packet): read at once, without the
 * listeners and promise of a streamed read. Undefined while any of it is still to come.
 */
function bufferedBody(incoming: IncomingMessage, length: number): string | undefined {
  if (!incoming.complete || incoming.readableLength !== length || incoming.readableEncoding !== null) return undefined;
  const chunk = incoming.read(length) as Buffer | null;
  return chunk === null ? undefined : utf8.decode(chunk);
}

// as @hono/node-server decodes a body (a leading BOM dropped), so both reads give the same text
const utf8 = new TextDecoder();

/**
 * POST /v1/introspect without the framework's per-request work (issue #14 item 5): a gateway asks
 * it for every partner request it cannot answer itself, so it must cost little more than
 * `/healthz`. Registered right after the client address and request id (which it uses as every
 * route does) and before the rest of the app's middleware, it answers the ordinary question — a
 * JSON body of declared length within the limit, valid, from a caller without `Origin` — with the
 * same rules as the route: the app's one authenticator (its failure budget, the cached gateway
 * token), the route's role check, the request schema, and the route's own `judge` (verdict,
 * failure budget, usage, metrics). Every answer carries the headers the skipped middlewares give
 * (computed once from them).
 *
 * Anything else goes on to the full chain (`next()`) before anything is spent, so its answer is
 * the route's in every detail: a chunked or oversized body, another media type, a duplicate key,
 * malformed JSON, a body the schema refuses (the chain authenticates before validating, so a bad
 * token there is still the 401), a CORS request, a request not served from a socket (`app.request`
 * in tests). test/integration/introspection.test.ts holds the two paths to the same answers.
 */
export function leanIntrospection({ principalOf, judge, maxBodyBytes, headers }: LeanIntrospectionOptions): MiddlewareHandler<AppEnv> {
  let fixedHeaders: ReadonlyArray<readonly [string, string]> | undefined;
  return async (c, next) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const h = incoming?.headers;
    if (!h || h['transfer-encoding'] !== undefined || h.origin !== undefined || !jsonType.test(h['content-type'] ?? '')) return next();
    const length = Number(h['content-length']);
    if (!(length > 0 && length <= maxBodyBytes)) return next();
    let text = bufferedBody(incoming!, length);
    if (text === undefined) text = await c.req.text(); // kept by hono for the chain
    else (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(text); // the chain reads the same text if this path goes on
    if (findDuplicateKey(text) !== undefined) return next();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return next();
    }
    const body = introspectionRequestSchema.safeParse(json);
    if (!body.success) return next();
    // from here the answer is this path's, problems (401, 403, 429) included
    for (const [name, value] of (fixedHeaders ??= await headers())) c.header(name, value);
    const principal = await principalOf(c);
    c.set('principal', principal);
    assertRole(principal, ['gateway']);
    const judged = judge(c, body.data);
    return c.json(judged instanceof Promise ? await judged : judged, 200);
  };
}
