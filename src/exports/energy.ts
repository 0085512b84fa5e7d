import { Flag } from "../energy/counters.ts";
import type { Bucket, EnergyStore } from "../energy/store.ts";
import { circuitsOf, type EnergyConfig, type ResolvedMeter } from "../energy/structure.ts";
import { OffsetFormatter } from "../journal/time.ts";
import { cell, headerLine, num, withUnit, type CsvFormat } from "./format.ts";

/**
 * Energy and cost as CSV over any range: per meter (device), zone, circuit or the site total, per
 * 15-minute interval, hour, day or month, in the shared format (format.ts). Each group has its
 * consumption (kWh or m³), its cost (in the tariff's currency), the bad data held apart and a
 * quality column: good, estimated, corrected, bad (held apart, not counted), incomplete (some of
 * the group's meters have no data, or part of the interval lies in a gap), missing (no data at
 * all: empty cells, never 0).
 * Produced in time chunks (a week of intervals, a year of days): memory does not grow with the range.
 */

export const ENERGY_BY = ["meter", "circuit", "zone", "total"] as const;
export type EnergyBy = (typeof ENERGY_BY)[number];
export const ENERGY_BUCKETS = ["15m", "hour", "day", "month"] as const;
export type EnergyBucket = (typeof ENERGY_BUCKETS)[number];

export interface EnergyExport {
  store: EnergyStore;
  config: EnergyConfig;
  meters: readonly ResolvedMeter[];
  by: EnergyBy;
  bucket: EnergyBucket;
  from: number;
  to: number;
  format: CsvFormat;
  lang?: "fr" | "en";
  /** Called after each chunk with the share of the range done (progress). */
  progress?: (done: number) => void;
}

/** A column group: the sum of `plus` meters less the `minus` ones (a head meter's unmetered rest). */
interface Group {
  label: string;
  unit: string;
  currency: string;
  plus: string[];
  minus: string[];
}

const INCOMPLETE = 1 << 8;

/** Groups of the export, in the page's order (circuits as on /energy, the remainder last). */
export function energyGroups(x: Pick<EnergyExport, "config" | "meters" | "by" | "lang">): Group[] {
  const fr = x.lang === "fr";
  const currency = (c: string) => x.config.costs.find((k) => k.commodity === c)?.currency ?? "";
  const unit = (c: string) => (c === "electricity" ? "kWh" : "m³");
  const elec = x.meters.filter((m) => m.commodity === "electricity");
  const parts = elec.filter((m) => !m.excluded && !m.head);
  const head = elec.find((m) => m.head);
  const g = (label: string, plus: string[], minus: string[] = [], commodity = "electricity"): Group => ({ label, unit: unit(commodity), currency: currency(commodity), plus, minus });
  if (x.by === "meter") return x.meters.map((m) => g(m.label ?? m.id, [m.id], [], m.commodity));
  if (x.by === "total") {
    const out: Group[] = [];
    for (const c of ["electricity", "gas", "water"] as const) {
      const ms = x.meters.filter((m) => m.commodity === c);
      if (!ms.length) continue;
      const h = ms.find((m) => m.head);
      const label = fr ? `Total ${c === "electricity" ? "électricité" : c === "gas" ? "gaz" : "eau"}` : `Total ${c}`;
      out.push(g(label, h ? [h.id] : ms.filter((m) => !m.excluded).map((m) => m.id), [], c));
    }
    return out;
  }
  if (x.by === "zone")
    return x.config.zones
      .map((z) => g(fr ? (z.labelFr ?? z.label) : z.label, parts.filter((m) => m.zones.includes(z.id)).map((m) => m.id)))
      .filter((z) => z.plus.length);
  const out = circuitsOf(x.config)
    .map((c) => g(fr ? (c.labelFr ?? c.label) : c.label, parts.filter((m) => m.circuit === c.id).map((m) => m.id)))
    .filter((c) => c.plus.length);
  // The head meter's consumption its sub-meters do not explain: the circuits then add up to the site.
  if (head) out.push(g(fr ? "Non mesuré (reste)" : "Unmetered (remainder)", [head.id], parts.filter((m) => m.parent === head.id).map((m) => m.id)));
  return out;
}

export function energyQuality(flags: number): string {
  if (flags & Flag.MISSING) return "missing";
  if (flags & Flag.BAD) return "bad";
  if (flags & INCOMPLETE) return "incomplete";
  if (flags & Flag.ESTIMATED) return "estimated";
  if (flags & Flag.ADMIN) return "corrected";
  return "good";
}

