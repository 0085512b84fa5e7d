/**
 * Journal rows of auth and system events are stored as key + parameters (besides the site-language
 * text the chain seals), so the English page and CSV of a French site read English; rows stored as
 * text only (older builds) still read as stored; the chain stays valid. The site's English name
 * shows in the English UI.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { journalMessage, journalText } from "../src/journal/i18n.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { freePort } from "./helpers/peers.ts";

let busbar: Busbar;
const IP = "10.1.1.7";
const CSRF = "journal-languages-csrf-token-0123456789";

beforeAll(async () => {
  const dbPath = join(mkdtempSync(join(tmpdir(), "busbar-jlang-")), "j.db");
  const site = parseSite(
    {
      site: { name: "Édifice d'essai", nameEn: "Test building", timezone: "America/Toronto", language: "fr" },
      buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: await freePort(), timeoutMs: 100, retries: 0 }],
      devices: [{ id: "F1", bus: "gw", unit: 1, profile: "micrologic-e" }],
    },
    loadProfiles(),
  );
  busbar = await startBusbar({ site, dbPath, httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
});

afterAll(async () => {
  await busbar?.stop();
});

async function call(method: string, path: string, o: { cookie?: string; form?: Record<string, string>; lang?: string } = {}) {
  const headers: Record<string, string> = { host: "busbar.test", accept: method === "GET" ? "text/html" : "application/json" };
  headers.cookie = [o.cookie, `busbar_csrf=${CSRF}`, o.lang ? `lang=${o.lang}` : ""].filter(Boolean).join("; ");
  if (method !== "GET") headers["x-csrf-token"] = CSRF;
  const body = o.form ? new URLSearchParams(o.form) : undefined;
  if (body) headers["content-type"] = "application/x-www-form-urlencoded";
  return busbar.app.fetch(new Request(`http://busbar.test${path}`, { method, headers, body }), { requestIP: () => ({ address: IP, family: "IPv4", port: 50000 }) });
}

const row = (type: string) => busbar.db.sqlite.query("SELECT message, data FROM events WHERE type = ? ORDER BY id DESC LIMIT 1").get(type) as { message: string; data: string | null };

describe("auth and system rows in the reader's language", () => {
  it("login, failure, logout, refusal and user admin rows read English in English and French in French; text-only rows read as stored; the chain holds", async () => {
    await busbar.auth.users.create("marie", "admin", "correct horse battery");
    await busbar.auth.users.create("ops", "operator", "correct horse battery");
    expect((await call("POST", "/auth/login", { form: { name: "marie", password: "wrong" } })).status).toBe(401);
    // A name typed at login that looks like a dictionary key stays as typed, in both languages.
    await call("POST", "/auth/login", { form: { name: "role.admin", password: "x" } });
    const res = await call("POST", "/auth/login", { form: { name: "marie", password: "correct horse battery" } });
    const cookie = res.headers.getSetCookie().find((x) => x.startsWith("busbar_session="))!.split(";")[0]!;
    const ops = await call("POST", "/auth/login", { form: { name: "ops", password: "correct horse battery" } });
    const opsCookie = ops.headers.getSetCookie().find((x) => x.startsWith("busbar_session="))!.split(";")[0]!;
    expect((await call("POST", "/admin/throttle/clear", { cookie: opsCookie })).status).toBe(403);
    // An old row written as text only, by a build before key + parameters.
    busbar.db.journal.append({ type: "auth.login", source: "old", actor: "old", message: "Connexion de old (admin) depuis 10.0.0.1" });
    busbar.db.journal.append({ type: "auth.logout", source: "x", actor: "x", ...journalText("fr", "journal.auth.logout", { name: "x", ip: IP }) });

    const login = row("auth.login");
    expect(journalMessage(login, "en")).toBe("Connexion de old (admin) depuis 10.0.0.1");
    const rows = busbar.db.sqlite.query("SELECT type, message, data FROM events ORDER BY id").all() as { type: string; message: string; data: string | null }[];
    const ok = rows.find((r) => r.type === "auth.login" && r.message.includes("marie"))!;
    expect(ok.message).toBe(`Connexion de marie (Administrateur) depuis ${IP}`);
    expect(journalMessage(ok, "en")).toBe(`marie logged in (Administrator) from ${IP}`);
    const fail = rows.find((r) => r.type === "auth.fail" && r.message.includes("marie"))!;
    expect(journalMessage(fail, "en")).toBe(`Failed login for “marie” from ${IP}: wrong password`);
    expect(journalMessage(fail, "fr")).toBe(fail.message);
    expect(fail.message).toContain("mot de passe");
    const spoof = rows.find((r) => r.type === "auth.fail" && r.message.includes("role.admin"))!;
    expect(journalMessage(spoof, "en")).toBe(`Failed login for “role.admin” from ${IP}: unknown user`);
    const denied = rows.find((r) => r.type === "auth.denied")!;
    expect(journalMessage(denied, "en")).toMatch(/^Refused to ops \(Operator\): POST \/admin\/throttle\/clear needs “Administrator”$/);
    const start = rows.find((r) => r.type === "system.start")!;
    expect(start.message).toBe("Busbar démarré : Édifice d'essai");
    expect(journalMessage(start, "en")).toBe("Busbar started: Test building");

    // The page and the CSV, as an English reader sees them.
    const page = await (await call("GET", "/journal", { cookie, lang: "en" })).text();
    expect(page).toContain(`marie logged in (Administrator) from ${IP}`);
    expect(page).toContain("Connexion de old (admin) depuis 10.0.0.1");
    expect(page).toContain("Test building");
    expect(page).not.toContain(`Connexion de marie`);
    const frPage = await (await call("GET", "/journal", { cookie, lang: "fr" })).text();
    expect(frPage).toContain(`Connexion de marie (Administrateur) depuis ${IP}`);
    expect(frPage).toContain("Édifice d&#39;essai");
    const csv = await (await call("GET", "/journal/export.csv", { cookie, lang: "en" })).text();
    expect(csv).toContain("Busbar started: Test building");
    expect(csv).toContain("Failed login for “marie”");

    expect(busbar.db.journal.verify().ok).toBe(true);
  });
});
