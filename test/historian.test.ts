import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDirs } from "./helpers/tmp.ts";
import { Quality } from "../src/points/quality.ts";
import { historianSchema } from "../src/historian/config.ts";
import { Historian, OFFLINE } from "../src/historian/historian.ts";
import type { HistPoint } from "../src/historian/points.ts";
import { chooseTier, series } from "../src/historian/query.ts";
import { storedSamples } from "./helpers/hist-stored.ts";

/**
 * Change-based storage and rollups, each against an independent computation in this file over the
 * same samples: the rows a deadband/heartbeat recorder must keep, and the time-weighted mean, min,
 * max and good coverage of each interval integrated straight from the raw signal.
 */

const tmp = tempDirs("hist");

function point(index: number, o: Partial<HistPoint> = {}): HistPoint {
  return { index, name: `D.p${index}`, device: "D", kind: "analog", unit: "kW", deadband: 1, relDeadband: 0, heartbeatMs: 60_000, store: true, ...o };
}

function make(points: HistPoint[], clock: { t: number }, tz = "UTC", path?: string) {
  const dir = tmp();
  return new Historian({ path: path ?? join(dir, "h.db"), points, config: historianSchema.parse({}), timeZone: tz, now: () => clock.t });
}

type S = [ts: number, v: number | null, q: number];
const raw = (h: Historian, i: number) => storedSamples(h.db, h.opts.path, h.pid[i]!).map((r) => [r.ts, r.v, r.q] as S);

/** What a recorder with this deadband and heartbeat keeps: written from the rule, not from the code. */
function expectedStored(input: S[], deadband: number, heartbeatMs: number): S[] {
  const out: S[] = [];
  for (const s of input) {
    const last = out[out.length - 1];
    if (!last || last[2] !== s[2]) out.push(s);
    else if (s[2] === Quality.GOOD && (Math.abs(s[1]! - last[1]!) > deadband || s[0] - last[0] >= heartbeatMs)) out.push(s);
  }
  return out;
}

describe("change-based storage", () => {
  it("keeps a ramp, a step, drops noise inside the deadband, records a comm-fail gap and heartbeats", () => {
    const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
    const clock = { t: T0 };
    const h = make([point(0, { deadband: 1, heartbeatMs: 30_000 })], clock);
    const input: S[] = [];
    let t = T0;
    for (let k = 0; k < 20; k++) input.push([(t += 1000), 100 + k * 0.4, Quality.GOOD]); // ramp 0.4/s
    for (let k = 0; k < 5; k++) input.push([(t += 1000), 150, Quality.GOOD]); // step
    let seed = 7;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 1.8; // ±0.9 < deadband
    for (let k = 0; k < 70; k++) input.push([(t += 1000), 150 + rnd(), Quality.GOOD]); // noise, heartbeats at 30 s
    for (let k = 0; k < 10; k++) input.push([(t += 1000), 150, Quality.COMM_FAIL]); // gap
    for (let k = 0; k < 3; k++) input.push([(t += 1000), 151.5, Quality.GOOD]);
    for (const [ts, v, q] of input) h.offer(0, ts, v, q);
    clock.t = t + 10;
    h.flush();
    const stored = raw(h, 0);
    const expected = expectedStored(input, 1, 30_000);
    expect(stored.length).toBe(expected.length);
    expect(stored).toEqual(expected);
    // Sanity on the signal: the ramp kept about every 3rd sample, the noise only its heartbeats.
    expect(expected.length).toBeLessThan(input.length / 3);
    expect(stored.filter((s) => s[2] === Quality.COMM_FAIL)).toHaveLength(1);
    // The gap is a gap in the trend: a null, never a line from 150 to 151.5 across it.
    const sr = series(h, 0, T0, t + 1, -1);
    const failAt = sr.t.indexOf(stored.find((s) => s[2] === Quality.COMM_FAIL)![0]);
    expect(sr.v[failAt]).toBeNull();
    expect(sr.q![failAt]).toBe("comm-fail");
    h.stop();
  });

  it("spreads the first heartbeat of points that start together over the last half of it, then keeps each point's phase", () => {
    const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
    const clock = { t: T0 };
    const HB = 600_000;
    const N = 100;
    const h = make(Array.from({ length: N }, (_, i) => point(i, { heartbeatMs: HB })), clock);
    h.current = (i) => ({ v: 50 + i, q: Quality.GOOD });
    for (let i = 0; i < N; i++) h.offer(i, T0, 50 + i, Quality.GOOD);
    for (let t = T0 + 1000; t <= T0 + 25 * 60_000; t += 1000) {
      clock.t = t;
      h.tick();
    }
    h.flush();
    const beatMinutes = new Map<number, number>();
    for (let i = 0; i < N; i++) {
      const ts = raw(h, i).map((s) => s[0]);
      expect(ts[0]).toBe(T0);
      // Never longer than the heartbeat between two samples (the maximum interval), a tick at most.
      for (let k = 1; k < ts.length; k++) expect(ts[k]! - ts[k - 1]!, `point ${i}`).toBeLessThanOrEqual(HB);
      // The first beat in the heartbeat's last half, then one heartbeat after the other.
      expect(ts[1]! - T0).toBeGreaterThanOrEqual(HB / 2);
      expect(ts[2]! - ts[1]!).toBe(HB);
      const m = Math.floor((ts[1]! - T0) / 60_000);
      beatMinutes.set(m, (beatMinutes.get(m) ?? 0) + 1);
    }
    // Spread: every minute of the half gets some, none more than a fifth of the points.
    expect(beatMinutes.size).toBeGreaterThanOrEqual(5);
    expect(Math.max(...beatMinutes.values())).toBeLessThanOrEqual(N / 5);
    h.stop();
  });

  it("stores every change of a discrete point and every increase of a counter, and uses a percent-of-value deadband without a range", () => {
    const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
    const clock = { t: T0 };
    const h = make([point(0, { kind: "discrete", deadband: 0 }), point(1, { kind: "counter", deadband: 0 }), point(2, { deadband: 0, relDeadband: 0.01 })], clock);
    const states = [0, 0, 1, 1, 0, 2, 2];
    states.forEach((v, k) => h.offer(0, T0 + k * 1000, v, Quality.GOOD));
    [10, 10, 10.001, 10.002, 10.002].forEach((v, k) => h.offer(1, T0 + k * 1000, v, Quality.GOOD));
    [1000, 1005, 1011, 1015, 1022].forEach((v, k) => h.offer(2, T0 + k * 1000, v, Quality.GOOD));
    h.flush(T0 + 10_000);
    expect(raw(h, 0).map((s) => s[1])).toEqual([0, 1, 0, 2]);
    expect(raw(h, 1).map((s) => s[1])).toEqual([10, 10.001, 10.002]);
    expect(raw(h, 2).map((s) => s[1])).toEqual([1000, 1011, 1022]);
    h.stop();
  });
});

