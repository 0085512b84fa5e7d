/**
 * WHERE CONSUMPTION IS COMPUTED: cumulative counter readings → consumption per 15-minute interval.
 *
 * A meter reports a running total (kWh, m³...). Consumption is the difference between readings, and
 * every way a running total can lie is handled here, once, for every meter:
 *   - reset: a known reset (the pulse meter's reset write or its "date/time of last reset" changing)
 *     or an unplanned drop to near zero: consumption restarts from 0 (the reading after is consumption);
 *   - rollover: a counter of configured width/maximum wraps: max − before + after;
 *   - replacement: an admin recorded the old meter's final and the new meter's first reading;
 *   - communication gap: consumption across it goes whole into the interval where the gap ends,
 *     flagged ESTIMATED, with the gap's span kept (never spread over the gap, never lost);
 *   - anything else backwards, or a rise above the breaker's rating × time: BAD, held apart (not in
 *     totals) until an admin accepts or corrects it; the count resumes from the next plausible
 *     reading, so one glitch never poisons what follows.
 * Pure and incremental: `CounterTracker.push` is fed live, `consumptionFrom` replays a history.
 */

export const INTERVAL_MS = 900_000;

/** Interval flags (a bit set: an interval can hold good consumption AND a held bad jump). */
export const Flag = {
  GOOD: 0,
  /** Holds consumption from across a communication gap (or a reset's lost part). */
  ESTIMATED: 1,
  /** Holds a jump that is kept out of totals until an admin decides. */
  BAD: 2,
  /** An admin accepted or corrected this interval. */
  ADMIN: 4,
  /** No reading at all covers (part of) this interval: inside a gap. */
  MISSING: 8,
} as const;

export interface Reading {
  ts: number;
  /** In the meter's base unit (kWh, m³...), already scaled; null = not available. */
  value: number | null;
  good: boolean;
}

export interface Replacement {
  ts: number;
  oldFinal: number;
  newFirst: number;
}

export interface CounterOptions {
  /** The counter wraps to 0 at this value (e.g. 2^32 × scale). Absent: it does not wrap. */
  rolloverAt?: number;
  /** Highest plausible rate, base units per hour (kW for kWh: the breaker's rating × voltage). */
  maxRatePerHour?: number;
  /** A pair of readings further apart than this is a communication gap. */
  gapMs?: number;
  /** Known reset instants (reset writes, "date/time of last reset" changes). */
  resets?: readonly number[];
  replacements?: readonly Replacement[];
  /** Backwards steps smaller than this are counter noise (float registers), not jumps. */
  noise?: number;
}

export interface Interval {
  ts: number;
  /** Counted consumption. */
  value: number;
  /** Consumption held out of totals (bad data awaiting an admin). */
  held: number;
  flags: number;
  /** For an estimated interval: start of the gap whose consumption it holds. */
  spanFrom?: number;
}

export type CounterEventKind = "reset" | "unplanned-reset" | "rollover" | "replacement" | "gap" | "backwards" | "spike";

export interface CounterEvent {
  kind: CounterEventKind;
  ts: number;
  /** The reading before and the reading that revealed the event. */
  before: number;
  after: number;
  /** The consumption assigned (counted, or held for bad kinds). */
  delta: number;
}

const DEFAULT_GAP_MS = 5 * 60_000;

/** Incremental consumption from one counter. Emits into `intervals` (keyed by interval start). */
export class CounterTracker {
  readonly intervals = new Map<number, Interval>();
  readonly events: CounterEvent[] = [];
  /** Last accepted reading: the base consumption is measured from. */
  private base: { ts: number; v: number } | undefined;
  /** A reading implausible against the base, waiting for the next to say glitch or new level. */
  private suspect: { ts: number; v: number; kind: "backwards" | "spike" } | undefined;
  private readonly gapMs: number;
  private readonly noise: number;
  /** A reset was seen (reset write, "last reset" changed) and the drop it explains not yet. */
  private resetPending = false;

  constructor(private readonly o: CounterOptions = {}) {
    this.gapMs = o.gapMs ?? DEFAULT_GAP_MS;
    this.noise = o.noise ?? 1e-6;
  }

  /**
   * A reset the meter reported (its "date/time of last reset" changed, or Busbar wrote its reset).
   * The meter's clock may be off and the registers are read at different rates, so the next drop
   * is the reset, whenever it is read (up to an hour later).
   */
  markReset(ts: number): void {
    this.resetPending = true;
    this.resetSeenAt = ts;
  }
  private resetSeenAt = 0;

  /** The last accepted reading (for continuing a replay live). */
  get last(): { ts: number; v: number } | undefined {
    return this.base;
  }

  push(r: Reading): void {
    if (!r.good || r.value === null || !Number.isFinite(r.value)) return;
    const cur = { ts: r.ts, v: r.value };
    const base = this.base;
    if (!base) {
      this.base = cur;
      return;
    }
    if (cur.ts <= base.ts) return;
    const step = this.classify(base, cur);
    if (step.kind === "ok") {
      if (this.suspect) this.suspect = undefined; // the suspect was a one-off glitch: already held
      this.assign(base.ts, cur.ts, step.delta, step.estimated);
      if (step.event) this.events.push({ kind: step.event, ts: cur.ts, before: base.v, after: cur.v, delta: step.delta });
      this.base = cur;
      return;
    }
    // Implausible against the base. Two implausible readings that agree with each other mean the
    // meter really moved to a new level: hold the jump, count on from the new level.
    const s = this.suspect;
    if (s) {
      const again = this.classify({ ts: s.ts, v: s.v }, cur);
      if (again.kind === "ok") {
        this.suspect = undefined;
        this.base = { ts: s.ts, v: s.v };
        this.assign(s.ts, cur.ts, again.delta, again.estimated);
        this.base = cur;
        return;
      }
    }
    this.suspect = { ts: cur.ts, v: cur.v, kind: step.kind };
    const held = cur.v - base.v;
    const iv = this.interval(Math.floor(cur.ts / INTERVAL_MS) * INTERVAL_MS);
    iv.held += held;
    iv.flags |= Flag.BAD;
    this.events.push({ kind: step.kind, ts: cur.ts, before: base.v, after: cur.v, delta: held });
  }

