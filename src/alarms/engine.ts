import type { AlarmPriority, AlarmsConfig, Site } from "../config/site.ts";
import { ALARM_PRIORITIES } from "../config/site.ts";
import type { BusbarDb } from "../db/database.ts";
import { t, type Lang } from "../i18n/index.ts";
import type { Journal, JournalEntry } from "../journal/journal.ts";
import { Quality } from "../points/quality.ts";
import { statesFor } from "../hmi/format.ts";
import type { PointRegistry } from "../points/registry.ts";
import type { PointTable } from "../points/table.ts";
import { compileAlarms, PRIORITY_RANK, type AlarmDef } from "./definitions.ts";
import { AlarmStore, type AlarmStateRow } from "./store.ts";

/**
 * THE place where an alarm changes state (ISA-18.2 / IEC 62682 model, OPC UA Part 9 words).
 *
 *   normal ──condition──► unack-active ──ack──► ack-active ──clear──► normal
 *                              │                                        ▲
 *                            clear                                      │
 *                              ▼                                        │
 *                          unack-rtn ─────────────ack───────────────────┘
 *                              │
 *                          condition again: a NEW activation (unack-active)
 *
 * - The condition is evaluated on every drained change of the alarm's point (good or manual quality
 *   only; anything else holds the last state — communication loss has its own alarm), with a
 *   deadband on analog limits and on-/off-delays (checked by `tick`).
 * - Shelving hides an alarm (no banner, no horn) until it is unshelved or its time runs out; the
 *   state machine keeps running underneath. Out of service (admin) stops evaluation and closes any
 *   open activation.
 * - Every transition is committed — alarm_state, alarm_activations and the journal rows, in one
 *   transaction — before anything is published or an action returns, so a restart resumes exactly
 *   where it was (state, acknowledgements, shelving).
 */

export type AlarmStateName = "normal" | "unack_active" | "ack_active" | "unack_rtn";

interface Rt {
  def: AlarmDef;
  state: AlarmStateName;
  /** Debounced condition (after on/off delay). */
  active: boolean;
  /** Instantaneous condition, with the deadband's hysteresis. */
  raw: boolean;
  /** Start of the current on/off delay; 0 = none running. */
  pendingSince: number;
  lastValue: number | null;
  activationId: number | null;
  raisedAt: number;
  since: number;
  ackBy: string | null;
  ackAt: number | null;
  ackComment: string | null;
  shelvedUntil: number;
  shelvedBy: string;
  oos: boolean;
  oosBy: string;
}

export interface AlarmView {
  id: string;
  kind: AlarmDef["kind"];
  priority: AlarmPriority;
  state: AlarmStateName;
  active: boolean;
  device: string;
  point: string | null;
  message: { fr: string; en: string };
  limit?: string;
  setpoint?: number;
  unit: string;
  value: number | null;
  /** The point's state texts (digital alarms), for the value column. */
  states?: Record<string, string>;
  statesFr?: Record<string, string>;
  /** The abnormal state's text ("TRIPPED", French "DÉCLENCHÉ"), which the message ends with. */
  stateName?: string;
  stateNameFr?: string;
  raisedAt: number | null;
  since: number;
  activationId: number | null;
  ackBy: string | null;
  ackAt: number | null;
  ackComment: string | null;
  shelvedUntil: number | null;
  shelvedBy: string | null;
  outOfService: boolean;
}

export interface AlarmSummary {
  /** Bumped at every alarm change (pages refresh their lists on it). */
  rev: number;
  ts: number;
  /** Alarms needing attention (active or unacknowledged), not shelved nor out of service, per priority. */
  counts: Record<AlarmPriority, number>;
  unacked: number;
  active: number;
  shelved: number;
  outOfService: number;
  /** The newest unacknowledged alarm. */
  newest: { id: string; priority: AlarmPriority; state: AlarmStateName; message: { fr: string; en: string }; raisedAt: number; device: string } | null;
  /** Sound the horn: an unacknowledged alarm of a horn priority raised since the last silence. */
  horn: boolean;
  hornPriority: AlarmPriority | null;
  hornPriorities: AlarmPriority[];
  /** The site lets anyone at a kiosk silence the horn without a PIN (alarms.silence: anyone). */
  silenceAnyone: boolean;
}

