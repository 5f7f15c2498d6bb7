import type { FC } from 'hono/jsx';
import { isTerminal } from '../../../domain/partner-states.js';
import type { IssuedKey } from '../../credentials-service.js';
import type { partnerOwnView } from '../../partner-view.js';
import type { PartnerTimelineEvent } from '../../partner-timeline.js';
import { FormErrors, TextField, type FieldErrors } from '../forms.js';
import { formatInstant } from '../format.js';
import { PostForm } from '../layout.js';

/**
 * The partner's own pages: the status of its access (what GET /v1/partners/{id} and its timeline
 * answer a partner: api/partner-view.ts `partnerOwnView`, api/partner-timeline.ts), the key
 * pickup and rotation, the extension request and the offboarding. Nothing here is more than the
 * partner may read through the API.
 */

type OwnView = Awaited<ReturnType<typeof partnerOwnView>>;

const stateLabels: Record<string, string> = {
  pending_approval: 'Waiting for approval',
  active: 'Active',
  recertification_due: 'Active, recertification due',
  suspended: 'Suspended',
  rejected: 'Rejected',
  request_expired: 'Request expired',
  offboarded: 'Offboarded',
  revoked: 'Revoked',
};

/** Every action of api/partner-timeline.ts's allowlist, in words (an action missing here shows as its code). */
const actionLabels: Record<string, string> = {
  'partner.submitted': 'Request submitted',
  'approval.escalated': 'Request escalated to other approvers',
  'extension.expired': 'Extension request expired',
  'recertification.opened': 'Recertification opened',
  'recertification.kept': 'Access recertified',
  'recertification.narrowed': 'Access recertified with fewer scopes',
  'recertification.revoked': 'Access not renewed at recertification',
  'partner.reactivated': 'Access reactivated',
  'approval.granted': 'Approved',
  'approval.rejected': 'Rejected',
  'approval.expired': 'Request expired without a decision',
  'partner.activated': 'Access activated',
  'credential.issued': 'API key issued',
  'credential.rotated': 'API key rotated',
  'credential.retired': 'Old API key retired',
  'extension.requested': 'Extension requested',
  'extension.approved': 'Extension approved',
  'extension.rejected': 'Extension rejected',
  'offboarding.planned': 'Offboarding planned',
  'partner.offboarded': 'Offboarded',
  'partner.suspended': 'Suspended',
  'partner.revocation_requested': 'Revocation requested',
  'partner.revoked': 'Revoked',
};

const Time: FC<{ at: string }> = ({ at }) => <time datetime={at}>{formatInstant(at)}</time>;

/** Values typed into the status page's two forms, kept when one is refused. */
export interface AccessForms {
  extension?: { values: { accessUntil: string; reason: string }; errors?: FieldErrors | undefined };
  offboarding?: { values: { at: string; reason: string }; errors?: FieldErrors | undefined };
}

interface AccessPageProps {
  view: OwnView;
  timeline: PartnerTimelineEvent[];
  /** how this browser is signed in: the request token picks the key up, a key rotates */
  credential: 'request_token' | 'partner_key';
  /** the key issued at approval still waits for its pickup */
  keyWaiting: boolean;
  csrfToken: string;
  forms?: AccessForms;
}

