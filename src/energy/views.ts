/**
 * What the energy pages show, computed on the server (one code path for the page, its JSON and its
 * CSV): the period's buckets, one series per circuit/zone/meter, the previous period beside it,
 * totals and the cost share. Bad data never enters a value (it stays `held`); estimated and missing
 * buckets carry their flags so the page marks them.
 */
import { Flag } from "./counters.ts";
import type { Bucket, BucketRow, EnergyStore } from "./store.ts";
import { circuitsOf, type EnergyConfig, type ResolvedMeter } from "./structure.ts";
import type { LocalClock, TariffEvaluator } from "./tariffs.ts";
import { energyQuality } from "../exports/energy.ts";
import { headerLine, num, withUnit, type CsvFormat } from "../exports/format.ts";
import { OffsetFormatter } from "../journal/time.ts";

export const VIEWS = ["total", "partial", "compare", "details", "cost"] as const;
export const PERIODS = ["day", "month", "year", "decade"] as const;
export type ViewKind = (typeof VIEWS)[number];
export type PeriodKind = (typeof PERIODS)[number];

export interface ViewRequest {
  view: ViewKind;
  period: PeriodKind;
  /** Any instant inside the period shown. */
  at: number;
  group?: "circuits" | "zones";
  a?: string;
  b?: string;
  lang: "fr" | "en";
}

export interface Series {
  id: string;
  label: string;
  color: string;
  value: number[];
  cost: (number | null)[];
  held: number[];
  flags: number[];
  /** Stacked with the others (parts of one total) or drawn side by side (zones overlap). */
  stacked: boolean;
}

export interface EnergyView {
  req: ViewRequest;
  bucket: Bucket;
  from: number;
  to: number;
  prevFrom: number;
  nextAt: number;
  prevAt: number;
  starts: number[];
  unit: string;
  currency: string;
  series: Series[];
  /** The same total over the previous period, bucket by bucket (previous day, month, year, decade). */
  previous: { label: string; value: number[]; flags: number[] } | undefined;
  /**
   * `missing`: buckets already over (of `elapsed`) that no meter of the total reached: the total
   * counts only the others, and the page says so.
   */
  total: { value: number; cost: number | null; flags: number; held: number; missing: number; elapsed: number };
  previousTotal: { value: number; cost: number | null } | undefined;
  share: { id: string; label: string; value: number; cost: number | null; pct: number }[];
  /** Demand charge over the billing period holding the view (month view only). */
  demand?: { peakKw: number; at: number | undefined; price: number | undefined; charge: number | undefined };
  meters: { id: string; label: string }[];
}

/** Muted ISA-101 hues: distinguishable, none of them an alarm colour. */
const PALETTE = ["#5b7fa6", "#7a9a6a", "#a38b5c", "#8a6f9e", "#5f9aa0", "#9c7b7b", "#6f7f8f", "#8f9a5b", "#7d8fb3", "#a0876f", "#6a8f86", "#94859e", "#7f8a70", "#9a9a9a"];
const REMAINDER_COLOR = "#c9ccd1";

export function periodRange(clock: LocalClock, store: EnergyStore, period: PeriodKind, at: number): { from: number; to: number; bucket: Bucket; prevFrom: number } {
  const p = clock.parts(at);
  if (period === "day") {
    const from = clock.fromLocal(p.year, p.month, p.day);
    return { from, to: store.cal.next(3, from), bucket: "hour", prevFrom: store.cal.start(3, from - 1) };
  }
  if (period === "month") {
    const from = clock.fromLocal(p.year, p.month, 1);
    return { from, to: store.cal.next(4, from), bucket: "day", prevFrom: store.cal.start(4, from - 1) };
  }
  if (period === "year") return { from: clock.fromLocal(p.year, 1, 1), to: clock.fromLocal(p.year + 1, 1, 1), bucket: "month", prevFrom: clock.fromLocal(p.year - 1, 1, 1) };
  return { from: clock.fromLocal(p.year - 9, 1, 1), to: clock.fromLocal(p.year + 1, 1, 1), bucket: "year", prevFrom: clock.fromLocal(p.year - 19, 1, 1) };
}

function label(m: { id: string; label?: string }): string {
  return m.label ?? m.id;
}

