import type { Hook, z } from '@hono/zod-openapi';
import { findDuplicateKey } from '../domain/json-duplicates.js';
import { Problem, problems } from './problem.js';

/** Turns a failed zod validation into a 400 problem listing every issue (path and message). */
export const validationHook: Hook<unknown, any, any, unknown> = (result) => {
  if (result.success) return;
  throw invalidInput(result.target, result.error);
};

/** The 400 problem for a zod error: every issue with its path ("scopes.2") and message (the pages show them next to their fields). */
export function invalidInput(target: string, error: z.ZodError): Problem {
  const issues = error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(body)',
    message: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
  }));
  return new Problem(400, 'Bad Request', `invalid ${target}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
}

/**
 * A JSON body that names a key twice is refused before it is parsed: parsers disagree on which
 * value wins (JSON.parse takes the last), so the body means different things to different readers.
 */
export function refuseDuplicateKeys(body: string): void {
  const duplicate = findDuplicateKey(body);
  if (!duplicate) return;
  const message = `duplicate key ${JSON.stringify(duplicate.key)}: a key may appear only once in an object`;
  throw problems.badRequest(`invalid json: ${duplicate.path}: ${message}`, { issues: [{ path: duplicate.path, message }] });
}