export interface AlarmListFilter {
  priority?: string;
  device?: string;
  /** active (active or unack-RTN, default), shelved, out-of-service, all (every definition). */
  show?: "active" | "shelved" | "out-of-service" | "all";
  sort?: "priority" | "time" | "device";
}

export type ActionResult = { ok: true; alarm: AlarmView } | { ok: false; status: 400 | 404 | 409; error: string };

export interface AlarmEngineOptions {
  site: Site;
  registry: PointRegistry;
  table: PointTable;
  db: BusbarDb;
  journal: Journal;
  /** Receives the summary after every change (runtime: pageEvents.publish("alarms", …)). */
  publish?: (summary: AlarmSummary) => void;
  /** Overrides site.alarms (admin edits, tests). */
  config?: AlarmsConfig;
  lang?: Lang;
  now?: () => number;
  tickMs?: number;
}

const HORN_SILENCED_KEY = "alarms.hornSilencedAt";

/** No usable answer from the device: silence, or replies that do not parse (garbage on the line). */
const commLost = (status: string) => status === "comm-fail" || status === "bad-reply";
const NO_ACTIVATION = null;

export class AlarmEngine {
  readonly store: AlarmStore;
  private readonly site: Site;
  private readonly registry: PointRegistry;
  private readonly table: PointTable;
  private readonly journal: Journal;
  private readonly publishFn: ((s: AlarmSummary) => void) | undefined;
  readonly lang: Lang;
  now: () => number;
  private readonly tickMs: number;

  config: AlarmsConfig;
  private defs: AlarmDef[] = [];
  private rts: Rt[] = [];
  private byId = new Map<string, Rt>();
  private firstByPoint: Int32Array;
  private nextByPoint = new Int32Array(0);
  private commByDevice = new Map<string, Rt>();
  private readonly deviceStatus = new Map<string, string>();
  private hornSet = new Set<AlarmPriority>();

  private readonly pending = new Set<Rt>();
  private readonly shelved = new Set<Rt>();
  /** Alarms not in plain normal: not normal, shelved or out of service. */
  private readonly notable = new Set<Rt>();
  /** Writes of the current cycle, committed together by `flush`. */
  private ops: (() => void)[] = [];
  private entries: JournalEntry[] = [];
  private rev = 0;
  private hornSilencedAt = 0;
  private lastPublished = "";
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly sample = { value: NaN, ts: 0, quality: 0 };

  constructor(o: AlarmEngineOptions) {
    this.site = o.site;
    this.registry = o.registry;
    this.table = o.table;
    this.journal = o.journal;
    this.publishFn = o.publish;
    this.lang = o.lang ?? o.site.site.language;
    this.now = o.now ?? Date.now;
    this.tickMs = o.tickMs ?? 200;
    this.store = new AlarmStore(o.db);
    this.config = o.config ?? o.site.alarms;
    this.firstByPoint = new Int32Array(o.registry.points.length).fill(-1);
    this.hornSilencedAt = Number(this.store.getSetting(HORN_SILENCED_KEY) ?? 0) || 0;
    this.build(compileAlarms(this.site, this.registry, this.config), new Map());
    this.restore();
  }

  // ---------------------------------------------------------------- definitions and restart

  private newRt(def: AlarmDef): Rt {
    return {
      def,
      state: "normal",
      active: false,
      raw: false,
      pendingSince: 0,
      lastValue: null,
      activationId: NO_ACTIVATION,
      raisedAt: 0,
      since: 0,
      ackBy: null,
      ackAt: null,
      ackComment: null,
      shelvedUntil: 0,
      shelvedBy: "",
      oos: false,
      oosBy: "",
    };
  }

