import { Database } from "bun:sqlite";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDirs } from "./helpers/tmp.ts";
import { emptySamples } from "../src/historian/aggregate.ts";
import { historianSchema } from "../src/historian/config.ts";
import { Historian, OFFLINE } from "../src/historian/historian.ts";
import type { HistPoint } from "../src/historian/points.ts";
import { chooseTier, series } from "../src/historian/query.ts";
import { Retention } from "../src/historian/retention.ts";
import { decodeBlock, encodeBlock, HISTORY_MIGRATIONS } from "../src/historian/store.ts";
import { Quality } from "../src/points/quality.ts";
import { storedSamples } from "./helpers/hist-stored.ts";

/**
 * A closed minute's samples of a point are one h_block row (was: a row per sample in h_raw, the
 * largest part of the historian's CPU at 2,000 samples/s). h_raw keeps late samples and what older
 * versions stored; every reader merges both, and an older database upgrades with its rows readable.
 */

const tmp = tempDirs("blocks");
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const point = (i: number, kind: HistPoint["kind"] = "analog"): HistPoint => ({ index: i, name: `B.p${i}`, device: "B", kind, unit: "kW", deadband: 0, relDeadband: 0, heartbeatMs: 600_000, store: true });
const make = (path: string, points: HistPoint[], clock: { t: number }, config = historianSchema.parse({})) =>
  new Historian({ path, points, config, timeZone: "UTC", now: () => clock.t });

