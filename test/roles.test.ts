/**
 * The role matrix: every route of the app (enumerated from app.routes, so a route added without a
 * policy in src/auth/policy.ts fails here) is called as anonymous, kiosk, operator, maintenance and
 * admin, and must answer what its policy says: 401 for someone not logged in, 403 for a role too
 * low, anything but 401/403 (and never a 5xx) when allowed. Then: state-changing requests without
 * a CSRF token, with a wrong one or from another origin fail; undeclared methods are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POLICIES, policyFor, type Access } from "../src/auth/policy.ts";
import { atLeast, type Role } from "../src/auth/roles.ts";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { freePort } from "./helpers/peers.ts";

type Principal = "anonymous" | "kiosk" | Role;
const PRINCIPALS: Principal[] = ["anonymous", "kiosk", "operator", "maintenance", "admin"];
const KIOSK_IP = "10.9.9.9";
const OTHER_IP = "10.1.1.2";
const ANON_CSRF = "anonymous-csrf-token-for-tests-0123456789";

let busbar: Busbar;
let victimId = 0;
const ids: Record<Role, number> = { operator: 0, maintenance: 0, admin: 0 };

beforeAll(async () => {
  const deadPort = await freePort();
  const site = parseSite(
    {
      site: { name: "roles", timezone: "America/Toronto" },
      buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: deadPort, timeoutMs: 100, retries: 0 }],
      devices: [
        { id: "F1", bus: "gw", unit: 1, profile: "micrologic-e" },
        { id: "M1", bus: "gw", unit: 2, profile: "th40c" },
      ],
      security: { kiosk: [KIOSK_IP] },
    },
    loadProfiles(),
  );
  busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
  for (const role of ["operator", "maintenance", "admin"] as const) ids[role] = (await busbar.auth.users.create(`u-${role}`, role, `password-of-${role}`, "2468")).id;
  victimId = (await busbar.auth.users.create("victim", "operator", "victim-password-1")).id;
});

afterAll(async () => {
  await busbar?.stop();
});

async function ensureVictim(): Promise<number> {
  const v = busbar.auth.users.byName("victim");
  if (v && !v.disabled) return v.id;
  if (v) {
    busbar.auth.users.setDisabled(v.id, false);
    return v.id;
  }
  victimId = (await busbar.auth.users.create("victim", "operator", "victim-password-1")).id;
  return victimId;
}

interface Call {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: BodyInit;
  ip?: string;
}

/** One request through the app as if from `ip` (hono/bun reads the client address from the server). */
async function call(c: Call): Promise<Response> {
  const ip = c.ip ?? OTHER_IP;
  const req = new Request(`http://busbar.test${c.path}`, { method: c.method, headers: { host: "busbar.test", accept: "application/json", ...c.headers }, body: c.body });
  const res = await busbar.app.fetch(req, { requestIP: () => ({ address: ip, family: "IPv4", port: 50000 }) });
  return res;
}

function sessionFor(role: Role, ip = OTHER_IP): { cookie: string; csrf: string } {
  const { token, session } = busbar.auth.sessions.create(ids[role], "password", role, ip, 600_000, 3_600_000);
  return { cookie: `busbar_session=${token}`, csrf: session.csrf };
}

function as(p: Principal, method: string): { ip: string; headers: Record<string, string> } {
  const ip = p === "kiosk" ? KIOSK_IP : OTHER_IP;
  if (p === "anonymous" || p === "kiosk") {
    const headers: Record<string, string> = { cookie: `busbar_csrf=${ANON_CSRF}` };
    if (method !== "GET") headers["x-csrf-token"] = ANON_CSRF;
    return { ip, headers };
  }
  const s = sessionFor(p, ip);
  const headers: Record<string, string> = { cookie: s.cookie };
  if (method !== "GET") headers["x-csrf-token"] = s.csrf;
  return { ip, headers };
}

function allowed(access: Access, p: Principal): boolean {
  if (access === "public") return true;
  if (access === "viewer") return p !== "anonymous";
  if (access === "signed-in") return p !== "anonymous" && p !== "kiosk";
  return p !== "anonymous" && p !== "kiosk" && atLeast(p, access);
}

