/**
 * Scheduled reports: daily, weekly, monthly or yearly, PDF or CSV, e-mailed through the durable
 * outbox (src/notify) to a list of recipients. Stored in `report_schedules`, so they survive restarts.
 *
 * When is a report due: once its period is over on the site's wall clock (the day, the Monday-to-
 * Sunday week, the month, the year), plus `graceMs` (20 min) so the period's last intervals are
 * stored. `last_period` records the last period queued, in the SAME transaction as the outbox row:
 * a crash before that commit sends nothing (the next start does it), after it the outbox owns the
 * delivery. So each period is queued at most once, whatever restarts happen.
 *
 * Catch-up after downtime: a schedule whose periods ended while Busbar was down gets ONE report on
 * start, for the latest complete period (a monthly report three months late sends the last month,
 * not three mails; the journal says how many periods were skipped). "Run now" sends the latest
 * complete period at once and does not move `last_period`.
 */
import type { Database } from "bun:sqlite";
import type { EnergyConfig, ResolvedMeter } from "../energy/structure.ts";
import { LocalClock } from "../energy/tariffs.ts";
import { t, type Lang } from "../i18n/index.ts";
import { journalI18n } from "../journal/i18n.ts";
import type { Journal } from "../journal/journal.ts";
import type { Notifier } from "../notify/notifier.ts";
import { REPORT_KINDS, type ReportKind, type ReportRequest } from "./data.ts";
import { runReport } from "./pool.ts";
import type { ReportJob } from "./job.ts";

export const FREQUENCIES = ["daily", "weekly", "monthly", "yearly"] as const;
export type Frequency = (typeof FREQUENCIES)[number];
export const FORMATS = ["pdf", "csv"] as const;
export type ReportFormat = (typeof FORMATS)[number];

export interface ScheduleInput {
  name: string;
  frequency: Frequency;
  kind: ReportKind;
  format: ReportFormat;
  lang: Lang;
  items: string[];
  channelId: number;
  recipients: string[];
  enabled: boolean;
}

export interface Schedule extends ScheduleInput {
  id: number;
  lastPeriod: number | null;
  lastOutbox: number | null;
}

interface Row {
  id: number;
  name: string;
  frequency: string;
  kind: string;
  format: string;
  lang: string;
  items: string;
  channel_id: number;
  recipients: string;
  enabled: number;
  last_period: number | null;
  last_outbox: number | null;
}

/** Where the report job reads energy from (absent: the site has no meters). */
export interface EnergySource {
  dbPath: string;
  config: EnergyConfig;
  meters: ResolvedMeter[];
}

export interface SchedulerOptions {
  sqlite: Database;
  journal: Journal;
  notifier: Notifier;
  energy: () => EnergySource | undefined;
  site: string;
  timezone: string;
  /** The site's language: journal rows are written in it (and carry their key for the reader's). */
  lang?: Lang;
  now?: () => number;
  graceMs?: number;
  tickMs?: number;
  /** The report job (default: the piscina pool). */
  run?: (job: ReportJob) => Promise<Uint8Array>;
  log?: (line: string) => void;
}

const PERIOD_OF: Record<Frequency, ReportRequest["period"]> = { daily: "day", weekly: "week", monthly: "month", yearly: "year" };
const EMAIL = /^[^\s@,;<>]+@[^\s@,;<>]+$/;

