/**
 * The energy service on the main thread: reads each meter's counter from the live table, turns it
 * into interval consumption (counters.ts), prices and stores it (store.ts), journals what a person
 * must know (a rollover, a reset nobody asked for, bad data held apart), and produces the computed
 * energy points (ids in ENERGY_POINT_IDS, README "Energy").
 */
import type { Database } from "bun:sqlite";
import type { Journal } from "../journal/journal.ts";
import type { LiveView } from "../points/live.ts";
import { Quality } from "../points/quality.ts";
import { applyCorrection, CounterTracker, Flag, INTERVAL_MS, type CounterEvent, type Correction } from "./counters.ts";
import type { EnergyStore } from "./store.ts";
import { circuitsOf, type EnergyConfig, type ResolvedMeter } from "./structure.ts";
import { LocalClock, TariffEvaluator } from "./tariffs.ts";
import { PULSE_UNITS_CODES, toBase } from "./units.ts";
import type { Lang } from "../i18n/index.ts";
import { journalText } from "../journal/i18n.ts";

export const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"] as const;
const MONTHS_FR = ["Janvier", "Février", "Mars", "Avril", "Mai", "Juin", "Juillet", "Août", "Septembre", "Octobre", "Novembre", "Décembre"];
const MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** A computed point as the point core declares it (src/points/computed.ts on the core branch). */
export interface EnergyPointDef {
  device: "ENERGY";
  name: string;
  label: string;
  labelFr: string;
  unit: string;
  staleAfterMs: number;
}

/**
 * The computed energy points, `ENERGY.<name>`:
 *   consumption_jan … consumption_dec  site's consumption per month of the current year (kWh)
 *   site_kw, site_demand_15min_kw      instantaneous kW and the sliding 15-minute demand
 *   site_today_kwh / _cost, site_month_kwh / _cost, unmetered_today_kwh
 *   <circuit>_today_kwh, <circuit>_today_cost, <circuit>_month_kwh, <circuit>_month_cost
 */
export function energyPointDefs(e: EnergyConfig, currency = ""): EnergyPointDef[] {
  const defs: EnergyPointDef[] = [];
  const add = (name: string, label: string, labelFr: string, unit: string, staleAfterMs = 5 * 60_000) => defs.push({ device: "ENERGY", name, label, labelFr, unit, staleAfterMs });
  MONTHS.forEach((m, i) => add(`consumption_${m}`, `Total electricity consumption ${MONTHS_EN[i]}`, `Consommation électrique total ${MONTHS_FR[i]}`, "kWh", 30 * 60_000));
  add("site_kw", "Site power (instantaneous)", "Kw/instantané", "kW", 60_000);
  add("site_demand_15min_kw", "Site demand (15-min average)", "Kw/Moyens 15min", "kW", 60_000);
  add("site_today_kwh", "Site consumption today", "Consommation du site aujourd'hui", "kWh");
  add("site_month_kwh", "Site consumption this month", "Consommation du site ce mois-ci", "kWh");
  add("site_today_cost", "Site cost today", "Coût du site aujourd'hui", currency);
  add("site_month_cost", "Site cost this month", "Coût du site ce mois-ci", currency);
  add("unmetered_today_kwh", "Unmetered consumption today", "Consommation non mesurée aujourd'hui", "kWh");
  for (const c of circuitsOf(e)) {
    add(`${c.id}_today_kwh`, `${c.label} consumption today`, `${c.labelFr ?? c.label} : consommation aujourd'hui`, "kWh");
    add(`${c.id}_month_kwh`, `${c.label} consumption this month`, `${c.labelFr ?? c.label} : consommation ce mois-ci`, "kWh");
    add(`${c.id}_today_cost`, `${c.label} cost today`, `${c.labelFr ?? c.label} : coût aujourd'hui`, currency);
    add(`${c.id}_month_cost`, `${c.label} cost this month`, `${c.labelFr ?? c.label} : coût ce mois-ci`, currency);
  }
  return defs;
}

interface MeterState {
  m: ResolvedMeter;
  tracker: CounterTracker;
  resets: number[];
  /** Shared with the tracker: a replacement recorded live applies to the next readings. */
  replacements: { ts: number; oldFinal: number; newFirst: number }[];
  factor: number;
  /** Recent readings of the head meter (kW and the sliding 15-min demand). */
  recent: { ts: number; v: number }[];
  lastReset?: number;
  reported: number;
}