describe("raw blocks", () => {
  it("encode and decode give back every sample: float32 and float64 values, no value, bad and offline qualities, fractional times, text", () => {
    const cases: [number[], (number | string | null)[], number[]][] = [
      [[0, 999, 59_999], [1.5, -2.25, 3e6], [1, 1, 1]], // float32-exact values, whole ms
      [[10, 20.5, 30.25], [Math.PI, 1 / 3, 0.1], [1, 3, 1]], // float64 values, fractional ms
      [[5, 6, 7], [12.5, null, 13], [1, OFFLINE, 3]], // a gap
      [[1, 2], ["on", null], [1, 3]], // text: JSON
    ];
    for (const [ts, v, q] of cases) {
      const data = encodeBlock(T0, ts.map((t) => T0 + t), v, q, ts.length);
      const out = emptySamples();
      decodeBlock(T0, data, out);
      expect(out).toEqual({ ts: ts.map((t) => T0 + t), v, q });
      const part = emptySamples();
      decodeBlock(T0, data, part, T0 + ts[1]!, T0 + ts[1]! + 0.001);
      expect(part.ts).toEqual([T0 + ts[1]!]);
    }
    // 60 float32 samples, whole ms: 7 bytes each (a row in h_raw took ~30).
    const n = 60;
    const data = encodeBlock(T0, Array.from({ length: n }, (_, k) => T0 + k * 1000), Array.from({ length: n }, (_, k) => 1000 + k / 8), Array(n).fill(1), n);
    expect((data as Uint8Array).byteLength).toBe(3 + 7 * n);
  });

  it("encodes the stored format byte for byte (blocks written by earlier versions must still decode)", () => {
    const hex = (d: Uint8Array | string) => Buffer.from(d as Uint8Array).toString("hex");
    // flags 0, n = 2; offsets 0 and 1000 ms (u16 LE); qualities 1 and OFFLINE (i8); 1.5 and -2.25 (f32 LE).
    expect(hex(encodeBlock(T0, [T0, T0 + 1000], [1.5, -2.25], [1, OFFLINE], 2))).toBe("000200" + "0000e803" + "01ff" + "0000c03f" + "000010c0");
    // No value: a float32 NaN.
    expect(hex(encodeBlock(T0, [T0 + 5], [null], [3], 1))).toBe("000100" + "0500" + "03" + "0000c07f");
    // A close hands typed columns over, NaN for no value: still a float32 block.
    expect(hex(encodeBlock(T0, Float64Array.of(T0 + 5), Float64Array.of(NaN), Int32Array.of(3), 1))).toBe("000100" + "0500" + "03" + "0000c07f");
    // flags 3 (f64 times and values), n = 1: offset 0.5 ms, quality 1, value 0.1 (f64 LE).
    expect(hex(encodeBlock(T0, [T0 + 0.5], [0.1], [1], 1))).toBe("030100" + "000000000000e03f" + "01" + "9a9999999999b93f");
  });

  it("a close writes one row per point and minute; late samples are rows; every read merges them", () => {
    const path = join(tmp(), "h.db");
    const clock = { t: T0 };
    const h = make(path, [point(0), point(1)], clock);
    for (let s = 0; s < 180; s++) {
      clock.t = T0 + s * 1000;
      h.offer(0, clock.t, s, Quality.GOOD);
      if (s % 3 === 0) h.offer(1, clock.t, -s, Quality.GOOD);
      h.flush();
    }
    clock.t = T0 + 182_500;
    h.flush();
    const blocks = h.db.query("SELECT point, ts, n FROM h_block ORDER BY point, ts").all() as { point: number; ts: number; n: number }[];
    expect(blocks).toEqual([0, 1, 2].flatMap((m) => [{ point: h.pid[0]!, ts: T0 + m * 60_000, n: 60 }]).concat([0, 1, 2].map((m) => ({ point: h.pid[1]!, ts: T0 + m * 60_000, n: 20 }))));
    expect(h.db.query("SELECT COUNT(*) AS n FROM h_raw").get()).toEqual({ n: 0 });
    // A late sample for the closed first minute: a row, merged in time order with the block around it.
    h.enqueue(0, T0 + 30_500, 1000, Quality.GOOD);
    h.flush();
    expect(h.db.query("SELECT COUNT(*) AS n FROM h_raw").get()).toEqual({ n: 1 });
    const r = series(h, 0, T0 + 29_500, T0 + 33_000, -1);
    expect(r.t).toEqual([T0 + 29_500, T0 + 30_000, T0 + 30_500, T0 + 31_000, T0 + 32_000]);
    expect(r.v).toEqual([29, 30, 1000, 31, 32]);
    // The repaired minute has it in its band.
    expect((h.db.query("SELECT max FROM h_1m WHERE point = ? AND ts = ?").get(h.pid[0]!, T0) as { max: number }).max).toBe(1000);
    // The value before a time inside a block, and before a minute with no block.
    expect(h.store.rawBefore(h.pid[0]!, T0 + 60_000)).toEqual({ ts: T0 + 59_000, v: 59, q: Quality.GOOD });
    expect(h.store.rawBefore(h.pid[1]!, T0 + 61_000)).toEqual({ ts: T0 + 60_000, v: -60, q: Quality.GOOD });
    expect(h.store.rawBefore(h.pid[1]!, T0 + 60_000)).toEqual({ ts: T0 + 57_000, v: -57, q: Quality.GOOD });
    expect(h.store.rawAfter(h.pid[0]!, T0 + 30_000)).toBe(T0 + 30_500);
    expect(h.store.rawAfter(h.pid[1]!, T0 + 59_000)).toBe(T0 + 60_000);
    // Counts over ranges that cut blocks, against the samples themselves.
    const all = storedSamples(h.db, path, h.pid[0]!);
    for (const [a, b] of [
      [T0 + 10_500, T0 + 20_000],
      [T0 + 30_000, T0 + 150_250],
      [T0, T0 + 180_000],
      [T0 - 5_000, T0 + 60_000],
    ] as const)
      expect(h.store.rawCount(h.pid[0]!, a, b, 10_000), `${a - T0}..${b - T0}`).toBe(all.filter((s) => s.ts >= a && s.ts < b).length);
    expect(chooseTier(h, 0, T0, T0 + 180_000, 100, clock.t)).toBe(0); // 181 samples > 100
    expect(chooseTier(h, 0, T0, T0 + 180_000, 200, clock.t)).toBe(-1);
    h.stop();
  });

  it("an older database (rows in h_raw only) upgrades and reads as before, then stores blocks beside its rows", () => {
    const path = join(tmp(), "h.db");
    // Version 1 as an older Busbar made it: a point, 90 raw rows, a closed first minute.
    const old = new Database(path, { create: true, strict: true });
    old.exec("PRAGMA auto_vacuum = INCREMENTAL");
    old.exec(HISTORY_MIGRATIONS[0]!.sql);
    old.exec("PRAGMA user_version = 1");
    old.query("INSERT INTO h_points (id, name, kind, unit) VALUES (7, 'B.p0', 'analog', 'kW')").run();
    for (let s = 0; s < 90; s++) old.query("INSERT INTO h_raw (point, ts, value, quality) VALUES (7, ?, ?, 1)").run(T0 + s * 1000, s);
    old.query("INSERT INTO h_meta (key, value) VALUES ('closed.1m', ?), ('last_commit', ?)").run(T0 + 60_000, T0 + 89_500);
    old.close();
    const clock = { t: T0 + 95_000 };
    const h = make(path, [point(0)], clock);
    expect((h.db.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(HISTORY_MIGRATIONS.length);
    for (let s = 95; s < 130; s++) {
      clock.t = T0 + s * 1000;
      h.offer(0, clock.t, s, Quality.GOOD);
      h.flush();
    }
    clock.t = T0 + 182_500;
    h.flush();
    const r = series(h, 0, T0, T0 + 130_000, -1);
    const good = r.t.filter((_, k) => r.q![k] === "good");
    expect(good.length).toBe(90 + 35);
    expect(r.v.filter((x) => x !== null)).toEqual([...Array.from({ length: 90 }, (_, s) => s), ...Array.from({ length: 35 }, (_, s) => 95 + s)]);
    expect((h.db.query("SELECT COUNT(*) AS n FROM h_block").get() as { n: number }).n).toBeGreaterThan(0);
    h.stop();
  });

  it("retention prunes blocks with the raw tier's cut-off", () => {
    const path = join(tmp(), "h.db");
    const clock = { t: T0 };
    const h = make(path, [point(0)], clock, historianSchema.parse({ retention: { rawDays: 1 } }));
    for (let s = 0; s < 300; s += 10) {
      clock.t = T0 + s * 1000;
      h.offer(0, clock.t, s, Quality.GOOD);
      h.flush();
    }
    clock.t = T0 + 302_500;
    h.flush();
    expect((h.db.query("SELECT COUNT(*) AS n FROM h_block").get() as { n: number }).n).toBe(5);
    // A day and three minutes later: the first three minutes' blocks are past the cut-off.
    const ret = new Retention(h);
    for (let k = 0; k < 20; k++) ret.step(T0 + 86_400_000 + 180_000);
    expect((h.db.query("SELECT ts FROM h_block ORDER BY ts").all() as { ts: number }[]).map((r) => r.ts)).toEqual([T0 + 180_000, T0 + 240_000]);
    h.stop();
  });
});
