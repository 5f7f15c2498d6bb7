import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { Environment, PartnerState } from '../domain/partner-states.js';

/**
 * The read model and records of partner-access. Timestamps are ISO-8601 UTC text (SQLite binds
 * no Date), booleans are 0/1, lists are JSON text. Workflows own the lifecycle; these tables are
 * what the API, the gateway and auditors read.
 */
export interface Database {
  partners: PartnersTable;
  credentials: CredentialsTable;
  credential_pickups: CredentialPickupsTable;
  decisions: DecisionsTable;
  recertifications: RecertificationsTable;
  operators: OperatorsTable;
  notifications: NotificationsTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  idempotency_keys: IdempotencyKeysTable;
  usage_counters: UsageCountersTable;
  pending_signals: PendingSignalsTable;
  rate_limit_windows: RateLimitWindowsTable;
  gateway_changes: GatewayChangesTable;
  portal_sessions: PortalSessionsTable;
  notice_deliveries: NoticeDeliveriesTable;
}

// The state vocabulary is defined once, in domain/partner-states.ts.
export { partnerStates, terminalStates, type PartnerState } from '../domain/partner-states.js';

export interface PartnersTable {
  id: string;
  name: string;
  contact_email: string;
  sponsor: string;
  /** `partner` for self-service submissions, otherwise `operator:<name>` */
  requested_by: string;
  environment: Environment;
  /** JSON array of scope names */
  scopes: string;
  justification: string;
  state: PartnerState;
  /** pending approval stage: `sponsor` | `security` */
  stage: string | null;
  /** 1 once the pending stage has been escalated to alternates */
  escalated: number;
  access_until: string;
  next_deadline_at: string | null;
  next_deadline_action: string | null;
  policy_version: string;
  rate_limit_tier: string;
  request_token_hash: string;
  recert_cycle: number;
  last_certified_at: string | null;
  /** JSON `{ accessUntil, reason, requestedAt }` while an extension waits for the sponsor */
  pending_extension: string | null;
  /** JSON `{ at, reason, by }` when an offboarding is planned */
  planned_offboarding: string | null;
  end_reason: string | null;
  ended_at: string | null;
  /** when name, contact and justification were erased on request (migration 010); null: never */
  erased_at: ColumnType<string | null, string | null | undefined, string | null>;
  /** the operator label holding the partner suspended for security (migration 011); null otherwise */
  suspended_by: ColumnType<string | null, string | null | undefined, string | null>;
  /** last applied workflow transition sequence: makes read-model updates idempotent and ordered */
  transition_seq: number;
  created_at: string;
  updated_at: string;
}

export interface CredentialsTable {
  key_id: string;
  partner_id: string;
  /** 1, 2, 3 … per partner: the idempotency key of issuance */
  version: number;
  hash: string;
  prefix: string;
  environment: Environment;
  status: 'active' | 'revoked';
  created_at: string;
  expires_at: string;
  /** set while the key is being replaced: it stops working at this time */
  retire_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  revoke_reason: string | null;
}

export interface CredentialPickupsTable {
  key_id: string;
  partner_id: string;
  /** AES-256-GCM sealed plaintext, bound to the key id; wiped at pickup */
  sealed: string | null;
  /** why the key was issued: the request token picks up only `approval`'s; the rotate request hands out `rotation`'s */
  purpose: PickupPurpose;
  created_at: string;
  picked_up_at: string | null;
}

export interface DecisionsTable {
  id: Generated<number>;
  partner_id: string;
  /** idempotency key: partner + transition sequence */
  step_key: string;
  /** `approval` | `extension` */
  kind: string;
  stage: string | null;
  decision: string;
  actor: string;
  reason: string;
  scopes: string | null;
  access_until: string | null;
  at: string;
}

export interface RecertificationsTable {
  id: Generated<number>;
  partner_id: string;
  cycle: number;
  decision: string;
  actor: string;
  reason: string;
  scopes: string | null;
  /** JSON usage evidence shown to the reviewer */
  evidence: string | null;
  at: string;
}

