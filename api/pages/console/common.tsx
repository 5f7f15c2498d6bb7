import type { Context } from 'hono';
import type { FC } from 'hono/jsx';
import type { Policy } from '../../../config/policy.js';
import type { DriftFinding } from '../../../domain/policy-drift.js';
import type { PartnerRow } from '../../../schema/database.js';
import { Problem } from '../../problem.js';
import { mapTemporalError } from '../../temporal-errors.js';
import type { PageAppEnv } from '../env.js';
import type { FieldErrors } from '../forms.js';
import { formatInstant } from '../format.js';
import type { PageOptions } from '../render.js';

/** What every console page shares: how times, scopes and states look, and the messages after a redirect. */

/** A time as people read it (format.ts: UTC, to the minute), machine-readable in `datetime`; a dash when there is none. */
export const When: FC<{ at: string | null | undefined }> = ({ at }) => (at ? <time datetime={at}>{formatInstant(at)}</time> : <span class="note">—</span>);

/** A scope with its risk from the policy in force (an unknown scope is shown as such, never guessed low). */
export const Scope: FC<{ policy: Policy; scope: string }> = ({ policy, scope }) => {
  const risk = policy.scopes[scope]?.risk;
  return (
    <span class="scope">
      <code>{scope}</code> <span class={`badge ${risk ?? 'high'}`}>{risk ? `${risk} risk` : 'not in catalogue'}</span>
    </span>
  );
};

export const ScopeList: FC<{ policy: Policy; scopes: readonly string[] }> = ({ policy, scopes }) => (
  <ul class="scopes">
    {scopes.map((scope) => (
      <li>
        <Scope policy={policy} scope={scope} />
      </li>
    ))}
  </ul>
);

/** The partner's next deadline and what happens then, or "none". */
export const NextDeadline: FC<{ partner: Pick<PartnerRow, 'next_deadline_at' | 'next_deadline_action'> }> = ({ partner }) =>
  partner.next_deadline_at ? (
    <>
      <When at={partner.next_deadline_at} /> ({(partner.next_deadline_action ?? '').replaceAll('_', ' ')})
    </>
  ) : (
    <span class="note">none</span>
  );

/** What was asked and granted, as every console page states it: the justification, the scopes with their risk, the end of access. */
export const GrantFacts: FC<{ policy: Policy; partner: Pick<PartnerRow, 'justification' | 'scopes' | 'access_until'> }> = ({ policy, partner }) => (
  <>
    <dt>Justification</dt>
    <dd class="justification">{partner.justification}</dd>
    <dt>Scopes</dt>
    <dd>
      <ScopeList policy={policy} scopes={scopesOf(partner)} />
    </dd>
    <dt>Access until</dt>
    <dd>
      <When at={partner.access_until} />
    </dd>
  </>
);

/** A grant's drift against today's policy (domain/policy-drift.ts): what a reviewer must know before a keep. Nothing when there is none. */
export const DriftFindings: FC<{ policyVersion: string; findings: readonly DriftFinding[] }> = ({ policyVersion, findings }) =>
  findings.length === 0 ? null : (
    <div class="warning drift">
      <p>
        Today’s policy (<code>{policyVersion}</code>) would not grant this as it stands:
      </p>
      <ul>
        {findings.map((f) => (
          <li>
            <strong>{f.rule.replaceAll('_', ' ')}</strong>: {f.detail}
          </li>
        ))}
      </ul>
    </div>
  );

export const StateBadge: FC<{ state: string }> = ({ state }) => <span class="badge state">{state.replaceAll('_', ' ')}</span>;

export const scopesOf = (partner: Pick<PartnerRow, 'scopes'>): string[] => JSON.parse(partner.scopes) as string[];

/** The partner's pending extension or planned offboarding, as stored on the row. */
export const pendingExtensionOf = (partner: Pick<PartnerRow, 'pending_extension'>) =>
  partner.pending_extension ? (JSON.parse(partner.pending_extension) as { accessUntil: string; reason: string; requestedAt: string }) : null;

/**
 * The messages a redirect after a post may show: the query carries one of these codes, never text
 * (so a link cannot make the console say something of its choosing).
 */
const doneMessages: Record<string, string> = {
  approved: 'Approved. The next stage, or the key, follows.',
  rejected: 'Rejected. The partner is told.',
  kept: 'Kept for another cycle.',
  narrowed: 'Narrowed: the removed scopes stop working at once.',
  'recert-revoked': 'Not renewed: the partner is offboarded.',
  revoked: 'Revoked: every key of the partner stopped working in that request.',
  contained: 'Bulk containment done: the listed partners are revoked.',
  suspended: 'Suspended: the partner’s keys are refused until it is resumed.',
  resumed: 'Resumed.',
  'sponsor-changed': 'Handed over to the new sponsor.',
};

/** The flash message for `?done=<code>` (a count, when given, is a number only). */
export function doneFlash(c: Context<PageAppEnv>): PageOptions['flash'] {
  const code = c.req.query('done') ?? '';
  const text = Object.hasOwn(doneMessages, code) ? doneMessages[code] : undefined;
  if (!text) return undefined;
  const count = c.req.query('count');
  return { kind: 'ok', text: count && /^\d{1,6}$/.test(count) ? `${text} (${count})` : text };
}

/**
 * A refused command as a problem the form can show next to its fields: the API's own refusals
 * (400 with issues, 403, 409, 422, 429, 503) and the workflow's typed failures, mapped as the JSON
 * API maps them. Anything else is not the user's to fix and goes to the error page.
 */
export function refusalOf(err: unknown): Problem | undefined {
  if (err instanceof Problem) return err;
  return mapTemporalError(err);
}

/** Messages for fields a form does not show (a button's value, say) go to the form's own list, so none is lost. */
export function errorsFor(errors: FieldErrors | undefined, shown: readonly string[]): FieldErrors | undefined {
  if (!errors) return undefined;
  const out: FieldErrors = {};
  for (const [field, messages] of Object.entries(errors)) {
    const key = shown.includes(field) ? field : '';
    (out[key] ??= []).push(...(key === '' && field !== '' ? messages.map((m) => `${field}: ${m}`) : messages));
  }
  return out;
}
