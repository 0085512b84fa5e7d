import { describe, expect, test } from "vitest";
import { applyCorrection, consumptionFrom, Flag, INTERVAL_MS, total, type Reading } from "../src/energy/counters.ts";

/**
 * A simulated meter: true consumption per minute (deterministic, uneven), readings once a minute.
 * The expected consumption is the sum of the true minutes: computed here, independently of how
 * Busbar derives it from the register.
 */
const MIN = 60_000;
const T0 = Date.UTC(2026, 2, 10, 0, 0);
const minutes = 6 * 60;
const trueKwh = Array.from({ length: minutes }, (_, k) => 2 + ((k * 7919) % 13) / 4); // 2..5 kWh/min (120–300 kW)

function expectedPerInterval(from = 0, to = minutes): Map<number, number> {
  const m = new Map<number, number>();
  for (let k = from; k < to; k++) {
    const iv = Math.floor((T0 + k * MIN) / INTERVAL_MS) * INTERVAL_MS; // minute k runs [T0+k, T0+k+1)
    m.set(iv, (m.get(iv) ?? 0) + trueKwh[k]!);
  }
  return m;
}
const trueTotal = trueKwh.reduce((a, b) => a + b, 0);

/** Readings at T0 + k min (k = 0..minutes), register derived from the cumulative true consumption by `reg`. */
function readings(reg: (cum: number, k: number) => number | null): Reading[] {
  const out: Reading[] = [];
  let cum = 0;
  for (let k = 0; k <= minutes; k++) {
    if (k > 0) cum += trueKwh[k - 1]!;
    const v = reg(cum, k);
    if (v !== null) out.push({ ts: T0 + k * MIN, value: v, good: true });
  }
  return out;
}

const rated = { maxRatePerHour: 400 }; // a 400 kW feeder: 6.7 kWh/min at most

