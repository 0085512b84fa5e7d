import type { Role } from "./roles.ts";

/**
 * Who may call which route — the one place to read it. The security middleware
 * (src/server/middleware/security.ts) applies it to every request before any route runs:
 *
 *   public       anyone (the login page and what it needs)
 *   viewer       any logged-in user, or any request from a kiosk address (read-only without login)
 *   signed-in    any logged-in user (not an anonymous kiosk)
 *   operator / maintenance / admin   that role or above
 *
 * Rules: a GET with no policy is treated as `viewer`; any other method with no policy is refused.
 * test/roles.test.ts walks `app.routes` and fails for a route missing here, so a new route must
 * be given its policy in this table. State-changing methods also need the CSRF token unless
 * `csrf: false` (none today).
 */

export type Access = "public" | "viewer" | "signed-in" | Role;

export interface RoutePolicy {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "ALL";
  /** The route's path pattern exactly as registered with hono (`/alarms/:id/ack`). */
  path: string;
  access: Access;
  /** For `/assets/:file`: files anyone may load (the login page's style sheet). */
  publicParams?: Record<string, readonly string[]>;
  csrf?: boolean;
  /**
   * Largest request body (bytes) this route reads, checked before anything parses it; default
   * FORM_BODY_LIMIT for every state-changing route. An upload route (backup restore) sets its own.
   */
  bodyLimit?: number;
  /** Why, when it is not obvious. */
  note?: string;
}

/** A login, an acknowledgement, a setpoint: a few hundred bytes; 64 KiB is generous. */
export const FORM_BODY_LIMIT = 64 * 1024;
/** A restore uploads a whole backup (configuration, journal and years of history). */
export const RESTORE_BODY_LIMIT = 64 * 1024 ** 3;

