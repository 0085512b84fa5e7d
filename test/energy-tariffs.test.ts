import { describe, expect, test } from "vitest";
import { costSchema, demandCharge, intervalCost, LocalClock, TariffEvaluator, validateTariffs } from "../src/energy/tariffs.ts";
import { INTERVAL_MS } from "../src/energy/counters.ts";

const weekdays = ["mon", "tue", "wed", "thu", "fri"];
/** The vendor manual's examples 1–3 (§7.15.3.1): weekday bands, Christmas every year. */
const vendor = (christmasFirst: boolean) =>
  costSchema.parse({
    commodity: "electricity",
    currency: "EUR",
    tariffs: [
      { id: "t1", name: "Tarif 1", prices: [{ price: 0.15 }] },
      { id: "t2", name: "Tarif 2", prices: [{ price: 0.1 }] },
    ],
    rules: [
      ...(christmasFirst ? [{ tariff: "t2", from: "2020-12-25", to: "2020-12-25", repeatYearly: true }] : []),
      { tariff: "t1", time: { from: "00:00", to: "18:59" }, days: weekdays },
      { tariff: "t2", time: { from: "19:00", to: "23:59" }, days: weekdays },
      ...(!christmasFirst ? [{ tariff: "t2", from: "2020-12-25", to: "2020-12-25", repeatYearly: true }] : []),
    ],
  });

describe("tariff validation", () => {
  test("the vendor's example leaves the weekend uncovered: said before saving", () => {
    const r = validateTariffs(vendor(true), "energy.costs[0]");
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([{ path: "energy.costs[0].rules", message: "no rule covers sat 00:00–sun 23:59 in an ordinary week: consumption then has no cost" }]);
  });

  test("a holiday exception first is the intended pattern; after the weekly rules it never applies", () => {
    expect(validateTariffs(vendor(true)).warnings.filter((w) => w.path !== "rules")).toEqual([]);
    const late = validateTariffs(vendor(false)).warnings.filter((w) => w.path === "rules[2]");
    expect(late.length).toBe(2);
    expect(late[0]!.message).toMatch(/never applies there \(move exceptions to the top\)/);
  });

  test("overlapping weekly bands are reported with the overlap and who wins", () => {
    const c = costSchema.parse({
      commodity: "electricity",
      currency: "CAD",
      tariffs: [{ id: "a", name: "A", prices: [{ price: 1 }] }],
      rules: [
        { tariff: "a", time: { from: "00:00", to: "12:00" } },
        { tariff: "a", time: { from: "11:00", to: "23:59" }, days: ["sat"] },
        { tariff: "a", time: { from: "12:01", to: "23:59" } },
      ],
    });
    const w = validateTariffs(c).warnings;
    expect(w).toEqual([
      { path: "rules[1]", message: "overlaps rules[0] on sat 11:00–sat 12:00: rules[0] wins, being first" },
      { path: "rules[2]", message: "overlaps rules[1] on sat 12:01–sat 23:59: rules[1] wins, being first" },
    ]);
  });

  test("errors carry their path: currency, unknown tariff, undated prices, inverted period", () => {
    const c = costSchema.parse({
      commodity: "water",
      currency: "EU",
      tariffs: [{ id: "a", name: "A", prices: [{ price: 1 }, { price: 2 }] }],
      rules: [{ tariff: "b" }, { tariff: "a", from: "2026-05-01", to: "2026-04-01" }],
      demand: { prices: [{ price: 3 }] },
    });
    expect(validateTariffs(c, "energy.costs[2]").errors.map((e) => e.path)).toEqual([
      "energy.costs[2].currency",
      "energy.costs[2].tariffs[0].prices[0].from",
      "energy.costs[2].tariffs[0].prices[1].from",
      "energy.costs[2].demand",
      "energy.costs[2].rules[0].tariff",
      "energy.costs[2].rules[1].to",
    ]);
  });
});