describe("consumption from a cumulative counter", () => {
  test("plain counter: each 15-min interval equals the true consumption", () => {
    const t = consumptionFrom(readings((c) => 12_345 + c), rated);
    const exp = expectedPerInterval();
    expect(t.intervals.size).toBe(exp.size);
    for (const [ts, v] of exp) expect(t.intervals.get(ts)!.value).toBeCloseTo(v, 9);
    expect(t.events).toEqual([]);
  });

  test("known reset (the pulse meter's reset write): nothing lost, good", () => {
    // Reset just after the reading at minute 100: from then the register counts from 0.
    const resetAt = T0 + 100 * MIN + 1;
    let atReset = 0;
    const r = readings((c, k) => {
      if (k === 100) atReset = c;
      return k <= 100 ? 800 + c : c - atReset;
    });
    const t = consumptionFrom(r, { ...rated, resets: [resetAt] });
    expect(total(t.intervals.values()).value).toBeCloseTo(trueTotal, 9);
    expect(t.events.map((e) => e.kind)).toEqual(["reset"]);
    expect(total(t.intervals.values()).flags).toBe(Flag.GOOD);
  });

  test("unplanned drop to near zero: a reset, counted, its interval estimated", () => {
    let atReset = 0;
    const r = readings((c, k) => {
      if (k === 200) atReset = c;
      return k <= 200 ? 5_000 + c : c - atReset;
    });
    const t = consumptionFrom(r, rated);
    expect(total(t.intervals.values()).value).toBeCloseTo(trueTotal, 9);
    expect(t.events.map((e) => e.kind)).toEqual(["unplanned-reset"]);
    const iv = t.intervals.get(Math.floor((T0 + 201 * MIN) / INTERVAL_MS) * INTERVAL_MS)!;
    expect(iv.flags & Flag.ESTIMATED).toBeTruthy();
  });

  test("32-bit rollover of a Wh register scaled to kWh", () => {
    const WRAP = 2 ** 32;
    const start = WRAP - 300_000; // wraps after 300 kWh (~minute 85)
    const r = readings((c) => (((start + Math.round(c * 1000)) % WRAP) * 0.001));
    const t = consumptionFrom(r, { ...rated, rolloverAt: WRAP * 0.001 });
    expect(total(t.intervals.values()).value).toBeCloseTo(trueTotal, 6);
    expect(t.events.map((e) => e.kind)).toEqual(["rollover"]);
    // Without the width, a wrap looks like an unplanned reset: counted from 0, visibly estimated.
    const blind = consumptionFrom(r, rated);
    expect(blind.events[0]!.kind).toBe("unplanned-reset");
    expect(total(blind.intervals.values()).flags & Flag.ESTIMATED).toBeTruthy();
  });

  test("meter replacement recorded by an admin: old final + new first", () => {
    // Old meter read to minute 150 then removed at 150.5; the new one starts at 42.0 and sees the
    // consumption after the swap.
    let old = 0;
    const r = readings((c, k) => {
      if (k === 150) old = 90_000 + c;
      return k <= 150 ? 90_000 + c : 42 + (c - (old - 90_000));
    });
    const t = consumptionFrom(r, { ...rated, replacements: [{ ts: T0 + 150 * MIN + 30_000, oldFinal: old, newFirst: 42 }] });
    expect(total(t.intervals.values()).value).toBeCloseTo(trueTotal, 9);
    expect(t.events.map((e) => e.kind)).toEqual(["replacement"]);
  });

  test("a 2-hour communication gap: all of it in the interval where it ends, estimated, nothing lost", () => {
    const r = readings((c, k) => (k > 60 && k < 180 ? null : 1_000 + c));
    const t = consumptionFrom(r, rated);
    expect(total(t.intervals.values()).value).toBeCloseTo(trueTotal, 9);
    let gapKwh = 0;
    for (let k = 60; k < 180; k++) gapKwh += trueKwh[k]!;
    let after = 0; // the interval 03:00–03:15 also holds its own 15 minutes, read normally
    for (let k = 180; k < 195; k++) after += trueKwh[k]!;
    const end = t.intervals.get(T0 + 180 * MIN)!; // the reading at 03:00 closes the gap
    expect(end.value).toBeCloseTo(gapKwh + after, 9);
    expect(end.flags & Flag.ESTIMATED).toBeTruthy();
    expect(end.spanFrom).toBe(T0 + 60 * MIN);
    // Intervals inside the gap are marked missing, not reported as zero consumption.
    for (let ts = T0 + 75 * MIN; ts < T0 + 180 * MIN; ts += INTERVAL_MS) expect(t.intervals.get(ts)!.flags & Flag.MISSING).toBeTruthy();
    expect(t.events.map((e) => e.kind)).toEqual(["gap"]);
  });

  test("a backwards glitch: held as bad, out of totals, counting resumes", () => {
    const r = readings((c, k) => (k === 90 ? 1_000 + c - 250 : 1_000 + c));
    const t = consumptionFrom(r, rated);
    expect(total(t.intervals.values()).value).toBeCloseTo(trueTotal, 9);
    expect(t.events.map((e) => e.kind)).toEqual(["backwards"]);
    const bad = [...t.intervals.values()].filter((iv) => iv.flags & Flag.BAD);
    expect(bad.length).toBe(1);
    expect(bad[0]!.held).toBeLessThan(0);
  });

  test("an impossible spike (above rating × time): held, and an admin can accept or correct it", () => {
    const r = readings((c, k) => (k === 120 ? 1_000 + c + 10_000 : 1_000 + c));
    const t = consumptionFrom(r, rated);
    expect(total(t.intervals.values()).value).toBeCloseTo(trueTotal, 9);
    expect(t.events.map((e) => e.kind)).toEqual(["spike"]);
    const bad = [...t.intervals.values()].find((iv) => iv.flags & Flag.BAD)!;
    expect(bad.held).toBeGreaterThan(10_000 - 1);
    const set = applyCorrection(bad, { ts: bad.ts, action: "set", value: 77 });
    expect(set).toMatchObject({ value: 77, held: 0, flags: Flag.ADMIN });
  });

  test("a jump that persists (a new level): the jump held, consumption after it counted", () => {
    const r = readings((c, k) => (k >= 120 ? 1_000 + c + 10_000 : 1_000 + c));
    const t = consumptionFrom(r, rated);
    expect(total(t.intervals.values()).value).toBeCloseTo(trueTotal - trueKwh[119]!, 9);
    const held = total(t.intervals.values()).held;
    expect(held).toBeCloseTo(10_000 + trueKwh[119]!, 9);
  });
});