  /** (Re)builds the indexes from definitions, carrying over the runtime state of alarms that remain. */
  private build(defs: AlarmDef[], carry: Map<string, Rt>): void {
    this.defs = defs;
    this.rts = defs.map((d) => {
      const old = carry.get(d.id);
      if (!old) return this.newRt(d);
      old.def = d;
      return old;
    });
    this.byId = new Map(this.rts.map((r) => [r.def.id, r]));
    this.firstByPoint.fill(-1);
    this.nextByPoint = new Int32Array(this.rts.length).fill(-1);
    this.commByDevice = new Map();
    for (let i = this.rts.length - 1; i >= 0; i--) {
      const d = this.rts[i]!.def;
      if (d.pointIndex >= 0) {
        this.nextByPoint[i] = this.firstByPoint[d.pointIndex]!;
        this.firstByPoint[d.pointIndex] = i;
      } else if (d.kind === "comm") this.commByDevice.set(d.device, this.rts[i]!);
    }
    this.hornSet = new Set(this.config.hornPriorities);
    this.pending.clear();
    this.shelved.clear();
    this.notable.clear();
    for (const r of this.rts) this.track(r);
  }

  /** Puts the state saved before a restart back: state, activation, acknowledgement, shelving, out of service. */
  private restore(): void {
    const rows = this.store.loadStates();
    const acts = this.store.activations(rows.map((r) => r.activationId).filter((x): x is number => x !== null));
    const now = this.now();
    const orphans: AlarmStateRow[] = [];
    for (const row of rows) {
      const rt = this.byId.get(row.alarmId);
      if (!rt) {
        orphans.push(row);
        continue;
      }
      rt.state = (["normal", "unack_active", "ack_active", "unack_rtn"] as const).includes(row.state as AlarmStateName) ? (row.state as AlarmStateName) : "normal";
      rt.active = !!row.active;
      rt.raw = rt.active;
      rt.activationId = row.activationId;
      rt.since = row.since;
      rt.shelvedUntil = row.shelvedUntil;
      rt.shelvedBy = row.shelvedBy;
      rt.oos = !!row.outOfService;
      rt.oosBy = row.oosBy;
      const a = row.activationId !== null ? acts.get(row.activationId) : undefined;
      if (a) {
        rt.raisedAt = a.raisedAt;
        rt.lastValue = a.value;
        rt.ackAt = a.ackedAt;
        rt.ackBy = a.ackedBy;
        rt.ackComment = a.ackComment;
      }
      this.track(rt);
    }
    if (orphans.length) {
      // Alarms whose definition is gone (site or alarm configuration changed): close what was open.
      this.journal.transaction(() => {
        for (const row of orphans) {
          if (row.activationId !== null) this.store.close(row.activationId, now, "definition-removed");
          this.store.deleteState(row.alarmId);
        }
      });
    }
  }

  /** Replaces the definitions (admin edited the alarms); states of alarms that remain are kept. */
  reload(config: AlarmsConfig): void {
    this.config = config;
    const carry = new Map(this.rts.map((r) => [r.def.id, r]));
    const defs = compileAlarms(this.site, this.registry, config);
    const keep = new Set(defs.map((d) => d.id));
    const now = this.now();
    for (const r of this.rts) {
      if (keep.has(r.def.id)) continue;
      const rt = r;
      this.ops.push(() => {
        if (rt.activationId !== null) this.store.close(rt.activationId, now, "definition-removed");
        this.store.deleteState(rt.def.id);
      });
    }
    this.build(defs, carry);
    this.rev++;
    this.evaluateAll(now);
    this.flush(now);
  }

  get definitions(): readonly AlarmDef[] {
    return this.defs;
  }

  // ---------------------------------------------------------------- running

  start(subscribe?: (fn: (indexes: readonly number[]) => void) => () => void): void {
    if (this.timer) return;
    this.unsubscribe = subscribe?.((indexes) => this.onChanges(indexes));
    this.timer = setInterval(() => this.tick(), this.tickMs);
    const now = this.now();
    this.evaluateAll(now);
    this.flush(now, true);
  }