export interface EnergyServiceOptions {
  config: EnergyConfig;
  meters: ResolvedMeter[];
  store: EnergyStore;
  timeZone: string;
  journal?: Journal;
  /** The site's language: journal rows are stored in it (and as key + parameters for the others). */
  lang?: Lang;
  /** The main database's settings table: replacements recorded from the admin API are kept there. */
  settings?: Database;
}

export class EnergyService {
  readonly clock: LocalClock;
  readonly evaluators = new Map<string, TariffEvaluator>();
  private readonly states = new Map<string, MeterState>();
  private values = new Map<string, { value: number | null; quality: number }>();
  /** Called after each computation (the runtime publishes the ENERGY.* points). */
  onCompute: (() => void) | undefined;

  constructor(private readonly o: EnergyServiceOptions) {
    this.clock = new LocalClock(o.timeZone);
    for (const c of o.config.costs) this.evaluators.set(c.commodity, new TariffEvaluator(c, this.clock));
    for (const m of o.meters) {
      const resets: number[] = [];
      const saved = o.settings ? (JSON.parse((o.settings.query("SELECT value FROM settings WHERE key = ?").get(`energy.replacements.${m.id}`) as { value: string } | null)?.value ?? "[]") as { ts: number; oldFinal: number; newFirst: number }[]) : [];
      const replacements = [...m.replacements.map((r) => ({ ts: Date.parse(r.at), oldFinal: r.oldFinal * m.factor, newFirst: r.newFirst * m.factor })), ...saved];
      const tracker = new CounterTracker({
        maxRatePerHour: m.ratingKw,
        rolloverAt: m.rolloverAt,
        resets,
        replacements,
      });
      const last = o.store.state(m.id);
      if (last) tracker.push({ ts: last.ts, value: last.v, good: true });
      this.states.set(m.id, { m, tracker, resets, replacements, factor: m.factor, recent: [], reported: 0 });
    }
  }

  get meters(): ResolvedMeter[] {
    return this.o.meters;
  }

  /** A counter reading in the register's own unit. */
  reading(meter: string, ts: number, raw: number | null, good: boolean): void {
    const s = this.states.get(meter);
    if (!s) return;
    const value = raw === null ? null : raw * s.factor;
    s.tracker.push({ ts, value, good });
    if (s.m.head && good && value !== null) {
      s.recent.push({ ts, v: value });
      while (s.recent.length > 2 && s.recent[0]!.ts < ts - INTERVAL_MS) s.recent.shift();
    }
  }

  /** The pulse meter's "date/time of last reset" (seconds, 0 = never): a change is a known reset. */
  lastReset(meter: string, seconds: number | null, observedAt = Date.now()): void {
    const s = this.states.get(meter);
    if (!s || seconds === null) return;
    const ts = seconds * 1000;
    if (s.lastReset !== undefined && ts !== s.lastReset && seconds > 0) s.tracker.markReset(observedAt);
    s.lastReset = ts;
  }

  /** The pulse meter's units code: the factor to kWh/m³ follows it. */
  unitsCode(meter: string, code: number | null): void {
    const s = this.states.get(meter);
    const b = code === null ? undefined : toBase(PULSE_UNITS_CODES[code] ?? "");
    if (s && b) s.factor = b.factor;
  }

  /** Stores what the trackers hold, keeps only the open interval in memory, journals new events. */
  flush(now = Date.now()): void {
    const open = Math.floor(now / INTERVAL_MS) * INTERVAL_MS;
    for (const s of this.states.values()) {
      const ev = this.evaluators.get(s.m.commodity);
      const ivs = [...s.tracker.intervals.values()];
      if (ivs.length) this.o.store.write(s.m.id, ivs, ev);
      for (const iv of ivs) if (iv.ts < open) s.tracker.intervals.delete(iv.ts);
      const last = s.tracker.last;
      if (last) this.o.store.saveState(s.m.id, last);
      for (const e of s.tracker.events.slice(s.reported)) this.journalEvent(s.m, e);
      s.reported = s.tracker.events.length;
    }
    this.compute(now);
  }

