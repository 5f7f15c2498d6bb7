import { describe, expect, it } from 'vitest';
import { neutralReasons, partnerTimeline, type TimelineContext, type TimelineSource } from '../../api/partner-timeline.js';

const P = 'P0000001';
const ctx: TimelineContext = {
  sponsor: 'alice',
  operatorRoles: new Map([
    ['alice', ['approver']],
    ['bob', ['approver']],
    ['ada', ['admin']],
    ['sam', ['security']],
  ]),
};

let seq = 0;
/** An audit row of partner P as the route reads it (decision stage joined in). */
function event(action: string, actor: string, extra: Partial<TimelineSource> = {}): TimelineSource {
  seq += 1;
  return {
    seq,
    event_key: `${P}:t${seq}`,
    at: new Date(Date.UTC(2030, 0, 1, 0, 0, seq)).toISOString(),
    actor,
    action,
    partner_id: P,
    before: null,
    after: null,
    reason: null,
    details: null,
    prev_hash: 'a'.repeat(64),
    hash: 'b'.repeat(64),
    decision_stage: null,
    ...extra,
  };
}
const view = (...events: TimelineSource[]) => partnerTimeline(events, ctx).map(({ action, by, reason }) => ({ action, by, reason }));

describe('partnerTimeline: who acted, as a role', () => {
  it('a stage-1 decision by an escalated alternate is an approver, not the sponsor; stage 2 is security', () => {
    expect(
      view(
        event('partner.submitted', `partner:${P}`),
        event('approval.escalated', 'system:lifecycle', { details: JSON.stringify({ stage: 'sponsor' }) }),
        event('approval.granted', 'operator:bob', { decision_stage: 'sponsor', reason: 'ok by me' }),
        event('approval.rejected', 'operator:sam', { decision_stage: 'security', reason: 'scopes too broad for a sandbox' }),
      ),
    ).toEqual([
      { action: 'partner.submitted', by: 'partner', reason: null },
      { action: 'approval.escalated', by: 'system', reason: null },
      { action: 'approval.granted', by: 'approver', reason: null },
      // a rejection's reason is the answer to the request, whichever stage gave it
      { action: 'approval.rejected', by: 'security', reason: 'scopes too broad for a sandbox' },
    ]);
  });

  it('the key issued at the last approval is shown in that approver’s role', () => {
    const events = view(
      event('approval.granted', 'operator:alice', { decision_stage: 'sponsor' }),
      event('credential.issued', 'operator:alice'),
      event('partner.activated', 'operator:alice'),
    );
    expect(events.map((e) => e.by)).toEqual(['sponsor', 'sponsor', 'sponsor']);
  });

  it('filed on the partner’s behalf: the sponsor, another approver, or an admin', () => {
    expect(view(event('partner.submitted', 'operator:alice'))[0]!.by).toBe('sponsor');
    expect(view(event('partner.submitted', 'operator:bob'))[0]!.by).toBe('approver');
    expect(view(event('partner.submitted', 'operator:ada'))[0]!.by).toBe('admin');
  });
});

