import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDirs } from "./helpers/tmp.ts";
import { historianSchema } from "../src/historian/config.ts";
import { Historian } from "../src/historian/historian.ts";
import type { HistPoint } from "../src/historian/points.ts";
import { Retention } from "../src/historian/retention.ts";

/**
 * Retention looks at many points per step with one query: at 20,000 points a pass that probed one
 * (table, point) per statement never ended and cost ~0.5 % of a core with nothing to delete. It also
 * prunes the history of points no longer in the site.
 */

const tmp = tempDirs("retention");
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1);
const point = (i: number): HistPoint => ({ index: i, name: `R.p${i}`, device: "R", kind: "analog", unit: "kW", deadband: 0, relDeadband: 0, heartbeatMs: 60_000, store: true });
const make = (path: string, points: HistPoint[]) =>
  new Historian({ path, points, config: historianSchema.parse({ retention: { rawDays: 10 } }), timeZone: "UTC", now: () => NOW });

describe("retention", () => {
  it("finds the one point with old rows among 5,000 in a few steps, deletes them, and ends its pass", () => {
    const dir = tmp();
    const h = make(join(dir, "h.db"), Array.from({ length: 5000 }, (_, i) => point(i)));
    const pid = h.pid[3999]!;
    const add = h.db.prepare("INSERT INTO h_raw (point, ts, value, quality) VALUES (?, ?, ?, 1)");
    for (let d = 0; d < 20; d++) add.run(pid, NOW - (20 - d) * DAY, d);
    const r = new Retention(h);
    let steps = 0;
    while (r.pruned === 0 && steps < 50) {
      r.step(NOW);
      steps++;
    }
    expect(r.pruned).toBe(10); // older than 10 days
    expect(steps).toBeLessThanOrEqual(3);
    expect((h.db.query("SELECT COUNT(*) AS n FROM h_raw").get() as { n: number }).n).toBe(10);
    // The rest of this pass and one more find nothing, and say so (the next pass comes much later):
    // 7 tables × 3 probes of 2,000 ids a pass.
    let more = true;
    let k = 0;
    for (; k < 200 && more; k++) more = r.step(NOW);
    expect(more).toBe(false);
    expect(k).toBeLessThanOrEqual(2 * 7 * 3);
    expect(r.pruned).toBe(10);
    h.stop();
  });

  it("prunes the old history of a point no longer in the site", () => {
    const dir = tmp();
    const path = join(dir, "h.db");
    const a = make(path, [point(0), point(1)]);
    const gone = a.pid[1]!;
    a.db.prepare("INSERT INTO h_raw (point, ts, value, quality) VALUES (?, ?, 1, 1)").run(gone, NOW - 30 * DAY);
    a.stop();
    const b = make(path, [point(0)]);
    const r = new Retention(b);
    for (let k = 0; k < 10; k++) r.step(NOW);
    expect((b.db.query("SELECT COUNT(*) AS n FROM h_raw WHERE point = ? AND ts < ?").get(gone, NOW - 10 * DAY) as { n: number }).n).toBe(0);
    b.stop();
  });
});
