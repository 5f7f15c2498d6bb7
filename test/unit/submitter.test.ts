import { describe, expect, it } from 'vitest';
import { submitterOf } from '../../api/submissions.js';

describe('who a submission is from', () => {
  it('two hosts of one IPv6 /64 share an onboarding budget but never each other’s Idempotency-Keys', () => {
    const a = submitterOf({ kind: 'anonymous' }, '2001:db8:1:2::a');
    const b = submitterOf({ kind: 'anonymous' }, '2001:db8:1:2::b');
    expect(a.budget).toBe(b.budget);
    expect(a.caller).not.toBe(b.caller);
    expect(a.requestedBy).toBe('partner');
  });

  it('an IPv4 client is its own budget and its own keys; an operator is budgeted and scoped by name', () => {
    expect(submitterOf({ kind: 'anonymous' }, '192.0.2.7')).toEqual({ requestedBy: 'partner', caller: 'source:192.0.2.7', budget: 'source:192.0.2.7' });
    expect(submitterOf({ kind: 'operator', name: 'bob', roles: ['approver'] }, '192.0.2.7')).toEqual({
      requestedBy: 'operator:bob',
      caller: 'operator:bob',
      budget: 'operator:bob',
    });
  });
});
