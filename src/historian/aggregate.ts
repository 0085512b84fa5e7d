/**
 * Sample-and-hold aggregation. A stored sample's value holds until the next sample of its point, or
 * for at most `holdMs` (then the point is unknown: a gap). Only time covered by a GOOD sample counts:
 * a comm-fail or stale stretch is never averaged in as good, and a gap is never interpolated across.
 */
import { Quality } from "../points/quality.ts";

export interface RollupRow {
  ts: number;
  /** Samples stored inside the interval. */
  n: number;
  /** Milliseconds of the interval covered by good values (coverage = goodMs / interval length). */
  goodMs: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  first: number | null;
  last: number | null;
}

/** Samples as parallel arrays, sorted by time. */
export interface Samples {
  ts: number[];
  v: (number | string | null)[];
  q: number[];
}

/** Samples as any parallel columns (typed arrays in a close: NaN is no value, as null is). */
export interface SampleColumns {
  ts: ArrayLike<number>;
  v: ArrayLike<number | string | null>;
  q: ArrayLike<number>;
}

export function emptySamples(): Samples {
  return { ts: [], v: [], q: [] };
}

/** A row to fill (aggregate's `out`). */
export function emptyRow(): RollupRow {
  return { ts: 0, n: 0, goodMs: 0, mean: null, min: null, max: null, first: null, last: null };
}

/**
 * The row for [a, b) from `carry` (the last sample before a, if any) and the samples inside [lo, hi)
 * of `s` (all with a ≤ ts < b). Undefined when nothing covers the interval. With `out`, the row is
 * written there (a close reuses one row per use, consumed at once, instead of ~40,000 new objects).
 */