export interface OperatorsTable {
  name: string;
  /** JSON array of roles */
  roles: string;
  token_hash: string;
  created_at: string;
  revoked_at: string | null;
  /** the token stops working at this time; null: it does not expire */
  expires_at: string | null;
  /** when the token was last replaced */
  rotated_at: string | null;
}

export interface NotificationsTable {
  id: string;
  partner_id: string;
  kind: string;
  /** JSON array of recipients (operator names or `partner`) */
  recipients: string;
  payload: string;
  status: 'pending' | 'delivered' | 'failed' | 'not_configured';
  attempts: number;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

export interface AuditEventsTable {
  seq: number;
  /** idempotency key of the step that wrote it */
  event_key: string;
  at: string;
  actor: string;
  action: string;
  partner_id: string | null;
  before: string | null;
  after: string | null;
  reason: string | null;
  /** JSON details (never secrets) */
  details: string | null;
  prev_hash: string;
  hash: string;
}

/** One row: the chain head. Every audit append locks it first, which serialises writers. */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

/** One caller's Idempotency-Key on a submission; expires after 24 h (api/idempotency.ts). */
export interface IdempotencyKeysTable {
  /** HMAC of the key the caller sent (the key itself is what a replay proves possession of) */
  key: string;
  /** who used it: HMAC of the caller (`operator:<name>` or `source:<client address>`) */
  scope: string;
  body_hash: string;
  partner_id: string;
  /** sealed response (contains the request token), bound to scope and key */
  response: string;
  created_at: string;
}

export interface UsageCountersTable {
  key_id: string;
  scope: string;
  day: string;
  count: number;
}

/**
 * The outbox of signals for workflows: an emergency revocation writes its signal here in the same
 * transaction as the revocation; the row is deleted once Temporal accepts the signal, and the API
 * process re-sends what is left (Temporal down, or the API died right after its commit).
 */
export interface PendingSignalsTable {
  id: Generated<number>;
  workflow_id: string;
  signal: string;
  args: string;
  created_at: string;
  attempts: number;
  last_error: string | null;
}

/** One budget key's count in one window, shared by every API process (schema/repositories/rate-limits.ts). */
export interface RateLimitWindowsTable {
  key: string;
  /** epoch ms; pg returns bigint columns as text, so read it through Number() */
  window_start: number;
  count: number;
  /** epoch ms after which the row weighs nothing: window_start + 2 windows */
  expires_at: number;
}

/** A signed-in browser of the portal or the console (migration 008). */
export interface PortalSessionsTable {
  /** SHA-256 of the session id the cookie holds */
  id_hash: string;
  credential_kind: 'operator' | 'request_token' | 'partner_key';
  /** SHA-256 of the credential the session was opened with (an operator token, a request token, a key) */
  credential_hash: string;
  /** whom it named at sign-in: the operator's name, the key's id; empty for a request token */
  subject: string;
  created_at: string;
  last_seen_at: string;
  /** the session ends here whatever its activity */
  expires_at: string;
}

/** A notice's delivery to one webhook endpoint (migration 009). */
export interface NoticeDeliveriesTable {
  notification_id: string;
  /** the endpoint's name in the configuration */
  endpoint: string;
  status: 'pending' | 'delivered' | 'dead';
  attempts: number;
  next_attempt_at: string;
  /** retried until then; after, a dead letter */
  retry_until: string;
  /** a worker holds the row until then while it attempts it */
  lease_until: string | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

export type PickupPurpose = 'approval' | 'rotation';

export type PartnerRow = Selectable<PartnersTable>;
export type NewPartner = Insertable<PartnersTable>;
export type PartnerUpdate = Updateable<PartnersTable>;
export type CredentialRow = Selectable<CredentialsTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type OperatorRow = Selectable<OperatorsTable>;

/**
 * The gateways' change feed (GET /v1/gateway/changes): one row per change that can alter a key's
 * verdict, written by triggers on credentials and partners (schema/migrations/…_004_gateway_changes.ts).
 */
export interface GatewayChangesTable {
  seq: Generated<number>;
  partner_id: string;
  /** NULL: the change concerns every key of the partner */
  key_id: string | null;
  /** `<table>.<column>` that changed, or credential.created / credential.deleted / partner.deleted */
  kind: string;
  at: string;
}
