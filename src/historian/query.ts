import { qualityName, Quality } from "../points/quality.ts";
import { aggregate, combine, type RollupRow, type Samples } from "./aggregate.ts";
import { OFFLINE, type Historian } from "./historian.ts";
import { TIERS } from "./tiers.ts";

/**
 * Trend queries: the finest tier whose points over the range fit in `max` (and whose retention
 * still covers the start), its stored rows, then the part not rolled up yet computed on the fly
 * from the next finer tier down to raw samples and the queue not yet committed, so the series runs
 * up to now without a seam. Raw series also take the live ring's 1 s samples after the last stored
 * sample. Gaps are explicit nulls: a sample that is not good, a hold that ran out, a missing interval.
 */

export type TierName = "raw" | (typeof TIERS)[number]["id"];

export interface Series {
  id: string;
  unit: string;
  tier: TierName;
  /** Interval of an aggregated tier (nominal for days and months); null for raw samples. */
  intervalMs: number | null;
  from: number;
  to: number;
  t: number[];
  /** Raw: the value (null = gap). Aggregated: the time-weighted mean of good time. */
  v: (number | string | null)[];
  /** Aggregated tiers: the band. */
  min?: (number | null)[];
  max?: (number | null)[];
  /** Aggregated tiers: fraction of the interval covered by good values. */
  coverage?: number[];
  /** Raw: quality name per sample. */
  q?: string[];
  /** Raw: how many trailing samples came from the live ring. */
  live?: number;
}

export type Ring = (index: number, from: number, to: number) => { t: number[]; v: number[] };

export const DEFAULT_MAX = 2000;

/** The tier a range is served from: -1 = raw, else an index into TIERS. */
export function chooseTier(h: Historian, i: number, from: number, to: number, max: number, now = Date.now()): number {
  const cut = h.cutoffs(now);
  if (from >= cut[0]!) {
    let stored = h.store.rawCount(h.pid[i]!, from, to, max + 1);
    const o = h.open;
    for (let k = o.first(i); k >= 0; k = o.after(k)) {
      const t = o.tsAt(k);
      if (t >= from && t < to) stored++;
    }
    if (stored <= max) return -1;
  }
  for (let k = 0; k < TIERS.length; k++) if ((to - from) / TIERS[k]!.ms <= max && from >= cut[k + 1]!) return k;
  return TIERS.length - 1;
}

type RawRow = { ts: number; v: number | string | null; q: number };

/**
 * Samples of [from, to), with the last one before `from`: h_raw, then the open minutes' committed
 * samples (held in memory, see Historian.open), then the queue not committed yet.
 */
function rawSamples(h: Historian, i: number, from: number, to: number): { carry: RawRow | undefined; s: Samples } {
  const pid = h.pid[i]!;
  const s = h.store.raw(pid, from, to);
  const o = h.open;
  let carry: RawRow | undefined;
  for (let k = o.first(i); k >= 0; k = o.after(k)) {
    const t = o.tsAt(k);
    if (t < from) carry = { ts: t, v: o.valueAt(k), q: o.qualityAt(k) };
    else if (t < to) mergeIn(s, t, o.valueAt(k), o.qualityAt(k));
  }
  carry ??= h.store.rawBefore(pid, from) ?? undefined;
  const p = h.pending(i, from);
  for (let k = 0; k < p.ts.length; k++) if (p.ts[k]! < to) mergeIn(s, p.ts[k]!, p.v[k]!, p.q[k]!);
  return { carry, s };
}

/** Inserts a sample in time order (usually at the end); the same time replaces. */
function mergeIn(s: Samples, t: number, v: number | string | null, q: number): void {
  let at = s.ts.length;
  while (at > 0 && s.ts[at - 1]! > t) at--;
  if (at > 0 && s.ts[at - 1] === t) {
    s.v[at - 1] = v;
    s.q[at - 1] = q;
  } else if (at === s.ts.length) {
    s.ts.push(t);
    s.v.push(v);
    s.q.push(q);
  } else {
    s.ts.splice(at, 0, t);
    s.v.splice(at, 0, v);
    s.q.splice(at, 0, q);
  }
}

/** Tier k's rows of [a, b): stored where closed, computed from the finer tier beyond. */
function rows(h: Historian, i: number, k: number, a: number, b: number): RollupRow[] {
  const closed = h.storedTo(k, i);
  const out = a < closed ? (h.store.tierRange[k]!.all(h.pid[i]!, a, Math.min(b, closed)) as RollupRow[]) : [];
  const tailFrom = Math.max(a, closed);
  if (tailFrom >= b) return out;
  const cal = h.calendar;
  if (k === 0) {
    const { carry, s } = rawSamples(h, i, tailFrom, b);
    let c: RawRow | undefined = carry;
    let lo = 0;
    for (let m = cal.start(0, tailFrom); m < b; m += 60_000) {
      let hi = lo;
      while (hi < s.ts.length && s.ts[hi]! < m + 60_000) hi++;
      const r = aggregate(c, s, lo, hi, m, m + 60_000, h.holdMs[i]!);
      if (r) out.push(r);
      if (hi > lo) c = { ts: s.ts[hi - 1]!, v: s.v[hi - 1]!, q: s.q[hi - 1]! };
      lo = hi;
    }
    return out;
  }
  const finer = rows(h, i, k - 1, tailFrom, b);
  let group: RollupRow[] = [];
  let gStart = NaN;
  const emit = () => {
    const r = combine(gStart, group);
    if (r) out.push(r);
  };
  for (const r of finer) {
    const s = cal.start(k, r.ts);
    if (s !== gStart) {
      if (group.length) emit();
      group = [];
      gStart = s;
    }
    group.push(r);
  }
  if (group.length) emit();
  return out;
}