const TIER: Record<EnergyBucket, number> = { "15m": 1, hour: 2, day: 3, month: 4 };
/** Rows per chunk stay bounded whatever the range: a week of intervals, a quarter of hours, a year of days. */
const CHUNK_MS: Record<EnergyBucket, number> = { "15m": 7 * 86_400_000, hour: 92 * 86_400_000, day: 366 * 86_400_000, month: Infinity };

interface Cell {
  value: number;
  held: number;
  flags: number;
  cost: number | null;
}

export function* energyCsv(x: EnergyExport): Generator<string> {
  const f = x.format;
  const sep = f.sep;
  const fmt = new OffsetFormatter(f.timeZone);
  const groups = energyGroups(x);
  const head = ["start"];
  for (const g of groups) head.push(withUnit(g.label, g.unit), withUnit(`${g.label} cost`, g.currency), withUnit(`${g.label} held bad`, g.unit), `${g.label} quality`);
  yield headerLine(head, sep);
  const cal = x.store.cal;
  const tier = TIER[x.bucket];
  const ids = [...new Set(groups.flatMap((g) => [...g.plus, ...g.minus]))];
  // A chunk is produced in one go on the main thread: it shrinks with the meters read, so that no
  // chunk stalls polling or pages (bench/export.bench.ts measures the longest).
  const span = CHUNK_MS[x.bucket] * Math.min(1, 5 / Math.max(1, ids.length));
  let a = cal.start(tier, x.from);
  while (a < x.to) {
    let b = Math.min(x.to, a + span);
    if (b < x.to) b = cal.start(tier, b);
    if (b <= a) b = cal.next(tier, a);
    const starts = x.bucket === "15m" ? quarterHours(a, b) : x.store.buckets(x.bucket, a, b);
    const rows = new Map<string, Cell[]>(ids.map((id) => [id, x.bucket === "15m" ? intervals(x.store, id, starts) : x.store.histogram(id, x.bucket as Bucket, a, b, starts)]));
    let out = "";
    for (let i = 0; i < starts.length; i++) {
      let line = fmt.format(starts[i]!);
      for (const g of groups) {
        const c = combine(g, rows, i);
        line += sep + num(c.value, f, 3) + sep + num(c.cost, f, 3) + sep + num(c.held, f, 3) + sep + cell(energyQuality(c.flags), sep);
      }
      out += line + "\r\n";
    }
    yield out;
    x.progress?.(Math.min(1, (b - x.from) / Math.max(1, x.to - x.from)));
    a = b;
  }
}

function quarterHours(a: number, b: number): number[] {
  const out: number[] = [];
  for (let t = a; t < b; t += 900_000) out.push(t);
  return out;
}

/** A meter's stored intervals on the given starts; an interval never written is missing, not 0. */
function intervals(store: EnergyStore, id: string, starts: number[]): Cell[] {
  const out: Cell[] = starts.map(() => ({ value: 0, held: 0, flags: Flag.MISSING, cost: null }));
  if (!starts.length) return out;
  const first = starts[0]!;
  for (const r of store.intervals(id, first, starts.at(-1)! + 900_000)) {
    const k = Math.round((r.ts - first) / 900_000);
    if (k >= 0 && k < out.length) out[k] = { value: r.value, held: r.held, flags: r.flags, cost: r.value ? r.cost : (r.cost ?? 0) };
  }
  return out;
}

/** The group's sum for bucket i: missing when every member is, incomplete when some are; no cost when a part has none. */
function combine(g: Group, rows: Map<string, Cell[]>, i: number): { value: number | null; cost: number | null; held: number | null; flags: number } {
  let value = 0;
  let held = 0;
  let cost: number | null = 0;
  let flags = 0;
  let missing = 0;
  const all = g.plus.length + g.minus.length;
  for (const [ids, sign] of [[g.plus, 1], [g.minus, -1]] as const)
    for (const id of ids) {
      const r = rows.get(id)![i]!;
      // No interval at all (a histogram bucket no interval reached reads missing and 0).
      if (r.flags & Flag.MISSING && r.value === 0 && r.held === 0) {
        missing++;
        continue;
      }
      value += sign * r.value;
      if (sign > 0) held += r.held;
      // A stored interval's MISSING bit: part of it lies in a gap — the value is incomplete.
      flags |= (r.flags & ~Flag.MISSING) | (r.flags & Flag.MISSING ? INCOMPLETE : 0);
      cost = cost === null || r.cost === null ? null : cost + sign * r.cost;
    }
  if (all && missing === all) return { value: null, cost: null, held: null, flags: Flag.MISSING };
  if (missing) flags |= INCOMPLETE;
  return { value, cost, held, flags };
}
