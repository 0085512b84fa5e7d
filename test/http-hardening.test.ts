/**
 * Issue 9 items 3–10 at the HTTP level (the browser's side is in e2e-security.test.ts): redirect
 * targets, body limits before parsing, security headers with the anonymous CSRF cookie, the logout
 * form's token, the login throttle (visible, clearable, aggregated in the journal), 400s instead
 * of 500s with nothing run before validation, strict write values, empty alarm configuration.
 */
import { mkdtempSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { redirectTarget } from "../src/server/redirect.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { freePort } from "./helpers/peers.ts";

const DESK_IP = "10.1.1.2";
/** The control-room touchscreen: the PIN page is served there. */
const KIOSK_IP = "10.1.1.99";
let busbar: Busbar;
const jar = { csrf: "anonymous-csrf-token-for-tests-0123456789" };

beforeAll(async () => {
  const site = parseSite(
    {
      site: { name: "hardening", timezone: "America/Toronto", language: "en" },
      buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: await freePort(), timeoutMs: 100, retries: 0 }],
      devices: [
        { id: "F1", bus: "gw", unit: 1, profile: "micrologic-e" },
        { id: "MG", bus: "gw", unit: 2, profile: "microgrid" },
      ],
      security: { loginMaxFailures: 3, lockoutMinutes: 15, kiosk: [KIOSK_IP] },
      alarms: { points: [{ point: "MG.shed_setpoint", h: 4000 }] },
    },
    loadProfiles(),
  );
  busbar = await startBusbar({ site, dbPath: join(mkdtempSync(join(tmpdir(), "busbar-hard-")), "h.db"), httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
  await busbar.auth.users.create("ada", "admin", "correct horse battery");
  await busbar.auth.users.create("max", "maintenance", "correct horse battery");
});
afterAll(async () => {
  await busbar?.stop();
});

type Opts = { ip?: string; cookie?: string; csrf?: string; form?: Record<string, string>; json?: unknown; raw?: string; html?: boolean };
async function call(method: string, path: string, o: Opts = {}) {
  const headers: Record<string, string> = { host: "busbar.test", accept: o.html ? "text/html" : "application/json" };
  headers.cookie = [o.cookie, `busbar_csrf=${jar.csrf}`].filter(Boolean).join("; ");
  if (method !== "GET") headers["x-csrf-token"] = o.csrf ?? jar.csrf;
  let body: BodyInit | undefined;
  if (o.form) {
    body = new URLSearchParams(o.form);
    headers["content-type"] = "application/x-www-form-urlencoded";
  } else if (o.json !== undefined || o.raw !== undefined) {
    body = o.raw ?? JSON.stringify(o.json);
    headers["content-type"] = "application/json";
  }
  return busbar.app.fetch(new Request(`http://busbar.test${path}`, { method, headers, body, redirect: "manual" }), {
    requestIP: () => ({ address: o.ip ?? DESK_IP, family: "IPv4", port: 50000 }),
  });
}
async function login(name: string, ip = DESK_IP, password = "correct horse battery") {
  const res = await call("POST", "/auth/login", { ip, form: { name, password } });
  const cookie = res.headers.getSetCookie().find((x) => x.startsWith("busbar_session="))?.split(";")[0] ?? "";
  const json = (await res.json()) as { ok: boolean; csrf?: string; reason?: string };
  return { res, cookie, csrf: json.csrf ?? "", json };
}
const count = (type: string) => (busbar.db.sqlite.query("SELECT COUNT(*) AS n FROM events WHERE type = ?").get(type) as { n: number }).n;
const allRows = () => (busbar.db.sqlite.query("SELECT COUNT(*) AS n FROM events").get() as { n: number }).n;

describe("item 3: redirect targets", () => {
  it("keeps same-origin paths, refuses what the browser would read as another origin", () => {
    expect(redirectTarget("/alarms?x=1#a")).toEqual({ ok: true, path: "/alarms?x=1#a" });
    expect(redirectTarget("/trends?p=A.x,B.y")).toEqual({ ok: true, path: "/trends?p=A.x,B.y" });
    expect(redirectTarget("/é")).toEqual({ ok: true, path: "/%C3%A9" });
    for (const bad of ["/\t/evil.example", "/\n/evil.example", "/\r\n/x", "/\\evil.example", "\\\\evil.example", "/x\u0000"]) expect(redirectTarget(bad).ok, JSON.stringify(bad)).toBe(false);
    for (const off of ["//evil.example", "https://evil.example/", "javascript:alert(1)", "evil.example", "/.//evil.example"]) {
      const r = redirectTarget(off);
      expect(r.ok && !r.path.startsWith("//") && new URL(r.path, "http://busbar.invalid").origin, off).toBe("http://busbar.invalid");
    }
  });

  it("never throws and never yields another origin, over 50 000 generated inputs", () => {
    // Characters the URL parser treats specially, mixed with ordinary ones.
    const alphabet = ["/", "\\", "\t", "\n", "\r", " ", ".", "%", "2", "f", "F", "5", "c", "@", ":", "?", "#", "e", "x", "\u0000", "é", "\u3002", "%2e", "%2F", "%5C", "%09", "http:", "//"];
    let seed = 12345;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    for (let i = 0; i < 50_000; i++) {
      let s = rnd(4) ? "/" : "";
      const len = rnd(12);
      for (let k = 0; k < len; k++) s += alphabet[rnd(alphabet.length)];
      const r = redirectTarget(s);
      if (!r.ok) continue;
      const u = new URL(r.path, "http://busbar.invalid/base/");
      expect(u.origin, JSON.stringify(s)).toBe("http://busbar.invalid");
      expect(r.path.startsWith("/") && !r.path.startsWith("//"), JSON.stringify(s)).toBe(true);
      expect(() => new Headers({ location: r.path }), JSON.stringify(s)).not.toThrow();
    }
  });

  it("/lang, login `next` and alarm `back` never leave the site", async () => {
    const lang = await call("GET", "/lang/en?back=/%09/evil.example:28099/phish.html");
    expect(lang.status).toBe(400);
    expect(lang.headers.get("location")).toBeNull();
    expect(lang.headers.getSetCookie().some((c) => c.startsWith("lang="))).toBe(false);
    const off = await call("GET", "/lang/en?back=//evil.example");
    expect(off.headers.get("location")).toBe("/");
    const ok = await call("GET", "/lang/en?back=/alarms%3Fsort%3Dtime");
    expect(ok.headers.get("location")).toBe("/alarms?sort=time");
  });
});

describe("item 8: 400s with a clear message, validation before any action", () => {
  it("/lang/en?back=/%0a/x", async () => {
    const r = await call("GET", "/lang/en?back=/%0a/x");
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/back: must be a path on this site/);
  });

  it('login with next="/\\n/x": refused before any session is created', async () => {
    const sessions = () => (busbar.db.sqlite.query("SELECT COUNT(*) AS n FROM sessions").get() as { n: number }).n;
    const before = sessions();
    const logins = count("auth.login");
    const r = await call("POST", "/auth/login", { form: { name: "ada", password: "correct horse battery", next: "/\n/x" } });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toMatch(/next: must be a path/);
    expect(r.headers.getSetCookie().some((c) => c.startsWith("busbar_session="))).toBe(false);
    expect(sessions()).toBe(before);
    expect(count("auth.login")).toBe(logins);
  });

  it("the login and PIN pages refuse a next with control characters, and fall back on another origin", async () => {
    for (const page of ["/auth/login", "/auth/pin"]) {
      const ip = page === "/auth/pin" ? KIOSK_IP : DESK_IP;
      const bad = await call("GET", `${page}?next=/%0a/x`, { ip });
      expect(bad.status, page).toBe(400);
      expect(await bad.text(), page).toMatch(/next: must be a path on this site/);
      const off = await call("GET", `${page}?next=//evil.example`, { ip });
      expect(off.status, page).toBe(200);
      expect(await off.text(), page).toContain('<input type="hidden" name="next" value="/"/>');
    }
  });

  it('an alarm action with back="/\\r\\n/x": refused before it runs', async () => {
    const { cookie, csrf } = await login("max");
    const silences = count("alarm.silence");
    const r = await call("POST", "/alarms/silence", { cookie, csrf, form: { back: "/\r\n/x" } });
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/back: must be a path/);
    expect(count("alarm.silence")).toBe(silences);
    const nullBody = await call("POST", "/alarms/silence", { cookie, csrf, raw: "null" });
    expect(nullBody.status).toBe(200);
  });

  it("/assets/..%c0%af.. and /assets/constructor|__proto__|toString", async () => {
    const r = await call("GET", "/assets/..%c0%af..", { cookie: (await login("ada")).cookie });
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/malformed URL encoding/);
    const { cookie } = await login("ada");
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) expect((await call("GET", `/assets/${name}`, { cookie })).status, name).toBe(404);
    expect((await call("GET", "/assets/busbar.css", { cookie })).status).toBe(200);
  });

  it("/alarms/history?page=1e308 and /journal/export.csv?from=99999999999999999", async () => {
    const { cookie } = await login("ada");
    const h = await call("GET", "/alarms/history?page=1e308", { cookie });
    expect(h.status).toBe(400);
    expect(await h.text()).toMatch(/page: must be a whole number/);
    expect((await call("GET", "/alarms/history?page=2", { cookie })).status).toBe(200);
    const exports = count("journal.export");
    const j = await call("GET", "/journal/export.csv?from=99999999999999999", { cookie });
    expect(j.status).toBe(400);
    expect(((await j.json()) as { error: string }).error).toMatch(/from: not a date/);
    expect(count("journal.export")).toBe(exports);
    expect((await call("GET", "/journal/export.csv?from=10000-01-01T00:00:00Z", { cookie })).status).toBe(400);
  });

  it("POST /operate/<point> with the JSON body null: 400, journaled as refused", async () => {
    const { cookie, csrf } = await login("max");
    const writes = count("point.write");
    const r = await call("POST", "/operate/MG.shed_setpoint", { cookie, csrf, raw: "null" });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toMatch(/JSON object/);
    expect(count("point.write")).toBe(writes + 1);
  });
});