export function aggregate(
  carry: { ts: number; v: number | string | null; q: number } | undefined,
  s: SampleColumns,
  lo: number,
  hi: number,
  a: number,
  b: number,
  holdMs: number,
  out?: RollupRow,
): RollupRow | undefined {
  // One pass over the held segments (the carry's first), no closure per call: a quarter-hour close
  // calls this ~40,000 times at 20,000 points, and a closure each was ~6 MB of garbage (RSS).
  let covered = hi > lo;
  let sum = 0;
  let goodMs = 0;
  let min = NaN;
  let max = NaN;
  let first = NaN;
  let last = NaN;
  let any = false;
  for (let i = carry ? lo - 1 : lo; i < hi; i++) {
    const t0 = i < lo ? carry!.ts : s.ts[i]!;
    const v = i < lo ? carry!.v : s.v[i]!;
    const q = i < lo ? carry!.q : s.q[i]!;
    const t1 = i + 1 < hi ? s.ts[i + 1]! : b;
    const end = Math.min(t1, t0 + holdMs, b);
    const start = Math.max(t0, a);
    if (end <= start) continue;
    covered = true;
    if (q !== Quality.GOOD || typeof v !== "number" || v !== v) continue;
    const d = end - start;
    goodMs += d;
    sum += v * d;
    if (!any) {
      any = true;
      min = max = first = v;
    } else {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    last = v;
  }
  if (!covered) return undefined;
  const row = out ?? emptyRow();
  row.ts = a;
  row.n = hi - lo;
  row.goodMs = goodMs;
  // Clamped: rounding must never put a mean outside its own band.
  row.mean = goodMs > 0 ? Math.min(max, Math.max(min, sum / goodMs)) : null;
  row.min = any ? min : null;
  row.max = any ? max : null;
  row.first = any ? first : null;
  row.last = any ? last : null;
  return row;
}

/** A coarser row from finer rows of the same point (the SQL rollup does the same in store.ts). */
export function combine(ts: number, rows: readonly RollupRow[]): RollupRow | undefined {
  if (!rows.length) return undefined;
  const out: RollupRow = { ts, n: 0, goodMs: 0, mean: null, min: null, max: null, first: null, last: null };
  let sum = 0;
  for (const r of rows) {
    out.n += r.n;
    if (r.goodMs <= 0 || r.mean === null) continue;
    out.goodMs += r.goodMs;
    sum += r.mean * r.goodMs;
    if (out.min === null || r.min! < out.min) out.min = r.min;
    if (out.max === null || r.max! > out.max) out.max = r.max;
    if (out.first === null) out.first = r.first;
    out.last = r.last;
  }
  if (out.goodMs > 0) out.mean = Math.min(out.max!, Math.max(out.min!, sum / out.goodMs));
  return out;
}

/** NaN is what SQLite stores as NULL. */
function num(x: number): number | null {
  return x === x ? x : null;
}

/**
 * Each point's row of one open coarser interval, summed as its finer rows are written (the close
 * folds every row it writes; a start folds the stored ones), so the interval's row needs no read of
 * the finer rows when it closes: at 20,000 points the SQL rollup of a quarter hour was ~1.4 s of
 * CPU every 15 minutes. Bit for bit the SQL rollup's row (store.ts rollFrom): the same sums in the
 * same order, with SQLite's own Kahan–Babuska–Neumaier summation of REALs (func.c, since 3.43). A
 * point whose rows were written some other way (a repair) is not `valid` until the next interval
 * starts; the close rolls that one up in SQL.
 */
export class RunningRollup {
  /** Start of the interval each point's sums belong to (NaN: not valid). */
  private readonly from: Float64Array;
  private readonly rows: Int32Array;
  private readonly n: Float64Array;
  private readonly goodMs: Float64Array;
  private readonly sum: Float64Array;
  private readonly err: Float64Array;
  /** Good time of the rows with a mean (the mean's divisor). */
  private readonly meanMs: Float64Array;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  /** Time of the first good row (NaN: none yet), and the first and last good rows' first and last. */
  private readonly firstAt: Float64Array;
  private readonly first: Float64Array;
  private readonly last: Float64Array;

  constructor(size: number) {
    this.from = new Float64Array(size).fill(NaN);
    this.rows = new Int32Array(size);
    this.n = new Float64Array(size);
    this.goodMs = new Float64Array(size);
    this.sum = new Float64Array(size);
    this.err = new Float64Array(size);
    this.meanMs = new Float64Array(size);
    this.min = new Float64Array(size);
    this.max = new Float64Array(size);
    this.firstAt = new Float64Array(size);
    this.first = new Float64Array(size);
    this.last = new Float64Array(size);
  }

  /** Point i's sums start empty for the interval starting at `from`. */
  reset(i: number, from: number): void {
    this.from[i] = from;
    this.rows[i] = 0;
    this.n[i] = this.goodMs[i] = this.sum[i] = this.err[i] = this.meanMs[i] = 0;
    this.min[i] = this.max[i] = this.firstAt[i] = this.first[i] = this.last[i] = NaN;
  }

  /** Point i's rows are no longer all folded here (until the next reset). */
  invalidate(i: number): void {
    this.from[i] = NaN;
  }

  valid(i: number, from: number): boolean {
    return this.from[i] === from;
  }

  /** A finer row of point i, written in time order (the SQL rollup's columns one by one; NaN is NULL there). */
  fold(i: number, r: RollupRow): void {
    if (!(this.from[i]! <= r.ts)) return; // not valid, or a row before the interval
    this.rows[i]!++;
    this.n[i]! += r.n;
    this.goodMs[i]! += r.goodMs;
    const mean = r.mean;
    if (mean !== null && mean === mean) {
      const x = mean * r.goodMs;
      const s = this.sum[i]!;
      const t = s + x;
      this.err[i]! += Math.abs(s) > Math.abs(x) ? s - t + x : x - t + s;
      this.sum[i] = t;
      this.meanMs[i]! += r.goodMs;
      if (r.goodMs > 0) {
        if (this.firstAt[i]! !== this.firstAt[i]!) {
          this.firstAt[i] = r.ts;
          this.first[i] = r.first ?? NaN;
        }
        this.last[i] = r.last ?? NaN;
      }
    }
    const lo = r.min;
    if (lo !== null && lo === lo && !(lo >= this.min[i]!)) this.min[i] = lo; // NaN (no min yet) compares false
    const hi = r.max;
    if (hi !== null && hi === hi && !(hi <= this.max[i]!)) this.max[i] = hi;
  }

  /** Point i's row for its interval into `out` (undefined when no finer row was written). Only when valid. */
  row(i: number, out: RollupRow): RollupRow | undefined {
    if (!this.rows[i]) return undefined;
    const min = this.min[i]!;
    const max = this.max[i]!;
    const meanMs = this.meanMs[i]!;
    const err = this.err[i]!;
    const total = Number.isFinite(err) ? this.sum[i]! + err : this.sum[i]!;
    out.ts = this.from[i]!;
    out.n = this.n[i]!;
    out.goodMs = this.goodMs[i]!;
    // SQLite's scalar min/max are NULL when an argument is.
    out.mean = meanMs !== 0 && min === min && max === max ? num(Math.min(Math.max(total / meanMs, min), max)) : null;
    out.min = num(min);
    out.max = num(max);
    out.first = num(this.first[i]!);
    out.last = num(this.last[i]!);
    return out;
  }
}