  private plausible(delta: number, dtMs: number): boolean {
    const max = this.o.maxRatePerHour;
    if (max === undefined) return true;
    // 10 % margin and one noise step: a meter's own rounding must never read as a spike.
    return delta <= max * 1.1 * (dtMs / 3_600_000) + this.noise * 10;
  }

  private classify(
    base: { ts: number; v: number },
    cur: { ts: number; v: number },
  ):
    | { kind: "ok"; delta: number; estimated: boolean; event?: CounterEventKind }
    | { kind: "backwards" | "spike" } {
    const dt = cur.ts - base.ts;
    const gap = dt > this.gapMs;
    const repl = this.o.replacements?.find((x) => x.ts > base.ts && x.ts <= cur.ts);
    if (repl) {
      const delta = Math.max(0, repl.oldFinal - base.v) + Math.max(0, cur.v - repl.newFirst);
      return this.plausible(delta, dt) ? { kind: "ok", delta, estimated: gap, event: "replacement" } : { kind: "spike" };
    }
    let d = cur.v - base.v;
    if (d >= -this.noise) {
      d = Math.max(0, d);
      if (!this.plausible(d, dt)) return { kind: "spike" };
      return { kind: "ok", delta: d, estimated: gap, event: gap ? "gap" : undefined };
    }
    // Backwards. A known reset first, then a wrap of a counter with a known width, then an
    // unplanned reset (a drop to a value that could have been counted from 0 since).
    const pending = this.resetPending && cur.ts - this.resetSeenAt < 3_600_000;
    const known = pending || this.o.resets?.some((t) => t > base.ts && t <= cur.ts);
    if (known) {
      this.resetPending = false;
      return { kind: "ok", delta: cur.v, estimated: gap, event: "reset" };
    }
    const top = this.o.rolloverAt;
    if (top !== undefined) {
      const wrapped = top - base.v + cur.v;
      const nearTop = this.o.maxRatePerHour !== undefined ? this.plausible(wrapped, dt) : base.v >= 0.9 * top && cur.v <= 0.1 * top;
      if (nearTop && wrapped >= 0) return { kind: "ok", delta: wrapped, estimated: gap, event: "rollover" };
    }
    const nearZero = this.o.maxRatePerHour !== undefined ? this.plausible(cur.v, dt) : cur.v <= 0.01 * base.v;
    // What was counted between the last reading and the reset instant is unknown: the interval is estimated.
    if (nearZero && cur.v >= 0) return { kind: "ok", delta: cur.v, estimated: true, event: "unplanned-reset" };
    return { kind: "backwards" };
  }

  private interval(ts: number): Interval {
    let iv = this.intervals.get(ts);
    if (!iv) {
      iv = { ts, value: 0, held: 0, flags: 0 };
      this.intervals.set(ts, iv);
    }
    return iv;
  }

  /**
   * Consumption between readings at a and b. Close readings: split by time over the (at most two)
   * intervals they straddle. A gap: all of it in the interval where the gap ends, estimated, and
   * the intervals inside marked missing so no one reads them as zero consumption.
   */
  private assign(a: number, b: number, delta: number, estimated: boolean): void {
    const endIv = Math.floor(b / INTERVAL_MS) * INTERVAL_MS;
    if (estimated) {
      const iv = this.interval(endIv);
      iv.value += delta;
      iv.flags |= Flag.ESTIMATED;
      iv.spanFrom = Math.min(iv.spanFrom ?? a, a);
      for (let t = Math.floor(a / INTERVAL_MS) * INTERVAL_MS + INTERVAL_MS; t < endIv; t += INTERVAL_MS) this.interval(t).flags |= Flag.MISSING;
      return;
    }
    let t = a;
    while (t < b) {
      const start = Math.floor(t / INTERVAL_MS) * INTERVAL_MS;
      const end = Math.min(b, start + INTERVAL_MS);
      const iv = this.interval(start);
      iv.value += (delta * (end - t)) / (b - a);
      t = end;
    }
  }
}

/** Replays a history of readings (sorted by time). */
export function consumptionFrom(readings: readonly Reading[], o: CounterOptions = {}): CounterTracker {
  const t = new CounterTracker(o);
  for (const r of readings) t.push(r);
  return t;
}

/** Sum of counted consumption (bad held apart). */
export function total(intervals: Iterable<Interval>): { value: number; held: number; flags: number } {
  let value = 0;
  let held = 0;
  let flags = 0;
  for (const iv of intervals) {
    value += iv.value;
    held += iv.held;
    flags |= iv.flags;
  }
  return { value, held, flags };
}

/** An admin's decision on a held (bad) interval: accept the held jump, or set the value. */
export interface Correction {
  ts: number;
  action: "accept" | "set";
  value?: number;
}

export function applyCorrection(iv: Interval, c: Correction): Interval {
  const value = c.action === "accept" ? iv.value + iv.held : (c.value ?? 0);
  return { ...iv, value, held: 0, flags: (iv.flags & ~Flag.BAD) | Flag.ADMIN };
}
