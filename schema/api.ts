/** Request and response bodies of the HTTP API: validated here and published in /openapi.json. */
import { z } from '@hono/zod-openapi';
import { textPattern, textProblem } from '../domain/text.js';
import { approvalStages, environments, partnerStates, roles } from '../domain/partner-states.js';
import { keyDeadReasons } from '../domain/key-liveness.js';

// Free text (names, justifications, reasons) follows one rule (domain/text.ts): no blanks-only, no
// control, format (bidi, zero-width) or unpaired-surrogate characters. The pattern says what it can
// in the OpenAPI document (a fuzzer reads it); the check catches what a portable pattern cannot
// (format characters beyond the BMP, lone surrogates). Both report why, naming the character.
// Accepted text is stored in NFC and trimmed.
const text = (max: number) =>
  z
    .string()
    .max(max)
    .regex(textPattern, { error: (issue) => textProblem(String(issue.input)) ?? 'must be printable text', abort: true })
    .superRefine((value, ctx) => {
      const problem = textProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .normalize('NFC')
    .trim();
/** Operator names, as runtime/operators.ts creates them. */
const operatorNameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'not an operator name');

export const environmentSchema = z.enum(environments).openapi('Environment');
export const partnerStateSchema = z.enum(partnerStates).openapi('PartnerState');
export const scopeNameSchema = z.string().regex(/^[a-z][a-z0-9_.:-]{1,63}$/, 'not a scope name');
// RFC 3339 date-time (with offset) or date: expressible in JSON Schema, so the OpenAPI document
// (and a fuzzer reading it) knows exactly what is accepted.
export const isoDateTimeSchema = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()], { error: 'must be an ISO-8601 date-time (2027-06-30T00:00:00Z) or date' })
  .openapi({ example: '2027-06-30T00:00:00Z' });
export const partnerIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9]{8,32}$/, 'not a partner id')
  .openapi({ param: { name: 'id', in: 'path' }, example: 'Zq4k2Nd8xT0aLp9w' });

export const submissionSchema = z
  .strictObject({
    name: text(200),
    // zod's own e-mail pattern, as a pattern: z.email() would publish only `format: email`, which admits more
    contactEmail: z.string().max(254).regex(z.regexes.email, 'not an e-mail address'),
    sponsor: operatorNameSchema,
    environment: environmentSchema,
    scopes: z.array(scopeNameSchema).min(1).max(50),
    justification: text(2000),
    accessUntil: isoDateTimeSchema.optional(),
  })
  .openapi('Submission');

export const submissionAcceptedSchema = z
  .object({ partnerId: z.string(), requestToken: z.string(), state: partnerStateSchema })
  .openapi('SubmissionAccepted');

export const deadlineSchema = z.object({ at: z.string(), action: z.string() }).openapi('Deadline');

export const partnerSummarySchema = z
  .object({
    partnerId: z.string(),
    name: z.string(),
    environment: environmentSchema,
    sponsor: z.string(),
    state: partnerStateSchema,
    pendingStage: z.enum(['sponsor', 'security']).nullable(),
    scopes: z.array(z.string()),
    accessUntil: z.string(),
    nextDeadline: deadlineSchema.nullable(),
  })
  .openapi('PartnerSummary');

export const partnerViewSchema = partnerSummarySchema
  .extend({
    escalated: z.boolean(),
    rateLimitTier: z.string(),
    policyVersion: z.string(),
    recertificationCycle: z.number().int(),
    lastCertifiedAt: z.string().nullable(),
    pendingExtension: z.object({ accessUntil: z.string(), reason: z.string(), requestedAt: z.string() }).nullable(),
    plannedOffboarding: z.object({ at: z.string(), reason: z.string(), by: z.string() }).nullable(),
    endReason: z.string().nullable(),
    credentials: z.array(
      z.object({
        keyId: z.string(),
        prefix: z.string(),
        status: z.enum(['active', 'revoked']),
        expiresAt: z.string(),
        retireAt: z.string().nullable(),
        lastUsedAt: z.string().nullable(),
      }),
    ),
    createdAt: z.string(),
    updatedAt: z.string(),
    /** operators only: a live grant held against today's policy (what a recertification keep is checked against) */
    drift: z
      .object({ policyVersion: z.string(), findings: z.array(z.object({ rule: z.string(), detail: z.string() })) })
      .nullable()
      .optional(),
  })
  .openapi('Partner');

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    requestId: z.string().optional(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');

export const healthSchema = z.object({ status: z.string() }).openapi('Health');
export const readinessSchema = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.object({ database: z.boolean(), temporal: z.boolean() }),
    /** the policy this process acts on (a changed file is picked up within a second; every process of a deployment should show the same) */
    policyVersion: z.string(),
  })
  .openapi('Readiness');