  private unsubscribe: (() => void) | undefined;

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Evaluates every alarm whose point changed (one drained batch); commits what changed. */
  onChanges(indexes: readonly number[], now = this.now()): void {
    const first = this.firstByPoint;
    const next = this.nextByPoint;
    const rts = this.rts;
    const s = this.sample;
    for (let k = 0; k < indexes.length; k++) {
      const i = indexes[k]!;
      let a = first[i]!;
      if (a < 0) continue;
      this.table.read(i, s);
      if (s.quality !== Quality.GOOD && s.quality !== Quality.MANUAL) continue;
      const v = s.value;
      for (; a >= 0; a = next[a]!) this.evaluate(rts[a]!, v, now);
    }
    if (this.ops.length) this.flush(now);
  }

  private evaluateAll(now: number): void {
    const s = this.sample;
    for (let i = 0; i < this.firstByPoint.length; i++) {
      let a = this.firstByPoint[i]!;
      if (a < 0) continue;
      this.table.read(i, s);
      if (s.quality !== Quality.GOOD && s.quality !== Quality.MANUAL) continue;
      for (; a >= 0; a = this.nextByPoint[a]!) this.evaluate(this.rts[a]!, s.value, now);
    }
    for (const [device, rt] of this.commByDevice) {
      const st = this.deviceStatus.get(device);
      if (st && st !== "unknown") this.condition(rt, commLost(st), now);
    }
  }

  private evaluate(rt: Rt, v: number, now: number): void {
    if (rt.oos || v !== v) return;
    const d = rt.def;
    rt.lastValue = v;
    let raw: boolean;
    if (d.kind === "digital") raw = v === d.state;
    else if (d.high) raw = rt.raw ? v > d.setpoint! - d.deadband : v > d.setpoint!;
    else raw = rt.raw ? v < d.setpoint! + d.deadband : v < d.setpoint!;
    this.condition(rt, raw, now);
  }

  private condition(rt: Rt, raw: boolean, now: number): void {
    rt.raw = raw;
    if (raw === rt.active) {
      if (rt.pendingSince) {
        rt.pendingSince = 0;
        this.pending.delete(rt);
      }
      return;
    }
    const delay = raw ? rt.def.onDelayMs : rt.def.offDelayMs;
    if (delay <= 0) return this.setActive(rt, raw, now);
    if (!rt.pendingSince) {
      rt.pendingSince = now;
      this.pending.add(rt);
    }
  }

  /** Supervisor's device status: drives the device's communication-loss alarm. */
  onDeviceStatus(device: string, status: string, now = this.now()): void {
    this.deviceStatus.set(device, status);
    const rt = this.commByDevice.get(device);
    if (!rt || rt.oos || status === "unknown") return;
    this.condition(rt, commLost(status), now);
    if (this.ops.length) this.flush(now);
  }

  /** Delays that ran out, shelving that expired. Runs on a timer; tests call it with their clock. */
  tick(now = this.now()): void {
    for (const rt of this.pending) {
      const delay = rt.raw ? rt.def.onDelayMs : rt.def.offDelayMs;
      if (now - rt.pendingSince >= delay) this.setActive(rt, rt.raw, now);
    }
    for (const rt of this.shelved) {
      if (rt.shelvedUntil <= now) this.unshelveNow(rt, "", now, true);
    }
    if (this.ops.length) this.flush(now);
  }

  /** ` — « comment »` (or nothing) for journal messages. */
  private note(text: string | null): string {
    return text ? (this.lang === "fr" ? ` — « ${text} »` : ` — “${text}”`) : "";
  }

  private m(key: string, p?: Record<string, string | number>): string {
    return t(this.lang, key, p);
  }

  private jrow(rt: Rt, type: string, key: string, now: number, actor = "", extra: Record<string, unknown> = {}, params: Record<string, string | number> = {}): JournalEntry {
    return {
      ts: now,
      type,
      source: rt.def.id,
      device: rt.def.device,
      actor,
      message: this.m(key, { message: rt.def.message[this.lang], priority: this.m(`priority.${rt.def.priority}`), user: actor, ...params }),
      // Key and parameters too, so an English reader gets English (src/journal/i18n.ts).
      data: { priority: rt.def.priority, activation: rt.activationId, value: rt.lastValue, ...extra, i18n: { key, params: { message: rt.def.message, priority: `priority.${rt.def.priority}`, user: actor, ...params } } },
    };
  }