/** Where the handler, not the policy, decides (and must): `number` = that status for this principal. */
const HANDLER: Record<string, (p: Principal) => number | undefined> = {
  // The PIN pad answers only at a kiosk address.
  "GET /auth/pin": (p) => (p === "anonymous" ? undefined : p === "kiosk" ? 200 : 403),
  "POST /auth/pin": (p) => (p === "anonymous" ? undefined : p === "kiosk" ? 200 : 403),
  // First-admin setup is gone once a user exists.
  "GET /setup": () => 404,
  "POST /setup": () => 404,
};

async function sample(method: string, path: string): Promise<{ path: string; body?: BodyInit; headers?: Record<string, string> }> {
  const vid = await ensureVictim();
  const p = path
    .replace(":file", "htmx.min.js")
    .replace(":lang", "en")
    .replace("/comm/bus/:id", "/comm/bus/gw")
    .replace("/api/buses/:id", "/api/buses/gw")
    .replace("/hmi/detail/:id", "/hmi/detail/F1")
    .replace("/api/points/:id", "/api/points/F1.p_total")
    .replace("/alarms/:id", "/alarms/F1.tripped")
    .replace("/users/:id", `/users/${vid}`)
    .replace(":point", "F1.cmd_open_close")
    .replace(/:(\w+)/g, "x");
  const form = (o: Record<string, string>) => ({ body: new URLSearchParams(o), headers: { "content-type": "application/x-www-form-urlencoded" } });
  if (method === "GET") return { path: p };
  switch (`${method} ${path}`) {
    case "POST /auth/login":
      return { path: p, ...form({ name: "victim", password: "victim-password-1" }) };
    case "POST /auth/pin":
      return { path: p, ...form({ name: "u-maintenance", pin: "2468" }) };
    case "POST /operate/:point":
      return { path: p, body: JSON.stringify({ value: 7 }), headers: { "content-type": "application/json" } };
    case "POST /admin/alarms":
      return { path: p, ...form({ action: "save", yaml: "hornPriorities: [critical, high]\n" }) };
    case "POST /users":
      return { path: p, ...form({ name: `new-${Math.random().toString(36).slice(2, 8)}`, role: "operator", password: "a-long-password-1" }) };
    default:
      return { path: p, body: "{}", headers: { "content-type": "application/json" } };
  }
}

const routes = () => busbar.app.routes.filter((r) => r.method !== "ALL");

describe("every route has a policy", () => {
  it("app.routes ⊆ POLICIES (add a new route's policy to src/auth/policy.ts)", () => {
    const missing = routes()
      .filter((r) => !policyFor(r.method, r.path))
      .map((r) => `${r.method} ${r.path}`);
    expect(missing).toEqual([]);
  });

  it("state-changing routes are never public by accident", () => {
    const open = POLICIES.filter((p) => p.method !== "GET" && p.access === "public").map((p) => p.path);
    expect(open.sort()).toEqual(["/auth/login", "/setup"]);
  });
});