const reason = text(1000);
/** A rate tier's name, as config/policy.ts accepts them. */
const rateTierNameSchema = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'not a rate tier name');

export const decisionSchema = z
  .strictObject({
    decision: z.enum(['approve', 'reject']),
    scopes: z.array(scopeNameSchema).min(1).max(50).optional(),
    accessUntil: isoDateTimeSchema.optional(),
    /** at approval: the rate tier granted, one the policy lets an approver grant (default: the policy's default tier) */
    rateLimitTier: rateTierNameSchema.optional(),
    /**
     * the approval stage decided, as the approver was shown it (`pendingStage`): if it has closed
     * meanwhile the answer is a 409, never a decision of the next stage. Omitted: the stage open
     * when the API reads the partner.
     */
    stage: z.enum(approvalStages).optional(),
    reason,
  })
  .openapi('Decision');

export const recertificationSchema = z
  .strictObject({
    decision: z.enum(['keep', 'narrow', 'revoke']),
    scopes: z.array(scopeNameSchema).min(1).max(50).optional(),
    /**
     * the review answered, as the reviewer was shown it (`recertificationCycle`): if it has closed
     * meanwhile the answer is a 409, never an answer to the next review. Omitted: the review open
     * when the API reads the partner.
     */
    cycle: z.number().int().min(0).max(1_000_000).optional(),
    reason,
  })
  .openapi('Recertification');

export const extensionSchema = z.strictObject({ accessUntil: isoDateTimeSchema, reason }).openapi('ExtensionRequest');
export const offboardingSchema = z.strictObject({ at: isoDateTimeSchema.optional(), reason }).openapi('OffboardingRequest');
export const revocationSchema = z.strictObject({ reason }).openapi('Revocation');
export const suspensionSchema = z.strictObject({ reason }).openapi('Suspension');
export const sponsorChangeSchema = z.strictObject({ sponsor: operatorNameSchema, reason }).openapi('SponsorChange');
export const rateTierChangeSchema = z.strictObject({ tier: rateTierNameSchema, reason }).openapi('RateTierChange');

export const commandResultSchema = z
  .object({
    partnerId: z.string(),
    state: partnerStateSchema,
    pendingStage: z.enum(['sponsor', 'security']).nullable(),
    accessUntil: z.string().optional(),
    keyId: z.string().optional(),
  })
  .openapi('CommandResult');

export const revocationAcceptedSchema = z
  .object({ partnerId: z.string(), state: z.literal('revoked'), keysRevoked: z.number().int(), workflowSignalled: z.boolean() })
  .openapi('RevocationAccepted');

export const issuedKeySchema = z
  .object({ apiKey: z.string(), keyId: z.string(), expiresAt: z.string() })
  .openapi('IssuedKey', { description: 'The plaintext key, shown exactly once' });

export const introspectionRequestSchema = z
  .strictObject({
    token: z.string().max(200),
    /** the environment the gateway serves: a key of another environment is inactive */
    environment: environmentSchema.optional(),
    /** the scope the request needs: recorded as usage evidence */
    scope: scopeNameSchema.optional(),
  })
  .openapi('IntrospectionRequest');

export const introspectionResponseSchema = z
  .union([
    z.object({
      active: z.literal(true),
      partnerId: z.string(),
      environment: environmentSchema,
      scopes: z.array(z.string()),
      rateLimit: z.object({ tier: z.string(), requests: z.number().int(), windowSeconds: z.number() }),
      expiresAt: z.string(),
    }),
    z.object({
      active: z.literal(false),
      reason: z.enum(['malformed', 'bad_checksum', 'unknown', ...keyDeadReasons]),
    }),
  ])
  .openapi('Introspection');

