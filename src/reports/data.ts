/**
 * What a report says, gathered from the energy store: plain, serializable numbers (the PDF and the
 * CSV are drawn from the same object). Runs inside the report pool (src/reports/job.ts), which
 * opens the energy tables itself: a yearly detailed report reads ~500k intervals for the peaks, and
 * the main thread must not.
 *
 * Quality is counted, never smoothed over: per line, the 15-minute intervals expected in the period
 * (up to now for a period in progress), how many were estimated (consumption from across a gap) and
 * how many are missing (no reading at all). Bad data held for an admin stays out of values, as on
 * the energy pages, and is reported beside them.
 */
import { Flag, INTERVAL_MS } from "../energy/counters.ts";
import type { Bucket, EnergyStore } from "../energy/store.ts";
import { circuitsOf, type EnergyConfig, type ResolvedMeter } from "../energy/structure.ts";
import { TariffEvaluator, type LocalClock, type TariffConfig } from "../energy/tariffs.ts";
import type { Commodity } from "../energy/units.ts";

export const REPORT_KINDS = ["general", "detailed"] as const;
/** On demand: month or year. Schedules also send a day (by hour) or a week (by day). */
export const REPORT_PERIODS = ["day", "week", "month", "year"] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];
export type ReportPeriod = (typeof REPORT_PERIODS)[number];

export interface ReportRequest {
  kind: ReportKind;
  period: ReportPeriod;
  /** Local year, month (1–12) and day of the period's first day (month ignored for a year, day for a month). */
  year: number;
  month: number;
  day?: number;
  lang: "fr" | "en";
  /** Detailed: `circuit:ID`, `zone:ID` or `meter:ID`; empty = every circuit. */
  items?: string[];
}

export interface ReportLine {
  id: string;
  label: string;
  /** Counted consumption (base unit), per bucket and in all. */
  buckets: number[];
  bucketFlags: number[];
  value: number;
  /** null: some counted consumption has no tariff. */
  cost: number | null;
  previous: number | null;
  /** The previous period bucket for bucket (null: not measured, or no such bucket: a 30-day month beside a 31-day one). */
  previousBuckets: (number | null)[];
  /** The previous period's own intervals: a comparison with a half-measured period says so. */
  previousQuality: { expected: number; estimated: number; missing: number };
  costBuckets: (number | null)[];
  /** Highest 15-minute demand (kW, electricity) and the interval's start. */
  peakKw: number | null;
  peakAt: number | null;
  expected: number;
  estimated: number;
  missing: number;
  /** Bad data held out of the value until an admin decides. */
  held: number;
}

export interface ReportSection {
  commodity: Commodity;
  unit: string;
  currency: string;
  lines: ReportLine[];
  /** The commodity's site total (head meter, else the sum of counted meters): the report's main figure. */
  total: ReportLine;
  /** Intervals of every meter read for this section, each meter once. */
  completeness: { expected: number; estimated: number; missing: number };
  /**
   * Electricity billed for demand: each billing period starting in the report's period, its peak
   * 15-minute demand on the head meter and the charge (null: no demand price on that date).
   */
  demand?: { charge: number | null; periods: { from: number; to: number; peakKw: number; at: number | null; price: number | null }[] };
}

export interface ReportData {
  req: ReportRequest;
  site: string;
  timezone: string;
  from: number;
  to: number;
  prevFrom: number;
  /** Period still running at generation time: values up to `generatedAt`. */
  inProgress: boolean;
  generatedAt: number;
  bucket: Bucket;
  starts: number[];
  sections: ReportSection[];
}

const UNITS: Record<Commodity, string> = { electricity: "kWh", gas: "m³", water: "m³" };

