import type { Database } from "bun:sqlite";
import { PRIORITY_RANK } from "../alarms/definitions.ts";
import type { AlarmPriority } from "../config/site.ts";
import { t, type Lang } from "../i18n/index.ts";
import type { Journal, JournalRow } from "../journal/journal.ts";
import { OffsetFormatter } from "../journal/time.ts";
import { CHANNEL_TYPES, SECRET_FIELDS, sendOn, type Channel, type ChannelConfig, type ChannelType, type OutMessage } from "./channels.ts";
import { alarmEventOf, quietUntil, ruleMatches, type AlarmEvent, type RuleConfig } from "./rules.ts";
import type { SecretBox } from "./secret-box.ts";
import { journalText } from "../journal/i18n.ts";

/**
 * Alarm notifications through a durable outbox.
 *
 *   journal row (alarm.active/ack/rtn/normal, committed)
 *     → one `held` outbox row per matching rule, in the SAME transaction as the journal row when the
 *       engine commits in one (a crash cannot keep one without the other); a journal cursor replays
 *       anything after the last row seen at start
 *     → gathered per channel and recipients: once no new event came for `settleMs`, or `maxWaitMs`
 *       after the first one, the held rows become ONE `pending` message (a digest when there are
 *       several): an alarm storm is one message, a single trip is one message within settleMs
 *     → delivered with retries and exponential backoff; `sent` with the peer's answer, or `failed`
 *       (journaled, shown on /admin/notify) when the attempts run out.
 *
 * Delivery is at-least-once: a crash in the middle of an SMTP dialogue resends, with the same
 * Message-ID / x-busbar-id so the receiving side can drop the duplicate. Nothing is sent twice
 * otherwise: a row is marked `sent` in the transaction right after the peer's answer.
 */

export interface NotifyOptions {
  sqlite: Database;
  journal: Journal;
  box: SecretBox;
  siteName: string;
  timezone: string;
  lang: Lang;
  now?: () => number;
  /** Quiet time after the last event before a gathered message goes (default 1.5 s). */
  settleMs?: number;
  /** Longest a storm is gathered before its digest goes (default 60 s). */
  maxWaitMs?: number;
  /** First retry delay, doubled per attempt up to maxBackoffMs (defaults 5 s, 15 min). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Attempts before a message is failed (default 8: about 20 minutes of trying). */
  maxAttempts?: number;
  tickMs?: number;
  log?: (line: string) => void;
}

export interface OutboxRow {
  id: number;
  created_at: number;
  channel_id: number;
  rule_id: number | null;
  status: "held" | "pending" | "sending" | "sent" | "failed" | "merged";
  not_before: number;
  attempts: number;
  next_at: number;
  event: string | null;
  recipients: string;
  subject: string;
  body: string;
  last_error: string;
  response: string;
  sent_at: number | null;
}

interface ChannelRow {
  id: number;
  name: string;
  type: string;
  config: string;
  secret: string;
  enabled: number;
}

export interface RuleRow {
  id: number;
  name: string;
  channel_id: number;
  config: string;
  enabled: number;
}

const CURSOR_KEY = "notify.journalCursor";

export class Notifier {
  private readonly sqlite: Database;
  private readonly journal: Journal;
  private readonly box: SecretBox;
  private readonly o: Required<Omit<NotifyOptions, "sqlite" | "journal" | "box" | "log">> & { log: (l: string) => void };
  private timer: ReturnType<typeof setInterval> | undefined;
  /**
   * No outbox work before this time (ms): the tick then skips its two queries. Everything that
   * queues or re-arms a message here resets it to 0; it is never more than a minute ahead, so a
   * database changed behind our back (a restore) is seen within a minute.
   */
  private quietUntil = 0;
  private delivering = false;
  private stopping = false;
  private readonly fmt: OffsetFormatter;
  private rulesCache: { id: number; channel: number; config: RuleConfig }[] | undefined;
  private prevOnAppend: ((row: JournalRow) => void) | undefined;
  /** Resolves when the current delivery pass ends (tests, stop). */
  private pass: Promise<void> = Promise.resolve();