export const AccessPage: FC<AccessPageProps> = ({ view, timeline, credential, keyWaiting, csrfToken, forms = {} }) => {
  const ended = isTerminal(view.state);
  const liveKeys = view.credentials.filter((k) => k.status === 'active');
  return (
    <>
      <section aria-labelledby="status-heading">
        <h2 id="status-heading">Status</h2>
        <dl class="facts">
          <dt>Application</dt>
          <dd>
            {view.name} <span class="note">(partner id <code>{view.partnerId}</code>)</span>
          </dd>
          <dt>State</dt>
          <dd>
            <span class="badge state" id="state">
              {stateLabels[view.state] ?? view.state}
            </span>
          </dd>
          {view.pendingStage ? (
            <>
              <dt>Waiting for</dt>
              <dd>{view.pendingStage === 'sponsor' ? `your sponsor (${view.sponsor})` : 'security'}</dd>
            </>
          ) : null}
          <dt>Environment</dt>
          <dd>{view.environment}</dd>
          <dt>Scopes</dt>
          <dd>
            {view.scopes.map((s, i) => (
              <>
                {i > 0 ? ', ' : ''}
                <code>{s}</code>
              </>
            ))}
          </dd>
          <dt>Access until</dt>
          <dd>
            <Time at={view.accessUntil} />
          </dd>
          <dt>Next deadline</dt>
          <dd>
            {view.nextDeadline ? (
              <>
                <Time at={view.nextDeadline.at} />: {view.nextDeadline.action}
              </>
            ) : (
              'none'
            )}
          </dd>
          {view.pendingExtension ? (
            <>
              <dt>Extension asked</dt>
              <dd>
                until <Time at={view.pendingExtension.accessUntil} /> (waiting for your sponsor)
              </dd>
            </>
          ) : null}
          {view.plannedOffboarding ? (
            <>
              <dt>Offboarding planned</dt>
              <dd>
                <Time at={view.plannedOffboarding.at} />
                {view.plannedOffboarding.reason ? `: ${view.plannedOffboarding.reason}` : ''}
              </dd>
            </>
          ) : null}
          {view.endReason ? (
            <>
              <dt>Ended because</dt>
              <dd>{view.endReason}</dd>
            </>
          ) : null}
        </dl>
      </section>

      <section aria-labelledby="keys-heading">
        <h2 id="keys-heading">API keys</h2>
        {liveKeys.length === 0 && !keyWaiting ? <p>No key has been issued {ended ? '' : 'yet'}.</p> : null}
        {liveKeys.length > 0 ? (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Status</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Stops working</th>
                  <th scope="col">Last used</th>
                </tr>
              </thead>
              <tbody>
                {liveKeys.map((k) => (
                  <tr>
                    <td>
                      <code>{k.prefix}…</code>
                    </td>
                    <td>{k.status}</td>
                    <td>
                      <Time at={k.expiresAt} />
                    </td>
                    <td>{k.retireAt ? <Time at={k.retireAt} /> : '—'}</td>
                    <td>{k.lastUsedAt ? <Time at={k.lastUsedAt} /> : 'never'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        {keyWaiting && credential === 'request_token' ? (
          <PostForm action="/portal/access/pickup" csrfToken={csrfToken} class="actions">
            <p>Your key is ready. It is shown once, on the next page: have a safe place ready to store it.</p>
            <button type="submit">Pick up my API key</button>
          </PostForm>
        ) : null}
        {keyWaiting && credential === 'partner_key' ? <p>A key waits for its pickup with your request token.</p> : null}
        {!keyWaiting && credential === 'request_token' && liveKeys.length > 0 ? (
          <p id="key-picked-up">Your key was picked up and is not shown again. Sign in with it to rotate it.</p>
        ) : null}
        {credential === 'partner_key' && !ended && liveKeys.length > 0 ? (
          <PostForm action="/portal/access/rotate" csrfToken={csrfToken} class="actions" data-confirm="Issue a new key? The current one stops working after the rotation overlap.">
            <p>Rotating issues a new key (shown once); the key you signed in with keeps working until the rotation overlap ends.</p>
            <button type="submit" class="secondary">
              Rotate my key
            </button>
          </PostForm>
        ) : null}
      </section>

      {!ended && view.state !== 'pending_approval' ? (
        <section aria-labelledby="extension-heading">
          <h2 id="extension-heading">Ask for more time</h2>
          <p>Your sponsor decides; until then your access ends as planned.</p>
          <FormErrors errors={forms.extension?.errors} />
          <PostForm action="/portal/access/extension" csrfToken={csrfToken} id="extension-form">
            <TextField name="accessUntil" label="New end date" type="date" value={forms.extension?.values.accessUntil} required errors={forms.extension?.errors} />
            <TextField name="reason" label="Why you need it" multiline value={forms.extension?.values.reason} required errors={forms.extension?.errors} />
            <button type="submit" class="secondary">
              Ask for an extension
            </button>
          </PostForm>
        </section>
      ) : null}

      {!ended ? (
        <section aria-labelledby="offboarding-heading">
          <h2 id="offboarding-heading">End this access</h2>
          <p>Leave the date empty to end it now: every key stops working at once. A date plans it.</p>
          <FormErrors errors={forms.offboarding?.errors} />
          <PostForm action="/portal/access/offboarding" csrfToken={csrfToken} id="offboarding-form" data-confirm="End this access? Your keys stop working and this cannot be undone.">
            <TextField name="at" label="End on (optional)" type="date" value={forms.offboarding?.values.at} errors={forms.offboarding?.errors} />
            {/* not "reason": the extension form's field has that id on this page */}
            <TextField name="offboardingReason" label="Reason" multiline value={forms.offboarding?.values.reason} required errors={forms.offboarding?.errors} />
            <button type="submit" class="danger">
              Offboard
            </button>
          </PostForm>
        </section>
      ) : null}

      <section aria-labelledby="timeline-heading">
        <h2 id="timeline-heading">Timeline</h2>
        {timeline.length === 0 ? (
          <p>Nothing has happened yet.</p>
        ) : (
          <ol class="timeline">
            {timeline.map((e) => (
              <li>
                <Time at={e.at} /> <strong>{actionLabels[e.action] ?? e.action}</strong> <span class="note">by {e.by}</span>
                {e.reason ? <p class="reason">{e.reason}</p> : null}
              </li>
            ))}
          </ol>
        )}
      </section>
    </>
  );
};

/** A key, shown this once: after a pickup or a rotation. */
export const KeyShownOnce: FC<{ issued: IssuedKey; retiring?: { prefix: string; retireAt: string } | undefined; rotated: boolean; signedIn: boolean }> = ({ issued, retiring, rotated, signedIn }) => (
  <>
    <p class="warning" role="alert">
      <strong>This is the only time this key is shown.</strong> Copy it into your secret store now: we keep only a hash of it, and
      reloading or leaving this page will not show it again.
    </p>
    <div class="secret">
      <code id="api-key">{issued.apiKey}</code>
      <button type="button" class="secondary" data-copy="api-key">
        Copy
      </button>
    </div>
    <dl class="facts">
      <dt>Key id</dt>
      <dd>
        <code>{issued.keyId}</code>
      </dd>
      <dt>Expires</dt>
      <dd>
        <Time at={issued.expiresAt} />
      </dd>
      {retiring ? (
        <>
          <dt>Previous key</dt>
          <dd>
            <code>{retiring.prefix}…</code> stops working at <Time at={retiring.retireAt} />
          </dd>
        </>
      ) : null}
    </dl>
    <p>
      Send it in the <code>Authorization: Bearer …</code> (or <code>X-API-Key</code>) header, never in a URL. {signedIn ? (rotated ? 'This browser is now signed in with the new key.' : 'This browser is now signed in with this key, so you can rotate it.') : ''}
    </p>
    <p>
      <a href="/portal/access">Back to my access</a>
    </p>
  </>
);