describe('partnerTimeline: reasons', () => {
  it('a planned offboarding by the partner or the sponsor keeps its reason; an admin’s becomes a neutral sentence', () => {
    expect(
      view(
        event('offboarding.planned', `partner:${P}`, { reason: 'we move to v2' }),
        event('offboarding.planned', 'operator:alice', { reason: 'contract ends in May' }),
        event('offboarding.planned', 'operator:ada', { reason: 'internal: cost review' }),
        event('partner.offboarded', 'operator:ada', { reason: 'internal: cost review' }),
      ),
    ).toEqual([
      { action: 'offboarding.planned', by: 'partner', reason: 'we move to v2' },
      { action: 'offboarding.planned', by: 'sponsor', reason: 'contract ends in May' },
      { action: 'offboarding.planned', by: 'admin', reason: neutralReasons.plannedByAdmin },
      { action: 'partner.offboarded', by: 'admin', reason: neutralReasons.offboardedByAdmin },
    ]);
  });

  it('a recertification that revokes: the sponsor’s review notes stay internal', () => {
    expect(
      view(
        event('recertification.opened', 'system:lifecycle', { details: JSON.stringify({ cycle: 0, dueAt: '2030-02-01T00:00:00.000Z' }) }),
        event('recertification.revoked', 'operator:alice', { reason: 'never used payments' }),
        event('partner.offboarded', 'operator:alice', { reason: 'recertification revoked: never used payments' }),
      ),
    ).toEqual([
      { action: 'recertification.opened', by: 'system', reason: null },
      { action: 'recertification.revoked', by: 'sponsor', reason: null },
      { action: 'partner.offboarded', by: 'sponsor', reason: neutralReasons.notRenewed },
    ]);
  });

  it('the product’s own reasons are shown; an operator’s suspension reason is not', () => {
    expect(
      view(
        event('approval.expired', 'system:lifecycle', { reason: 'no decision within the approval timeout (stage sponsor)' }),
        event('partner.suspended', 'system:lifecycle', { reason: 'recertification not answered' }),
        event('partner.suspended', 'operator:sam', { reason: 'internal: investigating traffic from 10.1.2.3' }),
        event('partner.offboarded', 'system:lifecycle', { reason: 'access end date reached' }),
      ),
    ).toEqual([
      { action: 'approval.expired', by: 'system', reason: 'no decision within the approval timeout (stage sponsor)' },
      { action: 'partner.suspended', by: 'system', reason: 'recertification not answered' },
      { action: 'partner.suspended', by: 'security', reason: neutralReasons.suspendedByOperator },
      { action: 'partner.offboarded', by: 'system', reason: 'access end date reached' },
    ]);
  });

  it('approvals, keeps and narrowings carry internal notes: no reason', () => {
    const events = view(
      event('approval.granted', 'operator:alice', { decision_stage: 'sponsor', reason: 'internal: legal ok' }),
      event('recertification.kept', 'operator:alice', { reason: 'internal: still needed' }),
      event('recertification.narrowed', 'operator:alice', { reason: 'internal: payments unused' }),
      event('partner.reactivated', 'operator:alice', { reason: 'internal: late answer' }),
    );
    expect(events.map((e) => e.reason)).toEqual([null, null, null, null]);
  });
});

describe('partnerTimeline: what is left out', () => {
  it('actions nobody listed for partners are not shown (fail closed)', () => {
    const events = view(
      event('partner.submitted', `partner:${P}`),
      event('revocation.verified', 'system:gateway-verifier'),
      event('partner.sponsor_changed', 'operator:ada', { reason: 'internal: alice left' }),
    );
    expect(events.map((e) => e.action)).toEqual(['partner.submitted']);
  });

  it('details keep only the key’s public identifiers and times', () => {
    const [issued] = partnerTimeline(
      [
        event('credential.issued', `partner:${P}`, {
          details: JSON.stringify({ keyId: 'k2', prefix: 'pak_test_k2', version: 2, expiresAt: '2030-03-01T00:00:00.000Z', purpose: 'rotation', note: 'x' }),
        }),
      ],
      ctx,
    );
    expect(issued!.details).toEqual({ keyId: 'k2', prefix: 'pak_test_k2', expiresAt: '2030-03-01T00:00:00.000Z' });
    const [submitted] = partnerTimeline([event('partner.submitted', `partner:${P}`, { details: JSON.stringify({ stages: ['sponsor'] }) })], ctx);
    expect(submitted!.details).toBeNull();
  });

  it('an event carries when, what, who and why, nothing else', () => {
    const [e] = partnerTimeline([event('partner.submitted', `partner:${P}`)], ctx);
    expect(Object.keys(e!).sort()).toEqual(['action', 'at', 'by', 'details', 'reason']);
  });
});