describe("item 9: write values", () => {
  it("accepts only a decimal number (or a state name), never [310], 0x12C, 0b1; bounds the journal", async () => {
    const { cookie, csrf } = await login("max");
    for (const value of [[310], "0x12C", "0b1", "0o7", "", " ", "1e999", "Infinity", "12abc", { v: 1 }, true, null]) {
      const r = await call("POST", "/operate/MG.shed_setpoint", { cookie, csrf, json: { value } });
      expect(r.status, JSON.stringify(value)).toBe(400);
      expect(((await r.json()) as { ok: boolean }).ok).toBe(false);
    }
    // Form posts too (the confirm screen's GET and the POST use the same rule).
    const form = await call("POST", "/operate/MG.shed_setpoint", { cookie, csrf, form: { value: "0x12C" }, html: true });
    expect(form.status).toBe(400);
    expect((await call("GET", "/operate/MG.shed_setpoint?value=0b1", { cookie, html: true })).status).toBe(400);
    // A 10 MB value is refused by the body limit before anything reads it; a 60 kB one is journaled bounded.
    const huge = await call("POST", "/operate/MG.shed_setpoint", { cookie, csrf, json: { value: "9".repeat(10_000_000) } });
    expect(huge.status).toBe(413);
    await call("POST", "/operate/MG.shed_setpoint", { cookie, csrf, json: { value: "9".repeat(60_000) } });
    const last = busbar.db.sqlite.query("SELECT message, data FROM events WHERE type = 'point.write' ORDER BY id DESC LIMIT 1").get() as { message: string; data: string };
    expect(last.message.length).toBeLessThan(400);
    expect(last.data.length).toBeLessThan(600);
    expect(last.data).toMatch(/60000 characters/);
  });

  it("takes decimal text, a French decimal comma, and state names for multi-state points", async () => {
    const { parseWriteValue } = await import("../src/server/routes/operate.tsx");
    const sp = busbar.registry.byId.get("MG.shed_setpoint")!;
    expect(parseWriteValue("250", sp, "en")).toEqual({ ok: true, value: 250 });
    expect(parseWriteValue(" -12,5 ", sp, "fr")).toEqual({ ok: true, value: -12.5 });
    expect(parseWriteValue("2.5e2", sp, "en")).toEqual({ ok: true, value: 250 });
    expect(parseWriteValue(250.5, sp, "en")).toEqual({ ok: true, value: 250.5 });
    const cmd = [...busbar.registry.points].find((p) => p.writable && p.states && Object.keys(p.states).length > 1)!;
    const [k, name] = Object.entries(cmd.states!)[0]!;
    expect(parseWriteValue(String(name).toLowerCase(), cmd, "en")).toEqual({ ok: true, value: Number(k) });
    expect(parseWriteValue(k, cmd, "en")).toEqual({ ok: true, value: Number(k) });
    expect(parseWriteValue("NOT A STATE", cmd, "en").ok).toBe(false);
    // 20 000 generated texts: never a throw, never a non-finite value, never hex/binary/octal.
    const chars = ["0", "1", "9", ".", ",", "e", "E", "-", "+", "x", "b", "o", " ", "−", "_", "I", "n", "f"];
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    for (let i = 0; i < 20_000; i++) {
      let t = "";
      for (let k = rnd(8); k >= 0; k--) t += chars[rnd(chars.length)];
      const r = parseWriteValue(t, sp, "en");
      if (r.ok) {
        expect(Number.isFinite(r.value), t).toBe(true);
        expect(/0[xbo]/i.test(t), t).toBe(false);
      }
    }
  });
});

