import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { historianSchema } from "../src/historian/config.ts";
import { Historian } from "../src/historian/historian.ts";
import type { HistPoint } from "../src/historian/points.ts";
import { series } from "../src/historian/query.ts";
import { TIERS } from "../src/historian/tiers.ts";
import { Quality } from "../src/points/quality.ts";
import { storedSamples } from "./helpers/hist-stored.ts";

/**
 * A close spread over slices (the writer's tick, the event loop running between them) must store
 * exactly what a close in one go stores, including samples committed while it is half done: a late
 * one for a point the close has passed (a repair) and one for a point it has not reached yet.
 */

const dir = mkdtempSync(join(tmpdir(), "busbar-hist-slices-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const N = 400;
const points: HistPoint[] = Array.from({ length: N }, (_, i) => ({ index: i, name: `D.p${i}`, device: "D", kind: "analog", unit: "kW", deadband: 0.5, relDeadband: 0, heartbeatMs: 60_000, store: true }));
const T0 = Date.UTC(2026, 0, 5, 10, 13, 0);
const QUARTER = Date.UTC(2026, 0, 5, 10, 15, 0);

function make(name: string, clock: { t: number }, sliceMs?: number) {
  return new Historian({ path: join(dir, name), points, config: historianSchema.parse({}), timeZone: "UTC", now: () => clock.t, sliceMs });
}

/** Two minutes of samples up to the quarter hour, every point moving every 5 s; `pause` lets slices run. */
async function feed(h: Historian, clock: { t: number }, commit: () => void, pause = false) {
  for (let s = 0; s < 120; s++) {
    clock.t = T0 + s * 1000 + 500;
    for (let i = s % 5; i < N; i += 5) h.offer(i, clock.t, Math.sin(i + s) * 10 + s, Quality.GOOD);
    commit();
    if (pause) await Bun.sleep(0);
  }
  while (h.closing) await Bun.sleep(0);
}

const rows = (h: Historian, table: string) => h.db.query(`SELECT * FROM ${table} ORDER BY point, ts`).all();
const cursor = (h: Historian) => (h as unknown as { cursor: number }).cursor;
const LATE_PASSED = { i: 3, ts: QUARTER - 30_000, v: 500 };
const LATE_AHEAD = { i: N - 2, ts: QUARTER - 20_000, v: -500 };

describe("closes in slices", () => {
  it("stores the same rows as a close in one go, with samples committed mid-close, and queries stay whole meanwhile", async () => {
    const ca = { t: T0 };
    const a = make("a.db", ca);
    await feed(a, ca, () => a.flush());
    ca.t = QUARTER + 2_500;
    a.flush();
    a.enqueue(LATE_PASSED.i, LATE_PASSED.ts, LATE_PASSED.v, Quality.GOOD);
    a.enqueue(LATE_AHEAD.i, LATE_AHEAD.ts, LATE_AHEAD.v, Quality.GOOD);
    a.flush();

    const cb = { t: T0 };
    const b = make("b.db", cb, 0);
    await feed(b, cb, () => b.tick(), true);
    expect(b.closing).toBe(false);
    const before = series(b, 10, QUARTER - 60_000, QUARTER, -1);
    cb.t = QUARTER + 2_500;
    b.tick();
    expect(b.closing).toBe(true);
    let slices = 0;
    while (b.closing && cursor(b) < N / 2) {
      await Bun.sleep(0);
      slices++;
    }
    expect(b.closing).toBe(true); // half done: point 10 is passed, N - 10 is not
    expect(series(b, 10, QUARTER - 60_000, QUARTER, -1)).toEqual(before);
    // The 1-minute view of the closing minute: stored for passed points, computed from raw for the rest.
    expect(series(b, 10, T0, QUARTER, 0).v).toEqual(series(a, 10, T0, QUARTER, 0).v);
    expect(series(b, N - 10, T0, QUARTER, 0).v).toEqual(series(a, N - 10, T0, QUARTER, 0).v);
    b.enqueue(LATE_PASSED.i, LATE_PASSED.ts, LATE_PASSED.v, Quality.GOOD);
    b.enqueue(LATE_AHEAD.i, LATE_AHEAD.ts, LATE_AHEAD.v, Quality.GOOD);
    b.tick();
    while (b.closing) {
      await Bun.sleep(0);
      slices++;
    }
    expect(slices).toBeGreaterThan(20);
    expect(b.closed[0]).toBe(QUARTER);
    expect(b.closed[1]).toBe(QUARTER);
    // The same samples (one go stores LATE_AHEAD as a late row, the slices inside its minute's block) and the same rollups.
    expect(storedSamples(b.db, b.opts.path)).toEqual(storedSamples(a.db, a.opts.path));
    for (const t of TIERS.map((x) => x.table)) expect(rows(b, t), t).toEqual(rows(a, t));
    // The late samples are in their minute's band (neither dropped nor left out of the rollup).
    const lateMinute = (h: Historian, i: number, ts: number) =>
      h.db.query("SELECT min, max FROM h_1m WHERE point = ? AND ts = ?").get(h.pid[i]!, Math.floor(ts / 60_000) * 60_000) as { min: number; max: number };
    expect(lateMinute(b, LATE_PASSED.i, LATE_PASSED.ts).max).toBe(LATE_PASSED.v);
    expect(lateMinute(b, LATE_AHEAD.i, LATE_AHEAD.ts).min).toBe(LATE_AHEAD.v);
    expect(b.db.query("SELECT COUNT(*) AS n FROM h_recent WHERE ts < ?").get(QUARTER)).toEqual({ n: 0 });
    a.stop();
    b.stop();
  });
});
