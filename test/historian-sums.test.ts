import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDirs } from "./helpers/tmp.ts";
import { historianSchema } from "../src/historian/config.ts";
import { Historian } from "../src/historian/historian.ts";
import type { HistPoint } from "../src/historian/points.ts";
import { Quality } from "../src/points/quality.ts";

/**
 * Quarter-hour and hour rows are summed as the close writes their finer rows (RunningRollup), not
 * read back. Every such row must be the row the SQL rollup of the stored finer rows gives, bit for
 * bit, whichever path wrote it: points that move, points that only hold their value (carried
 * minutes, heartbeats), a comm-fail stretch, a late sample (its repair rewrites rows outside the
 * close), a crash in the middle of a quarter hour's close, and closes spread over slices with
 * samples committed in between.
 */

const tmp = tempDirs("sums");
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0); // an hour
const END = T0 + 3 * 3_600_000 + 120_000;
const N = 24;

function point(i: number): HistPoint {
  // Points 12–23 hold their value: heartbeats every 10 minutes, carried minutes between them.
  return { index: i, name: `S.p${i}`, device: "S", kind: "analog", unit: "kW", deadband: 0.5, relDeadband: 0, heartbeatMs: 600_000, store: true };
}

type Row = { point: number; ts: number; n: number; good_ms: number; mean: number | null; min: number | null; max: number | null; first: number | null; last: number | null };

describe("rows summed as the close writes their finer rows", () => {
  it("are the SQL rollup's rows bit for bit, and the SQL rollup runs only where the sums could not see every row", () => {
    const points = Array.from({ length: N }, (_, i) => point(i));
    const path = join(tmp(), "h.db");
    const clock = { t: T0 };
    const value = new Float64Array(N);
    const quality = new Int32Array(N).fill(Quality.GOOD);
    // One step a slice: every close runs over several ticks, with samples committed in between.
    const make = () => {
      const h = new Historian({ path, points, config: historianSchema.parse({}), timeZone: "UTC", now: () => clock.t, sliceMs: 0 });
      h.current = (i) => ({ v: quality[i] === Quality.GOOD ? value[i]! : null, q: quality[i]! });
      return h;
    };
    let h = make();
    const sqlRollups = [0, 0, 0];
    const count = (hist: Historian) => {
      for (const k of [1, 2]) {
        const st = hist.store.rollFrom[k]!;
        const run = st.run.bind(st);
        st.run = ((...args: Parameters<typeof run>) => {
          sqlRollups[k]!++;
          return run(...args);
        }) as typeof st.run;
      }
    };
    count(h);
    let crashed = false;
    let seed = 11;
    const rnd = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let t = T0 + 500; t < END; t += 500) {
      clock.t = t;
      if (t % 1000 === 500) {
        for (let i = 0; i < 12; i++) {
          // Values of every scale: the compensated sum differs from a plain one on such mixes.
          value[i] = (rnd() - 0.5) * 10 ** Math.floor(rnd() * 9 - 2);
          quality[i] = i === 3 && t > T0 + 20 * 60_000 && t < T0 + 33 * 60_000 ? Quality.COMM_FAIL : Quality.GOOD;
          h.offer(i, t, quality[i] === Quality.GOOD ? value[i]! : null, quality[i]!);
        }
        if (t === T0 + 30_500) for (let i = 12; i < N; i++) h.offer(i, t, (value[i] = 100 + i), Quality.GOOD);
        // A late sample for point 5, three minutes back: its repair rewrites closed minutes.
        if (t === T0 + 100 * 60_000 + 500) h.enqueue(5, t - 180_000 + 250, 1e6, Quality.GOOD);
      }
      h.tick();
      // A crash in the middle of a quarter hour's close (its last minute closed, the quarter hour
      // not yet), and a start two minutes later: the start recomputes the minutes since the last
      // close, the one after the quarter hour with samples from the sample log, closes the quarter
      // hour, and sums the open ones from what is stored.
      if (!crashed && h.closed[0] === T0 + 135 * 60_000 && h.closed[1]! < h.closed[0]!) {
        crashed = true;
        clearTimeout((h as unknown as { sliceTimer?: ReturnType<typeof setTimeout> }).sliceTimer); // the crashed one's next slice
        h.db.close();
        h.log.close();
        clock.t = t += 120_000;
        h = make();
        count(h);
      }
    }
    expect(crashed).toBe(true);
    h.flush();
    expect(h.closed[2]).toBe(T0 + 3 * 3_600_000);

    const read = (table: string) => h.db.query(`SELECT * FROM ${table} ORDER BY point, ts`).all() as Row[];
    const quarters = read("h_15m");
    const hours = read("h_1h");
    expect(quarters.length).toBe(12 * N);
    expect(hours.length).toBe(3 * N);
    // The SQL rollup over the same finer rows, written over the stored rows: nothing may change.
    h.db.transaction(() => {
      for (const r of quarters) h.store.rollFrom[1]!.run(r.point, r.ts, r.ts + 900_000);
      for (const r of hours) h.store.rollFrom[2]!.run(r.point, r.ts, r.ts + 3_600_000);
    })();
    expect(read("h_15m")).toEqual(quarters);
    expect(read("h_1h")).toEqual(hours);
    // Summed, the first quarter hour and hour after each start included (their sums start from the
    // stored rows): SQL only for the repaired point's quarter hour and hour.
    expect(sqlRollups[1]! - quarters.length).toBe(1);
    expect(sqlRollups[2]! - hours.length).toBe(1);
    h.stop();
  });
});