export const listQuerySchema = z.strictObject({
  state: partnerStateSchema.optional(),
  sponsor: operatorNameSchema.optional(),
  environment: environmentSchema.optional(),
  scope: scopeNameSchema.optional(),
  cursor: z.string().regex(/^[A-Za-z0-9]{8,32}$/, 'not a cursor').optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});



export const partnerListSchema = z
  .object({ items: z.array(partnerSummarySchema), nextCursor: z.string().nullable() })
  .openapi('PartnerList');

export const auditEventSchema = z
  .object({
    seq: z.number().int(),
    at: z.string(),
    actor: z.string(),
    action: z.string(),
    partnerId: z.string().nullable(),
    before: z.string().nullable(),
    after: z.string().nullable(),
    reason: z.string().nullable(),
    details: z.record(z.string(), z.unknown()).nullable(),
    prevHash: z.string(),
    hash: z.string(),
  })
  .openapi('AuditEvent');

export const timelineSchema = z
  .object({ partnerId: z.string(), view: z.literal('operator'), events: z.array(auditEventSchema) })
  .openapi('Timeline');

/** What a partner sees of its own timeline (api/partner-timeline.ts decides what goes in it). */
export const partnerTimelineEventSchema = z
  .object({
    at: z.string(),
    action: z.string(),
    by: z.enum(['partner', 'sponsor', 'approver', 'security', 'admin', 'system']),
    reason: z.string().nullable(),
    details: z
      .strictObject({
        keyId: z.string().optional(),
        prefix: z.string().optional(),
        expiresAt: z.string().optional(),
        newKeyId: z.string().optional(),
        oldKeyId: z.string().optional(),
        retireAt: z.string().optional(),
      })
      .nullable(),
  })
  .openapi('PartnerTimelineEvent');
export const partnerTimelineSchema = z
  .object({ partnerId: z.string(), view: z.literal('partner'), events: z.array(partnerTimelineEventSchema) })
  .openapi('PartnerTimeline');
/** The timeline route answers operators with the audit events, the partner with its own view. */
export const timelineResponseSchema = z.discriminatedUnion('view', [timelineSchema, partnerTimelineSchema]).openapi('TimelineResponse');

export const inboxSchema = z
  .object({
    items: z.array(
      z.object({
        partnerId: z.string(),
        name: z.string(),
        environment: environmentSchema,
        kind: z.enum(['approval', 'extension', 'recertification']),
        stage: z.enum(['sponsor', 'security']).nullable(),
        state: partnerStateSchema,
        scopes: z.array(z.string()),
        deadline: deadlineSchema.nullable(),
      }),
    ),
  })
  .openapi('Inbox');

export const auditQuerySchema = z.strictObject({
  partnerId: z.string().regex(/^[A-Za-z0-9]{8,32}$/).optional(),
  afterSeq: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});

export const chainCheckSchema = z
  .object({
    ok: z.boolean(),
    events: z.number().int(),
    headSeq: z.number().int(),
    brokenAt: z.number().int().optional(),
    problem: z.string().optional(),
    /** the latest signed checkpoint the chain was held against (kept outside the database); null before the first */
    checkpoint: z.object({ seq: z.number().int(), at: z.string() }).nullable().optional(),
  })
  .openapi('AuditChainCheck');

export const bulkRevocationSchema = z
  .strictObject({
    scope: scopeNameSchema.optional(),
    environment: environmentSchema.optional(),
    partnerIds: z.array(z.string().regex(/^[A-Za-z0-9]{8,32}$/)).min(1).max(1000).optional(),
    reason: text(1000),
    dryRun: z.boolean().default(false),
  })
  .refine((b) => b.scope !== undefined || b.environment !== undefined || b.partnerIds !== undefined, {
    message: 'name at least one of scope, environment, partnerIds',
  })
  // the refine, as the document says it
  .openapi('BulkRevocation', { anyOf: [{ required: ['scope'] }, { required: ['environment'] }, { required: ['partnerIds'] }] });