  constructor(opts: NotifyOptions) {
    this.sqlite = opts.sqlite;
    this.journal = opts.journal;
    this.box = opts.box;
    this.o = {
      siteName: opts.siteName,
      timezone: opts.timezone,
      lang: opts.lang,
      now: opts.now ?? Date.now,
      settleMs: opts.settleMs ?? 1500,
      maxWaitMs: opts.maxWaitMs ?? 60_000,
      backoffMs: opts.backoffMs ?? 5000,
      maxBackoffMs: opts.maxBackoffMs ?? 15 * 60_000,
      maxAttempts: opts.maxAttempts ?? 8,
      tickMs: opts.tickMs ?? 250,
      log: opts.log ?? ((l) => console.log(l)),
    };
    this.fmt = new OffsetFormatter(opts.timezone);
  }

  private iso(ts: number): string {
    return this.fmt.format(ts);
  }

  // ------------------------------------------------------------------ lifecycle

  start(): void {
    const now = this.o.now();
    this.journal.transaction(() => {
      // Interrupted mid-send: the outcome is unknown, send again (same message id). A restart also
      // retries what was waiting for its backoff at once: the peer may well be back.
      this.sqlite.run("UPDATE notify_outbox SET status = 'pending' WHERE status = 'sending'");
      this.sqlite.run("UPDATE notify_outbox SET next_at = ? WHERE status = 'pending' AND next_at > ?", [now, now]);
      const cursor = this.getSetting(CURSOR_KEY);
      const maxId = (this.sqlite.query("SELECT COALESCE(MAX(id), 0) AS m FROM events").get() as { m: number }).m;
      if (cursor === undefined) this.setSetting(CURSOR_KEY, String(maxId));
      else {
        // Alarm rows committed after the last one this notifier saw (a crash between the two).
        const rows = this.sqlite
          .query("SELECT id, ts, type, source, device, actor, message, data FROM events WHERE id > ? AND type IN ('alarm.active','alarm.ack','alarm.rtn','alarm.normal') ORDER BY id")
          .all(Number(cursor)) as Parameters<typeof alarmEventOf>[0][];
        for (const r of rows) this.route(r);
        this.setSetting(CURSOR_KEY, String(maxId));
      }
    });
    this.prevOnAppend = this.journal.onAppend;
    this.journal.onAppend = (row) => {
      this.prevOnAppend?.(row);
      this.onJournal(row);
    };
    this.timer = setInterval(() => this.tick(), this.o.tickMs);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.journal.onAppend = this.prevOnAppend;
    await this.pass;
  }

  private onJournal(row: JournalRow): void {
    if (!row.type.startsWith("alarm.")) return;
    try {
      // Inside the alarm engine's transaction when it appends in one: held rows commit with it.
      this.journal.transaction(() => {
        this.route(row as unknown as Parameters<typeof alarmEventOf>[0]);
        this.setSetting(CURSOR_KEY, String(row.id));
      });
    } catch (e) {
      // Never let a notification problem undo or stall an alarm; the cursor replays it at start.
      this.o.log(`[error] notify: could not queue alarm event ${row.id}: ${(e as Error).message}`);
    }
  }

  // ------------------------------------------------------------------ routing

  private rules() {
    this.rulesCache ??= (this.sqlite.query("SELECT r.id, r.channel_id, r.config FROM notify_rules r JOIN notify_channels c ON c.id = r.channel_id WHERE r.enabled = 1 AND c.enabled = 1").all() as RuleRow[]).map(
      (r) => ({ id: r.id, channel: r.channel_id, config: JSON.parse(r.config) as RuleConfig }),
    );
    return this.rulesCache;
  }

  /** Rules or channels changed. */
  invalidate(): void {
    this.rulesCache = undefined;
  }

