import { Database } from "bun:sqlite";
import { describe, expect, test } from "vitest";
import { Flag, INTERVAL_MS } from "../src/energy/counters.ts";
import { EnergyService } from "../src/energy/service.ts";
import { EnergyStore } from "../src/energy/store.ts";
import { energySchema, validateEnergy } from "../src/energy/structure.ts";

const TZ = "America/Toronto";
const config = energySchema.parse({
  zones: [{ id: "z", label: "Z" }],
  meters: [
    { id: "MAIN", point: "M.e", head: true, ratingKw: 1000 },
    { id: "F1", point: "F1.e", parent: "MAIN", circuit: "hvac", ratingKw: 400 },
    { id: "F2", point: "F2.e", parent: "MAIN", circuit: "lighting", ratingKw: 400 },
    { id: "F2a", point: "F2a.e", parent: "F2", circuit: "lighting", ratingKw: 400 },
  ],
  costs: [
    {
      commodity: "electricity",
      currency: "CAD",
      tariffs: [
        { id: "day", name: "Jour", prices: [{ price: 0.1 }] },
        { id: "night", name: "Nuit", prices: [{ price: 0.05 }] },
      ],
      rules: [
        { tariff: "day", time: { from: "07:00", to: "18:59" } },
        { tariff: "night", time: { from: "19:00", to: "06:59" } },
      ],
      demand: { prices: [{ price: 15 }] },
    },
  ],
});
const { meters, errors } = validateEnergy(config, (p) => ({ unit: p.startsWith("F2a") ? "Wh" : "kWh" }));

function service() {
  const store = new EnergyStore(new Database(":memory:"), TZ);
  const entries: { type: string }[] = [];
  const journal = { append: (e: { type: string }) => entries.push(e) } as never;
  return { store, entries, svc: new EnergyService({ config, meters, store, timeZone: TZ, journal }) };
}

