/**
 * Roles, least to most powerful. Each role can do everything the one before it can:
 *   operator    — views everything, silences the horn
 *   maintenance — also acknowledges and shelves alarms, operates writable points
 *   admin       — also configures users, alarms and the site; downloads the journal and history
 */
export const ROLES = ["operator", "maintenance", "admin"] as const;
export type Role = (typeof ROLES)[number];

export function isRole(x: unknown): x is Role {
  return typeof x === "string" && (ROLES as readonly string[]).includes(x);
}

export function roleRank(r: Role): number {
  return ROLES.indexOf(r);
}

export function atLeast(r: Role | undefined | null, min: Role): boolean {
  return !!r && roleRank(r) >= roleRank(min);
}

/** The lower of two roles (a PIN session is capped; a demoted user's open session follows). */
export function minRole(a: Role, b: Role): Role {
  return roleRank(a) <= roleRank(b) ? a : b;
}

/** What a kiosk PIN unlock may do at most: acknowledging and operating, never administration. */
export const PIN_ROLE_CAP: Role = "maintenance";