function sumRows(rowsList: BucketRow[][], n: number): { value: number[]; cost: (number | null)[]; held: number[]; flags: number[] } {
  const value = new Array<number>(n).fill(0);
  const cost = new Array<number | null>(n).fill(0);
  const held = new Array<number>(n).fill(0);
  const flags = new Array<number>(n).fill(rowsList.length ? Flag.MISSING : 0);
  for (const rows of rowsList)
    rows.forEach((r, i) => {
      value[i]! += r.value;
      held[i]! += r.held;
      // A bucket is missing only when every member is; else its members' other flags.
      flags[i] = (flags[i]! & r.flags & Flag.MISSING) | ((flags[i]! | r.flags) & ~Flag.MISSING);
      cost[i] = cost[i] === null || r.cost === null ? null : cost[i]! + r.cost;
    });
  return { value, cost, held, flags };
}

export function buildView(store: EnergyStore, clock: LocalClock, config: EnergyConfig, meters: readonly ResolvedMeter[], ev: TariffEvaluator | undefined, req: ViewRequest, now = Date.now()): EnergyView {
  const { from, to, bucket, prevFrom } = periodRange(clock, store, req.period, req.at);
  const starts = store.buckets(bucket, from, to);
  const n = starts.length;
  const elec = meters.filter((m) => m.commodity === "electricity");
  const head = elec.find((m) => m.head);
  const parts = elec.filter((m) => !m.excluded && !m.head);
  const fr = req.lang === "fr";
  const hist = (id: string, f = from, t = to, s = starts) => store.histogram(id, bucket, f, t, s);
  const series: Series[] = [];
  const circuits = circuitsOf(config);
  const byCircuit = () => {
    circuits.forEach((c, k) => {
      const members = parts.filter((m) => m.circuit === c.id);
      if (!members.length) return;
      const s = sumRows(members.map((m) => hist(m.id)), n);
      series.push({ id: c.id, label: fr ? (c.labelFr ?? c.label) : c.label, color: PALETTE[k % PALETTE.length]!, ...s, stacked: true });
    });
  };
  const remainder = (headRows: BucketRow[]) => {
    if (!head) return;
    const under = parts.filter((m) => m.parent === head.id);
    const sub = sumRows(under.map((m) => hist(m.id)), n);
    const h = sumRows([headRows], n);
    series.push({
      id: "unmetered",
      label: fr ? "Non mesuré (reste)" : "Unmetered (remainder)",
      color: REMAINDER_COLOR,
      value: h.value.map((v, i) => v - sub.value[i]!),
      cost: h.cost.map((c, i) => (c === null || sub.cost[i] === null ? null : c - sub.cost[i]!)),
      held: h.held, // the head's own held data; its sub-meters' is in their lines
      flags: h.flags.map((f, i) => f | sub.flags[i]!),
      stacked: true,
    });
  };
  let totalOf: (f: number, t: number, s: number[]) => { value: number[]; flags: number[]; cost: (number | null)[]; held: number[] };
  if (req.view === "total" || req.view === "cost") {
    byCircuit();
    if (head) remainder(hist(head.id));
    totalOf = (f, t, s) => (head ? sumRows([store.histogram(head.id, bucket, f, t, s)], s.length) : sumRows(parts.map((m) => store.histogram(m.id, bucket, f, t, s)), s.length));
  } else if (req.view === "partial") {
    if (req.group === "zones")
      config.zones.forEach((z, k) => {
        const members = elec.filter((m) => m.zones.includes(z.id) && !m.excluded && !m.head);
        if (members.length) series.push({ id: z.id, label: fr ? (z.labelFr ?? z.label) : z.label, color: PALETTE[k % PALETTE.length]!, ...sumRows(members.map((m) => hist(m.id)), n), stacked: false });
      });
    else byCircuit();
    totalOf = (f, t, s) => sumRows(parts.map((m) => store.histogram(m.id, bucket, f, t, s)), s.length);
  } else {
    const a = meters.find((m) => m.id === req.a) ?? head ?? meters[0];
    const b = req.view === "compare" ? meters.find((m) => m.id === req.b && m.id !== a?.id) : undefined;
    if (a) series.push({ id: a.id, label: label(a), color: PALETTE[0]!, ...sumRows([hist(a.id)], n), stacked: false });
    if (b) series.push({ id: b.id, label: label(b), color: PALETTE[3]!, ...sumRows([hist(b.id)], n), stacked: false });
    totalOf = (f, t, s) => (a ? sumRows([store.histogram(a.id, bucket, f, t, s)], s.length) : { value: [], flags: [], cost: [], held: [] });
  }
  // The previous period, bucket for bucket (a 31-day month beside a 30-day one: the extra day has none).
  const prevStarts = store.buckets(bucket, prevFrom, from);
  const prevRaw = totalOf(prevFrom, from, prevStarts);
  const previous = { label: fr ? "Période précédente" : "Previous period", value: starts.map((_, i) => prevRaw.value[i] ?? NaN), flags: starts.map((_, i) => prevRaw.flags[i] ?? Flag.MISSING) };
  const cur = totalOf(from, to, starts);
  // Held data and quality marks from everything drawn; the cost is that of the total shown.
  // (Zones share devices: held data is counted from the total's members, once.)
  let flags = 0;
  for (const s of series) for (let i = 0; i < n; i++) flags |= s.flags[i]! & ~Flag.MISSING;
  for (const f of cur.flags) flags |= f & ~Flag.MISSING;
  let held = cur.held.reduce((x, y) => x + y, 0);
  if (head && (req.view === "total" || req.view === "cost")) for (const s of series) if (s.id !== "unmetered") held += s.held.reduce((x, y) => x + y, 0);
  // Buckets already over with nothing from the total's meters; the one in progress is not missing yet.
  let elapsed = 0;
  let missing = 0;
  starts.forEach((ts, i) => {
    if ((starts[i + 1] ?? to) > now) return;
    elapsed++;
    if ((cur.flags[i] ?? Flag.MISSING) & Flag.MISSING) missing++;
  });
  const costSum = cur.cost.reduce<number | null>((x, y) => (x === null || y === null ? null : x + y), 0);
  const totalValue = cur.value.reduce((x, y) => x + y, 0);
  const shareBase = series.filter((s) => s.stacked);
  const share = shareBase.map((s) => {
    const value = s.value.reduce((x, y) => x + y, 0);
    const cost = s.cost.some((c) => c === null) ? null : s.cost.reduce((x: number, y) => x + (y ?? 0), 0);
    return { id: s.id, label: s.label, value, cost, pct: totalValue ? (100 * value) / totalValue : 0 };
  });
  const prevValid = prevRaw.value.length > 0 && prevRaw.flags.some((f) => !(f & Flag.MISSING));
  const step = (dir: 1 | -1) => {
    if (dir === -1) return from - 1;
    return to;
  };
  let demand: EnergyView["demand"];
  if (ev && head && ev.config.demand && req.period === "month" && (req.view === "cost" || req.view === "total")) {
    const bp = ev.billingPeriod(from + 12 * 3_600_000);
    const peak = store.peakDemand(head.id, bp.from, bp.to);
    const price = ev.demandPrice(bp.from);
    demand = { peakKw: peak.kw, at: peak.at, price, charge: price === undefined ? undefined : price * peak.kw };
  }
  return {
    req,
    bucket,
    from,
    to,
    prevFrom,
    prevAt: step(-1),
    nextAt: step(1),
    starts,
    unit: "kWh",
    currency: ev?.config.currency ?? "",
    series,
    previous: prevValid ? previous : undefined,
    total: { value: totalValue, cost: req.view === "compare" ? null : costSum, flags, held, missing, elapsed },
    previousTotal: prevValid ? { value: prevRaw.value.reduce((x, y) => x + y, 0), cost: null } : undefined,
    share,
    demand,
    meters: meters.map((m) => ({ id: m.id, label: label(m) })),
  };
}