describe("item 4: body size limits before parsing", () => {
  const post = (path: string, headers: Record<string, string>, body: string | Uint8Array | AsyncIterable<Uint8Array>) =>
    fetch(`${busbar.url.replace(/\/$/, "")}${path}`, { method: "POST", headers, body: body as BodyInit, redirect: "manual", duplex: "half" } as RequestInit);

  it("refuses an anonymous 100 MB login post from its Content-Length, without reading it", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(busbar.url);
      const req = httpRequest({ host: u.hostname, port: u.port, path: "/auth/login", method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "content-length": String(100 * 1024 * 1024) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.write("name=x&password=");
      // Never send the rest: a server that waited for the body would hang here.
    });
    expect(status).toBe(413);
  });

  it("refuses a chunked body over the limit once that many bytes arrived", async () => {
    const rss0 = process.memoryUsage().rss;
    async function* chunks() {
      const block = new Uint8Array(64 * 1024).fill(0x61);
      for (let i = 0; i < 1600; i++) yield block; // 100 MB if it were all read
    }
    const r = await post("/auth/login", { "content-type": "application/x-www-form-urlencoded" }, chunks());
    expect(r.status).toBe(413);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(60 * 1024 * 1024);
  });

  it("lets a normal form through, and /admin/alarms take up to 1 MiB", async () => {
    const { cookie, csrf } = await login("ada");
    const yaml = "points:\n  - { point: MG.shed_setpoint, h: 4000 }\n" + "# padding\n".repeat(20_000);
    const r = await call("POST", "/admin/alarms", { cookie, csrf, form: { yaml }, html: true });
    expect(r.status).toBe(303);
    const tooBig = await call("POST", "/users", { cookie, csrf, form: { name: "x".repeat(70_000) } });
    expect(tooBig.status).toBe(413);
  });
});

