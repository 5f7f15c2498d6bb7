import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { Problem } from './problem.js';
import { refuseDuplicateKeys } from './validation.js';

// DELETE too: ending a suspension (DELETE /v1/partners/{id}/suspension) carries its reason
const bodyMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const jsonType = /^application\/json\s*(;|$)/i;

/**
 * The /v1 request body, checked once for every route: at most `maxSize` bytes (413), and a
 * non-empty body must be JSON (415) naming no key twice (400). The text is read once and cached
 * for the route's validator.
 *
 * Why not hono's bodyLimit alone: it asks for the web Request's body stream first, which makes
 * @hono/node-server build a full `Request` with a `ReadableStream` and an `AbortSignal` for every
 * request, about a third of introspection's cost (profiled, bench/README.md). Under Node's parser
 * a request either declares its length (Content-Length, which the parser holds the body to) or is
 * chunked (Transfer-Encoding) or has no body at all; only the chunked case needs a counting
 * reader, and only it (and requests not served from a socket, `app.request` in tests) still go
 * through hono's.
 */
export function jsonBody(maxSize: number): MiddlewareHandler {
  const tooLarge = (): never => {
    throw new Problem(413, 'Content Too Large', `request bodies are limited to ${maxSize} bytes`);
  };
  const counted = bodyLimit({ maxSize, onError: tooLarge });
  const readChecked: MiddlewareHandler = async (c, next) => {
    const body = bodyMethods.has(c.req.method) ? await c.req.text() : '';
    if (body.length > 0) {
      if (!jsonType.test(c.req.header('content-type') ?? '')) throw new Problem(415, 'Unsupported Media Type', 'send the body as application/json');
      refuseDuplicateKeys(body);
    }
    return next();
  };
  return async (c, next) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const declared = incoming?.headers['content-length'];
    if (incoming && incoming.headers['transfer-encoding'] === undefined) {
      // no Transfer-Encoding: the body is exactly Content-Length bytes, or there is none
      if (declared !== undefined && Number(declared) > maxSize) tooLarge();
      return readChecked(c, next);
    }
    return counted(c, async () => {
      await readChecked(c, next);
    });
  };
}