  private route(row: Parameters<typeof alarmEventOf>[0]): void {
    const e = alarmEventOf(row);
    if (!e) return;
    const insert = this.sqlite.prepare(
      "INSERT INTO notify_outbox (created_at, channel_id, rule_id, status, not_before, event, recipients) VALUES (?, ?, ?, 'held', ?, ?, ?)",
    );
    for (const r of this.rules()) {
      if (!ruleMatches(r.config, e)) continue;
      this.quietUntil = 0;
      insert.run(this.o.now(), r.channel, r.id, quietUntil(r.config, e, this.o.timezone), JSON.stringify(e), this.recipientsOf(r.config).join(","));
    }
  }

  private recipientsOf(r: RuleConfig): string[] {
    const out = new Set(r.recipients.map((a) => a.toLowerCase()));
    if (r.role) {
      const users = this.sqlite.query("SELECT email FROM users WHERE role = ? AND disabled = 0 AND email != ''").all(r.role) as { email: string }[];
      for (const u of users) out.add(u.email.toLowerCase());
    }
    return [...out].sort();
  }

  // ------------------------------------------------------------------ gathering

  /** Turns settled groups of held events into messages. */
  gather(now = this.o.now()): number {
    const groups = this.sqlite
      .query(
        "SELECT channel_id, recipients, MIN(created_at) AS first, MAX(created_at) AS last, COUNT(*) AS n FROM notify_outbox WHERE status = 'held' AND not_before <= ? GROUP BY channel_id, recipients",
      )
      .all(now) as { channel_id: number; recipients: string; first: number; last: number; n: number }[];
    let made = 0;
    for (const g of groups) {
      if (now - g.last < this.o.settleMs && now - g.first < this.o.maxWaitMs) continue;
      this.journal.transaction(() => {
        const held = this.sqlite
          .query("SELECT id, event FROM notify_outbox WHERE status = 'held' AND not_before <= ? AND channel_id = ? AND recipients = ? ORDER BY id")
          .all(now, g.channel_id, g.recipients) as { id: number; event: string }[];
        if (!held.length) return;
        const events = held.map((h) => JSON.parse(h.event) as AlarmEvent);
        const { subject, body } = this.compose(events);
        const res = this.sqlite
          .query("INSERT INTO notify_outbox (created_at, channel_id, status, next_at, recipients, subject, body) VALUES (?, ?, 'pending', ?, ?, ?, ?) RETURNING id")
          .get(now, g.channel_id, now, g.recipients, subject, body) as { id: number };
        const merge = this.sqlite.prepare("UPDATE notify_outbox SET status = 'merged', digest_of = ? WHERE id = ?");
        for (const h of held) merge.run(res.id, h.id);
        made++;
      });
    }
    return made;
  }

  private m(key: string, p?: Record<string, string | number>) {
    return t(this.o.lang, key, p);
  }

  private line(e: AlarmEvent): string {
    const when = this.iso(e.ts);
    return `${when}  ${this.m(`priority.${e.priority}`)}  ${this.m(`notify.event.${e.event}`)}  ${e.device}  ${e.message}`;
  }

  compose(events: AlarmEvent[]): { subject: string; body: string } {
    const site = this.o.siteName;
    const top = events.reduce((a, e) => (PRIORITY_RANK[e.priority] < PRIORITY_RANK[a] ? e.priority : a), events[0]!.priority as AlarmPriority);
    let subject: string;
    if (events.length === 1) {
      const e = events[0]!;
      subject = `[${site}] ${this.m(`priority.${e.priority}`)} — ${this.m(`notify.event.${e.event}`)}: ${e.device} ${e.alarm}`;
    } else {
      const active = events.filter((e) => e.event === "active").length;
      subject = `[${site}] ${this.m("notify.digest.subject", { n: events.length, active })}`;
    }
    const text = [
      events.length > 1 ? this.m("notify.digest.intro", { n: events.length, from: this.iso(events[0]!.ts), to: this.iso(events[events.length - 1]!.ts) }) : "",
      ...events.map((e) => this.line(e)),
      "",
      this.m("notify.footer", { site }),
    ]
      .filter((l, i) => i > 0 || l)
      .join("\n");
    const payload = {
      site,
      digest: events.length > 1,
      events: events.map((e) => ({ ts: this.iso(e.ts), event: e.event, type: e.type, alarm: e.alarm, device: e.device, priority: e.priority, message: e.message, value: e.value, actor: e.actor || null })),
    };
    return { subject, body: JSON.stringify({ text, priority: top, payload }) };
  }