describe("item 5: security headers", () => {
  it("are on the response that sets the anonymous CSRF cookie, and on every other one", async () => {
    const first = await fetch(busbar.url, { redirect: "manual" });
    expect(first.headers.getSetCookie().some((c) => c.startsWith("busbar_csrf="))).toBe(true);
    const check = (r: Response, what: string) => {
      expect(r.headers.get("x-frame-options"), what).toBe("DENY");
      expect(r.headers.get("x-content-type-options"), what).toBe("nosniff");
      expect(r.headers.get("referrer-policy"), what).toBe("same-origin");
      expect(r.headers.get("content-security-policy"), what).toMatch(/default-src 'self'.*frame-ancestors 'none'/);
    };
    check(first, "GET / anonymous");
    check(await fetch(`${busbar.url}auth/login`), "login page");
    check(await fetch(`${busbar.url}assets/busbar.css`), "asset");
    check(await fetch(`${busbar.url}api/points`), "401 json");
    check(await fetch(`${busbar.url}auth/login`, { method: "POST", body: "x", headers: { "content-type": "text/plain" } }), "csrf 403");
  });
});

describe("item 6: logout form", () => {
  it("is served with the session's CSRF token, and works without any script", async () => {
    const { cookie, csrf } = await login("ada");
    const page = await (await call("GET", "/points", { cookie, html: true })).text();
    const m = /<form[^>]*action="\/auth\/logout"[^>]*>\s*<input type="hidden" name="_csrf" value="([^"]*)"/.exec(page);
    expect(m?.[1]).toBe(csrf);
    const out = await busbar.app.fetch(
      new Request("http://busbar.test/auth/logout", { method: "POST", headers: { host: "busbar.test", cookie, "content-type": "application/x-www-form-urlencoded" }, body: `_csrf=${encodeURIComponent(m![1]!)}` }),
      { requestIP: () => ({ address: DESK_IP, family: "IPv4", port: 1 }) },
    );
    expect(out.status).toBe(303);
  });
});

