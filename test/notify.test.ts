/**
 * Notifications against real peers: Debian's aiosmtpd on loopback (plain, and STARTTLS with
 * authentication) and a local HTTP receiver checking the webhook's HMAC signature. Alarm events go
 * in as the alarm engine writes them: journal rows.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase, type BusbarDb } from "../src/db/database.ts";
import { Notifier } from "../src/notify/notifier.ts";
import { parseRule, quietUntil, type AlarmEvent, type RuleConfig } from "../src/notify/rules.ts";
import { SecretBox } from "../src/notify/secret-box.ts";
import { startSmtp, type SmtpPeer } from "./helpers/smtp.ts";
import { freePort, waitFor } from "./helpers/peers.ts";

const peers: SmtpPeer[] = [];
const dbs: BusbarDb[] = [];
const notifiers: Notifier[] = [];
afterAll(async () => {
  for (const n of notifiers) await n.stop();
  for (const d of dbs) d.close();
  for (const p of peers) p.stop();
});

const RULE: RuleConfig = { priorities: ["critical", "high", "medium", "low"], devices: [], role: "", recipients: ["chef@example.org"], events: ["active", "ack", "rtn"], quietFrom: "", quietTo: "", quietBypass: [] };

function setup(opts: Partial<ConstructorParameters<typeof Notifier>[0]> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "busbar-notify-"));
  const dbPath = join(dir, "busbar.db");
  const db = openDatabase(dbPath);
  dbs.push(db);
  const box = SecretBox.forDatabase(dbPath, {});
  const n = new Notifier({ sqlite: db.sqlite, journal: db.journal, box, siteName: "Tour Est", timezone: "America/Toronto", lang: "fr", settleMs: 300, maxWaitMs: 5000, backoffMs: 50, maxAttempts: 3, tickMs: 50, log: () => {}, ...opts });
  notifiers.push(n);
  return { db, dbPath, dir, n };
}

function raise(db: BusbarDb, i: number, priority = "critical", type = "alarm.active") {
  db.journal.append({ type, source: `2B${i}.trip`, device: `2B${i}`, message: `Disjoncteur 2B${i} déclenché`, data: { priority, activation: i, value: 1 } });
}

describe("secrets at rest", () => {
  it("keeps the SMTP password encrypted with a 0600 key file beside the database, never in the rows", () => {
    const { db, dbPath, n } = setup();
    const id = n.saveChannel(undefined, "relais", "email", { host: "127.0.0.1", port: 25, tls: "starttls", user: "busbar", from: "busbar@example.org", allowSelfSigned: true }, { password: "s3cret-Pa55word" }, [], true);
    const key = SecretBox.keyFile(dbPath);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const raw = readFileSync(dbPath).toString("latin1") + readFileSync(dbPath + "-wal").toString("latin1");
    expect(raw).not.toContain("s3cret-Pa55word");
    expect(n.channel(id)!.secret.password).toBe("s3cret-Pa55word");
    // The page's view says which secrets are set, not what they are.
    expect(JSON.stringify(n.channels())).not.toContain("s3cret");
    expect(n.channels()[0]!.secretsSet).toEqual(["password"]);
    // Saving without the field keeps it; another key cannot read it.
    n.saveChannel(id, "relais", "email", { host: "127.0.0.1", port: 26, tls: "starttls", user: "busbar", from: "busbar@example.org", allowSelfSigned: true }, {}, [], true);
    expect(n.channel(id)!.secret.password).toBe("s3cret-Pa55word");
    const other = new Notifier({ sqlite: db.sqlite, journal: db.journal, box: SecretBox.forDatabase(dbPath, { BUSBAR_SECRET_KEY: "ab".repeat(32) }), siteName: "x", timezone: "UTC", lang: "en" });
    expect(other.channels()[0]!.secretsUnreadable).toBe(true);
  });
});

describe("rules", () => {
  const ev = (ts: number, priority: AlarmEvent["priority"] = "high"): AlarmEvent => ({ journalId: 1, ts, event: "active", type: "alarm.active", alarm: "a", device: "2B3", priority, message: "m", actor: "", value: null });
  it("holds events in quiet hours until they end, critical rings through", () => {
    const r: RuleConfig = { ...RULE, quietFrom: "22:00", quietTo: "06:00", quietBypass: ["critical"] };
    const at2330 = Date.parse("2026-01-05T23:30:00-05:00");
    expect(quietUntil(r, ev(at2330), "America/Toronto")).toBe(Date.parse("2026-01-06T06:00:00-05:00"));
    expect(quietUntil(r, ev(at2330, "critical"), "America/Toronto")).toBe(0);
    expect(quietUntil(r, ev(Date.parse("2026-01-05T12:00:00-05:00")), "America/Toronto")).toBe(0);
  });
  it("refuses a bad form with reasons", () => {
    const bad = parseRule({ priorities: "", events: "active", recipients: "not-an-address", quietFrom: "25:00", quietTo: "06:00" });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.problems.join("\n")).toMatch(/priorities[\s\S]*recipients[\s\S]*quiet/);
  });
});

describe("e-mail through aiosmtpd", () => {
  it("STARTTLS with authentication: one alarm, one message; a storm of 200, one digest", { timeout: 30_000 }, async () => {
    const smtp = await startSmtp({ starttls: true, auth: "busbar:relay-password" });
    peers.push(smtp);
    const { db, n } = setup();
    const ch = n.saveChannel(undefined, "relais", "email", { host: "127.0.0.1", port: smtp.port, tls: "starttls", user: "busbar", from: "busbar@example.org", allowSelfSigned: true }, { password: "relay-password" }, [], true);
    n.saveRule(undefined, "tout", ch, RULE, true);
    n.start();
    raise(db, 3);
    await waitFor("one e-mail", () => smtp.messages.length === 1, 5000, 50).catch((e) => {
      throw new Error(`${e.message}: ${JSON.stringify(n.outbox())}`);
    });
    const m = smtp.messages[0]!;
    expect(m.tls).toBe(true);
    expect(m.auth).toBe("busbar");
    expect(m.to).toEqual(["chef@example.org"]);
    expect(m.data).toMatch(/Subject: =\?UTF-8\?|Subject: \[Tour Est\]/);
    expect(m.data).toContain("2B3");
    expect(m.data).toMatch(/Message-ID: <busbar-\d+-\d+@example\.org>/i);
    // 200 alarms within a few seconds: one digest listing all of them.
    for (let i = 0; i < 200; i++) raise(db, 100 + i, i % 2 ? "high" : "critical");
    await waitFor("digest", () => smtp.messages.length === 2, 10_000, 50);
    await new Promise((r) => setTimeout(r, 800));
    expect(smtp.messages.length).toBe(2);
    const digest = smtp.messages[1]!.data.replace(/=\r?\n/g, "");
    expect(digest).toContain("2B100");
    expect(digest).toContain("2B299");
    expect(n.counts()).toMatchObject({ sent: 2, merged: 201 });
  });

  it("implicit TLS (SMTPS) with authentication", { timeout: 15_000 }, async () => {
    const smtp = await startSmtp({ implicit: true, auth: "busbar:smtps-pass" });
    peers.push(smtp);
    const { n } = setup();
    const ch = n.saveChannel(undefined, "smtps", "email", { host: "127.0.0.1", port: smtp.port, tls: "implicit", user: "busbar", from: "busbar@example.org", allowSelfSigned: true }, { password: "smtps-pass" }, [], true);
    expect(await n.sendTest(ch, ["ops@example.org"])).toEqual({ ok: true, answer: "250 OK queued as busbar-test" });
    await waitFor("mail", () => smtp.messages.length === 1, 5000, 20);
    expect(smtp.messages[0]).toMatchObject({ auth: "busbar", to: ["ops@example.org"], tls: true });
    // A wrong password: the server's own refusal, shown as it said it.
    n.saveChannel(ch, "smtps", "email", { host: "127.0.0.1", port: smtp.port, tls: "implicit", user: "busbar", from: "busbar@example.org", allowSelfSigned: true }, { password: "wrong" }, [], true);
    const bad = await n.sendTest(ch, ["ops@example.org"]);
    expect(bad.ok).toBe(false);
    expect(bad.answer).toMatch(/535/);
    // A self-signed certificate is refused unless the channel says otherwise.
    n.saveChannel(ch, "smtps", "email", { host: "127.0.0.1", port: smtp.port, tls: "implicit", user: "busbar", from: "busbar@example.org", allowSelfSigned: false }, {}, [], true);
    expect((await n.sendTest(ch, ["ops@example.org"])).answer).toMatch(/self[- ]signed|certificate/i);
  });

  it("retries with backoff, then marks the message failed and journals it", { timeout: 20_000 }, async () => {
    const { db, n } = setup();
    const ch = n.saveChannel(undefined, "absent", "email", { host: "127.0.0.1", port: await freePort(), tls: "none", user: "", from: "busbar@example.org", allowSelfSigned: false }, {}, [], true);
    n.saveRule(undefined, "tout", ch, RULE, true);
    n.start();
    raise(db, 1);
    await waitFor("failed", () => (n.counts().failed ?? 0) === 1, 10_000, 50);
    const row = n.outbox().find((r) => r.status === "failed")!;
    expect(row.attempts).toBe(3);
    expect(row.last_error).toMatch(/ECONNREFUSED|connect/i);
    const j = db.sqlite.query("SELECT message FROM events WHERE type = 'notify.failed'").all() as { message: string }[];
    expect(j.length).toBe(1);
    expect(j[0]!.message).toContain("3 tentatives");
  });
});

describe("Telegram and ntfy presets", () => {
  it("POST what each API expects, token in the URL (Telegram) or as a bearer (ntfy)", { timeout: 15_000 }, async () => {
    const got: { path: string; auth: string; body: any }[] = [];
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        got.push({ path: new URL(req.url).pathname, auth: req.headers.get("authorization") ?? "", body: await req.json() });
        return Response.json({ ok: true, result: { message_id: 42 } });
      },
    });
    try {
      const { db, n } = setup();
      const tg = n.saveChannel(undefined, "tg", "telegram", { chatId: "-100123", apiBase: `http://127.0.0.1:${server.port}` }, { token: "123:ABC" }, [], true);
      const nt = n.saveChannel(undefined, "ntfy", "ntfy", { url: `http://127.0.0.1:${server.port}/tour-est-elec` }, { token: "tk_ntfy" }, [], true);
      n.saveRule(undefined, "tg", tg, RULE, true);
      n.saveRule(undefined, "ntfy", nt, RULE, true);
      n.start();
      raise(db, 5, "high");
      await waitFor("both", () => got.length === 2, 5000, 50);
      const t = got.find((g) => g.path.startsWith("/bot"))!;
      expect(t.path).toBe("/bot123:ABC/sendMessage");
      expect(t.body.chat_id).toBe("-100123");
      expect(t.body.text).toContain("2B5");
      const f = got.find((g) => g.path === "/")!;
      expect(f.auth).toBe("Bearer tk_ntfy");
      expect(f.body).toMatchObject({ topic: "tour-est-elec", priority: 4 });
      expect(f.body.message).toContain("2B5");
    } finally {
      server.stop(true);
    }
  });
});

describe("webhook", () => {
  it("POSTs JSON signed with HMAC-SHA256 over timestamp.body", { timeout: 15_000 }, async () => {
    const got: { body: string; sig: string; ts: string }[] = [];
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        got.push({ body: await req.text(), sig: req.headers.get("x-busbar-signature") ?? "", ts: req.headers.get("x-busbar-timestamp") ?? "" });
        return new Response("accepted-by-receiver", { status: 202 });
      },
    });
    try {
      const { db, n } = setup();
      const ch = n.saveChannel(undefined, "bms", "webhook", { url: `http://127.0.0.1:${server.port}/hook` }, { hmacKey: "hook-key-123" }, [], true);
      n.saveRule(undefined, "critique", ch, { ...RULE, priorities: ["critical"], events: ["active", "rtn"] }, true);
      n.start();
      raise(db, 7, "low"); // not matched: low
      raise(db, 8, "critical");
      await waitFor("webhook", () => got.length === 1, 5000, 50);
      const g = got[0]!;
      expect(g.sig).toBe("sha256=" + createHmac("sha256", "hook-key-123").update(`${g.ts}.${g.body}`).digest("hex"));
      const body = JSON.parse(g.body);
      expect(body.events).toHaveLength(1);
      expect(body.events[0]).toMatchObject({ device: "2B8", priority: "critical", event: "active" });
      expect(body.events[0].ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}-0[45]:00$/);
      // The receiver saw the request before its answer reached Busbar: wait for the answer to be recorded.
      await waitFor("outbox row sent", () => n.outbox()[0]?.status === "sent", 5000, 50);
      expect(n.outbox()[0]!.response).toBe("HTTP 202 accepted-by-receiver");
      // Send test shows the receiver's answer.
      expect(await n.sendTest(ch, [])).toEqual({ ok: true, answer: "HTTP 202 accepted-by-receiver" });
    } finally {
      server.stop(true);
    }
  });
});
