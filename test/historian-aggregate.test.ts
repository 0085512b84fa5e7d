import { describe, expect, it } from "vitest";
import { aggregate, RunningRollup, type RollupRow, type Samples } from "../src/historian/aggregate.ts";
import { HistoryStore, openHistoryDb } from "../src/historian/store.ts";
import { Quality } from "../src/points/quality.ts";

/**
 * aggregate() (one pass, no closure per call: the close calls it ~40,000 times a quarter hour at
 * 20,000 points) against an independent computation: the interval walked millisecond by
 * millisecond, each millisecond's held value found by scanning the samples again.
 */

type S = { ts: number; v: number | string | null; q: number };

function reference(carry: S | undefined, samples: S[], a: number, b: number, hold: number) {
  const all = carry ? [carry, ...samples] : samples;
  let covered = samples.length > 0;
  let goodMs = 0;
  let sum = 0;
  let min: number | null = null;
  let max: number | null = null;
  let first: number | null = null;
  let last: number | null = null;
  for (let t = a; t < b; t++) {
    // The latest sample at or before t, if it still holds at t.
    let held: S | undefined;
    for (const s of all) if (s.ts <= t) held = s;
    if (!held || t >= held.ts + hold) continue;
    covered = true;
    if (held.q !== Quality.GOOD || typeof held.v !== "number") continue;
    goodMs++;
    sum += held.v;
    min = min === null ? held.v : Math.min(min, held.v);
    max = max === null ? held.v : Math.max(max, held.v);
    if (first === null) first = held.v;
    last = held.v;
  }
  if (!covered) return undefined;
  return { n: samples.length, goodMs, mean: goodMs ? sum / goodMs : null, min, max, first, last };
}