export function reportRange(clock: LocalClock, req: Pick<ReportRequest, "period" | "year" | "month" | "day">): { from: number; to: number; prevFrom: number; bucket: Bucket } {
  // fromLocal normalizes day 0 or 32 as Date.UTC does: the previous/next day across months.
  const d = req.day ?? 1;
  if (req.period === "day") return { from: clock.fromLocal(req.year, req.month, d), to: clock.fromLocal(req.year, req.month, d + 1), prevFrom: clock.fromLocal(req.year, req.month, d - 1), bucket: "hour" };
  if (req.period === "week") return { from: clock.fromLocal(req.year, req.month, d), to: clock.fromLocal(req.year, req.month, d + 7), prevFrom: clock.fromLocal(req.year, req.month, d - 7), bucket: "day" };
  if (req.period === "year") return { from: clock.fromLocal(req.year, 1, 1), to: clock.fromLocal(req.year + 1, 1, 1), prevFrom: clock.fromLocal(req.year - 1, 1, 1), bucket: "month" };
  const next = req.month === 12 ? [req.year + 1, 1] : [req.year, req.month + 1];
  const prev = req.month === 1 ? [req.year - 1, 12] : [req.year, req.month - 1];
  return { from: clock.fromLocal(req.year, req.month, 1), to: clock.fromLocal(next[0]!, next[1]!, 1), prevFrom: clock.fromLocal(prev[0]!, prev[1]!, 1), bucket: "day" };
}

interface Ctx {
  store: EnergyStore;
  from: number;
  to: number;
  until: number;
  prevFrom: number;
  bucket: Bucket;
  starts: number[];
  prevStarts: number[];
  /** Every meter a line read: the footer's completeness is over these, each counted once. */
  used: Set<ResolvedMeter>;
}

/** One line made of `members` (their consumption adds up); `minus` is subtracted (the unmetered remainder). */
function line(c: Ctx, id: string, label: string, members: ResolvedMeter[], withDemand: boolean, minus: ResolvedMeter[] = []): ReportLine {
  const n = c.starts.length;
  const buckets = new Array<number>(n).fill(0);
  const bucketFlags = new Array<number>(n).fill(members.length ? Flag.MISSING : 0);
  let cost: number | null = 0;
  let held = 0;
  let previous: number | null = 0;
  let prevSeen = false;
  const costBuckets = new Array<number | null>(n).fill(0);
  const previousBuckets = new Array<number | null>(n).fill(null);
  const add = (m: ResolvedMeter, sign: 1 | -1) => {
    c.store.histogram(m.id, c.bucket, c.from, c.to, c.starts).forEach((r, i) => {
      buckets[i]! += sign * r.value;
      if (sign > 0) held += r.held;
      // A bucket is missing only when every member is.
      bucketFlags[i] = (bucketFlags[i]! & r.flags & Flag.MISSING) | ((bucketFlags[i]! | r.flags) & ~Flag.MISSING);
      cost = cost === null || r.cost === null ? null : cost + sign * r.cost;
      costBuckets[i] = costBuckets[i] === null || r.cost === null ? null : costBuckets[i]! + sign * r.cost;
    });
    c.store.histogram(m.id, c.bucket, c.prevFrom, c.from, c.prevStarts).forEach((r, i) => {
      if (!(r.flags & Flag.MISSING)) prevSeen = true;
      previous = previous! + sign * r.value;
      if (i < n && !(r.flags & Flag.MISSING && r.value === 0)) previousBuckets[i] = (previousBuckets[i] ?? 0) + sign * r.value;
    });
  };
  for (const m of members) (add(m, 1), c.used.add(m));
  for (const m of minus) (add(m, -1), c.used.add(m));
  // A bucket some member did not read through (a month the meter joined halfway) is partly
  // missing: the month and day rows alone would show it as fully measured.
  const count = c.store.db.prepare("SELECT COUNT(*) AS n FROM e_interval WHERE meter = ? AND ts >= ? AND ts < ? AND NOT (flags & ?)");
  c.starts.forEach((s, i) => {
    const end = Math.min(i + 1 < n ? c.starts[i + 1]! : c.to, c.until);
    if (end <= s) return;
    const expected = Math.ceil((end - s) / INTERVAL_MS);
    for (const m of [...members, ...minus])
      if ((count.get(m.id, s, end, Flag.MISSING) as { n: number }).n < expected) {
        bucketFlags[i]! |= Flag.MISSING;
        break;
      }
  });
  // Buckets after now are not missing, they have not happened.
  c.starts.forEach((s, i) => {
    if (s >= c.until) bucketFlags[i] = 0;
  });
  // A remainder is as good as what it subtracts: a sub-meter's gap makes it estimated too.
  const q = quality(c, [...members, ...minus]);
  const peak = withDemand ? peakOf(c, members, minus) : { kw: null, at: null };
  return {
    id,
    label,
    buckets,
    bucketFlags,
    value: buckets.reduce((a, b) => a + b, 0),
    cost,
    previous: prevSeen ? previous : null,
    previousBuckets,
    previousQuality: quality(c, [...members, ...minus], c.prevFrom, c.from),
    costBuckets,
    peakKw: peak.kw,
    peakAt: peak.at,
    ...q,
    held,
  };
}