  private journalEvent(m: ResolvedMeter, e: CounterEvent): void {
    this.o.journal?.append({
      type: `energy.${e.kind}`,
      ...journalText(this.o.lang ?? "fr", "journal.energy.counter", { meter: m.id, what: { key: `journal.energy.kind.${e.kind}` }, before: e.before, after: e.after, delta: e.delta.toFixed(3) }),
      source: m.id,
      device: m.point.split(".")[0],
      data: e,
      ts: e.ts,
    });
  }

  /** An admin's decision on a held interval; journaled with its actor. */
  correct(meter: string, c: Correction, actor: string): boolean {
    const s = this.states.get(meter);
    if (!s) return false;
    const iv = this.o.store.intervals(meter, c.ts, c.ts + 1)[0];
    if (!iv || !(iv.flags & Flag.BAD)) return false;
    const fixed = applyCorrection(iv, c);
    this.o.store.write(meter, [fixed], this.evaluators.get(s.m.commodity));
    const at = new Date(c.ts).toISOString();
    const text = c.action === "accept" ? journalText(this.o.lang ?? "fr", "journal.energy.accept", { meter, at, held: iv.held }) : journalText(this.o.lang ?? "fr", "journal.energy.set", { meter, at, value: String(c.value) });
    this.o.journal?.append({ type: "energy.correct", ...text, source: meter, actor, data: c });
    return true;
  }

  /**
   * An admin records a meter replacement: the old meter's final reading and the new one's first
   * (register units), at the swap time. Consumption across it is old final − last + new − first.
   */
  recordReplacement(meter: string, r: { ts: number; oldFinal: number; newFirst: number }, actor: string): boolean {
    const s = this.states.get(meter);
    if (!s) return false;
    const base = s.tracker.last;
    if (base && r.ts <= base.ts) return false; // readings after the swap are already counted: too late for this one
    s.replacements.push({ ts: r.ts, oldFinal: r.oldFinal * s.factor, newFirst: r.newFirst * s.factor });
    const own = s.replacements.slice(s.m.replacements.length);
    this.o.settings?.query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(`energy.replacements.${meter}`, JSON.stringify(own));
    this.o.journal?.append({ type: "energy.replacement", ...journalText(this.o.lang ?? "fr", "journal.energy.replacement", { meter, at: new Date(r.ts).toISOString(), oldFinal: r.oldFinal, newFirst: r.newFirst }), source: meter, actor, data: r });
    return true;
  }

  /** Reprices from an admin-chosen date after a tariff change; the choice is journaled. */
  reprice(from: number, actor: string): number {
    let n = 0;
    for (const [commodity, ev] of this.evaluators) n += this.o.store.reprice(this.o.meters.filter((m) => m.commodity === commodity).map((m) => m.id), from, ev);
    this.o.journal?.append({ type: "energy.reprice", ...journalText(this.o.lang ?? "fr", "journal.energy.reprice", { from: new Date(from).toISOString(), n }), actor, data: { from } });
    return n;
  }

  setTariffs(config: EnergyConfig["costs"]): void {
    this.evaluators.clear();
    for (const c of config) this.evaluators.set(c.commodity, new TariffEvaluator(c, this.clock));
  }