function rng(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

describe("aggregate", () => {
  it("matches a millisecond-by-millisecond integration: carries, holds running out, bad qualities, text and nulls", () => {
    const r = rng(16);
    const a = 1_000_000;
    const b = a + 2_000;
    for (let c = 0; c < 300; c++) {
      const hold = [150, 700, 5_000][c % 3]!;
      const kinds = (): S => {
        const x = r();
        const q = x < 0.15 ? Quality.COMM_FAIL : x < 0.25 ? Quality.STALE : Quality.GOOD;
        const v = r() < 0.05 ? "text" : r() < 0.05 ? null : Math.round(r() * 2000 - 1000) / 4;
        return { ts: 0, v, q };
      };
      const carry = r() < 0.7 ? { ...kinds(), ts: a - Math.floor(r() * 1_000) - 1 } : undefined;
      const times = [...new Set(Array.from({ length: Math.floor(r() * 8) }, () => a + Math.floor(r() * 2_000)))].sort((x, y) => x - y);
      const samples = times.map((ts) => ({ ...kinds(), ts }));
      const s: Samples = { ts: samples.map((x) => x.ts), v: samples.map((x) => x.v), q: samples.map((x) => x.q) };
      const got = aggregate(carry, s, 0, samples.length, a, b, hold);
      const want = reference(carry, samples, a, b, hold);
      // A close hands a numeric point's minute over as typed columns, NaN for no value: the same row.
      if (!samples.some((x) => typeof x.v === "string")) {
        const typed = { ts: Float64Array.from(s.ts), v: Float64Array.from(s.v, (v) => (v === null ? NaN : (v as number))), q: Int32Array.from(s.q) };
        expect(aggregate(carry, typed, 0, samples.length, a, b, hold), `case ${c} (typed)`).toEqual(got);
      }
      if (!want) {
        expect(got, `case ${c}`).toBeUndefined();
        continue;
      }
      expect(got, `case ${c}`).toBeDefined();
      expect({ ...got!, mean: null, ts: 0 }, `case ${c}`).toEqual({ ...want, mean: null, ts: 0 });
      if (want.mean === null) expect(got!.mean).toBeNull();
      else expect(got!.mean!).toBeCloseTo(want.mean, 9);
    }
  });

  it("uses only the samples in [lo, hi) of the arrays it is given", () => {
    const s: Samples = { ts: [0, 100, 200, 300], v: [50, 1, 2, 60], q: [Quality.GOOD, Quality.GOOD, Quality.GOOD, Quality.GOOD] };
    const r = aggregate({ ts: 50, v: 7, q: Quality.GOOD }, s, 1, 3, 100, 300, 1_000)!;
    expect(r).toEqual({ ts: 100, n: 2, goodMs: 200, mean: 1.5, min: 1, max: 2, first: 1, last: 2 });
  });
});

/**
 * RunningRollup (a quarter hour's row summed as the close writes its 1-minute rows) against the
 * SQL rollup it replaces (store.ts rollFrom) over the same rows written to a history file: the
 * same row bit for bit, or a quarter hour stored differently depending on which path closed it.
 */
describe("RunningRollup", () => {
  it("gives the SQL rollup's row bit for bit: good, bad and partly covered minutes, NaN, no row at all", () => {
    const db = openHistoryDb(":memory:");
    const store = new HistoryStore(db);
    const rand = rng(7);
    const POINTS = 300;
    const a = Date.UTC(2026, 0, 5, 10, 0);
    const b = a + 900_000;
    const sums = new RunningRollup(POINTS);
    const pick = <T,>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
    for (let i = 0; i < POINTS; i++) {
      sums.reset(i, a);
      for (let m = 0; m < 15; m++) {
        if (i % 10 === 0 || rand() < 0.2) continue; // no row for the minute (point 0, 10, …: none at all)
        const good = pick([0, 60_000, Math.floor(rand() * 60_000) + 1]);
        // Values of every scale (the compensated sum differs from a plain one on such mixes), some NaN.
        const v = () => (rand() < 0.03 ? NaN : (rand() - 0.5) * 10 ** Math.floor(rand() * 12 - 3));
        const xs = [v(), v(), v()].sort((x, y) => x - y);
        const r: RollupRow = good
          ? { ts: a + m * 60_000, n: Math.floor(rand() * 60), goodMs: good, mean: xs[1]!, min: xs[0]!, max: xs[2]!, first: v(), last: v() }
          : { ts: a + m * 60_000, n: Math.floor(rand() * 3), goodMs: 0, mean: null, min: null, max: null, first: null, last: null };
        store.upsertRow[0]!.run(i, r.ts, r.n, r.goodMs, r.mean, r.min, r.max, r.first, r.last);
        sums.fold(i, r);
      }
      store.rollFrom[1]!.run(i, a, b);
    }
    const sql = new Map((db.query("SELECT point, ts, n, good_ms AS goodMs, mean, min, max, first, last FROM h_15m").all() as (RollupRow & { point: number })[]).map((r) => [r.point, r]));
    let compared = 0;
    for (let i = 0; i < POINTS; i++) {
      const out = sums.row(i, { ts: 0, n: 0, goodMs: 0, mean: null, min: null, max: null, first: null, last: null });
      const want = sql.get(i);
      if (!want) {
        expect(out, `point ${i}`).toBeUndefined();
        continue;
      }
      const { point: _, ...row } = want;
      expect(out, `point ${i}`).toEqual(row);
      compared++;
    }
    expect(compared).toBeGreaterThan(200);
  });

  it("takes no row once invalidated, and none from before its interval", () => {
    const sums = new RunningRollup(1);
    const row = (ts: number): RollupRow => ({ ts, n: 1, goodMs: 60_000, mean: 5, min: 5, max: 5, first: 5, last: 5 });
    const out = (): RollupRow => ({ ts: 0, n: 0, goodMs: 0, mean: null, min: null, max: null, first: null, last: null });
    sums.reset(0, 900_000);
    sums.fold(0, row(840_000));
    expect(sums.row(0, out())).toBeUndefined();
    sums.fold(0, row(900_000));
    expect(sums.valid(0, 900_000)).toBe(true);
    expect(sums.row(0, out())?.n).toBe(1);
    sums.invalidate(0);
    expect(sums.valid(0, 900_000)).toBe(false);
  });
});