/** Intervals expected, estimated and missing over the members (each member's intervals count). */
function quality(c: Ctx, members: ResolvedMeter[], from = c.from, to = Math.min(c.to, c.until)): { expected: number; estimated: number; missing: number } {
  const per = Math.max(0, Math.ceil((to - from) / INTERVAL_MS));
  let estimated = 0;
  let present = 0;
  const q = c.store.db.prepare("SELECT COUNT(*) AS n, SUM(CASE WHEN flags & ? THEN 1 ELSE 0 END) AS est, SUM(CASE WHEN flags & ? THEN 1 ELSE 0 END) AS miss FROM e_interval WHERE meter = ? AND ts >= ? AND ts < ?");
  for (const m of members) {
    const r = q.get(Flag.ESTIMATED, Flag.MISSING, m.id, from, to) as { n: number; est: number | null; miss: number | null };
    present += r.n - (r.miss ?? 0);
    estimated += r.est ?? 0;
  }
  const expected = per * members.length;
  return { expected, estimated, missing: Math.max(0, expected - present) };
}

/**
 * Highest 15-minute demand of the members together: their intervals are added per start, each
 * as kW over its own span (an interval that holds a gap's consumption is spread over the gap, as
 * the energy store's peak does, so an estimate never makes a false peak).
 */
function peakOf(c: Ctx, members: ResolvedMeter[], minus: ResolvedMeter[]): { kw: number | null; at: number | null } {
  if (!members.length) return { kw: null, at: null };
  const sum = new Map<number, number>();
  const q = c.store.db.prepare("SELECT ts, value, span_from AS s FROM e_interval WHERE meter = ? AND ts >= ? AND ts < ?");
  const add = (m: ResolvedMeter, sign: number) => {
    for (const r of q.iterate(m.id, c.from, c.to) as Iterable<{ ts: number; value: number; s: number | null }>) {
      const h = (r.s !== null ? r.ts + INTERVAL_MS - r.s : INTERVAL_MS) / 3_600_000;
      sum.set(r.ts, (sum.get(r.ts) ?? 0) + (sign * r.value) / h);
    }
  };
  for (const m of members) add(m, 1);
  for (const m of minus) add(m, -1);
  let kw: number | null = null;
  let at: number | null = null;
  for (const [ts, v] of sum)
    if (kw === null || v > kw || (v === kw && ts < at!)) {
      kw = v;
      at = ts;
    }
  return { kw, at };
}

export interface ReportSource {
  store: EnergyStore;
  clock: LocalClock;
  config: EnergyConfig;
  meters: readonly ResolvedMeter[];
  site: string;
  timezone: string;
  now?: number;
}