export class ReportScheduler {
  private readonly clock: LocalClock;
  private readonly now: () => number;
  private readonly grace: number;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly busy = new Set<number>();
  /** Schedule → period whose failure was already logged (retried every tick, said once). */
  private readonly failed = new Map<number, number>();
  private pass: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: SchedulerOptions) {
    this.clock = new LocalClock(o.timezone);
    this.now = o.now ?? Date.now;
    this.grace = o.graceMs ?? 20 * 60_000;
  }

  start(): void {
    this.pass = this.tick();
    this.timer = setInterval(() => {
      this.pass = this.tick();
    }, this.o.tickMs ?? 60_000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.pass.catch(() => {});
  }

  // ------------------------------------------------------------------ periods

  /** Start of the period of `f` that holds `at` (local wall clock). */
  periodStart(f: Frequency, at: number): number {
    const p = this.clock.parts(at);
    if (f === "daily") return this.clock.fromLocal(p.year, p.month, p.day);
    if (f === "weekly") return this.clock.fromLocal(p.year, p.month, p.day - p.weekday);
    if (f === "monthly") return this.clock.fromLocal(p.year, p.month, 1);
    return this.clock.fromLocal(p.year, 1, 1);
  }

  /** Start of the latest period of `f` complete at `at` (its end + grace ≤ at). */
  lastComplete(f: Frequency, at: number): number {
    const cur = this.periodStart(f, at - this.grace);
    return this.periodStart(f, cur - 1);
  }

  private request(s: Schedule, start: number): ReportRequest {
    const p = this.clock.parts(start + 3_600_000);
    return { kind: s.kind, period: PERIOD_OF[s.frequency], year: p.year, month: p.month, day: p.day, lang: s.lang, items: s.items };
  }

  private msg(key: string, params: Record<string, string | number>, data: Record<string, unknown>): { message: string; data: Record<string, unknown> } {
    return { message: t(this.o.lang ?? "fr", key, params), data: { ...data, i18n: journalI18n(key, params) } };
  }

  // ------------------------------------------------------------------ admin

  list(): Schedule[] {
    return (this.o.sqlite.query("SELECT * FROM report_schedules ORDER BY id").all() as Row[]).map(toSchedule);
  }

  get(id: number): Schedule | undefined {
    const r = this.o.sqlite.query("SELECT * FROM report_schedules WHERE id = ?").get(id) as Row | null;
    return r ? toSchedule(r) : undefined;
  }

  /** Checks an admin's input; every problem in one list. */
  validate(x: Partial<ScheduleInput>): string[] {
    const errors: string[] = [];
    if (!x.name?.trim()) errors.push("name: required");
    if (!FREQUENCIES.includes(x.frequency as Frequency)) errors.push(`frequency: ${FREQUENCIES.join(", ")}`);
    if (!REPORT_KINDS.includes(x.kind as ReportKind)) errors.push(`kind: ${REPORT_KINDS.join(", ")}`);
    if (!FORMATS.includes(x.format as ReportFormat)) errors.push("format: pdf or csv");
    if (x.lang !== "fr" && x.lang !== "en") errors.push("lang: fr or en");
    if (!x.recipients?.length) errors.push("recipients: at least one address");
    for (const r of x.recipients ?? []) if (!EMAIL.test(r)) errors.push(`recipients: "${r.slice(0, 80)}" is not an e-mail address`);
    if ((x.recipients?.length ?? 0) > 50) errors.push("recipients: at most 50");
    for (const i of x.items ?? []) if (!/^(circuit|zone|meter):[A-Za-z0-9_.:-]{1,64}$/.test(i)) errors.push(`items: "${i.slice(0, 80)}" (circuit:ID, zone:ID or meter:ID)`);
    const ch = x.channelId ? this.o.notifier.channel(x.channelId) : undefined;
    if (!ch) errors.push("channel: choose an e-mail channel (Notifications)");
    else if (ch.type !== "email") errors.push("channel: reports are sent by e-mail: choose an e-mail channel");
    return errors;
  }

  /**
   * Creates or updates a schedule (journaled with its actor). A new schedule, or one whose
   * frequency changed, starts from the period now complete: it sends the next one, not a backlog.
   */
  save(id: number | undefined, x: ScheduleInput, actor: string): number {
    const errors = this.validate(x);
    if (errors.length) throw new Error(errors.join("; "));
    const now = this.now();
    const old = id ? this.get(id) : undefined;
    if (id && !old) throw new Error("no such schedule");
    const last = old && old.frequency === x.frequency ? old.lastPeriod : this.lastComplete(x.frequency, now);
    let out = 0;
    this.o.journal.transaction(() => {
      const vals = [x.name.trim(), x.frequency, x.kind, x.format, x.lang, JSON.stringify(x.items), x.channelId, x.recipients.join(","), x.enabled ? 1 : 0, last, now];
      if (old) {
        this.o.sqlite.run("UPDATE report_schedules SET name = ?, frequency = ?, kind = ?, format = ?, lang = ?, items = ?, channel_id = ?, recipients = ?, enabled = ?, last_period = ?, updated_at = ? WHERE id = ?", [...vals, old.id]);
        out = old.id;
      } else {
        out = (this.o.sqlite.query("INSERT INTO report_schedules (name, frequency, kind, format, lang, items, channel_id, recipients, enabled, last_period, updated_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id").get(...vals, now) as { id: number }).id;
      }
      this.o.journal.append({ type: old ? "report.schedule.update" : "report.schedule.create", actor, source: x.name.trim(), ...this.msg(old ? "journal.report.updated" : "journal.report.created", { name: x.name.trim(), frequency: x.frequency, format: x.format, to: x.recipients.join(", ") }, { id: out, ...x }) });
    });
    return out;
  }

  delete(id: number, actor: string): boolean {
    const s = this.get(id);
    if (!s) return false;
    this.o.journal.transaction(() => {
      this.o.sqlite.run("DELETE FROM report_schedules WHERE id = ?", [id]);
      this.o.journal.append({ type: "report.schedule.delete", actor, source: s.name, ...this.msg("journal.report.deleted", { name: s.name }, { id }) });
    });
    return true;
  }

  // ------------------------------------------------------------------ sending

  /** Queues every due schedule's report; resolves with how many were queued. */
  async tick(): Promise<number> {
    let n = 0;
    for (const s of this.list()) {
      if (!s.enabled || this.busy.has(s.id)) continue;
      const latest = this.lastComplete(s.frequency, this.now());
      if (s.lastPeriod !== null && latest <= s.lastPeriod) continue;
      try {
        if (await this.send(s, latest, "schedule")) n++;
        this.failed.delete(s.id);
      } catch (e) {
        // Retried at the next tick (a minute later); said once per period, not every minute.
        if (this.failed.get(s.id) !== latest) {
          this.failed.set(s.id, latest);
          (this.o.log ?? console.log)(`[error] report schedule ${s.id} (${s.name}): ${(e as Error).message}`);
          this.o.journal.append({ type: "report.failed", source: s.name, ...this.msg("journal.report.failed", { name: s.name, error: (e as Error).message.slice(0, 300) }, { schedule: s.id, period: latest }) });
        }
      }
    }
    return n;
  }

  /** "Run now": the latest complete period, at once; the schedule's own rhythm is untouched. */
  async runNow(id: number, actor: string): Promise<number> {
    const s = this.get(id);
    if (!s) throw new Error("no such schedule");
    const outbox = await this.send(s, this.lastComplete(s.frequency, this.now()), "manual", actor);
    return outbox ?? 0;
  }

  /** Generates the report, then queues it and records the period in one transaction. */
  private async send(s: Schedule, start: number, why: "schedule" | "manual", actor = ""): Promise<number | undefined> {
    const src = this.o.energy();
    if (!src) throw new Error("this site has no energy meters: nothing to report");
    this.busy.add(s.id);
    try {
      const req = this.request(s, start);
      const job: ReportJob = { dbPath: src.dbPath, site: this.o.site, timezone: this.o.timezone, config: src.config, meters: src.meters, req, format: s.format, now: this.now() };
      const file = await (this.o.run ?? runReport)(job);
      const label = periodLabel(s.lang, this.o.timezone, req);
      const title = t(s.lang, `report.title.${s.kind}`);
      const subject = `[${this.o.site}] ${title} — ${label}`;
      const text = t(s.lang, "report.mail.body", { title, period: label, site: this.o.site, schedule: s.name });
      const filename = reportFileName(this.o.site, s.kind, req, s.format);
      let outbox: number | undefined;
      this.o.journal.transaction(() => {
        // Checked again inside the transaction: a second tick (or a restart race) never queues twice.
        const cur = this.get(s.id);
        if (why === "schedule" && (!cur || (cur.lastPeriod !== null && cur.lastPeriod >= start))) return;
        outbox = this.o.notifier.enqueue({
          channelId: s.channelId,
          recipients: s.recipients,
          subject,
          text,
          payload: { site: this.o.site, report: { schedule: s.id, kind: s.kind, period: req.period, from: start } },
          attachments: [{ filename, contentType: s.format === "pdf" ? "application/pdf" : "text/csv; charset=utf-8", content: file }],
        });
        let skipped = 0;
        if (why === "schedule") {
          if (cur!.lastPeriod !== null) for (let p = this.periodStart(s.frequency, start - 1); p > cur!.lastPeriod && skipped < 1000; p = this.periodStart(s.frequency, p - 1)) skipped++;
          this.o.sqlite.run("UPDATE report_schedules SET last_period = ?, last_outbox = ? WHERE id = ?", [start, outbox, s.id]);
        }
        this.o.journal.append({
          type: why === "manual" ? "report.run" : "report.queued",
          actor,
          source: s.name,
          ...this.msg(skipped ? "journal.report.queuedLate" : "journal.report.queued", { name: s.name, period: label, to: s.recipients.join(", "), skipped }, { schedule: s.id, outbox, period: start, skipped, bytes: file.length }),
        });
      });
      return outbox;
    } finally {
      this.busy.delete(s.id);
    }
  }
}

