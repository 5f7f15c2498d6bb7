import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { sponsorSearchAttribute } from '../workflows/lifecycle/governance.js';

/** Search attributes the product sets on partner workflows (registered on the embedded dev server). */
export const partnerEnvironmentKey = defineSearchAttributeKey('PartnerEnvironment', SearchAttributeType.KEYWORD);
/** Set at the start (api/submissions.ts); the workflow moves it at a hand-over, so it is defined there (workflows may not import runtime/). */
export const partnerSponsorKey = sponsorSearchAttribute;

export const searchAttributeKeys = [partnerEnvironmentKey, partnerSponsorKey];