  private setActive(rt: Rt, active: boolean, now: number): void {
    rt.active = active;
    rt.pendingSince = 0;
    this.pending.delete(rt);
    const shelved = rt.shelvedUntil > now;
    if (active) {
      if (rt.state === "unack_rtn" && rt.activationId !== null) {
        const old = rt.activationId;
        this.ops.push(() => this.store.close(old, now, "reactivated"));
      }
      if (rt.state === "normal" || rt.state === "unack_rtn") {
        rt.state = "unack_active";
        rt.raisedAt = now;
        rt.since = now;
        rt.ackAt = null;
        rt.ackBy = null;
        rt.ackComment = null;
        const value = rt.lastValue;
        this.ops.push(() => {
          rt.activationId = this.store.raise({
            alarmId: rt.def.id,
            device: rt.def.device,
            point: rt.def.point ?? "",
            priority: rt.def.priority,
            message: rt.def.message[this.lang],
            value,
            raisedAt: now,
          });
          this.entries.push(this.jrow(rt, "alarm.active", "journal.alarm.active", now, "", { shelved, limit: rt.def.limit, setpoint: rt.def.setpoint }));
          this.saveState(rt, now);
        });
      }
    } else {
      if (rt.state === "unack_active") {
        rt.state = "unack_rtn";
        rt.since = now;
        this.ops.push(() => {
          if (rt.activationId !== null) this.store.cleared(rt.activationId, now);
          this.entries.push(this.jrow(rt, "alarm.rtn", "journal.alarm.rtn", now, "", { shelved }));
          this.saveState(rt, now);
        });
      } else if (rt.state === "ack_active") {
        rt.state = "normal";
        rt.since = now;
        this.ops.push(() => {
          if (rt.activationId !== null) {
            this.store.cleared(rt.activationId, now);
            this.store.close(rt.activationId, now, "normal");
          }
          this.entries.push(this.jrow(rt, "alarm.normal", "journal.alarm.normal", now, "", { shelved }));
          rt.activationId = null;
          this.saveState(rt, now);
        });
      } else {
        // Condition cleared before it ever became an alarm (unack-rtn/normal): just remember it.
        this.ops.push(() => this.saveState(rt, now));
      }
    }
    this.track(rt);
    this.rev++;
  }

  private saveState(rt: Rt, now: number): void {
    if (rt.state === "normal" && !rt.active && rt.shelvedUntil === 0 && !rt.oos) {
      this.store.deleteState(rt.def.id);
      return;
    }
    this.store.saveState({
      alarmId: rt.def.id,
      state: rt.state,
      active: rt.active ? 1 : 0,
      activationId: rt.activationId,
      since: rt.since,
      shelvedUntil: rt.shelvedUntil,
      shelvedBy: rt.shelvedBy,
      outOfService: rt.oos ? 1 : 0,
      oosBy: rt.oosBy,
      updatedAt: now,
    });
  }

  private track(rt: Rt): void {
    if (rt.state !== "normal" || rt.shelvedUntil > 0 || rt.oos || rt.active) this.notable.add(rt);
    else this.notable.delete(rt);
    if (rt.shelvedUntil > 0) this.shelved.add(rt);
    else this.shelved.delete(rt);
  }

  /** Commits the cycle's writes and journal rows in one transaction, then publishes. */
  flush(now = this.now(), force = false): void {
    const ops = this.ops;
    if (ops.length) {
      this.ops = [];
      try {
        this.journal.transaction(() => {
          for (const op of ops) op();
          if (this.entries.length) this.journal.appendMany(this.entries);
        });
      } catch (e) {
        console.error("alarms: could not commit alarm changes:", e);
      } finally {
        this.entries = [];
      }
    }
    this.publish(now, force);
  }

  private publish(now: number, force = false): void {
    if (!this.publishFn) return;
    const s = this.summary(now);
    const key = JSON.stringify({ ...s, ts: 0 });
    if (!force && key === this.lastPublished) return;
    this.lastPublished = key;
    this.publishFn(s);
  }

  // ---------------------------------------------------------------- what pages see

