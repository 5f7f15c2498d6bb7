import type { Role } from '../../../domain/partner-states.js';

/**
 * The console's pages and who may open each: the same roles as the JSON routes behind them. The
 * navigation shows an operator only these (layout.tsx), the pages' guards admit only these, and
 * sign-in lands on the first one the operator may open.
 */
export const consoleAreas = {
  inbox: { href: '/console', label: 'Inbox', roles: ['approver', 'security'] },
  recertifications: { href: '/console/recertifications', label: 'Recertifications', roles: ['approver'] },
  partners: { href: '/console/partners', label: 'Partners', roles: ['approver', 'security', 'auditor', 'admin'] },
  security: { href: '/console/security', label: 'Security', roles: ['security'] },
  audit: { href: '/console/audit', label: 'Audit', roles: ['auditor', 'admin', 'security'] },
} as const satisfies Record<string, { href: string; label: string; roles: readonly Role[] }>;

export const mayOpen = (area: { roles: readonly Role[] }, roles: readonly Role[]) => roles.some((r) => area.roles.includes(r));

/** Where an operator lands: the first page it may open (a gateway operator, none: the inbox's 403 says why). */
export const homeOf = (roles: readonly Role[]): string => Object.values(consoleAreas).find((a) => mayOpen(a, roles))?.href ?? consoleAreas.inbox.href;