/** Reference: integrate the raw signal over [a, b) by walking its change times (sample-and-hold, hold limit). */
function reference(samples: S[], a: number, b: number, holdMs: number) {
  let goodMs = 0;
  let area = 0;
  let min = Infinity;
  let max = -Infinity;
  let n = 0;
  for (let k = 0; k < samples.length; k++) {
    const [ts, v, q] = samples[k]!;
    if (ts >= a && ts < b) n++;
    const end = Math.min(k + 1 < samples.length ? samples[k + 1]![0] : Infinity, ts + holdMs);
    const lo = Math.max(ts, a);
    const hi = Math.min(end, b);
    if (hi <= lo || q !== Quality.GOOD || v === null) continue;
    goodMs += hi - lo;
    area += v * (hi - lo);
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return { n, goodMs, mean: goodMs ? area / goodMs : null, min: goodMs ? min : null, max: goodMs ? max : null, coverage: goodMs / (b - a) };
}

describe("rollups", () => {
  it("1 min, 15 min and hour rows match a reference integrated from raw, with gaps, late samples repaired, and across a restart", () => {
    const T0 = Date.UTC(2026, 2, 7, 22, 0, 0); // an hour boundary
    const clock = { t: T0 };
    const dir = tmp();
    const path = join(dir, "h.db");
    const p = point(0, { deadband: 0, heartbeatMs: 120_000 });
    let h = make([p], clock, "UTC", path);
    const all: S[] = [];
    let seed = 3;
    const rnd = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    let t = T0 + 500;
    const late: S[] = [];
    while (t < T0 + 3 * 3_600_000 - 60_000) {
      t += Math.floor(500 + rnd() * 20_000);
      let q: number = Quality.GOOD;
      if (t > T0 + 40 * 60_000 && t < T0 + 47 * 60_000) q = Quality.COMM_FAIL; // a 7-minute comm loss
      const v = q === Quality.GOOD ? Math.round(rnd() * 1000) / 10 : null;
      const s: S = [t, v, q];
      all.push(s);
      // Every 25th good sample arrives 3 minutes late (an RTU backfill, a gateway's buffer).
      if (q === Quality.GOOD && all.length % 25 === 0) late.push(s);
      else h.enqueue(0, t, v, q);
      clock.t = t;
      // Late ones come in bursts: several for one point in the same commit.
      if (late.length > 3 && late[0]![0] < t - 180_000) for (const [lt, lv, lq] of late.splice(0, 3)) h.enqueue(0, lt, lv, lq);
      if (rnd() < 0.2) h.flush();
      // A restart in the middle (clean stop: a recorded gap until it runs again).
      if (t > T0 + 100 * 60_000 && t < T0 + 100 * 60_000 + 25_000) {
        h.stop();
        t += 90_000;
        clock.t = t;
        all.push([t - 90_000 + 1, null, OFFLINE]);
        h = make([p], clock, "UTC", path);
      }
    }
    for (const s of late) h.enqueue(0, ...s);
    clock.t = T0 + 3 * 3_600_000 + 5_000;
    h.flush();
    all.sort((x, y) => x[0] - y[0]);
    // The stored raw rows are the samples (plus the stop marker, whose time the test only knows roughly).
    const stored = raw(h, 0);
    const offline = stored.filter((s) => s[2] === OFFLINE);
    expect(offline).toHaveLength(1);
    const truth = all.filter((s) => s[2] !== OFFLINE).concat(offline).sort((x, y) => x[0] - y[0]);
    expect(stored).toEqual(truth);

    const check = (table: string, len: number) => {
      const rows = h.db.query(`SELECT ts, n, good_ms AS goodMs, mean, min, max FROM ${table} WHERE point = ? ORDER BY ts`).all(h.pid[0]!) as {
        ts: number;
        n: number;
        goodMs: number;
        mean: number | null;
        min: number | null;
        max: number | null;
      }[];
      let checked = 0;
      for (let a = T0; a + len <= T0 + 3 * 3_600_000; a += len) {
        const ref = reference(truth, a, a + len, p.heartbeatMs * 2);
        const row = rows.find((r) => r.ts === a);
        if (!row) {
          expect(ref.n, `${table} ${new Date(a).toISOString()} missing`).toBe(0);
          expect(ref.goodMs).toBe(0);
          continue;
        }
        expect(row.n, `${table} n at ${new Date(a).toISOString()}`).toBe(ref.n);
        expect(row.goodMs).toBe(ref.goodMs);
        if (ref.mean === null) expect(row.mean).toBeNull();
        else expect(row.mean!).toBeCloseTo(ref.mean, 9);
        expect(row.min).toBe(ref.min);
        expect(row.max).toBe(ref.max);
        checked++;
      }
      return checked;
    };
    expect(check("h_1m", 60_000)).toBeGreaterThan(150);
    expect(check("h_15m", 900_000)).toBe(12);
    expect(check("h_1h", 3_600_000)).toBe(3);
    // The comm loss shows as coverage below 1, never as good time.
    const s15 = series(h, 0, T0, T0 + 3 * 3_600_000, 1);
    expect(s15.tier).toBe("15m");
    expect(s15.coverage![2]).toBeLessThan(0.7);
    h.stop();
  });

  it("days and months follow the site's wall clock (a 23-hour day at the DST change)", () => {
    const tz = "America/Toronto";
    const start = Date.UTC(2026, 2, 7, 5, 0, 0); // 2026-03-07 00:00 EST
    const clock = { t: start };
    const h = make([point(0, { deadband: 0, heartbeatMs: 3_600_000 })], clock, tz);
    expect(h.calendar.start(3, Date.UTC(2026, 2, 8, 12))).toBe(Date.UTC(2026, 2, 8, 5)); // 8 March 00:00 EST
    expect(h.calendar.next(3, Date.UTC(2026, 2, 8, 5))).toBe(Date.UTC(2026, 2, 9, 4)); // 9 March 00:00 EDT: 23 h later
    expect(h.calendar.start(4, Date.UTC(2026, 2, 15))).toBe(Date.UTC(2026, 2, 1, 5));
    expect(h.calendar.next(4, Date.UTC(2026, 2, 1, 5))).toBe(Date.UTC(2026, 3, 1, 4));
    // A constant 10 over 3 days: each day row has full coverage whatever its length.
    for (let t = start; t < start + 3 * 86_400_000; t += 1_800_000) {
      clock.t = t;
      h.enqueue(0, t, 10, Quality.GOOD);
      h.flush();
    }
    clock.t = start + 3 * 86_400_000 + 10_000;
    h.flush();
    const days = h.db.query("SELECT ts, good_ms AS g, mean FROM h_1d ORDER BY ts").all() as { ts: number; g: number; mean: number }[];
    expect(days.map((d) => d.ts)).toEqual([Date.UTC(2026, 2, 7, 5), Date.UTC(2026, 2, 8, 5), Date.UTC(2026, 2, 9, 4)]);
    expect(days.map((d) => d.g)).toEqual([24, 23, 24].map((x) => x * 3_600_000));
    expect(days.every((d) => d.mean === 10)).toBe(true);
    h.stop();
  });
});

describe("queries", () => {
  it("picks raw for a short range, an aggregated tier for a long one, and includes what is not committed yet", () => {
    const T0 = Date.UTC(2026, 0, 5, 0, 0, 0);
    const clock = { t: T0 };
    const h = make([point(0, { deadband: 0 })], clock);
    for (let k = 0; k < 7200; k++) {
      clock.t = T0 + k * 1000;
      h.offer(0, clock.t, k % 100, Quality.GOOD);
      if (k % 50 === 0) h.flush();
    }
    expect(chooseTier(h, 0, T0, T0 + 600_000, 2000, clock.t)).toBe(-1);
    expect(chooseTier(h, 0, T0, T0 + 7_200_000, 2000, clock.t)).toBe(0); // 7200 raw > 2000: 1-minute rows
    expect(chooseTier(h, 0, T0 - 86_400_000 * 20, T0 + 7_200_000, 2000, clock.t)).toBe(1); // 20 days: 15 min
    const s = series(h, 0, T0, T0 + 7_200_000, 0);
    expect(s.tier).toBe("1m");
    expect(s.t.length).toBe(120); // stored minutes, then the open ones computed from raw and the queue
    expect(s.min![6]).toBe(0);
    expect(s.max![6]).toBe(99);
    const r = series(h, 0, clock.t - 20_000, clock.t + 1, -1);
    expect(r.t[r.t.length - 1]).toBe(clock.t); // the last sample is still queued
    h.stop();
  });
});

describe("site file and point kinds", () => {
  it("resolves deadbands per kind, percent of range, and per-device / per-point overrides; rejects unknown references with their path", async () => {
    const { loadProfiles } = await import("../src/config/profiles.ts");
    const { parseSite } = await import("../src/config/site.ts");
    const { buildRegistry } = await import("../src/drivers/index.ts");
    const { histPoints } = await import("../src/historian/points.ts");
    const profiles = loadProfiles();
    const base = {
      site: { name: "h" },
      buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: 502 }],
      devices: [
        { id: "5B1", bus: "gw", unit: 1, profile: "micrologic-p" },
        { id: "2B1", bus: "gw", unit: 2, profile: "micrologic-e" },
      ],
    };
    const site = parseSite(
      { ...base, historian: { heartbeatS: 300, points: [{ device: "2B1", deadband: 2 }, { point: "5B1.frequency", deadband: 0.01, heartbeatS: 60 }, { point: "5B1.v_bc", store: false }] } },
      profiles,
    );
    const hp = histPoints(buildRegistry(site).points, site.historian);
    const by = (id: string) => hp.find((p) => p.name === id)!;
    expect(by("5B1.v_ab")).toMatchObject({ kind: "analog", deadband: 6, heartbeatMs: 300_000 }); // 0.5 % of 0..1200 V
    expect(by("5B1.frequency")).toMatchObject({ deadband: 0.01, heartbeatMs: 60_000 });
    expect(by("5B1.i_a")).toMatchObject({ deadband: 0, relDeadband: 0.005 }); // no upper bound: 0.5 % of the value
    expect(by("5B1.energy_import")).toMatchObject({ kind: "counter", deadband: 0 });
    expect(by("5B1.closed").kind).toBe("discrete");
    expect(by("2B1.p_total").deadband).toBe(2);
    expect(by("5B1.v_bc").store).toBe(false);
    expect(() => parseSite({ ...base, historian: { points: [{ device: "2B1" }, { point: "5B1.frequency", deadband: "fast" }] } }, profiles)).toThrow(/historian\.points\[1\]\.deadband/);
    expect(() => parseSite({ ...base, historian: { points: [{ device: "NOPE" }] } }, profiles)).toThrow(/historian\.points\[0\]\.device: no device "NOPE"/);
    expect(() => parseSite({ ...base, historian: { points: [{ point: "5B1.nope" }] } }, profiles)).toThrow(/historian\.points\[0\]\.point: device 5B1 \(micrologic-p\) has no tag "nope"/);
  });
});