  // ------------------------------------------------------------------ delivery

  tick(): void {
    const now = this.o.now();
    if (now < this.quietUntil) return;
    try {
      this.gather(now);
    } catch (e) {
      this.o.log(`[error] notify: ${(e as Error).message}`);
    }
    if (!this.delivering) this.pass = this.deliver(now).then(() => this.rest());
  }

  /** After a pass: sleep until the next pending message is due, or a minute when nothing waits. */
  private rest(): void {
    try {
      const r = this.sqlite
        .query("SELECT SUM(status = 'held') AS held, MIN(CASE WHEN status = 'pending' THEN next_at END) AS next FROM notify_outbox WHERE status IN ('held', 'pending', 'sending')")
        .get() as { held: number | null; next: number | null };
      const now = this.o.now();
      // Held events settle by time (digests): keep ticking while any wait.
      if (r.held) this.quietUntil = 0;
      else this.quietUntil = Math.min(r.next ?? Infinity, now + 60_000);
    } catch {
      this.quietUntil = 0;
    }
  }

  /** Sends what is due, one message at a time (a slow relay does not open a hundred connections). */
  async deliver(now = this.o.now()): Promise<void> {
    if (this.delivering) return;
    this.delivering = true;
    try {
      const due = this.sqlite.query("SELECT * FROM notify_outbox WHERE status = 'pending' AND next_at <= ? ORDER BY id LIMIT 20").all(now) as OutboxRow[];
      for (const row of due) {
        if (this.stopping) break;
        await this.deliverOne(row);
      }
    } catch (e) {
      this.o.log(`[error] notify: ${(e as Error).message}`);
    } finally {
      this.delivering = false;
    }
  }