export function series(h: Historian, i: number, from: number, to: number, tier: number, ring?: Ring): Series {
  const p = h.points[i]!;
  const base = { id: p.name, unit: p.unit, from, to };
  if (tier < 0 || p.kind === "text") {
    const { carry, s } = rawSamples(h, i, from, to);
    const hold = h.holdMs[i]!;
    const t: number[] = [];
    const v: (number | string | null)[] = [];
    const q: string[] = [];
    const push = (ts: number, val: number | string | null, qual: number) => {
      t.push(ts);
      v.push(qual === Quality.GOOD ? val : null);
      q.push(qual === OFFLINE ? "no-data" : qualityName(qual));
    };
    const all: RawRow[] = [];
    if (carry && carry.ts + hold > from) all.push({ ts: from, v: carry.v, q: carry.q });
    for (let k = 0; k < s.ts.length; k++) all.push({ ts: s.ts[k]!, v: s.v[k]!, q: s.q[k]! });
    let live = 0;
    if (ring) {
      const lastTs = all.length ? all[all.length - 1]!.ts : -Infinity;
      const r = ring(i, Math.max(from, lastTs + 1), to);
      for (let k = 0; k < r.t.length; k++) {
        if (Number.isNaN(r.v[k]!) || r.t[k]! <= lastTs) continue;
        all.push({ ts: r.t[k]!, v: r.v[k]!, q: Quality.GOOD });
        live++;
      }
    }
    for (let k = 0; k < all.length; k++) {
      const r = all[k]!;
      push(r.ts, r.v, r.q);
      const next = k + 1 < all.length ? all[k + 1]!.ts : Math.min(to, Date.now());
      // A value holds for its hold at most: beyond, the point is unknown (a gap, not a flat line).
      if (r.q === Quality.GOOD && next - r.ts > hold && r.ts + hold < to) push(r.ts + hold, null, OFFLINE);
    }
    return { ...base, tier: "raw", intervalMs: null, t, v, q, live };
  }
  const cal = h.calendar;
  const a = cal.start(tier, from);
  const closed = h.storedTo(tier, i);
  // Stored intervals as arrays (the long-range path), then the ones not rolled up yet, computed.
  const stored = a < closed ? (h.store.tierView[tier]!.values(h.pid[i]!, a, Math.min(to, closed)) as [number, number, number | null, number | null, number | null][]) : [];
  const tail = closed < to ? rows(h, i, tier, Math.max(a, closed), to).map((r) => [r.ts, r.goodMs, r.mean, r.min, r.max] as [number, number, number | null, number | null, number | null]) : [];
  const t: number[] = [];
  const v: (number | null)[] = [];
  const min: (number | null)[] = [];
  const max: (number | null)[] = [];
  const coverage: number[] = [];
  const fixed = tier <= 1 || (tier === 2 && h.calendar.timeZone === "UTC");
  const len = TIERS[tier]!.ms;
  let expected = NaN;
  for (const list of [stored, tail])
    for (const [ts, goodMs, mean, lo, hi] of list) {
      // A missing interval is a gap: a null at its start breaks the line.
      if (expected === expected && ts > expected) {
        t.push(expected);
        v.push(null);
        min.push(null);
        max.push(null);
        coverage.push(0);
      }
      const next = fixed ? ts + len : cal.next(tier, ts);
      const good = goodMs > 0;
      t.push(ts);
      v.push(good ? mean : null);
      min.push(good ? lo : null);
      max.push(good ? hi : null);
      coverage.push(Math.min(1, goodMs / (next - ts)));
      expected = next;
    }
  return { ...base, tier: TIERS[tier]!.id, intervalMs: TIERS[tier]!.ms, t, v, min, max, coverage };
}

/** Several points over one range, all at the coarsest of the tiers each would pick (their times line up). */
export function multiSeries(h: Historian, indexes: number[], from: number, to: number, max = DEFAULT_MAX, ring?: Ring): Series[] {
  const now = Date.now();
  let tier = -1;
  for (const i of indexes) tier = Math.max(tier, chooseTier(h, i, from, to, max, now));
  return indexes.map((i) => series(h, i, from, to, tier, ring));
}
