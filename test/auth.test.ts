/**
 * Users, sessions and the ways in: password login (cookie flags, journal), lockout after repeated
 * failures and the per-address throttle, idle and absolute expiry, logout, the kiosk PIN unlock
 * (kiosk addresses only, short, capped at maintenance), the loopback-only first-admin setup, and
 * `busbar user add` reading the password from stdin.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { freePort } from "./helpers/peers.ts";

const ROOT = join(import.meta.dirname, "..");
const KIOSK_IP = "10.9.9.9";
const DESK_IP = "10.1.1.2";

let busbar: Busbar;
let dbPath: string;

beforeAll(async () => {
  dbPath = join(mkdtempSync(join(tmpdir(), "busbar-auth-")), "auth.db");
  const site = parseSite(
    {
      site: { name: "auth", timezone: "America/Toronto" },
      buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: await freePort(), timeoutMs: 100, retries: 0 }],
      devices: [{ id: "F1", bus: "gw", unit: 1, profile: "micrologic-e" }],
      security: { kiosk: [KIOSK_IP], loginMaxFailures: 3, lockoutMinutes: 15, sessionIdleMinutes: 30, pinSessionMinutes: 2 },
    },
    loadProfiles(),
  );
  busbar = await startBusbar({ site, dbPath, httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
});

afterAll(async () => {
  await busbar?.stop();
});

const jar = { csrf: "anonymous-csrf-token-for-tests-0123456789" };

async function call(method: string, path: string, o: { ip?: string; cookie?: string; csrf?: string; form?: Record<string, string>; html?: boolean } = {}) {
  const headers: Record<string, string> = { host: "busbar.test", accept: o.html ? "text/html" : "application/json" };
  headers.cookie = [o.cookie, `busbar_csrf=${jar.csrf}`].filter(Boolean).join("; ");
  if (method !== "GET") headers["x-csrf-token"] = o.csrf ?? jar.csrf;
  let body: BodyInit | undefined;
  if (o.form) {
    body = new URLSearchParams(o.form);
    headers["content-type"] = "application/x-www-form-urlencoded";
  }
  return busbar.app.fetch(new Request(`http://busbar.test${path}`, { method, headers, body }), {
    requestIP: () => ({ address: o.ip ?? DESK_IP, family: "IPv4", port: 50000 }),
  });
}

function sessionCookie(res: Response): string {
  const c = res.headers.getSetCookie().find((x) => x.startsWith("busbar_session="));
  return c ? c.split(";")[0]! : "";
}

async function login(name: string, password: string, ip = DESK_IP) {
  const res = await call("POST", "/auth/login", { ip, form: { name, password } });
  return { res, cookie: sessionCookie(res), json: (await res.json()) as { ok: boolean; csrf?: string; reason?: string; user?: { role: string } } };
}

const rows = (type: string) => busbar.db.sqlite.query("SELECT * FROM events WHERE type = ? ORDER BY id").all(type) as { actor: string; source: string; message: string; data: string }[];

describe("password login", () => {
  it("logs in with an HttpOnly, SameSite=Strict session cookie; logs out; both journaled", async () => {
    await busbar.auth.users.create("amelie", "maintenance", "correct horse battery");
    const { res, cookie, json } = await login("amelie", "correct horse battery");
    expect(res.status).toBe(200);
    expect(json.user!.role).toBe("maintenance");
    const set = res.headers.getSetCookie().find((x) => x.startsWith("busbar_session="))!;
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/SameSite=Strict/i);
    expect(set).toMatch(/Path=\//);
    const me = (await (await call("GET", "/auth/me", { cookie })).json()) as { user: { name: string } };
    expect(me.user.name).toBe("amelie");
    expect(rows("auth.login").at(-1)!.actor).toBe("amelie");
    // The session id stored is a hash, never the cookie's token.
    const token = cookie.split("=")[1]!;
    expect(busbar.db.sqlite.query("SELECT COUNT(*) AS n FROM sessions WHERE id = ?").get(token)).toEqual({ n: 0 });

    const out = await call("POST", "/auth/logout", { cookie, csrf: json.csrf });
    expect(out.status).toBe(200);
    expect(rows("auth.logout").at(-1)!.actor).toBe("amelie");
    expect((await call("GET", "/alarms", { cookie })).status).toBe(401);
  });

  it("repeated bad passwords lock the account (even the right password is refused), each failure journaled", async () => {
    await busbar.auth.users.create("bruno", "operator", "bruno-password-1");
    const before = rows("auth.fail").length;
    expect((await login("bruno", "wrong-1")).res.status).toBe(401);
    expect((await login("bruno", "wrong-2")).res.status).toBe(401);
    const third = await login("bruno", "wrong-3");
    expect(third.res.status).toBe(429);
    expect(third.res.headers.get("retry-after")).toBe(String(15 * 60));
    const right = await login("bruno", "bruno-password-1");
    expect(right.res.status).toBe(429);
    expect(right.json.reason).toBe("locked");
    expect(rows("auth.fail").length - before).toBe(4);
    expect(rows("auth.lockout").at(-1)!.source).toBe("bruno");
    // The lockout runs out.
    busbar.db.sqlite.exec("UPDATE users SET locked_until = 1 WHERE name = 'bruno'");
    expect((await login("bruno", "bruno-password-1")).res.status).toBe(200);
  });

  it("unknown names are journaled too, and an address that keeps failing is throttled", async () => {
    const ip = "10.66.66.66";
    for (let i = 0; i < 12; i++) expect((await login(`ghost${i}`, "x", ip)).res.status).toBe(401);
    const r = await login("amelie", "correct horse battery", ip);
    expect(r.res.status).toBe(429);
    expect(r.json.reason).toBe("throttled");
    expect(rows("auth.fail").some((x) => x.source === "ghost3" && JSON.parse(x.data).reason === "unknown")).toBe(true);
  });

  it("the login page shows a form with a CSRF token; a login post without it fails", async () => {
    const page = await call("GET", "/auth/login?next=/alarms", { html: true });
    expect(await page.text()).toMatch(/name="_csrf" value="[^"]{20,}"/);
    const res = await busbar.app.fetch(
      new Request("http://busbar.test/auth/login", { method: "POST", headers: { host: "busbar.test", "content-type": "application/x-www-form-urlencoded" }, body: "name=amelie&password=correct+horse+battery" }),
      { requestIP: () => ({ address: DESK_IP, family: "IPv4", port: 1 }) },
    );
    expect(res.status).toBe(403);
  });
});

describe("sessions", () => {
  it("an idle or expired session is refused", async () => {
    const { cookie, json } = await login("amelie", "correct horse battery");
    expect((await call("GET", "/alarms", { cookie })).status).toBe(200);
    const s = busbar.auth.sessions.lookup(cookie.split("=")[1])!;
    busbar.auth.sessions.age(s.id, 31 * 60_000);
    expect((await call("GET", "/alarms", { cookie })).status).toBe(401);
    expect((await call("POST", "/alarms/silence", { cookie, csrf: json.csrf })).status).toBe(401);
    const page = await call("GET", "/alarms", { cookie, html: true });
    expect(page.status).toBe(302);
    expect(((await (await call("GET", "/auth/me", { cookie })).json()) as { user: unknown }).user).toBeNull();

    // Absolute limit, however active.
    const again = await login("amelie", "correct horse battery");
    busbar.db.sqlite.query("UPDATE sessions SET expires_at = ? WHERE id = ?").run(Date.now() - 1, busbar.auth.sessions.lookup(again.cookie.split("=")[1])!.id);
    expect((await call("GET", "/alarms", { cookie: again.cookie })).status).toBe(401);
  });

  it("a disabled user's session ends at once; a demoted user's session follows the new role", async () => {
    const u = await busbar.auth.users.create("chloe", "admin", "chloe-password-1");
    const { cookie } = await login("chloe", "chloe-password-1");
    expect((await call("GET", "/users", { cookie })).status).toBe(200);
    busbar.auth.users.setRole(u.id, "operator");
    expect((await call("GET", "/users", { cookie })).status).toBe(403);
    busbar.auth.users.setDisabled(u.id, true);
    expect((await call("GET", "/alarms", { cookie })).status).toBe(401);
  });
});

describe("kiosk PIN", () => {
  it("unlocks only from a kiosk address, for a short session capped at maintenance", async () => {
    const u = await busbar.auth.users.create("denis", "admin", "denis-password-1", "482913");
    const desk = await call("POST", "/auth/pin", { ip: DESK_IP, form: { name: "denis", pin: "482913" } });
    expect(desk.status).toBe(401); // not a viewer: no kiosk, no session
    const res = await call("POST", "/auth/pin", { ip: KIOSK_IP, form: { name: "denis", pin: "482913" } });
    expect(res.status).toBe(200);
    const cookie = sessionCookie(res);
    const me = (await (await call("GET", "/auth/me", { ip: KIOSK_IP, cookie })).json()) as { user: { role: string; kind: string }; idleMs: number };
    expect(me.user).toMatchObject({ role: "maintenance", kind: "pin" });
    expect(me.idleMs).toBe(2 * 60_000);
    expect((await call("GET", "/users", { ip: KIOSK_IP, cookie })).status).toBe(403);
    // The same cookie carried to another address is no session at all.
    expect((await call("GET", "/alarms", { ip: DESK_IP, cookie })).status).toBe(401);
    expect(rows("auth.pin").at(-1)!.actor).toBe("denis");
    // A signed-in desk user posting a PIN is refused by the handler (not a kiosk).
    const desk2 = await login("amelie", "correct horse battery");
    const r2 = await call("POST", "/auth/pin", { ip: DESK_IP, cookie: desk2.cookie, csrf: desk2.json.csrf, form: { name: "denis", pin: "482913" } });
    expect(r2.status).toBe(403);
    expect(rows("auth.pin-fail").some((x) => JSON.parse(x.data).reason === "not-kiosk")).toBe(true);
    expect(u.role).toBe("admin");
  });

  it("wrong PINs lock the PIN", async () => {
    await busbar.auth.users.create("emile", "maintenance", "emile-password-1", "1357");
    for (let i = 0; i < 2; i++) expect((await call("POST", "/auth/pin", { ip: KIOSK_IP, form: { name: "emile", pin: "0000" } })).status).toBe(401);
    expect((await call("POST", "/auth/pin", { ip: KIOSK_IP, form: { name: "emile", pin: "0000" } })).status).toBe(429);
    expect((await call("POST", "/auth/pin", { ip: KIOSK_IP, form: { name: "emile", pin: "1357" } })).status).toBe(429);
  });
});

describe("first admin", () => {
  it("the setup page answers only on loopback and only while no user exists", async () => {
    // This instance has users: setup is gone for everyone.
    expect((await call("GET", "/setup", { ip: "127.0.0.1", html: true })).status).toBe(404);

    const site = parseSite(
      { site: { name: "empty" }, buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: await freePort() }], devices: [] },
      loadProfiles(),
    );
    const lines: string[] = [];
    const empty = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: (l) => lines.push(l) });
    try {
      expect(lines.join("\n")).toMatch(/busbar user add NAME --role admin/);
      const req = (ip: string, method = "GET", body?: URLSearchParams) =>
        empty.app.fetch(
          new Request("http://busbar.test/setup", {
            method,
            headers: { host: "busbar.test", cookie: `busbar_csrf=${jar.csrf}`, "x-csrf-token": jar.csrf, ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}) },
            body,
          }),
          { requestIP: () => ({ address: ip, family: "IPv4", port: 1 }) },
        );
      expect((await req("10.1.1.2")).status).toBe(404);
      expect((await req("127.0.0.1")).status).toBe(200);
      const weak = await req("127.0.0.1", "POST", new URLSearchParams({ name: "root", password: "short", password2: "short" }));
      expect(weak.status).toBe(400);
      const ok = await req("::1", "POST", new URLSearchParams({ name: "root", password: "a-long-password", password2: "a-long-password" }));
      expect(ok.status).toBe(303);
      expect(empty.auth.users.byName("root")!.role).toBe("admin");
      expect((await req("127.0.0.1")).status).toBe(404);
      expect((empty.db.sqlite.query("SELECT COUNT(*) AS n FROM events WHERE type = 'config.user'").get() as { n: number }).n).toBe(1);
    } finally {
      await empty.stop();
    }
  });

  it("busbar user add reads the password from stdin, stores only an argon2id hash, journals it", async () => {
    const p = Bun.spawn([process.execPath, join(ROOT, "src/cli.ts"), "user", "add", "francine", "--role", "admin", "--pin", "--db", dbPath], {
      stdin: new TextEncoder().encode("from-stdin-password\n"),
      stdout: "pipe",
      stderr: "pipe",
      cwd: ROOT,
    });
    const out = await new Response(p.stdout).text();
    const err = await new Response(p.stderr).text();
    expect(await p.exited, err).toBe(0);
    expect(out).toMatch(/user francine created, role admin, PIN \d{6}/);
    const row = busbar.db.sqlite.query("SELECT password_hash FROM users WHERE name = 'francine'").get() as { password_hash: string };
    expect(row.password_hash.startsWith("$argon2id$")).toBe(true);
    expect((await login("francine", "from-stdin-password")).res.status).toBe(200);
    expect(rows("config.user").some((r) => r.source === "francine" && r.actor.startsWith("cli:"))).toBe(true);
    const weak = Bun.spawn([process.execPath, join(ROOT, "src/cli.ts"), "user", "add", "gaston", "--role", "admin", "--db", dbPath], {
      stdin: new TextEncoder().encode("short\n"),
      stdout: "pipe",
      stderr: "pipe",
      cwd: ROOT,
    });
    expect(await weak.exited).toBe(2);
  });
});