  summary(now = this.now()): AlarmSummary {
    const counts: Record<AlarmPriority, number> = { critical: 0, high: 0, medium: 0, low: 0 };
    let unacked = 0;
    let active = 0;
    let shelved = 0;
    let oos = 0;
    let newest: Rt | null = null;
    let horn: AlarmPriority | null = null;
    for (const rt of this.notable) {
      if (rt.oos) {
        oos++;
        continue;
      }
      if (rt.shelvedUntil > now) {
        shelved++;
        continue;
      }
      if (rt.state === "normal") continue;
      counts[rt.def.priority]++;
      if (rt.active) active++;
      if (rt.state === "unack_active" || rt.state === "unack_rtn") {
        unacked++;
        if (!newest || rt.raisedAt > newest.raisedAt || (rt.raisedAt === newest.raisedAt && PRIORITY_RANK[rt.def.priority] < PRIORITY_RANK[newest.def.priority]))
          newest = rt;
        if (this.hornSet.has(rt.def.priority) && rt.raisedAt > this.hornSilencedAt && (!horn || PRIORITY_RANK[rt.def.priority] < PRIORITY_RANK[horn]))
          horn = rt.def.priority;
      }
    }
    return {
      rev: this.rev,
      ts: now,
      counts,
      unacked,
      active,
      shelved,
      outOfService: oos,
      newest: newest
        ? { id: newest.def.id, priority: newest.def.priority, state: newest.state, message: newest.def.message, raisedAt: newest.raisedAt, device: newest.def.device }
        : null,
      horn: horn !== null,
      hornPriority: horn,
      hornPriorities: [...this.config.hornPriorities],
      silenceAnyone: (this.config.silence ?? "anyone") === "anyone",
    };
  }

  private view(rt: Rt, now: number): AlarmView {
    const d = rt.def;
    let value = rt.lastValue;
    if (d.pointIndex >= 0) {
      const s = this.table.read(d.pointIndex, { value: NaN, ts: 0, quality: 0 });
      value = Number.isNaN(s.value) ? null : s.value;
    }
    return {
      id: d.id,
      kind: d.kind,
      priority: d.priority,
      state: rt.state,
      active: rt.active,
      device: d.device,
      point: d.point,
      message: d.message,
      limit: d.limit,
      setpoint: d.setpoint,
      unit: d.unit,
      value,
      states: d.pointIndex >= 0 ? this.registry.points[d.pointIndex]?.states : undefined,
      statesFr: d.pointIndex >= 0 && this.registry.points[d.pointIndex] ? statesFor(this.registry.points[d.pointIndex]!, "fr") : undefined,
      stateName: d.stateName,
      stateNameFr: d.stateNameFr,
      raisedAt: rt.state === "normal" ? null : rt.raisedAt,
      since: rt.since,
      activationId: rt.activationId,
      ackBy: rt.ackBy,
      ackAt: rt.ackAt,
      ackComment: rt.ackComment,
      shelvedUntil: rt.shelvedUntil > now ? rt.shelvedUntil : null,
      shelvedBy: rt.shelvedUntil > now ? rt.shelvedBy : null,
      outOfService: rt.oos,
    };
  }

  get(id: string): AlarmView | undefined {
    const rt = this.byId.get(id);
    return rt ? this.view(rt, this.now()) : undefined;
  }

  list(f: AlarmListFilter = {}): AlarmView[] {
    const now = this.now();
    const show = f.show ?? "active";
    const source = show === "all" ? this.rts : [...this.notable];
    const out: AlarmView[] = [];
    for (const rt of source) {
      if (f.priority && rt.def.priority !== f.priority) continue;
      if (f.device && rt.def.device !== f.device) continue;
      const shelved = rt.shelvedUntil > now;
      if (show === "active" && (rt.state === "normal" || shelved || rt.oos)) continue;
      if (show === "shelved" && !shelved) continue;
      if (show === "out-of-service" && !rt.oos) continue;
      out.push(this.view(rt, now));
    }
    const sort = f.sort ?? "priority";
    const unackFirst = (a: AlarmView) => (a.state === "unack_active" || a.state === "unack_rtn" ? 0 : 1);
    out.sort((a, b) => {
      if (sort === "time") return (b.raisedAt ?? 0) - (a.raisedAt ?? 0) || a.id.localeCompare(b.id);
      if (sort === "device") return a.device.localeCompare(b.device) || PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || a.id.localeCompare(b.id);
      return PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || unackFirst(a) - unackFirst(b) || (b.raisedAt ?? 0) - (a.raisedAt ?? 0) || a.id.localeCompare(b.id);
    });
    return out;
  }