function toSchedule(r: Row): Schedule {
  return {
    id: r.id,
    name: r.name,
    frequency: r.frequency as Frequency,
    kind: r.kind as ReportKind,
    format: r.format as ReportFormat,
    lang: r.lang as Lang,
    items: JSON.parse(r.items) as string[],
    channelId: r.channel_id,
    recipients: r.recipients ? r.recipients.split(",") : [],
    enabled: r.enabled === 1,
    lastPeriod: r.last_period,
    lastOutbox: r.last_outbox,
  };
}

/** "octobre 2026", "2026", "12 octobre 2026", "5 – 11 octobre 2026" (local). */
export function periodLabel(lang: Lang, tz: string, req: Pick<ReportRequest, "period" | "year" | "month" | "day">): string {
  const locale = lang === "fr" ? "fr-CA" : "en-CA";
  const at = Date.UTC(req.year, req.month - 1, req.day ?? 1, 12);
  const f = (o: Intl.DateTimeFormatOptions, ts = at) => new Intl.DateTimeFormat(locale, { timeZone: "UTC", ...o }).format(ts);
  if (req.period === "year") return String(req.year);
  if (req.period === "month") return f({ month: "long", year: "numeric" });
  if (req.period === "day") return f({ dateStyle: "long" });
  return `${f({ dateStyle: "long" })} – ${f({ dateStyle: "long" }, at + 6 * 86_400_000)}`;
}

export function reportFileName(site: string, kind: ReportKind, req: Pick<ReportRequest, "period" | "year" | "month" | "day">, format: ReportFormat): string {
  const safe = site.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "site";
  const mm = String(req.month).padStart(2, "0");
  const dd = String(req.day ?? 1).padStart(2, "0");
  const when = req.period === "year" ? String(req.year) : req.period === "month" ? `${req.year}-${mm}` : `${req.year}-${mm}-${dd}${req.period === "week" ? "-week" : ""}`;
  return `${safe}-${kind}-${when}.${format}`;
}