describe("energy store and service", () => {
  test("a day fed by the minute: hour and day totals, costs by band, the remainder, computed points", () => {
    expect(errors).toEqual([]);
    const { store, svc, entries } = service();
    const day = svc.clock.fromLocal(2026, 3, 10);
    // F1 60 kW, F2 30 kW (F2a, a meter under it, 10 kW in Wh), main 100 kW: 10 kW unmetered.
    for (let k = 0; k <= 24 * 60; k++) {
      const ts = day + k * 60_000;
      svc.reading("MAIN", ts, 5000 + k * (100 / 60), true);
      svc.reading("F1", ts, 100 + k * (60 / 60), true);
      svc.reading("F2", ts, 200 + k * (30 / 60), k < 600 || k > 720); // 2-h comm gap 10:00–12:00
      svc.reading("F2a", ts, k * (10 / 60) * 1000, true);
    }
    svc.flush(day + 24 * 3_600_000 + 1);
    const [d] = store.histogram("MAIN", "day", day, day + 1);
    expect(d!.value).toBeCloseTo(2400, 6);
    // Months and years come from the month rows: the same kWh and cost.
    const [yr] = store.histogram("MAIN", "year", day, day + 1);
    expect(yr!.value).toBeCloseTo(2400, 6);
    expect(yr!.cost).toBeCloseTo(d!.cost!, 6);
    // 12 h at 0.10 and 12 h at 0.05 of 100 kWh/h
    expect(d!.cost).toBeCloseTo(1200 * 0.1 + 1200 * 0.05, 6);
    const hours = store.histogram("F2", "hour", day, day + 86_400_000);
    expect(hours.length).toBe(24);
    expect(hours.reduce((a, b) => a + b.value, 0)).toBeCloseTo(720, 6);
    expect(hours[12]!.flags & Flag.ESTIMATED).toBeTruthy(); // the gap's consumption lands where it ends
    // Last reading before the gap 09:59, first after 12:01: 12:00–13:00 holds 09:59–13:00 (181 min × 0.5).
    expect(hours[12]!.value).toBeCloseTo(90.5, 6);
    expect(hours[10]!.flags & Flag.MISSING).toBeTruthy();
    expect(store.histogram("F2a", "day", day, day + 1)[0]!.value).toBeCloseTo(240, 6); // Wh → kWh
    expect(entries.map((e) => e.type)).toEqual(["energy.gap"]);
    const now = day + 24 * 3_600_000 - 1;
    svc.flush(now);
    const v = svc.pointValues();
    expect(v.get("hvac_today_kwh")!.value).toBeCloseTo(60 * 24, 6);
    expect(v.get("lighting_today_kwh")!.quality).toBe(9); // estimated: the gap is inside
    expect(v.get("unmetered_today_kwh")!.value).toBeCloseTo(10 * 24, 0);
    expect(v.get("consumption_mar")!.value).toBeCloseTo(2400, 6);
    expect(v.get("consumption_apr")!.value).toBe(0);
    expect(store.peakDemand("MAIN", day, day + 86_400_000).kw).toBeCloseTo(100, 6);
  });

  test("a tariff change recomputes only from the chosen date, journaled", () => {
    const { store, svc, entries } = service();
    const day = svc.clock.fromLocal(2026, 3, 10);
    for (let k = 0; k <= 2 * 24 * 60; k++) svc.reading("F1", day + k * 60_000, k, true);
    svc.flush(day + 2 * 86_400_000 + 1);
    const before = store.histogram("F1", "day", day, day + 2 * 86_400_000).map((b) => b.cost);
    const flat = structuredClone(config.costs);
    flat[0]!.tariffs[0]!.prices = [{ price: 0.2 }];
    flat[0]!.tariffs[1]!.prices = [{ price: 0.2 }];
    svc.setTariffs(flat);
    const n = svc.reprice(day + 86_400_000, "admin");
    expect(n).toBe(96); // only F1 has data: the second day's 96 intervals, none before
    const after = store.histogram("F1", "day", day, day + 2 * 86_400_000).map((b) => b.cost);
    expect(after[0]).toBeCloseTo(before[0]!, 9);
    expect(after[1]).toBeCloseTo(1440 * 0.2, 6);
    expect(entries.at(-1)).toMatchObject({ type: "energy.reprice", actor: "admin" });
  });

  test("bad data is held out, then an admin accepts it", () => {
    const { store, svc } = service();
    const day = svc.clock.fromLocal(2026, 3, 10);
    for (let k = 0; k <= 60; k++) svc.reading("F1", day + k * 60_000, k + (k === 30 ? 5000 : 0), true);
    svc.flush(day + 2 * 3_600_000);
    const iv = store.intervals("F1", day, day + 3_600_000).find((x) => x.flags & Flag.BAD)!;
    expect(store.histogram("F1", "day", day, day + 1)[0]!.value).toBeCloseTo(60, 9);
    expect(svc.correct("F1", { ts: iv.ts, action: "set", value: 15 }, "admin")).toBe(true);
    // The set value replaces the interval's counted consumption (the admin states it whole).
    expect(store.histogram("F1", "day", day, day + 1)[0]!.value).toBeCloseTo(60 - 15 + 15, 9);
    expect(store.intervals("F1", iv.ts, iv.ts + INTERVAL_MS)[0]!.flags).toBe(Flag.ADMIN);
  });

  test("a meter replacement recorded by an admin while running: nothing lost, journaled with the actor", () => {
    const { store, svc, entries } = service();
    const day = svc.clock.fromLocal(2026, 3, 10);
    for (let k = 0; k <= 30; k++) svc.reading("F1", day + k * 60_000, 7000 + k, true);
    // Swapped at 00:30:30: the old meter counted to 7030.5, the new one starts at 2.
    expect(svc.recordReplacement("F1", { ts: day + 30 * 60_000 + 30_000, oldFinal: 7030.5, newFirst: 2 }, "admin")).toBe(true);
    for (let k = 31; k <= 60; k++) svc.reading("F1", day + k * 60_000, 2 + (k - 30.5) * 1, true);
    svc.flush(day + 2 * 3_600_000);
    expect(store.histogram("F1", "day", day, day + 1)[0]!.value).toBeCloseTo(60, 9);
    expect(entries.map((e) => e.type)).toEqual(["energy.replacement", "energy.replacement"]);
    expect(svc.recordReplacement("F1", { ts: day, oldFinal: 1, newFirst: 0 }, "admin")).toBe(false); // already counted
  });
});
