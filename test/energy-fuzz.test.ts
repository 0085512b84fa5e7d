import { describe, expect, test } from "vitest";
import { CounterTracker, Flag } from "../src/energy/counters.ts";
import { energySchema, validateEnergy } from "../src/energy/structure.ts";
import { costSchema, LocalClock, TariffEvaluator, validateTariffs } from "../src/energy/tariffs.ts";

/**
 * Fuzz: what comes from outside (an admin's YAML, a meter's registers) never throws, never
 * counts negative consumption, never yields a non-finite number. Seeded: a failure reproduces.
 */
let seed = 20261201;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const junk = (): unknown => pick([null, -1, 0, 1.5, 1e308, NaN, "", "x", "25:99", "2026-13-40", "12-25", [], {}, true, "mon", ["sun", "zzz"], { from: "07:00", to: "06:59" }]);

function mutate(v: unknown, depth = 0): unknown {
  if (depth > 6 || rnd() < 0.05) return junk();
  if (Array.isArray(v)) return rnd() < 0.1 ? [...v, junk()] : v.map((x) => mutate(x, depth + 1));
  if (v && typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (rnd() > 0.03) o[k] = mutate(x, depth + 1);
    return o;
  }
  return rnd() < 0.1 ? junk() : v;
}

const base = {
  zones: [{ id: "z", label: "Z" }],
  meters: [
    { id: "H", point: "H.e", head: true, ratingKw: 500 },
    { id: "A", point: "A.e", parent: "H", circuit: "hvac", zones: ["z"], rollover: { bits: 32, scale: 0.001 } },
  ],
  costs: [
    {
      commodity: "electricity",
      currency: "CAD",
      tariffs: [{ id: "t", name: "T", prices: [{ from: "2026-01-01", price: 0.1 }, { from: "2026-06-01", price: 0.2 }] }],
      rules: [{ tariff: "t", from: "12-25", repeatYearly: true }, { tariff: "t", time: { from: "22:00", to: "05:59" }, days: ["mon"] }, { tariff: "t" }],
      demand: { prices: [{ price: 10 }], billingStartDay: 15 },
    },
  ],
};

describe("energy fuzz", () => {
  test("mutated energy sections: a clear result, never a throw", () => {
    const clock = new LocalClock("America/Toronto");
    let accepted = 0;
    for (let i = 0; i < 1000; i++) {
      const doc = mutate(base);
      const shape = energySchema.safeParse(doc);
      if (!shape.success) continue;
      const r = validateEnergy(shape.data, (p) => (p.startsWith("H") || p.startsWith("A") ? { unit: "kWh" } : "no-device"));
      for (const e of r.errors) expect(e.path).toMatch(/^energy\./);
      if (r.errors.length) continue;
      accepted++;
      for (const c of shape.data.costs) {
        const ev = new TariffEvaluator(c, clock);
        for (let k = 0; k < 20; k++) {
          const t = ev.at(Date.UTC(2026, 0, 1) + Math.floor(rnd() * 365 * 96) * 900_000);
          if (t) expect(Number.isFinite(t.price)).toBe(true);
        }
      }
    }
    expect(accepted).toBeGreaterThan(10); // the mutations still reach the evaluator
    for (let i = 0; i < 1000; i++) {
      const c = costSchema.safeParse(mutate(base.costs[0]));
      if (c.success) expect(() => validateTariffs(c.data)).not.toThrow();
    }
  });

  test("random register sequences: consumption never negative, never NaN", () => {
    for (let run = 0; run < 100; run++) {
      const t = new CounterTracker({ maxRatePerHour: rnd() < 0.5 ? 400 : undefined, rolloverAt: rnd() < 0.5 ? 4294967.296 : undefined, gapMs: 300_000 });
      let ts = Date.UTC(2026, 2, 1);
      let v = rnd() * 4e6;
      for (let k = 0; k < 500; k++) {
        ts += pick([1000, 10_000, 60_000, 3_600_000, 0, -5000]);
        const r = rnd();
        v = r < 0.8 ? v + rnd() * 5 : r < 0.85 ? 0 : r < 0.9 ? v - rnd() * 100 : r < 0.95 ? v + rnd() * 1e6 : pick([NaN, -1, Infinity, 4294967.295]);
        t.push({ ts, value: r > 0.97 ? null : v, good: rnd() > 0.05 });
      }
      for (const iv of t.intervals.values()) {
        expect(Number.isFinite(iv.value)).toBe(true);
        expect(iv.value).toBeGreaterThanOrEqual(0);
        expect(Number.isFinite(iv.held)).toBe(true);
        if (iv.held !== 0) expect(iv.flags & Flag.BAD).toBeTruthy();
      }
    }
  });
});
