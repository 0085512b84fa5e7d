/**
 * Where consumption and cost are kept: one row per meter per 15-minute interval (`e_interval`, the
 * billing interval, with its cost priced when written) and one per meter per local day (`e_day`,
 * rebuilt from its intervals whenever one changes) and one per local month (`e_month`, rebuilt from
 * its days) so a ten-year view reads 120 rows per meter, not 350,000 intervals. Hours come from
 * intervals, days from days, months and years from months, all on the site's wall clock.
 */
import type { Database } from "bun:sqlite";
import { Calendar } from "../historian/tiers.ts";
import { Flag, INTERVAL_MS, type Interval } from "./counters.ts";
import type { TariffEvaluator } from "./tariffs.ts";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS e_interval (
    meter TEXT NOT NULL, ts INTEGER NOT NULL,
    value REAL NOT NULL, held REAL NOT NULL DEFAULT 0, flags INTEGER NOT NULL DEFAULT 0,
    span_from INTEGER, cost REAL, tariff TEXT,
    PRIMARY KEY (meter, ts)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS e_day (
    meter TEXT NOT NULL, day INTEGER NOT NULL,
    value REAL NOT NULL, held REAL NOT NULL, flags INTEGER NOT NULL, cost REAL, priced INTEGER NOT NULL,
    PRIMARY KEY (meter, day)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS e_month (
    meter TEXT NOT NULL, month INTEGER NOT NULL,
    value REAL NOT NULL, held REAL NOT NULL, flags INTEGER NOT NULL, cost REAL, priced INTEGER NOT NULL,
    PRIMARY KEY (meter, month)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS e_state (meter TEXT PRIMARY KEY, ts INTEGER NOT NULL, v REAL NOT NULL);
`;

export type Bucket = "hour" | "day" | "month" | "year";

export interface BucketRow {
  ts: number;
  value: number;
  held: number;
  flags: number;
  /** null: some counted consumption in the bucket has no tariff. */
  cost: number | null;
}

export class EnergyStore {
  readonly cal: Calendar;
  private readonly upsert;
  private readonly dayRows;
  private readonly upsertDay;
  private readonly range;
  private readonly dayRange;
  private readonly monthRange;

  constructor(
    readonly db: Database,
    timeZone: string,
  ) {
    db.exec(SCHEMA);
    this.cal = new Calendar(timeZone);
    this.upsert = db.prepare(
      "INSERT INTO e_interval (meter, ts, value, held, flags, span_from, cost, tariff) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(meter, ts) DO UPDATE SET value = excluded.value, held = excluded.held, flags = excluded.flags, span_from = excluded.span_from, cost = excluded.cost, tariff = excluded.tariff",
    );
    this.dayRows = db.prepare("SELECT value, held, flags, cost FROM e_interval WHERE meter = ? AND ts >= ? AND ts < ?");
    this.upsertDay = db.prepare(
      "INSERT INTO e_day (meter, day, value, held, flags, cost, priced) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(meter, day) DO UPDATE SET value = excluded.value, held = excluded.held, flags = excluded.flags, cost = excluded.cost, priced = excluded.priced",
    );
    this.range = db.prepare("SELECT ts, value, held, flags, cost FROM e_interval WHERE meter = ? AND ts >= ? AND ts < ? ORDER BY ts");
    this.monthRange = db.prepare("SELECT month AS ts, value, held, flags, cost, priced FROM e_month WHERE meter = ? AND month >= ? AND month < ? ORDER BY month");
    this.dayRange = db.prepare("SELECT day AS ts, value, held, flags, cost, priced FROM e_day WHERE meter = ? AND day >= ? AND day < ? ORDER BY day");
  }

  /** Writes intervals priced by `ev` (undefined: no cost set for the commodity), and their days. */
  write(meter: string, intervals: Iterable<Interval>, ev: TariffEvaluator | undefined): void {
    const days = new Set<number>();
    this.db.transaction(() => {
      for (const iv of intervals) {
        const t = ev?.at(iv.ts);
        this.upsert.run(meter, iv.ts, iv.value, iv.held, iv.flags, iv.spanFrom ?? null, t ? iv.value * t.price : null, t?.tariff ?? null);
        days.add(this.cal.start(3, iv.ts));
      }
      for (const d of days) this.rebuildDay(meter, d);
    })();
  }

  private rebuildDay(meter: string, day: number): void {
    const rows = this.dayRows.all(meter, day, this.cal.next(3, day)) as { value: number; held: number; flags: number; cost: number | null }[];
    if (!rows.length) return;
    let value = 0;
    let held = 0;
    let flags = 0;
    let cost = 0;
    let priced = 1;
    for (const r of rows) {
      value += r.value;
      held += r.held;
      flags |= r.flags;
      if (r.cost === null) {
        if (r.value) priced = 0;
      } else cost += r.cost;
    }
    this.upsertDay.run(meter, day, value, held, flags, priced ? cost : null, priced);
    this.rebuildMonth(meter, this.cal.start(4, day));
  }

  /** Rebuilds the month rows of [from, to) from their days (after days were written directly). */
  rebuildMonths(meter: string, from: number, to: number): void {
    this.db.transaction(() => {
      for (let m = this.cal.start(4, from); m < to; m = this.cal.next(4, m)) this.rebuildMonth(meter, m);
    })();
  }

  private rebuildMonth(meter: string, month: number): void {
    const r = this.db
      .query("SELECT COUNT(*) AS n, SUM(value) AS value, SUM(held) AS held, MAX(flags & 1) | MAX(flags & 2) | MAX(flags & 4) | MAX(flags & 8) AS flags, SUM(cost) AS cost, MIN(priced OR value = 0) AS priced FROM e_day WHERE meter = ? AND day >= ? AND day < ?")
      .get(meter, month, this.cal.next(4, month)) as { n: number; value: number; held: number; flags: number; cost: number | null; priced: number };
    if (!r.n) return;
    this.db
      .query("INSERT INTO e_month (meter, month, value, held, flags, cost, priced) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(meter, month) DO UPDATE SET value = excluded.value, held = excluded.held, flags = excluded.flags, cost = excluded.cost, priced = excluded.priced")
      .run(meter, month, r.value, r.held, r.flags, r.priced ? r.cost : null, r.priced);
  }

  intervals(meter: string, from: number, to: number): (Interval & { cost: number | null })[] {
    return this.range.all(meter, from, to) as (Interval & { cost: number | null })[];
  }

  /** Bucket starts covering [from, to) on the site's wall clock. */
  buckets(bucket: Bucket, from: number, to: number): number[] {
    const tier = bucket === "hour" ? 2 : bucket === "day" ? 3 : 4;
    const out: number[] = [];
    let t = this.cal.start(tier, from);
    while (t < to) {
      out.push(t);
      if (bucket === "year") for (let k = 0; k < 12; k++) t = this.cal.next(4, t);
      else t = this.cal.next(tier, t);
    }
    return out;
  }

  /**
   * One meter's consumption per bucket over [from, to). Bad data stays in `held`, never in
   * `value`; flags say estimated/bad/missing so a page can mark the bar.
   */
  histogram(meter: string, bucket: Bucket, from: number, to: number, starts = this.buckets(bucket, from, to)): BucketRow[] {
    const out: BucketRow[] = starts.map((ts) => ({ ts, value: 0, held: 0, flags: 0, cost: 0 }));
    if (!starts.length) return out;
    if (bucket === "month" || bucket === "year") {
      // Months are kept as rows: a ten-year view reads 120 rows per meter.
      const hiM = bucket === "year" ? this.yearEnd(starts.at(-1)!) : this.cal.next(4, starts.at(-1)!);
      const rows = this.monthRange.all(meter, starts[0]!, hiM) as { ts: number; value: number; held: number; flags: number; cost: number | null; priced: number }[];
      const seen = new Array<boolean>(out.length).fill(false);
      let k = 0;
      for (const r of rows) {
        while (k + 1 < starts.length && r.ts >= starts[k + 1]!) k++;
        const b = out[k]!;
        seen[k] = true;
        b.value += r.value;
        b.held += r.held;
        b.flags |= r.flags;
        if (b.cost !== null) b.cost = r.priced ? b.cost + (r.cost ?? 0) : null;
      }
      out.forEach((b, i) => {
        if (!seen[i]) b.flags |= Flag.MISSING;
      });
      return out;
    }
    const hi = bucket === "day" ? this.cal.next(3, starts.at(-1)!) : this.cal.next(2, starts.at(-1)!);
    const rows = (bucket === "hour" ? this.range.all(meter, starts[0]!, hi) : this.dayRange.all(meter, starts[0]!, hi)) as { ts: number; value: number; held: number; flags: number; cost: number | null; }[];
    let k = 0;
    for (const r of rows) {
      while (k + 1 < starts.length && r.ts >= starts[k + 1]!) k++;
      const b = out[k]!;
      b.value += r.value;
      b.held += r.held;
      b.flags |= r.flags;
      if (b.cost !== null) b.cost = r.cost === null ? (r.value ? null : b.cost) : b.cost + r.cost;
    }
    // A bucket no interval reached is unknown, not zero: marked missing (the page draws no bar).
    if (bucket === "hour") {
      const have = new Set(rows.map((r) => this.cal.start(2, r.ts)));
      for (const b of out) if (!have.has(b.ts)) b.flags |= Flag.MISSING;
    } else {
      let j = 0;
      const has = new Array(out.length).fill(false);
      for (const r of rows) {
        while (j + 1 < starts.length && r.ts >= starts[j + 1]!) j++;
        has[j] = true;
      }
      out.forEach((b, i) => {
        if (!has[i]) b.flags |= Flag.MISSING;
      });
    }
    return out;
  }

  private yearEnd(start: number): number {
    let t = start;
    for (let k = 0; k < 12; k++) t = this.cal.next(4, t);
    return t;
  }

  /**
   * Reprices every interval from `from` on (an admin's choice after a tariff change): costs are
   * stored, so history before `from` keeps the prices it was billed at. Returns intervals repriced.
   */
  reprice(meters: readonly string[], from: number, ev: TariffEvaluator | undefined, to = Number.MAX_SAFE_INTEGER): number {
    const sel = this.db.prepare("SELECT ts, value FROM e_interval WHERE meter = ? AND ts >= ? AND ts < ? ORDER BY ts");
    const upd = this.db.prepare("UPDATE e_interval SET cost = ?, tariff = ? WHERE meter = ? AND ts = ?");
    let n = 0;
    this.db.transaction(() => {
      for (const m of meters) {
        const rows = sel.all(m, from, to) as { ts: number; value: number }[];
        const days = new Set<number>();
        for (const r of rows) {
          const t = ev?.at(r.ts);
          upd.run(t ? r.value * t.price : null, t?.tariff ?? null, m, r.ts);
          days.add(this.cal.start(3, r.ts));
          n++;
        }
        for (const d of days) this.rebuildDay(m, d);
      }
    })();
    return n;
  }

  /** Highest 15-minute demand (kW) of a meter in [from, to): bad intervals never count. */
  peakDemand(meter: string, from: number, to: number): { kw: number; at: number | undefined } {
    const rows = this.db.prepare("SELECT ts, value, span_from AS s FROM e_interval WHERE meter = ? AND ts >= ? AND ts < ?").all(meter, from, to) as { ts: number; value: number; s: number | null }[];
    let kw = 0;
    let at: number | undefined;
    for (const r of rows) {
      const h = (r.s !== null ? r.ts + INTERVAL_MS - r.s : INTERVAL_MS) / 3_600_000;
      if (r.value / h > kw) {
        kw = r.value / h;
        at = r.ts;
      }
    }
    return { kw, at };
  }

  /** Intervals holding bad data an admin has not decided on yet, newest first. */
  heldIntervals(limit = 200): { meter: string; ts: number; value: number; held: number }[] {
    return this.db.prepare("SELECT meter, ts, value, held FROM e_interval WHERE flags & 2 ORDER BY ts DESC LIMIT ?").all(limit) as { meter: string; ts: number; value: number; held: number }[];
  }

  saveState(meter: string, base: { ts: number; v: number }): void {
    this.db.query("INSERT INTO e_state (meter, ts, v) VALUES (?, ?, ?) ON CONFLICT(meter) DO UPDATE SET ts = excluded.ts, v = excluded.v").run(meter, base.ts, base.v);
  }
  state(meter: string): { ts: number; v: number } | undefined {
    return (this.db.query("SELECT ts, v FROM e_state WHERE meter = ?").get(meter) as { ts: number; v: number } | null) ?? undefined;
  }
}

