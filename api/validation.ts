import type { Hook } from '@hono/zod-openapi';
import { Problem } from './problem.js';

/** Turns a failed zod validation into a 400 problem listing every issue (path and message). */
export const validationHook: Hook<unknown, any, any, unknown> = (result) => {
  if (result.success) return;
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(body)',
    message: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
  }));
  throw new Problem(400, 'Bad Request', `invalid ${result.target}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
};
