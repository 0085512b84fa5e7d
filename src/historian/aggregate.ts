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

export function emptySamples(): Samples {
  return { ts: [], v: [], q: [] };
}

/**
 * The row for [a, b) from `carry` (the last sample before a, if any) and the samples inside [lo, hi)
 * of `s` (all with a ≤ ts < b). Undefined when nothing covers the interval.
 */
export function aggregate(
  carry: { ts: number; v: number | string | null; q: number } | undefined,
  s: Samples,
  lo: number,
  hi: number,
  a: number,
  b: number,
  holdMs: number,
): RollupRow | undefined {
  const row: RollupRow = { ts: a, n: hi - lo, goodMs: 0, mean: null, min: null, max: null, first: null, last: null };
  let covered = hi > lo;
  let sum = 0;
  const seg = (t0: number, v: number | string | null, q: number, t1: number) => {
    const end = Math.min(t1, t0 + holdMs, b);
    const start = Math.max(t0, a);
    if (end <= start) return;
    covered = true;
    if (q !== Quality.GOOD || typeof v !== "number") return;
    const d = end - start;
    row.goodMs += d;
    sum += v * d;
    if (row.min === null || v < row.min) row.min = v;
    if (row.max === null || v > row.max) row.max = v;
    if (row.first === null) row.first = v;
    row.last = v;
  };
  if (carry) seg(carry.ts, carry.v, carry.q, lo < hi ? s.ts[lo]! : b);
  for (let i = lo; i < hi; i++) seg(s.ts[i]!, s.v[i]!, s.q[i]!, i + 1 < hi ? s.ts[i + 1]! : b);
  if (!covered) return undefined;
  // Clamped: rounding must never put a mean outside its own band.
  if (row.goodMs > 0) row.mean = Math.min(row.max!, Math.max(row.min!, sum / row.goodMs));
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