describe("item 7: per-address login throttle", () => {
  const NAT = "10.7.7.7";
  it("throttles an address, journals one row (not one per attempt), shows it to an admin who may clear it", async () => {
    // 4 × loginMaxFailures = 12 failures throttle the address.
    for (let i = 0; i < 12; i++) await call("POST", "/auth/login", { ip: NAT, form: { name: `nobody${i}`, password: "x" } });
    const rows0 = allRows();
    for (let i = 0; i < 300; i++) {
      const r = await call("POST", "/auth/login", { ip: NAT, form: { name: "ada", password: "correct horse battery" } });
      expect(r.status).toBe(429);
    }
    // 300 refused attempts: one "throttled" row, not 300.
    expect(allRows() - rows0).toBe(1);
    expect(count("auth.throttle")).toBe(1);
    const { cookie, csrf } = await login("ada");
    const list = (await (await call("GET", "/api/auth/throttle", { cookie })).json()) as { ip: string; refused: number }[];
    expect(list).toEqual([expect.objectContaining({ ip: NAT, refused: 300 })]);
    const admin = await (await call("GET", "/admin", { cookie, html: true })).text();
    expect(admin).toContain(`data-ip="${NAT}"`);
    const clear = await call("POST", "/admin/throttle/clear", { cookie, csrf, form: { ip: NAT }, html: true });
    expect(clear.status).toBe(303);
    expect(count("auth.throttle-clear")).toBe(1);
    expect((await login("ada", NAT)).res.status).toBe(200);
  });
});

describe("item 10: empty alarm configuration", () => {
  it("is refused with the reason; the engine keeps its alarms and the page what is in force", async () => {
    const { cookie, csrf } = await login("ada");
    const before = busbar.alarms.definitions.length;
    for (const yaml of ["", "   \n", "# only a comment\n"]) {
      const r = await call("POST", "/admin/alarms", { cookie, csrf, form: { yaml }, html: true });
      expect(r.status, JSON.stringify(yaml)).toBe(400);
      expect(await r.text()).toMatch(/empty: nothing was saved/);
      expect(busbar.alarms.definitions.length).toBe(before);
    }
    // Saying it explicitly removes the configured alarms, and the page then shows exactly that.
    const none = await call("POST", "/admin/alarms", { cookie, csrf, form: { yaml: "points: []\n" }, html: true });
    expect(none.status).toBe(303);
    const page = await (await call("GET", "/admin/alarms", { cookie, html: true })).text();
    expect(page).toMatch(/points: \[\]/);
    expect(page).not.toMatch(/MG\.shed_setpoint, h:/);
  });
});
