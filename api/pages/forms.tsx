import type { FC, PropsWithChildren } from 'hono/jsx';
import { Problem } from '../problem.js';
import { PostForm } from './layout.js';

/**
 * Form fields that show the API's own validation messages next to them and keep what the user
 * typed. A page validates with the same zod schema and service as the JSON API; a refusal comes
 * back as the same `Problem` (400 with `issues`, or a 409/422 with a detail), which `formErrors`
 * turns into messages per field.
 */

/** Messages by field name ("" for the form as a whole). */
export type FieldErrors = Record<string, string[]>;

/**
 * The messages of a refused request, by field. An issue's path is the body's path ("scopes.2",
 * "contact.email"); its first segment names the form field. Anything else is the form's.
 */
export function formErrors(err: unknown): FieldErrors | undefined {
  if (!(err instanceof Problem)) return undefined;
  const errors: FieldErrors = {};
  const add = (field: string, message: string) => (errors[field] ??= []).push(message);
  const issues = (err.extra as { issues?: Array<{ path: string; message: string }> }).issues;
  if (issues?.length) {
    for (const issue of issues) add(issue.path === '(body)' ? '' : issue.path.split('.')[0]!, issue.message);
  } else {
    add('', err.detail ?? err.title);
  }
  return errors;
}

interface FieldProps {
  name: string;
  label: string;
  errors?: FieldErrors | undefined;
  hint?: string;
}

const describedBy = (name: string, hint: boolean, error: boolean) =>
  [hint ? `${name}-hint` : '', error ? `${name}-error` : ''].filter(Boolean).join(' ') || undefined;

const FieldMessages: FC<{ name: string; hint?: string | undefined; messages?: string[] | undefined }> = ({ name, hint, messages }) => (
  <>
    {hint ? (
      <p class="hint" id={`${name}-hint`}>
        {hint}
      </p>
    ) : null}
    {messages?.length ? (
      <p class="field-error" id={`${name}-error`}>
        {messages.join('; ')}
      </p>
    ) : null}
  </>
);

export const TextField: FC<FieldProps & { value?: string | undefined; type?: string; required?: boolean; multiline?: boolean; autocomplete?: string }> = ({
  name,
  label,
  errors,
  hint,
  value,
  type = 'text',
  required,
  multiline,
  autocomplete,
}) => {
  const messages = errors?.[name];
  const common = {
    id: name,
    name,
    required,
    autocomplete,
    'aria-invalid': messages?.length ? 'true' : undefined,
    'aria-describedby': describedBy(name, !!hint, !!messages?.length),
  };
  return (
    <div class={`field${messages?.length ? ' invalid' : ''}`}>
      <label for={name}>{label}</label>
      {multiline ? <textarea {...common} rows={4}>{value ?? ''}</textarea> : <input {...common} type={type} value={value ?? ''} />}
      <FieldMessages name={name} hint={hint} messages={messages} />
    </div>
  );
};

export const SelectField: FC<FieldProps & { value?: string | undefined; options: Array<{ value: string; label: string }> }> = ({ name, label, errors, hint, value, options }) => {
  const messages = errors?.[name];
  return (
    <div class={`field${messages?.length ? ' invalid' : ''}`}>
      <label for={name}>{label}</label>
      <select id={name} name={name} aria-invalid={messages?.length ? 'true' : undefined} aria-describedby={describedBy(name, !!hint, !!messages?.length)}>
        {options.map((o) => (
          <option value={o.value} selected={o.value === value}>
            {o.label}
          </option>
        ))}
      </select>
      <FieldMessages name={name} hint={hint} messages={messages} />
    </div>
  );
};

/** A group of checkboxes (scopes): a fieldset with a legend, each box labelled. */
export const CheckboxGroup: FC<FieldProps & { checked: string[]; options: Array<{ value: string; label: string; note?: string }> }> = ({ name, label, errors, hint, checked, options }) => {
  const messages = errors?.[name];
  return (
    <fieldset class={`field${messages?.length ? ' invalid' : ''}`} aria-describedby={describedBy(name, !!hint, !!messages?.length)}>
      <legend>{label}</legend>
      {options.map((o, i) => (
        <div class="check">
          <input type="checkbox" id={`${name}-${i}`} name={name} value={o.value} checked={checked.includes(o.value)} />
          <label for={`${name}-${i}`}>
            {o.label}
            {o.note ? <span class="note"> {o.note}</span> : null}
          </label>
        </div>
      ))}
      <FieldMessages name={name} hint={hint} messages={messages} />
    </fieldset>
  );
};

/** The form-level messages (those not tied to one field), shown first and announced. */
export const FormErrors: FC<{ errors?: FieldErrors | undefined }> = ({ errors }) => {
  if (!errors || Object.keys(errors).length === 0) return null;
  const general = errors[''] ?? [];
  return (
    <div class="flash error" role="alert">
      <p>The request was not accepted{general.length ? ':' : '; see the messages next to the fields.'}</p>
      {general.length ? (
        <ul>
          {general.map((m) => (
            <li>{m}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
};


/**
 * The sign-in form of the portal and the console: one secret field (a password input, so the
 * browser neither shows nor autofills it as text), the message of a refused credential next to it,
 * and whatever hidden fields the caller adds (the console's `next`).
 */
export const SignInForm: FC<PropsWithChildren<{ action: string; csrfToken: string; field: string; label: string; hint: string; error?: string | undefined }>> = ({
  action,
  csrfToken,
  field,
  label,
  hint,
  error,
  children,
}) => (
  <PostForm action={action} csrfToken={csrfToken}>
    {children}
    <TextField name={field} label={label} type="password" autocomplete="current-password" required hint={hint} errors={error ? { [field]: [error] } : undefined} />
    <button type="submit">Sign in</button>
  </PostForm>
);