export function gatherReport(src: ReportSource, req: ReportRequest): ReportData {
  const { store, clock, config, meters } = src;
  const now = src.now ?? Date.now();
  const { from, to, prevFrom, bucket } = reportRange(clock, req);
  const starts = store.buckets(bucket, from, to);
  const c: Ctx = { store, from, to, until: Math.min(to, now), prevFrom, bucket, starts, prevStarts: store.buckets(bucket, prevFrom, from), used: new Set() };
  const fr = req.lang === "fr";
  const circuitLabel = (x: { id: string; label: string; labelFr?: string }) => (fr ? (x.labelFr ?? x.label) : x.label);
  const currency = (k: Commodity) => (config.costs as TariffConfig[]).find((x) => x.commodity === k)?.currency ?? "";
  const sections: ReportSection[] = [];
  const commodities = [...new Set(meters.map((m) => m.commodity))].sort((a, b) => ["electricity", "gas", "water"].indexOf(a) - ["electricity", "gas", "water"].indexOf(b));
  const labelOf = (m: ResolvedMeter) => m.label ?? m.id;
  for (const k of commodities) {
    const mine = meters.filter((m) => m.commodity === k);
    const head = mine.find((m) => m.head);
    const parts = mine.filter((m) => !m.excluded && !m.head);
    const elec = k === "electricity";
    c.used = new Set();
    const totalLabel = fr ? "Total du site" : "Site total";
    const total = head ? line(c, head.id, totalLabel, [head], elec) : line(c, "total", totalLabel, parts, elec);
    let lines: ReportLine[] = [];
    if (req.kind === "general") {
      for (const ci of circuitsOf(config)) {
        const members = parts.filter((m) => m.circuit === ci.id);
        if (members.length) lines.push(line(c, `circuit:${ci.id}`, circuitLabel(ci), members, elec));
      }
      if (head) {
        const under = parts.filter((m) => m.parent === head.id);
        if (under.length) lines.push(line(c, "unmetered", fr ? "Non mesuré (reste)" : "Unmetered (remainder)", [head], false, under));
      }
    } else {
      if (!elec) continue; // a detailed report is the electrical breakdown the selection names
      const items = req.items?.length ? req.items : circuitsOf(config).filter((ci) => parts.some((m) => m.circuit === ci.id)).map((ci) => `circuit:${ci.id}`);
      for (const item of items) {
        const [what, id] = item.split(":") as [string, string];
        if (what === "circuit") {
          const ci = circuitsOf(config).find((x) => x.id === id);
          const members = parts.filter((m) => m.circuit === id);
          if (ci && members.length) lines.push(line(c, item, circuitLabel(ci), members, true));
        } else if (what === "zone") {
          const z = config.zones.find((x) => x.id === id);
          const members = mine.filter((m) => m.zones.includes(id) && !m.excluded && !m.head);
          if (z && members.length) lines.push(line(c, item, fr ? (z.labelFr ?? z.label) : z.label, members, true));
        } else if (what === "meter") {
          const m = mine.find((x) => x.id === id);
          if (m) lines.push(line(c, item, labelOf(m), [m], true));
        }
      }
      lines = lines.slice(0, 200);
    }
    const costCfg = (config.costs as TariffConfig[]).find((x) => x.commodity === k);
    let demand: ReportSection["demand"];
    if (elec && head && costCfg?.demand) {
      const ev = new TariffEvaluator(costCfg, clock);
      const periods: NonNullable<ReportSection["demand"]>["periods"] = [];
      for (const m of store.buckets("month", from, to)) {
        const bp = ev.billingPeriod(m + (costCfg.demand.billingStartDay - 1) * 86_400_000 + 12 * 3_600_000);
        if (bp.from >= c.until) break;
        const p = store.peakDemand(head.id, bp.from, Math.min(bp.to, c.until));
        periods.push({ from: bp.from, to: bp.to, peakKw: p.kw, at: p.at ?? null, price: ev.demandPrice(bp.from) ?? null });
      }
      const charge = periods.reduce<number | null>((a, p) => (a === null || p.price === null ? null : a + p.price * p.peakKw), 0);
      demand = { charge, periods };
    }
    sections.push({ commodity: k, unit: UNITS[k], currency: currency(k), lines, total, completeness: quality(c, [...c.used]), demand });
  }
  return { req, site: src.site, timezone: src.timezone, from, to, prevFrom, inProgress: now < to, generatedAt: now, bucket, starts, sections };
}

/** Share of the line's intervals that are estimated or missing (0–1). */
export function incompleteShare(l: Pick<ReportLine, "expected" | "estimated" | "missing">): number {
  return l.expected ? Math.min(1, (l.estimated + l.missing) / l.expected) : 0;
}