  devices(): string[] {
    return [...new Set(this.defs.map((d) => d.device))].sort();
  }

  // ---------------------------------------------------------------- people's actions

  /** Acknowledge (maintenance): while active or after return to normal, with an optional comment. */
  ack(id: string, user: string, comment?: string | null): ActionResult {
    const rt = this.byId.get(id);
    if (!rt) return { ok: false, status: 404, error: "no such alarm" };
    if (rt.oos) return { ok: false, status: 409, error: "out of service" };
    if (rt.state !== "unack_active" && rt.state !== "unack_rtn") return { ok: false, status: 409, error: "nothing to acknowledge" };
    const now = this.now();
    const text = (comment ?? "").trim().slice(0, 500) || null;
    // Site policy: some priorities are only acknowledged with a note saying why.
    if (!text && (this.config.notesRequired ?? []).includes(rt.def.priority)) return { ok: false, status: 400, error: `a note is required to acknowledge a ${rt.def.priority} alarm` };
    const toNormal = rt.state === "unack_rtn";
    const activation = rt.activationId;
    // Commit first; memory follows only once the journal has it.
    this.journal.transaction(() => {
      if (activation !== null) {
        this.store.ack(activation, now, user, text);
        if (toNormal) this.store.close(activation, now, "normal");
      }
      this.journal.append(
        this.jrow(rt, "alarm.ack", text ? "journal.alarm.ackComment" : "journal.alarm.ack", now, user, { comment: text, toNormal }, { comment: text ?? "" }),
      );
      const prev = { state: rt.state, activationId: rt.activationId, since: rt.since };
      rt.state = toNormal ? "normal" : "ack_active";
      rt.since = now;
      if (toNormal) rt.activationId = null;
      try {
        this.saveState(rt, now);
      } catch (e) {
        Object.assign(rt, prev);
        throw e;
      }
    });
    rt.ackAt = now;
    rt.ackBy = user;
    rt.ackComment = text;
    this.track(rt);
    this.rev++;
    this.publish(now);
    return { ok: true, alarm: this.view(rt, now) };
  }

  /**
   * Acknowledges several alarms with one comment (one journal row per alarm, as one at a time).
   * Alarms with nothing to acknowledge are skipped and reported; the policy on notes applies to each.
   */
  ackMany(ids: readonly string[], user: string, comment?: string | null): { acked: string[]; skipped: { id: string; error: string; status: number }[] } {
    const acked: string[] = [];
    const skipped: { id: string; error: string; status: number }[] = [];
    for (const id of new Set(ids)) {
      const r = this.ack(id, user, comment);
      if (r.ok) acked.push(id);
      else skipped.push({ id, error: r.error, status: r.status });
    }
    return { acked, skipped };
  }

  /** Shelve (maintenance) for `minutes`, up to the configured maximum; auto-unshelves. */
  shelve(id: string, user: string, minutes: number, comment?: string | null): ActionResult {
    const rt = this.byId.get(id);
    if (!rt) return { ok: false, status: 404, error: "no such alarm" };
    if (rt.oos) return { ok: false, status: 409, error: "out of service" };
    if (!Number.isFinite(minutes) || minutes <= 0 || minutes > this.config.maxShelveMinutes)
      return { ok: false, status: 400, error: `shelve for 1..${this.config.maxShelveMinutes} minutes` };
    const now = this.now();
    const until = now + Math.round(minutes * 60_000);
    const text = (comment ?? "").trim().slice(0, 500) || null;
    const prev = { shelvedUntil: rt.shelvedUntil, shelvedBy: rt.shelvedBy };
    rt.shelvedUntil = until;
    rt.shelvedBy = user;
    try {
      this.journal.transaction(() => {
        this.saveState(rt, now);
        this.journal.append(
          this.jrow(rt, "alarm.shelve", "journal.alarm.shelve", now, user, { until, minutes, comment: text }, { minutes: Math.round(minutes), note: this.note(text) }),
        );
      });
    } catch (e) {
      Object.assign(rt, prev);
      throw e;
    }
    this.track(rt);
    this.rev++;
    this.publish(now);
    return { ok: true, alarm: this.view(rt, now) };
  }

