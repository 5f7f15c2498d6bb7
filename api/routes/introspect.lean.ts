import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler, Next } from 'hono';
import { findDuplicateKey } from '../../domain/json-duplicates.js';
import { introspectionRequestSchema } from '../../schema/api.js';
import { assertRole, type AppEnv, type Authenticator } from '../auth.js';
import type { Introspection } from '../introspection.js';
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
 * Node keeps the first of repeated Content-Type headers where the route (hono reads them joined)
 * refuses the pair: such a request goes on to the route, so both paths answer it alike.
 */
function singleContentType(raw: string[]): boolean {
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 12 && name.toLowerCase() === 'content-type' && ++seen > 1) return false;
  }
  return true;
}

/**
 * The whole body, if Node's parser has already taken all of it in (a small body arrives in the
 * packet of its headers): read at once, without the listeners and promises of a streamed read.
 * Undefined while any of it is still to come.
 */
function bufferedBody(incoming: IncomingMessage, length: number): string | undefined {
  // all of it is here once the stream holds as many bytes as declared (the parser never passes more)
  if (incoming.readableLength !== length || incoming.readableEncoding !== null) return undefined;
  const chunk = incoming.read(length) as Buffer | null;
  if (chunk === null) return undefined;
  // the stream's end is still to be seen: flowing, it ends on its own when the parser ends it
  // (unended, @hono/node-server would drain it with two timers once the answer is written)
  incoming.resume();
  return utf8.decode(chunk);
}

/**
 * Anything but the ordinary question goes on to the route, which reads the same text (a module
 * function, not a closure per request: tsx names every closure it creates, at a cost, measured).
 */
function onward(c: Context, next: Next, buffered: string | undefined) {
  if (buffered !== undefined) (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(buffered);
  return next();
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
  let answerHeaders: Record<string, string> | undefined;
  return async (c, next) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const h = incoming?.headers;
    if (!h || h['transfer-encoding'] !== undefined || h.origin !== undefined || !jsonType.test(h['content-type'] ?? '')) return next();
    if (!singleContentType(incoming!.rawHeaders)) return next();
    const length = Number(h['content-length']);
    if (!(length > 0 && length <= maxBodyBytes)) return next();
    let buffered = bufferedBody(incoming!, length);
    if (buffered === undefined) {
      // Node's parser hands the request over from its headers callback, before it pushes the body
      // of the same packet; one microtask later it has, if it came along (measured: always, for a
      // gateway's small question)
      await Promise.resolve();
      buffered = bufferedBody(incoming!, length);
    }
    const text = buffered ?? (await c.req.text()); // hono's read keeps the text for the chain
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return onward(c, next, buffered);
    }
    // the schema first: what it accepts is a flat object of strings, which JSON.stringify below
    // serialises without recursing (a deeply nested array would overflow its stack: a 500)
    const body = introspectionRequestSchema.safeParse(json);
    if (!body.success) return onward(c, next, buffered);
    // a body that is exactly its own serialisation names no key twice (JSON.stringify cannot, and a
    // dropped duplicate would make it shorter): gateways send that form; anything else is scanned
    if (JSON.stringify(json) !== text && findDuplicateKey(text) !== undefined) return onward(c, next, buffered);
    // from here the answer is this path's, problems (401, 403, 429) included
    fixedHeaders ??= await headers();
    let judged: Introspection;
    try {
      const principal = await principalOf(c);
      c.set('principal', principal);
      assertRole(principal, ['gateway']);
      const verdict = judge(c, body.data);
      judged = verdict instanceof Promise ? await verdict : verdict;
    } catch (err) {
      // the problem's answer is written by the app's onError, from the context: it gets them there
      for (const [name, value] of fixedHeaders) c.header(name, value);
      throw err;
    }
    // The answer as plain headers and text: hono's c.json would build a web Headers (header by
    // header, each checked) that @hono/node-server then turns back into a plain object
    answerHeaders ??= Object.fromEntries([...fixedHeaders, ['content-type', 'application/json'], ['x-request-id', '']]);
    // a copy of an object that already has every slot, then the one that differs: a fraction of a spread that adds one
    const answered = { ...answerHeaders };
    const requestId = c.get('requestId') as string | undefined; // the app's middleware sets it (not every test app has it)
    if (requestId !== undefined) answered['x-request-id'] = requestId;
    else delete answered['x-request-id'];
    return new Response(JSON.stringify(judged), { status: 200, headers: answered });
  };
}
