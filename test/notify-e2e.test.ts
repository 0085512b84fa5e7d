/**
 * Notifications end to end, demo site + simulator polled by the real bus workers, mail to Debian's
 * aiosmtpd on loopback:
 *  - an admin configures an SMTP channel and a rule through the page's forms (CSRF, journaled,
 *    the password never shown back); "Send test" shows the SMTP server's own answer;
 *  - a breaker trip produces an e-mail within 5 s; its acknowledgement produces another;
 *  - a Busbar process is killed (SIGKILL) with the SMTP server down and the trip mail queued, then
 *    restarted with the server up: the queued mail arrives exactly once.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseYaml } from "../src/config/profile.ts";
import { parseSite } from "../src/config/site.ts";
import { Database } from "bun:sqlite";
import { DEMO_SITE } from "../src/embedded.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { startSimulator, type Sim } from "../src/sim/simulator.ts";
import { freePort, waitFor } from "./helpers/peers.ts";
import { startSmtp, type SmtpPeer } from "./helpers/smtp.ts";
import { artifact, launchChromium, newPage, SIZES } from "./helpers/browser.ts";

const ROOT = join(import.meta.dirname, "..");
const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

function demoSite() {
  const raw = parseYaml(DEMO_SITE, "demo-site.yaml") as { devices: { pollMs?: number }[] };
  for (const d of raw.devices) d.pollMs = 250;
  return parseSite(raw, loadProfiles(), "demo-site.yaml");
}

describe("breaker trip → e-mail", () => {
  it("configured from the page; Send test shows the server's answer; trip and ack each mail within 5 s", { timeout: 60_000 }, async () => {
    const smtp = await startSmtp({ auth: "busbar:relay-password-9" });
    cleanup.push(() => smtp.stop());
    const sim: Sim = startSimulator(demoSite(), { anyPort: true, host: "127.0.0.1", tickMs: 100 });
    cleanup.push(() => sim.stop());
    const dir = mkdtempSync(join(tmpdir(), "busbar-notify-e2e-"));
    const busbar: Busbar = await startBusbar({ site: sim.servedSite, dbPath: join(dir, "busbar.db"), httpPort: 0, httpHost: "127.0.0.1", log: () => {}, notify: { backoffMs: 100, maxAttempts: 2 } });
    cleanup.push(() => busbar.stop());
    const admin = await busbar.auth.users.create("chef", "admin", "admin-password-1");
    const maint = await busbar.auth.users.create("maint", "maintenance", "maint-password-1");
    const { token, session } = busbar.auth.sessions.create(admin.id, "password", "admin", "127.0.0.1", 600_000, 3_600_000);
    const post = (path: string, form: Record<string, string | string[]>, csrf = session.csrf) => {
      const body = new URLSearchParams();
      for (const [k, v] of Object.entries({ _csrf: csrf, ...form })) for (const x of Array.isArray(v) ? v : [v]) body.append(k, x);
      return fetch(busbar.url.replace(/\/$/, "") + path, { method: "POST", body, redirect: "manual", headers: { cookie: `busbar_session=${token}`, origin: busbar.url.replace(/\/$/, "") } });
    };

    // Without the CSRF token: refused, nothing stored.
    expect((await post("/admin/notify/channels", { type: "email", name: "x", host: "h", from: "a@b.c" }, "wrong")).status).toBe(403);
    const save = await post("/admin/notify/channels", { type: "email", name: "Relais", host: "127.0.0.1", port: String(smtp.port), tls: "none", user: "busbar", from: "busbar@tour-est.example", "secret.password": "relay-password-9", enabled: "1" });
    expect(save.status).toBe(303);
    const ch = busbar.notify.channels()[0]!;
    expect(ch.secretsSet).toEqual(["password"]);
    // Users of the maintenance role get it at their address.
    expect((await post("/admin/notify/emails", { [`email.${maint.id}`]: "maint@tour-est.example" })).status).toBe(303);
    expect(
      (await post("/admin/notify/rules", { name: "Disjoncteurs", channel: String(ch.id), priorities: ["critical", "high"], events: ["active", "ack", "rtn"], role: "maintenance", recipients: "", devices: "2B*", enabled: "1" })).status,
    ).toBe(303);
    // A second channel whose receiver is gone: its messages end up failed, on the page and in the journal.
    const dead = await freePort();
    expect((await post("/admin/notify/channels", { type: "webhook", name: "GTB absente", url: `http://127.0.0.1:${dead}/hook`, "secret.hmacKey": "hmac-key-never-shown", enabled: "1" })).status).toBe(303);
    const hook = busbar.notify.channels().find((c) => c.type === "webhook")!;
    expect((await post("/admin/notify/rules", { name: "GTB", channel: String(hook.id), priorities: "critical", events: "active", role: "", devices: "", enabled: "1" })).status).toBe(303);
    const page = await (await fetch(busbar.url + "admin/notify", { headers: { cookie: `busbar_session=${token}` } })).text();
    expect(page).toContain("Relais");
    expect(page).not.toContain("relay-password-9");
    expect(page).not.toContain("hmac-key-never-shown");
    const types = (busbar.db.sqlite.query("SELECT message, data FROM events WHERE type = 'config.notify'").all() as { data: string }[]).map((r) => r.data);
    expect(types.length).toBe(5);
    expect(types.join()).not.toContain("relay-password-9");

    const test = await post(`/admin/notify/channels/${ch.id}/test`, { to: "essai@tour-est.example" });
    expect(test.status).toBe(200);
    expect(await test.text()).toContain("250 OK queued as busbar-test");
    await waitFor("test mail", () => smtp.messages.length === 1, 5000, 50);

    // The same button in Chromium: the SMTP server's own reply line on the page.
    const browser = await launchChromium();
    cleanup.push(() => browser.close());
    const { context, page: tab } = await newPage(browser, SIZES.control);
    await context.addCookies([{ name: "busbar_session", value: token, url: busbar.url }]);
    await tab.goto(busbar.url + "admin/notify");
    const card = tab.locator(`fieldset[data-channel="${ch.id}"]`);
    await card.locator('input[name="to"]').fill("essai2@tour-est.example");
    await card.getByRole("button", { name: "Envoyer un essai" }).click();
    await tab.locator("#test-result").waitFor({ timeout: 10_000 });
    expect(await tab.locator("#test-result").innerText()).toMatch(/Essai envoyé[\s\S]*250 OK queued as busbar-test/);
    expect(await tab.content()).not.toContain("relay-password-9");
    await tab.screenshot({ path: artifact("notify-admin.png"), fullPage: true });
    await waitFor("second test mail", () => smtp.messages.length === 2, 5000, 50);

    await waitFor("devices polled", () => busbar.supervisor.stats().every((b) => "devices" in b && (b.devices ?? []).every((d) => d.status === "ok")), 20_000, 100);
    const tripAt = Date.now();
    sim.trip("2B3");
    const mail = await waitFor("trip mail", () => smtp.messages.find((m) => m.to.includes("maint@tour-est.example") && m.data.includes("2B3")), 5000, 25);
    const ms = Date.now() - tripAt;
    console.log(`breaker trip → e-mail received: ${ms} ms (target < 5000)`);
    expect(ms).toBeLessThan(5000);
    expect(mail.auth).toBe("busbar");

    const alarm = busbar.alarms.list().find((a) => a.device === "2B3" && a.state === "unack_active")!;
    expect(alarm.priority).toBe("critical");
    expect(busbar.alarms.ack(alarm.id, "maint", "vu").ok).toBe(true);
    const ack = await waitFor("ack mail", () => smtp.messages.slice(3).find((m) => /acquitt/i.test(decodeMime(m.data))), 5000, 25);
    expect(decodeMime(ack.data)).toContain("maint");
    // Return to normal: the breaker closed again.
    sim.setBreaker("2B3", true);
    await waitFor("return-to-normal mail", () => smtp.messages.slice(3).find((m) => /retour/i.test(decodeMime(m.data))), 8000, 25);

    const failedPage = await waitFor(
      "failed message on the page",
      async () => {
        const html = await (await fetch(busbar.url + "admin/notify", { headers: { cookie: `busbar_session=${token}` } })).text();
        return /data-status="failed"/.test(html) && html;
      },
      10_000,
      100,
    );
    expect(failedPage).toMatch(/ECONNREFUSED|Unable to connect|connect/i);
    expect(busbar.db.sqlite.query("SELECT COUNT(*) AS n FROM events WHERE type = 'notify.failed'").get()).toEqual({ n: 1 });
  });
});

/** Subject words and quoted-printable as nodemailer writes them, back to text (enough for a toContain). */
function decodeMime(raw: string): string {
  return raw
    .replace(/=\?UTF-8\?Q\?([^?]*)\?=/gi, (_, q: string) => Buffer.from(q.replace(/_/g, " ").replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), "latin1").toString("utf8"))
    .replace(/=\r?\n/g, "")
    .replace(/(?:=[0-9A-F]{2})+/gi, (m) => Buffer.from(m.split("=").filter(Boolean).map((h) => parseInt(h, 16))).toString("utf8"));
}

