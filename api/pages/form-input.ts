import type { Context } from 'hono';
import type { z } from 'zod';
import { invalidInput } from '../validation.js';

/**
 * A form's fields as the API's bodies name them, and their parse with the API's own zod schema:
 * a form is refused with the same 400 (and the same issue paths) the JSON API answers, so
 * `formErrors` (forms.tsx) puts each message next to its field. Uploaded files are ignored.
 */

type FormInput = Record<string, string | string[]>;

/** Every field of the posted form: a string, or a list where the field came more than once (checkboxes). */
export async function formInput(c: Context): Promise<FormInput> {
  const body = await c.req.parseBody({ all: true });
  const input: FormInput = {};
  for (const [name, value] of Object.entries(body)) {
    if (typeof value === 'string') input[name] = value;
    else if (Array.isArray(value)) input[name] = value.filter((v): v is string => typeof v === 'string');
  }
  return input;
}

/** One value of a field ('' when absent; the last when it came more than once). */
export const one = (input: FormInput, name: string): string => {
  const value = input[name];
  return Array.isArray(value) ? (value.at(-1) ?? '') : (value ?? '');
};

/** Every value of a field (checkboxes): [] when absent. */
export const all = (input: FormInput, name: string): string[] => {
  const value = input[name];
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
};

/** An optional field left empty is absent (as it would be from a JSON client), not an empty string. */
export const optional = (value: string): string | undefined => (value.trim() === '' ? undefined : value);

/** Parses with the API's schema; a refusal throws the API's own 400 Problem (api/validation.ts). */
export function parseWithSchema<S extends z.ZodType>(schema: S, value: unknown, _c?: Context): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw invalidInput('form', result.error);
  return result.data;
}

/**
 * The body a form stands for: the named fields only (never `_csrf` or anything else the page did
 * not ask for), an empty text box as an absent optional field, and `lists` (checkbox groups) as
 * arrays even with one or no box ticked.
 */
export function bodyOf(input: FormInput, fields: readonly string[], lists: readonly string[] = []): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const name of fields) {
    if (lists.includes(name)) body[name] = all(input, name).filter((v) => v !== '');
    else {
      const value = optional(one(input, name));
      if (value !== undefined) body[name] = value;
    }
  }
  return body;
}