/**
 * The view as CSV: one row per bucket, every series' kWh, cost, held bad data and quality, the
 * previous period; in the shared format (src/exports/format.ts). Given a time formatter instead of
 * a format (the first callers), `,` and `.` with that formatter's times.
 */
export function viewCsv(v: EnergyView, format: CsvFormat | ((ts: number) => string)): string {
  const f: CsvFormat = typeof format === "function" ? { sep: ",", decimal: ".", timeZone: "UTC" } : format;
  const time = typeof format === "function" ? format : ((o) => (ts: number) => o.format(ts))(new OffsetFormatter(f.timeZone));
  const sep = f.sep;
  const head = ["start"];
  for (const s of v.series) head.push(withUnit(s.label, v.unit), withUnit(`${s.label} cost`, v.currency), withUnit(`${s.label} held bad`, v.unit), `${s.label} quality`);
  if (v.previous) head.push(withUnit(v.previous.label, v.unit));
  let out = headerLine(head, sep);
  v.starts.forEach((ts, i) => {
    const row = [time(ts)];
    for (const s of v.series) {
      // A bucket no meter reached is unknown: empty cells, "missing", never 0.
      const known = !(s.flags[i]! & Flag.MISSING) || s.value[i] !== 0;
      row.push(known ? num(s.value[i]!, f, 3) : "", known ? num(s.cost[i], f, 3) : "", num(s.held[i]!, f, 3), energyQuality(s.flags[i]!));
    }
    if (v.previous) row.push(num(v.previous.value[i], f, 3));
    out += row.join(sep) + "\r\n";
  });
  return out;
}