describe("role matrix", () => {
  it("each route answers each principal as its policy says", { timeout: 60_000 }, async () => {
    const failures: string[] = [];
    const table: string[] = [];
    for (const r of routes()) {
      const policy = policyFor(r.method, r.path)!;
      const row: string[] = [];
      for (const p of PRINCIPALS) {
        const s = await sample(r.method, r.path);
        const who = as(p, r.method);
        const res = await call({ method: r.method, path: s.path, ip: who.ip, headers: { ...who.headers, ...s.headers }, body: s.body });
        await res.body?.cancel().catch(() => {});
        const handler = HANDLER[`${r.method} ${r.path}`]?.(p);
        const ok = allowed(policy.access, p);
        let good: boolean;
        let want: string;
        if (!ok) {
          want = p === "anonymous" || p === "kiosk" ? "401" : "403";
          good = String(res.status) === want;
        } else if (handler !== undefined) {
          want = String(handler);
          good = res.status === handler;
        } else {
          want = "allowed";
          good = res.status !== 401 && res.status !== 403 && res.status < 500;
        }
        row.push(`${p}:${res.status}`);
        if (!good) failures.push(`${r.method} ${s.path} as ${p}: got ${res.status}, want ${want} (policy ${policy.access})`);
      }
      table.push(`${r.method.padEnd(5)} ${r.path.padEnd(30)} ${policy.access.padEnd(11)} ${row.join(" ")}`);
    }
    if (failures.length) console.log(table.join("\n"));
    expect(failures).toEqual([]);
  });

  it("anonymous page requests are sent to the login page; kiosk sees read-only pages", async () => {
    let res = await call({ method: "GET", path: "/alarms", headers: { accept: "text/html" } });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/auth/login?next=%2Falarms");
    res = await call({ method: "GET", path: "/alarms", ip: KIOSK_IP, headers: { accept: "text/html" } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('id="alarm-banner"');
    expect(html).not.toContain('action="/alarms/F1.tripped/ack"');
    res = await call({ method: "GET", path: "/users", ip: KIOSK_IP, headers: { accept: "text/html" } });
    expect(res.status).toBe(302);
  });

  it("the login page's style sheets are public, other assets are not", async () => {
    expect((await call({ method: "GET", path: "/assets/busbar.css" })).status).toBe(200);
    expect((await call({ method: "GET", path: "/assets/alarms.css" })).status).toBe(200);
    expect((await call({ method: "GET", path: "/assets/alarms.js" })).status).toBe(401);
    expect((await call({ method: "GET", path: "/assets/alarms.js", ip: KIOSK_IP })).status).toBe(200);
  });

  it("IPv4-mapped IPv6 kiosk addresses count as the kiosk", async () => {
    expect((await call({ method: "GET", path: "/api/alarms/summary", ip: `::ffff:${KIOSK_IP}` })).status).toBe(200);
  });

  it("an unknown route: GET needs a viewer, anything else is refused", async () => {
    expect((await call({ method: "GET", path: "/nope" })).status).toBe(401);
    expect((await call({ method: "GET", path: "/nope", ip: KIOSK_IP })).status).toBe(404);
    const admin = sessionFor("admin");
    expect((await call({ method: "POST", path: "/nope", headers: { cookie: admin.cookie, "x-csrf-token": admin.csrf } })).status).toBe(403);
    expect((await call({ method: "DELETE", path: "/alarms/F1.tripped/ack", headers: { cookie: admin.cookie, "x-csrf-token": admin.csrf } })).status).toBe(403);
  });
});

describe("CSRF", () => {
  it("every state-changing route refuses a request without token, with a wrong one, or from another origin", async () => {
    const failures: string[] = [];
    for (const r of routes().filter((x) => x.method !== "GET")) {
      const s = await sample(r.method, r.path);
      const admin = sessionFor("admin");
      for (const [what, headers] of [
        ["no token", { cookie: admin.cookie }],
        ["wrong token", { cookie: admin.cookie, "x-csrf-token": "x".repeat(43) }],
        ["cross-origin", { cookie: admin.cookie, "x-csrf-token": admin.csrf, origin: "http://evil.example" }],
        ["cross-site fetch", { cookie: admin.cookie, "x-csrf-token": admin.csrf, "sec-fetch-site": "cross-site" }],
      ] as const) {
        const res = await call({ method: r.method, path: s.path, headers: { ...headers, ...s.headers }, body: s.body });
        const text = await res.text();
        if (res.status !== 403 || !/anti-falsification|anti-forgery/i.test(text)) failures.push(`${r.method} ${s.path} ${what}: ${res.status}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("a form post carries the token in _csrf; a same-origin Origin header is fine", async () => {
    const m = sessionFor("maintenance");
    busbar.alarms.silence("setup");
    const res = await call({
      method: "POST",
      path: "/alarms/silence",
      headers: { cookie: m.cookie, "content-type": "application/x-www-form-urlencoded", origin: "http://busbar.test", accept: "text/html" },
      body: new URLSearchParams({ _csrf: m.csrf, back: "/alarms" }),
    });
    expect(res.status).toBe(303);
  });
});