export const bulkRevocationResultSchema = z
  .object({
    dryRun: z.boolean(),
    partners: z.array(z.object({ partnerId: z.string(), name: z.string(), state: partnerStateSchema, scopes: z.array(z.string()), keysRevoked: z.number().int().optional() })),
  })
  .openapi('BulkRevocationResult');

// ---- operators (issue #16, item 6) -----------------------------------------------------------

export const operatorRoleSchema = z.enum(roles).openapi('OperatorRole');
const expiresInDays = z.number().int().min(1).max(730);

export const operatorCreateSchema = z
  .strictObject({
    name: operatorNameSchema,
    roles: z.array(operatorRoleSchema).min(1).max(roles.length),
    /** the token stops working after this many days (default 90) */
    expiresInDays: expiresInDays.optional(),
    reason: text(1000),
  })
  .openapi('OperatorCreate');

export const operatorRotationSchema = z.strictObject({ expiresInDays: expiresInDays.optional(), reason: text(1000) }).openapi('OperatorRotation');
export const operatorRevocationSchema = z
  .strictObject({
    reason: text(1000),
    /** the approver who takes over every partner the revoked operator sponsors (without: 409 while it sponsors any) */
    successor: operatorNameSchema.optional(),
  })
  .openapi('OperatorRevocation');

export const operatorSchema = z
  .object({
    name: z.string(),
    roles: z.array(operatorRoleSchema),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    rotatedAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .openapi('Operator');

export const operatorListSchema = z.object({ items: z.array(operatorSchema) }).openapi('OperatorList');

export const operatorTokenSchema = z
  .object({ name: z.string(), token: z.string(), expiresAt: z.string().nullable() })
  .openapi('OperatorToken', { description: 'The bearer token, shown this once' });

export const operatorNameParamSchema = operatorNameSchema;

// ---- notices (issue #16, item 9) -------------------------------------------------------------

export const notificationIdParamSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}:n[0-9]{1,9}$/, 'a notice id, <partnerId>:n<number>');

export const deadLetterSchema = z
  .object({
    notificationId: z.string(),
    endpoint: z.string(),
    kind: z.string(),
    partnerId: z.string(),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('DeadLetter');

export const deadLetterListSchema = z.object({ items: z.array(deadLetterSchema) }).openapi('DeadLetterList');

export const redeliverySchema = z
  .strictObject({
    /** one endpoint's dead delivery; without: every dead delivery of the notice */
    endpoint: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/).optional(),
    reason: text(1000),
  })
  .openapi('Redelivery');

export const redeliveryResultSchema = z.object({ notificationId: z.string(), requeued: z.number().int() }).openapi('RedeliveryResult');

// ---- governance (issue #16, item 1) ----------------------------------------------------------

const driftFindingSchema = z.object({ rule: z.string(), detail: z.string() });

export const driftReportSchema = z
  .object({
    checkedAt: z.string(),
    policyVersion: z.string(),
    grants: z.array(
      z.object({
        partnerId: z.string(),
        name: z.string(),
        environment: z.enum(environments),
        state: partnerStateSchema,
        scopes: z.array(z.string()),
        /** the version the grant was last checked against */
        policyVersion: z.string(),
        findings: z.array(driftFindingSchema),
      }),
    ),
    routes: z.array(driftFindingSchema),
    environments: z.object({
      findings: z.array(driftFindingSchema),
      scopes: z.array(z.object({ scope: z.string(), risk: z.enum(['low', 'high']), sandbox: z.array(z.enum(approvalStages)), production: z.array(z.enum(approvalStages)) })),
      settings: z.array(
        z.object({
          environment: z.enum(environments),
          securityApproval: z.enum(['always', 'high-risk']),
          autoApprove: z.string().nullable(),
          maxAccessMs: z.number(),
          recertifyEveryMs: z.number(),
          rateLimitTiers: z.array(z.string()),
        }),
      ),
    }),
  })
  .openapi('DriftReport');

// ---- retention and erasure (issue #16, item 11) ----------------------------------------------

export const erasureSchema = z.strictObject({ reason: text(1000) }).openapi('Erasure');
export const erasureResultSchema = z.object({ partnerId: z.string(), erasedAt: z.string() }).openapi('ErasureResult');