  private async deliverOne(row: OutboxRow): Promise<void> {
    const ch = this.channel(row.channel_id);
    const attempts = row.attempts + 1;
    this.sqlite.run("UPDATE notify_outbox SET status = 'sending', attempts = ? WHERE id = ?", [attempts, row.id]);
    let answer: string;
    try {
      if (!ch) throw new Error("channel deleted");
      if (!ch.enabled) throw new Error("channel disabled");
      const body = JSON.parse(row.body) as { text: string; priority: string; payload: unknown };
      const attachments = (this.sqlite.query("SELECT filename, content_type, data FROM notify_attachments WHERE outbox_id = ? ORDER BY id").all(row.id) as { filename: string; content_type: string; data: Uint8Array }[]).map((a) => ({ filename: a.filename, contentType: a.content_type, content: a.data }));
      answer = await sendOn(ch, { id: `busbar-${row.id}-${row.created_at}`, subject: row.subject, text: body.text, priority: body.priority, payload: body.payload, recipients: row.recipients ? row.recipients.split(",") : [], attachments });
    } catch (e) {
      const error = String((e as Error).message ?? e).slice(0, 500);
      const now = this.o.now();
      if (attempts >= this.o.maxAttempts) {
        this.journal.transaction(() => {
          this.sqlite.run("UPDATE notify_outbox SET status = 'failed', last_error = ? WHERE id = ?", [error, row.id]);
          this.journal.append({
            type: "notify.failed",
            source: ch?.name ?? `channel ${row.channel_id}`,
            ...journalText(this.o.lang, "journal.notify.failed", { id: row.id, channel: ch?.name ?? String(row.channel_id), attempts, error }),
            data: { outbox: row.id, channel: row.channel_id, attempts, error, subject: row.subject },
          });
        });
        this.o.log(`[error] notify: message ${row.id} failed after ${attempts} attempts: ${error}`);
      } else {
        const wait = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** (attempts - 1));
        this.sqlite.run("UPDATE notify_outbox SET status = 'pending', last_error = ?, next_at = ? WHERE id = ?", [error, now + wait, row.id]);
      }
      return;
    }
    this.sqlite.transaction(() => {
      this.sqlite.run("UPDATE notify_outbox SET status = 'sent', response = ?, last_error = '', sent_at = ? WHERE id = ?", [answer.slice(0, 500), this.o.now(), row.id]);
      // A sent report's file is not kept twice: it can be generated again from the energy tables.
      this.sqlite.run("DELETE FROM notify_attachments WHERE outbox_id = ?", [row.id]);
    })();
  }

  /**
   * Queues one message (a scheduled report) with its files, in the caller's transaction when there
   * is one: the outbox row, its attachments and whatever the caller records commit together.
   */
  enqueue(m: { channelId: number; recipients: string[]; subject: string; text: string; payload?: unknown; attachments?: { filename: string; contentType: string; content: Uint8Array }[] }): number {
    const now = this.o.now();
    let id = 0;
    this.journal.transaction(() => {
      id = (
        this.sqlite
          .query("INSERT INTO notify_outbox (created_at, channel_id, status, next_at, recipients, subject, body) VALUES (?, ?, 'pending', ?, ?, ?, ?) RETURNING id")
          .get(now, m.channelId, now, m.recipients.map((r) => r.toLowerCase()).join(","), m.subject, JSON.stringify({ text: m.text, priority: "low", payload: m.payload ?? { site: this.o.siteName } })) as { id: number }
      ).id;
      const add = this.sqlite.prepare("INSERT INTO notify_attachments (outbox_id, filename, content_type, data) VALUES (?, ?, ?, ?)");
      for (const a of m.attachments ?? []) add.run(id, a.filename, a.contentType, a.content);
    });
    this.quietUntil = 0;
    return id;
  }

  /** Tests: run gather and delivery until nothing is due. */
  async drain(now = this.o.now()): Promise<void> {
    this.gather(now);
    await this.pass;
    await this.deliver(now);
  }

  // ------------------------------------------------------------------ channels and rules (admin)

  channel(id: number): Channel | undefined {
    const r = this.sqlite.query("SELECT * FROM notify_channels WHERE id = ?").get(id) as ChannelRow | null;
    return r ? this.toChannel(r) : undefined;
  }

  private toChannel(r: ChannelRow): Channel {
    let secret: Record<string, string> = {};
    try {
      secret = this.box.open(r.secret);
    } catch {
      // Another key (a database moved without its key file): the channel works without its secrets
      // and the page says they must be entered again.
      secret = { __unreadable: "1" };
    }
    return { id: r.id, name: r.name, type: r.type as ChannelType, config: JSON.parse(r.config) as ChannelConfig, secret, enabled: r.enabled === 1 };
  }

  /** Channels for the page: which secrets are set, never their values. */
  channels(): (Omit<Channel, "secret"> & { secretsSet: string[]; secretsUnreadable: boolean })[] {
    return (this.sqlite.query("SELECT * FROM notify_channels ORDER BY id").all() as ChannelRow[]).map((r) => {
      const { secret, ...ch } = this.toChannel(r);
      return { ...ch, secretsSet: Object.keys(secret).filter((k) => k !== "__unreadable" && secret[k]), secretsUnreadable: "__unreadable" in secret };
    });
  }

  /** Creates (id undefined) or updates a channel; empty secret fields keep the stored value. */
  saveChannel(id: number | undefined, name: string, type: ChannelType, config: ChannelConfig, secrets: Record<string, string>, clear: string[], enabled: boolean): number {
    if (!CHANNEL_TYPES.includes(type)) throw new Error("unknown channel type");
    const old = id ? this.channel(id) : undefined;
    const merged: Record<string, string> = {};
    for (const k of SECRET_FIELDS[type]) {
      const v = secrets[k] || (clear.includes(k) ? "" : old?.secret[k] ?? "");
      if (v) merged[k] = v;
    }
    const sealed = this.box.seal(merged);
    const now = this.o.now();
    let out: number;
    if (id && old) {
      this.sqlite.run("UPDATE notify_channels SET name = ?, type = ?, config = ?, secret = ?, enabled = ?, updated_at = ? WHERE id = ?", [name, type, JSON.stringify(config), sealed, enabled ? 1 : 0, now, id]);
      out = id;
    } else {
      out = (this.sqlite.query("INSERT INTO notify_channels (name, type, config, secret, enabled, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id").get(name, type, JSON.stringify(config), sealed, enabled ? 1 : 0, now) as { id: number }).id;
    }
    this.invalidate();
    return out;
  }

  deleteChannel(id: number): void {
    this.sqlite.run("DELETE FROM notify_rules WHERE channel_id = ?", [id]);
    this.sqlite.run("DELETE FROM notify_channels WHERE id = ?", [id]);
    this.invalidate();
  }

  rulesList(): (RuleRow & { parsed: RuleConfig })[] {
    return (this.sqlite.query("SELECT * FROM notify_rules ORDER BY id").all() as RuleRow[]).map((r) => ({ ...r, parsed: JSON.parse(r.config) as RuleConfig }));
  }

  saveRule(id: number | undefined, name: string, channelId: number, config: RuleConfig, enabled: boolean): number {
    if (!this.channel(channelId)) throw new Error("no such channel");
    const now = this.o.now();
    let out: number;
    if (id) {
      this.sqlite.run("UPDATE notify_rules SET name = ?, channel_id = ?, config = ?, enabled = ?, updated_at = ? WHERE id = ?", [name, channelId, JSON.stringify(config), enabled ? 1 : 0, now, id]);
      out = id;
    } else {
      out = (this.sqlite.query("INSERT INTO notify_rules (name, channel_id, config, enabled, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id").get(name, channelId, JSON.stringify(config), enabled ? 1 : 0, now) as { id: number }).id;
    }
    this.invalidate();
    return out;
  }

  deleteRule(id: number): void {
    this.sqlite.run("DELETE FROM notify_rules WHERE id = ?", [id]);
    this.invalidate();
  }

  outbox(limit = 100): OutboxRow[] {
    return this.sqlite.query("SELECT * FROM notify_outbox WHERE status != 'merged' ORDER BY id DESC LIMIT ?").all(limit) as OutboxRow[];
  }

  counts(): Record<string, number> {
    const rows = this.sqlite.query("SELECT status, COUNT(*) AS n FROM notify_outbox GROUP BY status").all() as { status: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  /** Retry a failed message now (admin). */
  retry(id: number): boolean {
    this.quietUntil = 0;
    return this.sqlite.run("UPDATE notify_outbox SET status = 'pending', attempts = 0, next_at = ? WHERE id = ? AND status = 'failed'", [this.o.now(), id]).changes > 0;
  }

  /** "Send test": straight to the channel, the peer's answer back (not queued: the admin is watching). */
  async sendTest(channelId: number, to: string[]): Promise<{ ok: boolean; answer: string }> {
    const ch = this.channel(channelId);
    if (!ch) return { ok: false, answer: "no such channel" };
    const subject = `[${this.o.siteName}] ${this.m("notify.test.subject")}`;
    const text = this.m("notify.test.body", { site: this.o.siteName, at: this.iso(this.o.now()) });
    try {
      const answer = await sendOn(ch, { id: `busbar-test-${this.o.now()}`, subject, text, priority: "low", recipients: to, payload: { site: this.o.siteName, test: true, events: [] } });
      return { ok: true, answer };
    } catch (e) {
      return { ok: false, answer: String((e as Error).message ?? e) };
    }
  }

  private getSetting(key: string): string | undefined {
    return (this.sqlite.query("SELECT value FROM settings WHERE key = ?").get(key) as { value: string } | null)?.value;
  }

  private setSetting(key: string, value: string): void {
    this.sqlite.run("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, value]);
  }
}
