import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tierChoices } from '../../api/pages/console/inbox.js';
import { parsePolicy } from '../../config/policy.js';

const raw = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../config/policy.json'), 'utf8'));
raw.environments.sandbox.approverRateLimitTiers = ['standard', 'elevated'];
const policy = parsePolicy(raw);

describe('the approval form’s rate tier choices', () => {
  it('the partner’s tier first (the one selected), then those an approver may grant', () => {
    expect(tierChoices(policy, { environment: 'sandbox', rate_limit_tier: 'elevated' }).map((t) => t.value)).toEqual(['elevated', 'standard']);
    expect(tierChoices(policy, { environment: 'sandbox', rate_limit_tier: 'standard' })[0]!.label).toContain('the policy’s default');
  });

  it('a tier today’s policy dropped stays the partner’s choice: Approve untouched never changes it', () => {
    const choices = tierChoices(policy, { environment: 'sandbox', rate_limit_tier: 'legacy' });
    expect(choices.map((t) => t.value)).toEqual(['legacy', 'standard', 'elevated']);
    expect(choices[0]!.label).toBe('legacy (the partner’s tier; no longer in today’s policy)');
  });
});
