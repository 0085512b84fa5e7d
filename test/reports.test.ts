import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../src/db/database.ts";
import { EnergyService } from "../src/energy/service.ts";
import { EnergyStore } from "../src/energy/store.ts";
import { energySchema, validateEnergy } from "../src/energy/structure.ts";
import { LocalClock } from "../src/energy/tariffs.ts";
import { openHistoryDb } from "../src/historian/store.ts";
import { Notifier } from "../src/notify/notifier.ts";
import { SecretBox } from "../src/notify/secret-box.ts";
import { closeReportPool, runReport } from "../src/reports/pool.ts";
import { parseReportQuery } from "../src/reports/query.ts";
import { ReportScheduler, type EnergySource } from "../src/reports/schedules.ts";
import { artifact } from "./helpers/browser.ts";
import { waitFor } from "./helpers/peers.ts";
import { startSmtp, type SmtpPeer } from "./helpers/smtp.ts";

/**
 * Reports from raw counters: three meters of a site in Québec (head, lighting, HVAC) read every
 * 3 minutes through October 2026 (and the end of September, the previous period), with a 2-hour
 * communication gap on the lighting meter. The energy service turns the readings into intervals;
 * the test computes each month's total itself from the counter values it fed (last − first),
 * and reads them back from the PDF that a real SMTP server (aiosmtpd) received.
 */
const TZ = "America/Toronto";
const SITE = "Édifice Côté-Vertu";
const clock = new LocalClock(TZ);
const OCT = clock.fromLocal(2026, 10, 1);
const NOV = clock.fromLocal(2026, 11, 1);
const START = clock.fromLocal(2026, 9, 25);
const STEP = 3 * 60_000;
const GAP = [clock.fromLocal(2026, 10, 10, 9 * 60), clock.fromLocal(2026, 10, 10, 11 * 60)] as const;

const dir = mkdtempSync(join(tmpdir(), "busbar-reports-"));
const config = energySchema.parse({
  meters: [
    { id: "HEAD", point: "M0.kwh", label: "Entrée HQ", head: true },
    { id: "L1", point: "M1.kwh", label: "Éclairage étages", circuit: "lighting", parent: "HEAD" },
    { id: "H1", point: "M2.kwh", label: "Thermopompes", circuit: "hvac", parent: "HEAD" },
  ],
  costs: [{ commodity: "electricity", currency: "CAD", tariffs: [{ id: "e", name: "Énergie", prices: [{ from: "2026-01-01", price: 0.06 }] }], rules: [{ tariff: "e" }], demand: { prices: [{ from: "2026-01-01", price: 10 }] } }],
});
const { meters } = validateEnergy(config, () => ({ unit: "kWh" }));
let source: EnergySource;
/** Counter value of each meter at each instant fed. */
const fed = new Map<string, Map<number, number>>();
let smtp: SmtpPeer;

function counterAt(id: string, ts: number): number {
  const v = fed.get(id)!.get(ts);
  if (v === undefined) throw new Error(`no reading of ${id} at ${new Date(ts).toISOString()}`);
  return v;
}

beforeAll(async () => {
  const hist = openHistoryDb(join(dir, "busbar.history.db"));
  const store = new EnergyStore(hist, TZ);
  const svc = new EnergyService({ config, meters, store, timeZone: TZ });
  const cum = { HEAD: 5_000_000, L1: 1_234_567.8, H1: 2_500_000 } as Record<string, number>;
  for (const id of Object.keys(cum)) fed.set(id, new Map());
  let k = 0;
  for (let ts = START; ts <= NOV + 3_600_000; ts += STEP, k++) {
    const hour = clock.parts(ts).minute / 60;
    const l = 1.5 + Math.sin(k / 37) * 0.6 + (hour > 7 && hour < 19 ? 1.2 : 0);
    const h = 6 + Math.cos(k / 91) * 2.5;
    cum.L1! += l;
    cum.H1! += h;
    cum.HEAD! += l + h + 0.4;
    for (const id of ["HEAD", "L1", "H1"]) {
      if (id === "L1" && ts > GAP[0] && ts < GAP[1]) continue; // the lighting meter is silent: no reading
      fed.get(id)!.set(ts, cum[id]!);
      svc.reading(id, ts, cum[id]!, true);
    }
    if (k % 20 === 0) svc.flush(ts);
  }
  svc.flush(NOV + 3_600_000);
  hist.close();
  source = { dbPath: join(dir, "busbar.history.db"), config, meters };
  smtp = await startSmtp();
}, 60_000);

