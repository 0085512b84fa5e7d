import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDirs } from "./helpers/tmp.ts";
import { historianSchema } from "../src/historian/config.ts";
import { Historian } from "../src/historian/historian.ts";
import type { HistPoint } from "../src/historian/points.ts";
import { series } from "../src/historian/query.ts";
import { Quality } from "../src/points/quality.ts";

/**
 * A minute's close writes 1-minute rows only for the points with a sample in that minute; the
 * minutes a point only carried its value through are written at its next sample or when the quarter
 * hour closes (or at a stop, or recomputed after a crash). Queries give the same answer whether those rows are written
 * yet or not, and the same as rows written every minute (checked against a point written every minute).
 */

const tmp = tempDirs("carried");
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0); // a quarter hour
const QUARTER = T0 + 900_000;
const point = (i: number): HistPoint => ({ index: i, name: `C.p${i}`, device: "C", kind: "analog", unit: "kW", deadband: 0, relDeadband: 0, heartbeatMs: 1_200_000, store: true });
const points = [point(0), point(1)];
function make(clock: { t: number }, path?: string) {
  const dir = tmp();
  return new Historian({ path: path ?? join(dir, "h.db"), points, config: historianSchema.parse({}), timeZone: "UTC", now: () => clock.t });
}

/** From the clock's next second on: point 0 moves every second; point 1 is set at 10:00:30 to 42, then at 10:07:10 to 43, and holds. */
function feed(h: Historian, clock: { t: number }, until: number) {
  for (let t = Math.floor(clock.t / 1000) * 1000 + 1000; t <= until; t += 1000) {
    clock.t = t;
    h.offer(0, t, t % 7, Quality.GOOD);
    if (t === T0 + 30_000) h.offer(1, t, 42, Quality.GOOD);
    if (t === T0 + 430_000) h.offer(1, t, 43, Quality.GOOD);
    if (t % 500 === 0) h.flush();
  }
}

const minuteRows = (h: Historian, i: number) =>
  (h.db.query("SELECT ts FROM h_1m WHERE point = ? ORDER BY ts").all(h.pid[i]!) as { ts: number }[]).map((r) => (r.ts - T0) / 60_000);

/** What 1-minute rows written every minute hold for point 1 over [T0, end): computed here from its two samples. */
function expected1(end: number) {
  const v: (number | null)[] = [];
  for (let a = T0; a < end; a += 60_000) v.push(a < T0 + 420_000 ? 42 : a === T0 + 420_000 ? (42 * 10 + 43 * 50) / 60 : 43);
  return v;
}

describe("carried minutes", () => {
  it("are not written as minutes close, are written at the quarter hour, and read the same before and after", () => {
    const clock = { t: T0 };
    const h = make(clock);
    feed(h, clock, T0 + 12 * 60_000 + 2_500);
    expect(h.closed[0]).toBe(T0 + 12 * 60_000);
    // Point 0 has a row per minute; point 1 none after its last sample's minute (its sample at 10:07:10
    // wrote the carried minutes before it, in one go).
    expect(minuteRows(h, 0)).toEqual(Array.from({ length: 12 }, (_, m) => m));
    expect(minuteRows(h, 1)).toEqual(Array.from({ length: 8 }, (_, m) => m));
    const before = series(h, 1, T0, T0 + 12 * 60_000, 0);
    expect(before.v).toEqual(expected1(T0 + 12 * 60_000));
    expect(before.coverage!.slice(1)).toEqual(Array(11).fill(1));
    expect(before.coverage![0]).toBeCloseTo(0.5, 9);
    // The quarter closes: every minute row is there, and the 15-minute row rolls them all up.
    feed(h, clock, QUARTER + 2_500);
    expect(minuteRows(h, 1)).toEqual(Array.from({ length: 15 }, (_, m) => m));
    expect(series(h, 1, T0, T0 + 12 * 60_000, 0)).toEqual(before);
    const q = h.db.query("SELECT good_ms AS g, mean FROM h_15m WHERE point = ? AND ts = ?").get(h.pid[1]!, T0) as { g: number; mean: number };
    expect(q.g).toBe(900_000 - 30_000);
    expect(q.mean).toBeCloseTo((42 * 400 + 43 * 470) / 870, 9);
    h.stop();
  });

  it("a stop writes them; a crash leaves them to the restart, which recomputes them from raw", () => {
    const clock = { t: T0 };
    const a = make(clock);
    const path = a.opts.path;
    feed(a, clock, T0 + 9 * 60_000 + 2_500);
    expect(minuteRows(a, 1)).toEqual(Array.from({ length: 8 }, (_, m) => m));
    a.db.close(); // a crash
    a.log.close();
    clock.t = T0 + 9 * 60_000 + 30_000;
    const b = make(clock, path);
    expect(minuteRows(b, 1)).toEqual(Array.from({ length: 9 }, (_, m) => m));
    expect(series(b, 1, T0, T0 + 9 * 60_000, 0).v).toEqual(expected1(T0 + 9 * 60_000));
    // Running on, then a clean stop with a minute carried: written at the stop.
    feed(b, clock, T0 + 11 * 60_000 + 2_500);
    b.stop();
    clock.t = T0 + 11 * 60_000 + 10_000;
    const c = make(clock, path);
    expect(minuteRows(c, 1).slice(0, 11)).toEqual(Array.from({ length: 11 }, (_, m) => m));
    c.stop();
  });

  it("a late sample inside carried minutes recomputes them from raw", () => {
    const clock = { t: T0 };
    const h = make(clock);
    feed(h, clock, T0 + 10 * 60_000 + 2_500);
    // Point 1 read 50 from 10:03:00 to its next change at 10:07:10 (a backfill).
    h.enqueue(1, T0 + 180_000, 50, Quality.GOOD);
    h.flush();
    const v = series(h, 1, T0, T0 + 10 * 60_000, 0).v;
    expect(v.slice(0, 3)).toEqual([42, 42, 42]);
    expect(v.slice(3, 7)).toEqual([50, 50, 50, 50]);
    expect(v[7]).toBeCloseTo((50 * 10 + 43 * 50) / 60, 9);
    expect(v.slice(8)).toEqual([43, 43]);
    feed(h, clock, QUARTER + 2_500);
    expect(series(h, 1, T0, T0 + 10 * 60_000, 0).v).toEqual(v);
    h.stop();
  });
});
