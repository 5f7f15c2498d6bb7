import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Search attributes the product sets on partner workflows (registered on the embedded dev server). */
export const partnerEnvironmentKey = defineSearchAttributeKey('PartnerEnvironment', SearchAttributeType.KEYWORD);
export const partnerSponsorKey = defineSearchAttributeKey('PartnerSponsor', SearchAttributeType.KEYWORD);

export const searchAttributeKeys = [partnerEnvironmentKey, partnerSponsorKey];