afterAll(async () => {
  smtp?.stop();
  await closeReportPool();
});

const total = (id: string, from = OCT, to = NOV) => counterAt(id, to) - counterAt(id, from);
const fmt0 = (x: number) => new Intl.NumberFormat("fr-CA", { maximumFractionDigits: 0 }).format(x);
/** pdftotext's text with every kind of space as one plain space. */
const plain = (s: string) => s.replace(/[\s\u00a0\u202f]+/g, " ");

function mail(raw: string): { subject: string; attachments: { filename: string; type: string; b64: string }[] } {
  // Python's own e-mail parser: an independent reading of the MIME message nodemailer wrote.
  const py = `
import email, json, sys, base64
from email.header import decode_header, make_header
m = email.message_from_string(sys.stdin.read())
out = {"subject": str(make_header(decode_header(m["subject"]))), "attachments": []}
for p in m.walk():
    if p.get_filename():
        out["attachments"].append({"filename": p.get_filename(), "type": p.get_content_type(), "b64": base64.b64encode(p.get_payload(decode=True)).decode()})
print(json.dumps(out))`;
  const r = spawnSync("/usr/bin/python3", ["-c", py], { input: raw, encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

describe("reports", () => {
  let db: ReturnType<typeof openDatabase>;
  let notifier: Notifier;
  let channel = 0;
  let now = clock.fromLocal(2026, 10, 14, 600);
  const mainPath = join(dir, "busbar.db");

  const open = () => {
    db = openDatabase(mainPath);
    notifier = new Notifier({ sqlite: db.sqlite, journal: db.journal, box: SecretBox.forDatabase(mainPath, {}), siteName: SITE, timezone: TZ, lang: "fr", now: () => now, tickMs: 50 });
    return new ReportScheduler({ sqlite: db.sqlite, journal: db.journal, notifier, energy: () => source, site: SITE, timezone: TZ, lang: "fr", now: () => now });
  };

  it("e-mails the monthly report when October is over: PDF attached, right subject, totals from the raw counters", async () => {
    let sched = open();
    channel = notifier.saveChannel(undefined, "relay", "email", { host: "127.0.0.1", port: smtp.port, tls: "none", user: "", from: "busbar@example.org", allowSelfSigned: false }, {}, [], true);
    const id = sched.save(undefined, { name: "Direction", frequency: "monthly", kind: "general", format: "pdf", lang: "fr", items: [], channelId: channel, recipients: ["direction@example.org", "gestion@example.org"], enabled: true }, "admin");
    // Mid-October: September is already complete, so a new schedule waits for October's end.
    expect(await sched.tick()).toBe(0);
    now = clock.fromLocal(2026, 11, 1, 10); // 00:10, before the 20-min grace: not yet
    expect(await sched.tick()).toBe(0);
    now = clock.fromLocal(2026, 11, 1, 45);
    expect(await sched.tick()).toBe(1);
    expect(await sched.tick()).toBe(0); // once
    await notifier.drain();
    await waitFor("report mail", () => smtp.messages.length === 1, 10_000, 50);
    const m = smtp.messages[0]!;
    expect(m.to.sort()).toEqual(["direction@example.org", "gestion@example.org"]);
    const parsed = mail(m.data);
    expect(parsed.subject).toBe(`[${SITE}] Rapport énergétique général — octobre 2026`);
    expect(parsed.attachments).toHaveLength(1);
    expect(parsed.attachments[0]).toMatchObject({ filename: "Edifice-Cote-Vertu-general-2026-10.pdf", type: "application/pdf" });
    const pdf = Buffer.from(parsed.attachments[0]!.b64, "base64");
    expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
    const file = join(dir, "october.pdf");
    writeFileSync(file, pdf);
    const text = plain(spawnSync("pdftotext", ["-layout", file, "-"], { encoding: "utf8" }).stdout);
    expect(text).toContain(SITE);
    expect(text).toContain("Rapport énergétique général — Octobre 2026");
    expect(text).toContain("America/Toronto");
    // Totals as the counters say, formatted as a French reader writes them (thousands separated).
    const head = total("HEAD");
    expect(head).toBeGreaterThan(100_000);
    expect(text).toContain(`${plain(fmt0(head))} kWh`);
    expect(text).toMatch(new RegExp(`Total du site ≈? ?${plain(fmt0(head))}`));
    expect(text).toContain(`CVC ${plain(fmt0(total("H1")))}`);
    // The lighting meter's gap: its line is marked estimated, never shown as fully measured.
    expect(text).toContain(`Éclairage ≈ ${plain(fmt0(total("L1")))}`);
    const remainder = head - total("H1") - total("L1");
    expect(text).toMatch(new RegExp(`Non mesuré(?: \\(reste\\))? ≈ ${plain(fmt0(remainder))}`));
    expect(text).toMatch(/Complétude des données : \d+,\d % des [\d ]+ intervalles de 15 min mesurés; (< )?\d+,\d % estimés, (< )?\d+,\d %/);
    // Cost: 0.06 $/kWh on the head meter's consumption.
    expect(text).toContain(new Intl.NumberFormat("fr-CA", { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(head * 0.06).replace(/[\u00a0\u202f]/g, " "));
    // Peak 15-minute demand of the head meter, from its counter at each quarter hour, and its time.
    let peak = 0;
    let peakAt = 0;
    for (let ts = OCT; ts < NOV; ts += 900_000) {
      const kw = (counterAt("HEAD", ts + 900_000) - counterAt("HEAD", ts)) * 4;
      if (kw > peak + 1e-9) [peak, peakAt] = [kw, ts];
    }
    const n = (x: number, d: number) => plain(new Intl.NumberFormat("fr-CA", { minimumFractionDigits: d, maximumFractionDigits: d }).format(x));
    const when = plain(new Intl.DateTimeFormat("fr-CA", { timeZone: TZ, dateStyle: "medium", timeStyle: "short", hourCycle: "h23" }).format(peakAt));
    expect(text).toContain(`Pointe de puissance 15 min Période précédente ${plain(fmt0(head))} kWh`);
    expect(text).toContain(`${n(peak, 1)} kW`);
    expect(text).toContain(when);
    expect(text).toContain(`Frais de puissance : pointe ${n(peak, 1)} kW × 10,00 par kW = ${n(peak * 10, 2)} CAD`);
    const r = spawnSync("pdftoppm", ["-r", "80", "-png", file, artifact("report-general-month")]);
    expect(r.status).toBe(0);
    // Journaled, with its period; the attachment is dropped once the relay took it.
    const j = db.sqlite.query("SELECT message FROM events WHERE type = 'report.queued'").all() as { message: string }[];
    expect(j.map((x) => x.message)).toEqual(["rapport « Direction » pour octobre 2026 mis en file pour direction@example.org, gestion@example.org"]);
    expect((db.sqlite.query("SELECT COUNT(*) AS n FROM notify_attachments").get() as { n: number }).n).toBe(0);
    expect(sched.get(id)!.lastPeriod).toBe(OCT);
    await sched.stop();
    await notifier.stop();
    db.close();
  }, 60_000);

  it("a schedule due while Busbar was down is sent once after the restart, not once per missed period", async () => {
    // Created in July, then Busbar is down from August to November 1st.
    now = clock.fromLocal(2026, 7, 20, 600);
    let sched = open();
    const id = sched.save(undefined, { name: "Weekly ops", frequency: "weekly", kind: "detailed", format: "csv", lang: "en", items: ["circuit:lighting", "meter:H1"], channelId: channel, recipients: ["ops@example.org"], enabled: true }, "admin");
    db.close();
    const before = smtp.messages.length;
    now = clock.fromLocal(2026, 11, 1, 60);
    sched = open();
    sched.start();
    await waitFor("queued after restart", () => (db.sqlite.query("SELECT COUNT(*) AS n FROM report_schedules WHERE id = ? AND last_outbox IS NOT NULL").get(id) as { n: number }).n === 1, 20_000, 50);
    await sched.stop();
    // Restarted again at once: the period is recorded, nothing more is queued.
    db.close();
    sched = open();
    expect(await sched.tick()).toBe(0);
    notifier.start();
    await waitFor("mail", () => smtp.messages.length === before + 1, 10_000, 50);
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.messages.length).toBe(before + 1);
    const parsed = mail(smtp.messages.at(-1)!.data);
    // The last complete week (Monday Oct 26 – Sunday Nov 1 is not over at 01:00 Nov 1; Oct 19–25 is).
    expect(parsed.subject).toBe(`[${SITE}] Detailed energy report — October 19, 2026 – October 25, 2026`);
    const csv = Buffer.from(parsed.attachments[0]!.b64, "base64").toString("utf8");
    expect(csv.charCodeAt(0)).toBe(0xfeff);
    expect(csv).toContain("2026-10-19T00:00:00.000-04:00;electricity;Thermopompes;");
    const week = (id: string) => counterAt(id, clock.fromLocal(2026, 10, 26)) - counterAt(id, clock.fromLocal(2026, 10, 19));
    const sum = csv
      .split("\r\n")
      .filter((l) => l.includes(";Thermopompes;"))
      .reduce((a, l) => a + Number(l.split(";")[3]!.replace(",", ".")), 0);
    expect(sum).toBeCloseTo(week("H1"), 1);
    const late = db.sqlite.query("SELECT message FROM events WHERE type = 'report.queued' ORDER BY id DESC LIMIT 1").get() as { message: string };
    expect(late.message).toMatch(/après un arrêt \(13 période\(s\) antérieure\(s\) non envoyée\(s\)\)/);
    await notifier.stop();
    db.close();
  }, 60_000);

  it("renders a yearly detailed report in the pool: every circuit, quality marked", async () => {
    const pdf = await runReport({ ...source, site: SITE, timezone: TZ, req: { kind: "detailed", period: "year", year: 2026, month: 1, lang: "en" }, format: "pdf", now: clock.fromLocal(2026, 11, 1, 60) });
    const file = join(dir, "year.pdf");
    writeFileSync(file, pdf);
    const text = plain(spawnSync("pdftotext", ["-layout", file, "-"], { encoding: "utf8" }).stdout);
    expect(text).toContain("Detailed energy report — 2026");
    expect(text).toContain("Period in progress");
    expect(text).toContain(`Lighting ≈ ${new Intl.NumberFormat("en-CA", { maximumFractionDigits: 0 }).format(counterAt("L1", NOV + 3_600_000) - counterAt("L1", START))}`);
    expect(spawnSync("pdftoppm", ["-r", "70", "-png", file, artifact("report-detailed-year")]).status).toBe(0);
    copyFileSync(file, artifact("report-detailed-year.pdf"));
    expect(readFileSync(artifact("report-detailed-year.pdf")).length).toBeGreaterThan(10_000);
  }, 60_000);

  it("the first report after a fresh pool: the server's start-up prime keeps the main thread free, the prime keeps no thread, the report thread runs at nice 10", () => {
    // Measured (bench/report-pdf.bench.ts): unprimed, the first report's pool start ran the main
    // thread 12–17 ms in one go (Bun's first worker_threads Worker); primed, 1–3 ms. 8 ms between.
    const jobFile = join(dir, "first-run-job.json");
    writeFileSync(jobFile, JSON.stringify({ ...source, site: SITE, timezone: TZ, req: { kind: "detailed", period: "year", year: 2026, month: 1, lang: "fr" }, format: "pdf", now: clock.fromLocal(2026, 11, 1, 60) }));
    const r = spawnSync(process.execPath, [join(import.meta.dirname, "helpers/report-first-run.ts"), jobFile], { encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { maxTickCpuMs: number; workersAfterPrime: number; mainNice: number; reportThreadNice: number[]; bytes: number; head: string };
    expect(out.head).toBe("%PDF-");
    expect(out.bytes).toBeGreaterThan(10_000);
    // The prime's thread is closed at once: no idle report thread (~50 MB) after every start.
    expect(out.workersAfterPrime).toBe(0);
    expect(out.maxTickCpuMs).toBeLessThan(8);
    // The report's thread yields the core to polling and pages (src/workers/report-pool.ts); the
    // main thread keeps its own priority.
    expect(out.reportThreadNice).toEqual([Math.min(19, out.mainNice + 10)]);
  }, 60_000);

  it("refuses any malformed report query or schedule with a reason, never a throw (fuzzed)", () => {
    let seed = 13;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const pick = <T,>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
    const junk = () => pick(["", "0", "-1", "1e3", "2026", "13", "12", "1.5", "NaN", "month", "year", "fr", "en", "de", "general", "detailed", "circuit:hvac", "zone:x", "meter:", "x".repeat(5000), "\u0000", "circuit:" + "a".repeat(65), "__proto__", "constructor"]);
    const now = clock.fromLocal(2026, 11, 15);
    let ok = 0;
    for (let i = 0; i < 5000; i++) {
      const q: Record<string, string | undefined> = {};
      const valid: Record<string, string[]> = { kind: ["general", "detailed"], period: ["month", "year"], year: ["2025", "2026", "2027"], month: ["1", "10", "12"], lang: ["fr", "en"] };
      for (const k of Object.keys(valid)) if (rnd() < 0.9) q[k] = rnd() < 0.8 ? pick(valid[k]!) : junk();
      const items = Array.from({ length: Math.floor(rnd() * 3) }, () => (rnd() < 0.7 ? pick(["circuit:hvac", "meter:H1"]) : junk()));
      const r = parseReportQuery((k) => q[k], () => items, clock, "fr", now);
      if (typeof r === "string") continue;
      ok++;
      expect(["general", "detailed"]).toContain(r.kind);
      expect(r.year >= 2000 && r.year <= 2100 && r.month >= 1 && r.month <= 12).toBe(true);
      expect(clock.fromLocal(r.year, r.period === "year" ? 1 : r.month, 1)).toBeLessThanOrEqual(now);
    }
    expect(ok).toBeGreaterThan(0);
    const db = openDatabase(":memory:");
    const n = new Notifier({ sqlite: db.sqlite, journal: db.journal, box: SecretBox.forDatabase(":memory:", { BUSBAR_SECRET_KEY: "a".repeat(64) }), siteName: SITE, timezone: TZ, lang: "fr" });
    const s = new ReportScheduler({ sqlite: db.sqlite, journal: db.journal, notifier: n, energy: () => source, site: SITE, timezone: TZ });
    for (let i = 0; i < 2000; i++) {
      const x = { name: junk(), frequency: junk(), kind: junk(), format: pick(["pdf", "csv", junk()]), lang: junk(), items: [junk()], channelId: Math.floor(rnd() * 3), recipients: [junk(), pick(["a@b.c", "bad", "<x@y>"])], enabled: rnd() < 0.5 };
      const errors = s.validate(x as never);
      expect(errors.length).toBeGreaterThan(0); // no e-mail channel exists: never valid
      expect(() => s.save(undefined, x as never, "fuzz")).toThrow();
    }
    expect((db.sqlite.query("SELECT COUNT(*) AS n FROM report_schedules").get() as { n: number }).n).toBe(0);
    db.close();
  });
});