describe("costs", () => {
  const cfg = costSchema.parse({
    commodity: "electricity",
    currency: "CAD",
    tariffs: [
      { id: "peak", name: "Pointe", prices: [{ from: "2025-01-01", price: 0.1 }, { from: "2026-02-15", price: 0.12 }] },
      { id: "off", name: "Hors pointe", prices: [{ price: 0.05 }] },
    ],
    rules: [
      { tariff: "off", from: "12-25", to: "12-26", repeatYearly: true },
      { tariff: "peak", time: { from: "07:00", to: "20:59" }, days: weekdays },
      { tariff: "off", time: { from: "21:00", to: "06:59" }, days: weekdays },
      { tariff: "off", days: ["sat", "sun"] },
    ],
    demand: { prices: [{ price: 14.86 }], billingStartDay: 1 },
  });
  const clock = new LocalClock("America/Montreal");
  const ev = new TariffEvaluator(cfg, clock);

  test("rules cover the week: no warnings", () => {
    expect(validateTariffs(cfg)).toEqual({ errors: [], warnings: [] });
  });

  test("a band over midnight, a holiday every year, a dated price", () => {
    expect(ev.at(clock.fromLocal(2026, 3, 4, 22 * 60))?.tariff).toBe("off"); // Wed 22:00
    expect(ev.at(clock.fromLocal(2026, 3, 5, 6 * 60 + 45))?.tariff).toBe("off"); // Thu 06:45
    expect(ev.at(clock.fromLocal(2026, 3, 7, 3 * 60))?.rule).toBe(3); // Sat 03:00: the weekend rule, not Friday night
    expect(ev.at(clock.fromLocal(2026, 3, 5, 7 * 60))?.tariff).toBe("peak");
    expect(ev.at(clock.fromLocal(2030, 12, 25, 10 * 60))?.tariff).toBe("off"); // a Wednesday, Christmas
    expect(ev.at(clock.fromLocal(2026, 2, 13, 10 * 60))?.price).toBe(0.1);
    expect(ev.at(clock.fromLocal(2026, 2, 16, 10 * 60))?.price).toBe(0.12);
  });

  test("one month checked by hand: energy at two prices + demand charge", () => {
    // February 2026 in Montréal: 28 days from Sunday the 1st, 20 weekdays (10 before the price
    // change of the 15th, 10 after). A steady 100 kW (25 kWh per interval), and one interval at
    // 400 kW on Wednesday 18th 10:00 (peak tariff, new price).
    const from = clock.fromLocal(2026, 2, 1);
    const to = clock.fromLocal(2026, 3, 1);
    const spike = clock.fromLocal(2026, 2, 18, 600);
    const ivs = [];
    for (let ts = from; ts < to; ts += INTERVAL_MS) ivs.push({ ts, value: ts === spike ? 100 : 25, flags: 0 });
    let energy = 0;
    for (const iv of ivs) energy += intervalCost(ev, iv.ts, iv.value)!;
    // Peak: 14 h × 100 kWh × (10 d × 0.10 + 10 d × 0.12) = 3 080.00; off-peak: (20 × 10 h + 8 × 24 h)
    // × 100 kWh × 0.05 = 1 960.00; the spike's extra 75 kWh × 0.12 = 9.00.
    expect(energy).toBeCloseTo(3080 + 1960 + 9, 6);
    const period = ev.billingPeriod(spike);
    expect(period).toEqual({ from, to });
    const d = demandCharge(ev, ivs, period);
    expect(d.peakKw).toBeCloseTo(400, 9);
    expect(d.peakAt).toBe(spike);
    expect(d.charge).toBeCloseTo(400 * 14.86, 6); // 5 944.00
  });

  test("billing period from a configured start day; an estimated gap interval is not a demand peak", () => {
    const ev15 = new TariffEvaluator({ ...cfg, demand: { prices: [{ price: 10 }], billingStartDay: 15 } }, clock);
    expect(ev15.billingPeriod(clock.fromLocal(2026, 1, 3, 60))).toEqual({ from: clock.fromLocal(2025, 12, 15), to: clock.fromLocal(2026, 1, 15) });
    const ts = clock.fromLocal(2026, 1, 5, 120);
    // 200 kWh over a 2-hour gap is 100 kW, not 800 kW.
    const d = demandCharge(ev15, [{ ts, value: 200, flags: 1, spanFrom: ts + INTERVAL_MS - 2 * 3_600_000 }], ev15.billingPeriod(ts));
    expect(d.peakKw).toBeCloseTo(100, 9);
  });
});