  private compute(now: number): void {
    const v = new Map<string, { value: number | null; quality: number }>();
    const store = this.o.store;
    const head = this.o.meters.find((m) => m.head && m.commodity === "electricity");
    const dayStart = store.cal.start(3, now);
    const monthStart = store.cal.start(4, now);
    const sum = (meter: string, from: number) => {
      const [d] = store.histogram(meter, from === dayStart ? "day" : "month", from, from + 1);
      return d!;
    };
    const q = (flags: number) => (flags & Flag.BAD ? Quality.BAD_DATA : flags & (Flag.ESTIMATED | Flag.MISSING) ? Quality.ESTIMATED : Quality.GOOD);
    if (head) {
      const p = this.clock.parts(now);
      const yearStart = this.clock.fromLocal(p.year, 1, 1);
      const months = store.histogram(head.id, "month", yearStart, this.clock.fromLocal(p.year + 1, 1, 1));
      months.forEach((b, i) => v.set(`consumption_${MONTHS[i]}`, { value: b.ts > now ? 0 : b.value, quality: b.ts > now ? Quality.GOOD : q(b.flags & ~Flag.MISSING) }));
      const t = sum(head.id, dayStart);
      const m = sum(head.id, monthStart);
      v.set("site_today_kwh", { value: t.value, quality: q(t.flags) });
      v.set("site_month_kwh", { value: m.value, quality: q(m.flags) });
      v.set("site_today_cost", { value: t.cost, quality: q(t.flags) });
      v.set("site_month_cost", { value: m.cost, quality: q(m.flags) });
      let sub = 0;
      for (const x of this.o.meters) if (x.parent === head.id && !x.excluded) sub += sum(x.id, dayStart).value;
      v.set("unmetered_today_kwh", { value: t.value - sub, quality: q(t.flags) });
    }
    for (const c of circuitsOf(this.o.config)) {
      const members = this.o.meters.filter((m) => m.circuit === c.id && !m.excluded && !m.head);
      for (const [period, from] of [["today", dayStart], ["month", monthStart]] as const) {
        let kwh = 0;
        let cost: number | null = 0;
        let flags = 0;
        for (const m of members) {
          const b = sum(m.id, from);
          kwh += b.value;
          flags |= b.flags;
          cost = cost === null || b.cost === null ? null : cost + b.cost;
        }
        v.set(`${c.id}_${period}_kwh`, { value: kwh, quality: q(flags) });
        v.set(`${c.id}_${period}_cost`, { value: cost, quality: q(flags) });
      }
    }
    this.values = v;
    this.computeDemand(now);
  }

  /** Instantaneous kW and the sliding 15-min demand only: cheap, every few seconds. */
  private computeDemand(now: number): void {
    const head = this.o.meters.find((m) => m.head && m.commodity === "electricity");
    if (!head) return;
    const r = this.states.get(head.id)!.recent;
    const lastTs = r.at(-1)?.ts ?? 0;
    const kwFrom = r.find((x) => x.ts >= lastTs - 60_000 && x.ts < lastTs);
    const rate = (a?: { ts: number; v: number }, b?: { ts: number; v: number }) => (a && b && b.ts > a.ts ? ((b.v - a.v) / (b.ts - a.ts)) * 3_600_000 : null);
    this.values.set("site_kw", { value: rate(kwFrom, r.at(-1)), quality: lastTs > now - 60_000 ? Quality.GOOD : Quality.STALE });
    this.values.set("site_demand_15min_kw", { value: rate(r[0], r.at(-1)), quality: r.length && r[0]!.ts <= lastTs - INTERVAL_MS + 60_000 ? Quality.GOOD : Quality.ESTIMATED });
    this.onCompute?.();
  }

  /** The computed points' current values by name (ENERGY.<name>). */
  pointValues(): ReadonlyMap<string, { value: number | null; quality: number }> {
    return this.values;
  }

  /** Feeds the service from the live table: meter counters, last-reset and units-code points. */
  attach(live: LiveView): () => void {
    const watch = new Map<number, (value: number | null, good: boolean, ts: number, quality: number) => void>();
    for (const m of this.o.meters) {
      const on = (id: string | undefined, f: (value: number | null, good: boolean, ts: number, quality: number) => void) => {
        const p = id && live.registry.byId.get(id);
        if (p) watch.set(p.index, f);
      };
      on(m.point, (value, good, ts) => this.reading(m.id, ts, value, good));
      // "Never reset" reads as the register's not-available sentinel (0): a baseline all the same.
      on(m.lastResetPoint, (value, good, ts, quality) => (good ? this.lastReset(m.id, value, ts) : quality === Quality.NOT_AVAILABLE && this.lastReset(m.id, 0, ts)));
      on(m.unitsCodePoint, (value, good) => good && this.unitsCode(m.id, value));
    }
    const sample = { value: NaN, ts: 0, quality: 0 };
    const unsub = live.subscribe((indexes) => {
      for (const i of indexes) {
        const f = watch.get(i);
        if (!f) continue;
        live.table.read(i, sample);
        f(Number.isNaN(sample.value) ? null : sample.value, sample.quality === Quality.GOOD, sample.ts, sample.quality);
      }
    });
    const timer = setInterval(() => this.flush(), 60_000);
    const fast = setInterval(() => this.computeDemand(Date.now()), 5_000);
    return () => {
      unsub();
      clearInterval(timer);
      clearInterval(fast);
      this.flush();
    };
  }
}
