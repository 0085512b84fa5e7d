import { describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseYaml } from "../src/config/profile.ts";
import { parseSite, type Site } from "../src/config/site.ts";
import { DEMO_SITE } from "../src/embedded.ts";
import { startSimulator, type Sim } from "../src/sim/simulator.ts";

/**
 * Issue 9 item 18: the demo's energy counters agree, since the energy pages sum them. Feeders never
 * sum above the main breaker (5B1), and the TH40C beside 5B1 reads the same energy within the two
 * devices' accuracy: at start for any seed, and after a simulated month of load and BESS cycling.
 * Values are read back from the simulated devices' register images (scale and word order applied).
 */
const site: Site = parseSite(parseYaml(DEMO_SITE, "demo"), loadProfiles(), "demo");
const MAIN = "5B1";
const feeders = site.topology.breakers.filter((b) => b.from === "mdp");
const energyTag = (device: string, role = "energy.total") => {
  const d = site.devices.find((x) => x.id === device)!;
  return site.profiles.get(d.profile)!.tags.find((t) => t.role === role)!;
};
const read = (sim: Sim, device: string, tag: string) => sim.getValue(device, tag) as number;
const totals = (sim: Sim) => {
  const main = read(sim, MAIN, energyTag(MAIN).id);
  const th40c = read(sim, "TH40C", energyTag("TH40C").id);
  const feederSum = feeders.reduce((s, b) => s + read(sim, b.device!, energyTag(b.device!).id), 0);
  return { main, th40c, feederSum };
};

describe("demo energy counters", () => {
  it("have the feeders' sum at or below the main, and the TH40C within 0.5 % of 5B1, for any seed", () => {
    expect(feeders.length).toBe(14);
    expect(energyTag(MAIN).unit).toBe("kWh");
    for (const b of feeders) expect(energyTag(b.device!).unit).toBe("kWh");
    for (let seed = 1; seed <= 25; seed++) {
      const sim = startSimulator(site, { seed, anyPort: true, autoTick: false });
      try {
        sim.tick();
        const t = totals(sim);
        expect(t.feederSum, `seed ${seed}`).toBeGreaterThan(1e6); // years-old counters, not zero
        expect(t.feederSum, `seed ${seed}`).toBeLessThanOrEqual(t.main);
        expect(t.main / t.feederSum, `seed ${seed}: unmetered share`).toBeLessThan(1.03);
        expect(Math.abs(t.th40c / t.main - 1), `seed ${seed}: TH40C vs 5B1`).toBeLessThanOrEqual(0.005);
      } finally {
        sim.stop();
      }
    }
  });

  it("still agree after a simulated month: what the feeders count, the main counts", () => {
    let now = Date.UTC(2026, 5, 1);
    const sim = startSimulator(site, { seed: 3, anyPort: true, autoTick: false, clock: () => now });
    try {
      sim.tick();
      const start = totals(sim);
      const bess = (s: Sim) => read(s, "2B8", energyTag("2B8").id);
      const bessStart = bess(sim);
      for (let h = 0; h < 30 * 24 * 4; h++) {
        now += 15 * 60_000;
        sim.tick();
      }
      const end = totals(sim);
      expect(bess(sim)).toBeGreaterThan(bessStart); // the BESS cycled: its feeder counted the charge
      expect(end.feederSum - start.feederSum).toBeGreaterThan(50_000); // a month of building load
      expect(end.feederSum).toBeLessThanOrEqual(end.main);
      expect(Math.abs(end.th40c / end.main - 1)).toBeLessThanOrEqual(0.005);
      // Same flow, same increase: the TH40C and 5B1 counted the month identically.
      expect(end.th40c - start.th40c).toBeCloseTo(end.main - start.main, 0);
    } finally {
      sim.stop();
    }
  });
});