export const POLICIES: readonly RoutePolicy[] = [
  // --- Pages, API and live stream of the other areas: read-only, for users and kiosks.
  { method: "GET", path: "/", access: "viewer" },
  { method: "GET", path: "/points", access: "viewer" },
  { method: "GET", path: "/api/points", access: "viewer" },
  { method: "GET", path: "/api/points/:id", access: "viewer" },
  { method: "GET", path: "/api/points/:id/history", access: "viewer" },
  { method: "GET", path: "/api/history", access: "viewer" },
  { method: "GET", path: "/api/buses", access: "viewer" },
  { method: "GET", path: "/api/plan", access: "viewer" },
  { method: "GET", path: "/api/stream", access: "viewer" },
  { method: "GET", path: "/healthz", access: "public", note: "liveness probe: says nothing but ok" },
  {
    method: "GET",
    path: "/assets/:file",
    access: "viewer",
    publicParams: { file: ["busbar.css", "alarms.css"] },
    note: "the login and setup pages need their style sheets before anyone is logged in",
  },
  { method: "GET", path: "/lang/:lang", access: "public", note: "language toggle (sets a cookie): the login page has it too" },
  { method: "GET", path: "/hmi/detail/:id", access: "viewer" },
  { method: "GET", path: "/trends", access: "viewer" },
  // --- Microgrid control (routes/microgrid.tsx); the GDP request and setpoints go through /operate
  { method: "GET", path: "/microgrid", access: "viewer" },
  { method: "GET", path: "/microgrid/why", access: "viewer" },
  { method: "GET", path: "/microgrid/banner", access: "viewer" },
  { method: "GET", path: "/api/microgrid", access: "viewer" },
  { method: "POST", path: "/microgrid/gdp-schedule", access: "maintenance" },
  { method: "GET", path: "/energy", access: "viewer" },
  { method: "GET", path: "/api/energy/view", access: "viewer" },
  { method: "GET", path: "/api/energy/view.csv", access: "viewer" },
  { method: "POST", path: "/api/energy/costs", access: "admin", note: "validates tariffs; saves when confirmed; reprices from a chosen date (journaled)" },
  { method: "POST", path: "/api/energy/correct", access: "admin", note: "accepts or sets a held bad-data interval (journaled)" },
  { method: "GET", path: "/admin/energy", access: "admin", note: "energy structure and tariffs as YAML, held bad data" },
  { method: "POST", path: "/admin/energy", access: "admin", note: "checks the energy YAML like the site file; saves when confirmed (journaled)" },
  { method: "POST", path: "/api/energy/replacement", access: "admin", note: "records a meter swap: old final and new first reading (journaled)" },
  { method: "GET", path: "/comm", access: "viewer" },
  { method: "GET", path: "/comm/bus/:id", access: "viewer" },
  { method: "GET", path: "/api/gateway", access: "viewer", note: "the Modbus gateway's counters and write rule" },
  { method: "POST", path: "/api/buses/:id/scan", access: "admin", note: "bus scan loads the bus: administration" },

  // --- Authentication (routes/auth.tsx)
  { method: "GET", path: "/auth/login", access: "public" },
  { method: "POST", path: "/auth/login", access: "public", note: "CSRF-checked against the anonymous token cookie" },
  { method: "POST", path: "/auth/logout", access: "signed-in" },
  { method: "GET", path: "/auth/me", access: "public", note: "who am I: user, role, kiosk, CSRF token for the page's scripts" },
  { method: "GET", path: "/auth/pin", access: "viewer", note: "the PIN pad; only kiosk addresses may use it" },
  { method: "POST", path: "/auth/pin", access: "viewer", note: "PIN unlock, refused unless the address is a kiosk" },
  { method: "GET", path: "/setup", access: "public", note: "first admin: answers only on loopback while there is no user" },
  { method: "POST", path: "/setup", access: "public", note: "first admin: answers only on loopback while there is no user" },
  { method: "GET", path: "/account", access: "signed-in" },
  { method: "POST", path: "/account/password", access: "signed-in" },
  { method: "POST", path: "/account/pin", access: "signed-in" },

  // --- Alarms (routes/alarms.tsx)
  { method: "GET", path: "/alarms", access: "viewer" },
  { method: "GET", path: "/alarms/list", access: "viewer" },
  { method: "GET", path: "/alarms/history", access: "viewer" },
  { method: "GET", path: "/api/alarms", access: "viewer" },
  { method: "GET", path: "/api/alarms/summary", access: "viewer" },
  { method: "POST", path: "/alarms/silence", access: "viewer", note: "silencing is not acknowledging: the route applies the site's alarms.silence (default: anyone at a kiosk)" },
  { method: "POST", path: "/alarms/ack", access: "maintenance", note: "acknowledge several alarms with one comment" },
  { method: "POST", path: "/alarms/:id/ack", access: "maintenance" },
  { method: "POST", path: "/alarms/:id/shelve", access: "maintenance" },
  { method: "POST", path: "/alarms/:id/unshelve", access: "maintenance" },
  { method: "POST", path: "/alarms/:id/out-of-service", access: "admin" },
  { method: "POST", path: "/alarms/:id/in-service", access: "admin" },

  // --- Operating writable points (routes/operate.tsx)
  { method: "GET", path: "/operate", access: "viewer" },
  { method: "GET", path: "/operate/:point", access: "viewer", note: "select and confirm screens; executing needs maintenance" },
  { method: "POST", path: "/operate/:point", access: "maintenance" },
  { method: "POST", path: "/operate/:point/select", access: "maintenance", note: "select-before-operate: locks the breaker for this session" },
  { method: "POST", path: "/operate/:point/cancel", access: "maintenance" },

  // --- Journal (routes/journal.tsx)
  { method: "GET", path: "/journal", access: "signed-in", note: "names who did what: not for an anonymous kiosk" },
  { method: "GET", path: "/journal/export.csv", access: "admin" },

  // --- Administration (routes/admin.tsx, routes/users.tsx)
  { method: "GET", path: "/admin", access: "admin" },
  { method: "GET", path: "/bacnet", access: "signed-in", note: "names the BMS's addresses (COV subscribers)" },
  { method: "GET", path: "/admin/bacnet/ede.zip", access: "admin" },
  { method: "GET", path: "/admin/bacnet/ede/:file", access: "admin" },
  { method: "GET", path: "/admin/alarms", access: "admin" },
  { method: "POST", path: "/admin/alarms", access: "admin", bodyLimit: 1024 * 1024, note: "the alarm configuration's YAML" },
  { method: "GET", path: "/admin/journal/verify", access: "admin" },
  { method: "GET", path: "/api/auth/throttle", access: "admin", note: "addresses the login throttle refuses" },
  { method: "POST", path: "/admin/throttle/clear", access: "admin" },
  { method: "GET", path: "/admin/system", access: "admin", note: "database sizes per history tier, backups" },
  { method: "GET", path: "/admin/system/backup", access: "admin", note: "downloads configuration, history, alarms and journal" },
  {
    method: "POST",
    path: "/admin/system/restore",
    access: "admin",
    bodyLimit: RESTORE_BODY_LIMIT,
    note: "replaces every database after checking the upload (streamed to disk by the route)",
  },
  // --- CSV exports (routes/exports.tsx): maintenance reads history for its reports; journaled.
  { method: "GET", path: "/export", access: "maintenance" },
  { method: "GET", path: "/export/history.csv", access: "maintenance" },
  { method: "GET", path: "/export/energy.csv", access: "maintenance", note: "energy and cost by meter, circuit, zone or total" },
  { method: "GET", path: "/export/alarms.csv", access: "maintenance" },
  { method: "GET", path: "/export/bundle.zip", access: "maintenance", note: "several CSV files in one zip (the journal only for an admin, checked by the route)" },
  { method: "GET", path: "/export/progress", access: "maintenance", note: "progress of the user's own download in flight" },

  // --- Reports (routes/reports.tsx): maintenance downloads PDF reports; schedules send mail: admin.
  { method: "GET", path: "/reports", access: "maintenance" },
  { method: "GET", path: "/reports/report.pdf", access: "maintenance", note: "generated in the report pool; journaled" },
  { method: "GET", path: "/api/reports/report.pdf", access: "maintenance", note: "same as /reports/report.pdf" },
  { method: "GET", path: "/api/reports/schedules", access: "admin" },
  { method: "POST", path: "/reports/schedules", access: "admin" },
  { method: "POST", path: "/reports/schedules/:id/delete", access: "admin" },
  { method: "POST", path: "/reports/schedules/:id/run", access: "admin", note: "sends the latest complete period now" },

  // --- Notifications (routes/notify.tsx): channels hold secrets, rules say who is woken at night.
  { method: "GET", path: "/admin/notify", access: "admin" },
  { method: "GET", path: "/api/notify/outbox", access: "admin", note: "messages and their delivery state (no bodies)" },
  { method: "POST", path: "/admin/notify/channels", access: "admin" },
  { method: "POST", path: "/admin/notify/channels/:id/delete", access: "admin" },
  { method: "POST", path: "/admin/notify/channels/:id/test", access: "admin", note: "sends a real message now and shows the peer's answer" },
  { method: "POST", path: "/admin/notify/rules", access: "admin" },
  { method: "POST", path: "/admin/notify/rules/:id/delete", access: "admin" },
  { method: "POST", path: "/admin/notify/emails", access: "admin" },
  { method: "POST", path: "/admin/notify/outbox/:id/retry", access: "admin" },
  { method: "GET", path: "/users", access: "admin" },
  { method: "POST", path: "/users", access: "admin" },
  { method: "POST", path: "/users/:id/role", access: "admin" },
  { method: "POST", path: "/users/:id/password", access: "admin" },
  { method: "POST", path: "/users/:id/pin", access: "admin" },
  { method: "POST", path: "/users/:id/disable", access: "admin" },
  { method: "POST", path: "/users/:id/enable", access: "admin" },
  { method: "POST", path: "/users/:id/delete", access: "admin" },

  // --- Simulation controls (routes/sim.tsx): only where a simulator runs (demo, tests)
  { method: "GET", path: "/sim", access: "admin" },
  { method: "POST", path: "/sim", access: "admin", note: "acts on the simulated building only; journaled" },
];

const byKey = new Map(POLICIES.map((p) => [`${p.method} ${p.path}`, p]));

/** The largest body any route accepts: the HTTP server's own cap (Bun.serve maxRequestBodySize). */
export const MAX_BODY_LIMIT = Math.max(FORM_BODY_LIMIT, ...POLICIES.map((p) => p.bodyLimit ?? 0));

export function policyFor(method: string, path: string): RoutePolicy | undefined {
  return byKey.get(`${method} ${path}`) ?? byKey.get(`ALL ${path}`);
}

const ORDER: Access[] = ["public", "viewer", "signed-in", "operator", "maintenance", "admin"];

/** The stricter of two access levels. */
export function stricter(a: Access, b: Access): Access {
  return ORDER.indexOf(a) >= ORDER.indexOf(b) ? a : b;
}
