import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './2026_11_23_001_initial.js';
import * as idempotencyScopes from './2026_11_23_002_idempotency_scopes.js';
import * as requestTokenIndex from './2026_11_23_003_request_token_index.js';
import * as gatewayChanges from './2026_12_05_004_gateway_changes.js';
import * as rateLimitWindows from './2026_12_05_005_rate_limit_windows.js';
import * as pickupPurpose from './2026_12_05_006_pickup_purpose.js';
import * as operatorTokenExpiry from './2026_12_05_007_operator_token_expiry.js';
import * as portalSessions from './2026_12_05_008_portal_sessions.js';
import * as noticeDeliveries from './2026_12_05_009_notice_deliveries.js';
import * as partnerErasure from './2026_12_05_010_partner_erasure.js';
import * as securitySuspension from './2026_12_05_011_security_suspension.js';

/**
 * Migrations listed explicitly: Kysely's FileMigrationProvider cannot import .ts files under
 * vitest/tsx ESM. Names sort in the order they run; add new files at the end.
 */
const migrations: Record<string, Migration> = {
  '2026_11_23_001_initial': initial,
  '2026_11_23_002_idempotency_scopes': idempotencyScopes,
  '2026_11_23_003_request_token_index': requestTokenIndex,
  '2026_12_05_004_gateway_changes': gatewayChanges,
  '2026_12_05_005_rate_limit_windows': rateLimitWindows,
  '2026_12_05_006_pickup_purpose': pickupPurpose,
  '2026_12_05_007_operator_token_expiry': operatorTokenExpiry,
  '2026_12_05_008_portal_sessions': portalSessions,
  '2026_12_05_009_notice_deliveries': noticeDeliveries,
  '2026_12_05_010_partner_erasure': partnerErasure,
  '2026_12_05_011_security_suspension': securitySuspension,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