  unshelve(id: string, user: string): ActionResult {
    const rt = this.byId.get(id);
    if (!rt) return { ok: false, status: 404, error: "no such alarm" };
    if (!rt.shelvedUntil) return { ok: false, status: 409, error: "not shelved" };
    const now = this.now();
    this.unshelveNow(rt, user, now, false);
    this.flush(now);
    return { ok: true, alarm: this.view(rt, now) };
  }

  private unshelveNow(rt: Rt, user: string, now: number, expired: boolean): void {
    rt.shelvedUntil = 0;
    rt.shelvedBy = "";
    this.track(rt);
    this.rev++;
    this.ops.push(() => {
      this.saveState(rt, now);
      this.entries.push(this.jrow(rt, "alarm.unshelve", expired ? "journal.alarm.unshelveExpired" : "journal.alarm.unshelve", now, user, { expired }));
    });
  }

  /** Out of service (admin): no evaluation, open activation closed; back in service re-evaluates now. */
  setOutOfService(id: string, user: string, oos: boolean, comment?: string | null): ActionResult {
    const rt = this.byId.get(id);
    if (!rt) return { ok: false, status: 404, error: "no such alarm" };
    if (rt.oos === oos) return { ok: false, status: 409, error: oos ? "already out of service" : "already in service" };
    const now = this.now();
    const text = (comment ?? "").trim().slice(0, 500) || null;
    const activation = rt.activationId;
    const snapshot = { ...rt };
    if (oos) {
      rt.oos = true;
      rt.oosBy = user;
      rt.state = "normal";
      rt.active = false;
      rt.raw = false;
      rt.pendingSince = 0;
      this.pending.delete(rt);
      rt.activationId = null;
      rt.shelvedUntil = 0;
      rt.since = now;
    } else {
      rt.oos = false;
      rt.oosBy = "";
      rt.since = now;
    }
    try {
      this.journal.transaction(() => {
        if (oos && activation !== null) this.store.close(activation, now, "out-of-service");
        this.saveState(rt, now);
        this.journal.append(
          this.jrow(rt, oos ? "alarm.out-of-service" : "alarm.in-service", oos ? "journal.alarm.oos" : "journal.alarm.inService", now, user, { comment: text }, { note: this.note(text) }),
        );
      });
    } catch (e) {
      Object.assign(rt, snapshot);
      throw e;
    }
    this.track(rt);
    this.rev++;
    if (!oos) {
      const d = rt.def;
      if (d.pointIndex >= 0) {
        const s = this.table.read(d.pointIndex, this.sample);
        if (s.quality === Quality.GOOD || s.quality === Quality.MANUAL) this.evaluate(rt, s.value, now);
      } else {
        const st = this.deviceStatus.get(d.device);
        if (st && st !== "unknown") this.condition(rt, commLost(st), now);
      }
    }
    this.flush(now);
    return { ok: true, alarm: this.view(rt, now) };
  }

  /**
   * Silence the horn until the next new alarm. Not an acknowledgement: the alarms stay
   * unacknowledged. `user` is the person, or "kiosk@ADDRESS" when the site lets anyone silence.
   */
  silence(user: string): AlarmSummary {
    const now = this.now();
    this.journal.transaction(() => {
      this.store.setSetting(HORN_SILENCED_KEY, String(now));
      this.journal.append({ ts: now, type: "alarm.silence", source: "horn", actor: user, message: this.m("journal.alarm.silence", { user }), data: { ackNot: true, i18n: { key: "journal.alarm.silence", params: { user } } } });
    });
    this.hornSilencedAt = now;
    this.publish(now);
    return this.summary(now);
  }

  /** Priorities in their order, for views. */
  static readonly PRIORITIES = ALARM_PRIORITIES;
}