describe("kill -9 with SMTP down, restart with SMTP up", () => {
  it("delivers the queued mail exactly once", { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "busbar-notify-kill-"));
    const dbPath = join(dir, "busbar.db");
    const smtpPort = await freePort();
    const script = join(dir, "child.ts");
    writeFileSync(
      script,
      `
import { loadProfiles } from ${JSON.stringify(join(ROOT, "src/config/profiles.ts"))};
import { parseSite } from ${JSON.stringify(join(ROOT, "src/config/site.ts"))};
import { parseYaml } from ${JSON.stringify(join(ROOT, "src/config/profile.ts"))};
import { DEMO_SITE } from ${JSON.stringify(join(ROOT, "src/embedded.ts"))};
import { startSimulator } from ${JSON.stringify(join(ROOT, "src/sim/simulator.ts"))};
import { startBusbar } from ${JSON.stringify(join(ROOT, "src/server/runtime.ts"))};
const raw = parseYaml(DEMO_SITE, "demo-site.yaml");
for (const d of raw.devices) d.pollMs = 250;
const sim = startSimulator(parseSite(raw, loadProfiles(), "demo"), { anyPort: true, host: "127.0.0.1", tickMs: 100 });
if (process.env.TRIP) sim.trip("2B3");
const busbar = await startBusbar({ site: sim.servedSite, dbPath: process.env.DB, httpPort: 0, httpHost: "127.0.0.1", log: () => {}, notify: { backoffMs: 60000 } });
if (!busbar.notify.channels().length) {
  const ch = busbar.notify.saveChannel(undefined, "relais", "email", { host: "127.0.0.1", port: Number(process.env.SMTP), tls: "none", user: "", from: "busbar@tour-est.example", allowSelfSigned: false }, {}, [], true);
  busbar.notify.saveRule(undefined, "tout", ch, { priorities: ["critical"], devices: ["2B3"], role: "", recipients: ["astreinte@tour-est.example"], events: ["active"], quietFrom: "", quietTo: "", quietBypass: [] }, true);
}
console.log("ready " + busbar.url);
`,
    );
    const start = async (env: Record<string, string>) => {
      const proc = Bun.spawn([process.execPath, script], { env: { ...process.env, DB: dbPath, SMTP: String(smtpPort), ...env }, stdout: "pipe", stderr: "inherit", cwd: ROOT });
      cleanup.push(() => proc.kill(9));
      const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
      let buf = "";
      while (!/ready /.test(buf)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`child exited: ${buf}`);
        buf += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      return proc;
    };
    const outbox = () => {
      const db = new Database(dbPath, { readonly: true });
      try {
        return db.query("SELECT id, status, attempts FROM notify_outbox WHERE status != 'merged'").all() as { id: number; status: string; attempts: number }[];
      } finally {
        db.close();
      }
    };

    const first = await start({ TRIP: "1" });
    // The trip's message tried once against the absent server, waiting a minute for its retry.
    await waitFor("attempted", () => outbox().some((r) => r.status === "pending" && r.attempts >= 1), 15_000, 100);
    first.kill(9);
    await first.exited;

    const smtp = await startSmtp({ port: smtpPort });
    cleanup.push(() => smtp.stop());
    await start({});
    await waitFor("queued mail delivered", () => smtp.messages.length >= 1, 10_000, 50);
    await new Promise((r) => setTimeout(r, 1500));
    const trips = smtp.messages.filter((m) => m.data.includes("2B3"));
    expect(trips.length).toBe(1);
    expect(smtp.messages.length).toBe(1);
    expect(outbox().filter((r) => r.status === "sent").length).toBe(1);
  });
});
