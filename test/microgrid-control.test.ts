import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { parseYaml } from "../src/config/profile.ts";
import { DEMO_SITE } from "../src/generated/embedded.ts";
import { startSimulator, type Sim } from "../src/sim/simulator.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { waitFor } from "./helpers/peers.ts";

/**
 * The microgrid control on the running demo: the simulator's building and BESS over Modbus TCP,
 * Busbar's controller writing the BESS's setpoint through the bus worker (issue 12).
 */
let sim: Sim;
let busbar: Busbar;
const info = (id: string) => busbar.registry.byId.get(id)!;
const val = (id: string) => busbar.live.value(info(id)).value as number;
const q = (id: string) => busbar.live.value(info(id)).quality;
const write = (id: string, v: number) => busbar.supervisor.write(info(id).index, v);
const rows = (type: string) => busbar.journal.list({ type }, 1000);

beforeAll(async () => {
  const raw = parseYaml(DEMO_SITE, "demo") as Record<string, any>;
  // Short holds so a test sees stages move; the BESS device answers fast.
  raw.microgrid.shedding = { ...raw.microgrid.shedding, holdUpS: 1, holdDownS: 2 };
  for (const b of raw.buses) if (b.kind === "modbus-tcp") b.timeoutMs = 300;
  const site = parseSite(raw, loadProfiles(), "demo");
  sim = startSimulator(site, { anyPort: true });
  sim.setValue("BESS", "p_control_mode", 1);
  busbar = await startBusbar({ site: sim.servedSite, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
  await waitFor("microgrid kW", () => q("MICROGRID.kw_instant") === "good" && q("BESS.soc") === "good", 10_000);
}, 20_000);

afterAll(async () => {
  await busbar?.stop();
  sim?.stop();
});

describe("microgrid control on the demo", () => {
  it("computes the building kW from 5B1 and falls back to the TH40C on a 5B1 comm gap", async () => {
    expect(val("MICROGRID.kw_instant")).toBeCloseTo(val("5B1.p_total"), 1);
    expect(val("MICROGRID.kw_source")).toBe(0);
    sim.setOffline("5B1", true);
    await waitFor("TH40C fallback", () => val("MICROGRID.kw_source") === 1, 8000);
    expect(q("MICROGRID.kw_instant")).toBe("good");
    expect(rows("microgrid.source").some((r) => /TH40C/.test(r.message))).toBe(true);
    sim.setOffline("5B1", false);
    await waitFor("back on 5B1", () => val("MICROGRID.kw_source") === 0, 8000);
  }, 20_000);

  it("a GDP event: setpoint drops, the BESS discharges and holds the building under it", async () => {
    // Load the building above the event setpoint (200 kW) but within what the battery can cover.
    const base = val("5B1.p_total");
    const feeder = sim.status().breakers.find((b) => b.feeder && b.closed)!;
    sim.setLoad(feeder.id, { kind: "constant", kw: Math.max(0, feeder.kw + (260 - base)) });
    await waitFor("building ~260 kW", () => Math.abs(val("5B1.p_total") - 260) < 15, 5000);
    const t0 = Date.now();
    expect((await write("MICROGRID.gdp_request", 1)).ok).toBe(true);
    await waitFor("GDP active", () => val("MICROGRID.gdp_active") === 1 && val("MICROGRID.setpoint_active") === 200, 1000);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(rows("microgrid.gdp").at(0)?.message).toMatch(/Événement GDP commencé/);
    await waitFor("BESS discharging, building under 200 kW", () => val("BESS.power") > 30 && val("5B1.p_total") < 200, 10_000);
    const w = rows("point.write").filter((r) => r.actor === "control");
    expect(w.length).toBeGreaterThan(0);
    expect(w[0]!.source).toBe("BESS.p_setpoint");
  }, 25_000);

  it("interlocks: contactor open, BESS fault, comm loss → stop writing within one cycle, alarm", async () => {
    const alarmActive = () => busbar.alarms.get("MICROGRID.bess_interlock.H")?.active === true;
    for (const [name, on, off, code] of [
      ["contactor", () => sim.setValue("BESS", "contactor", 0), () => sim.setValue("BESS", "contactor", 1), 2],
      ["fault", () => sim.setBessFault("BESS", true), () => sim.setBessFault("BESS", false), 3],
      ["comm", () => sim.setOffline("BESS", true), () => sim.setOffline("BESS", false), 1],
    ] as const) {
      on();
      await waitFor(`${name} interlock`, () => val("MICROGRID.bess_interlock") === code, 6000);
      const writes = busbar.microgrid!.writes;
      expect(val("MICROGRID.bess_command"), name).toBe(0);
      await waitFor(`${name} alarm`, () => alarmActive(), 3000);
      await new Promise((r) => setTimeout(r, 2500));
      expect(busbar.microgrid!.writes, `${name}: no write while interlocked`).toBe(writes);
      off();
      await waitFor(`${name} cleared`, () => val("MICROGRID.bess_interlock") === 0, 8000);
    }
    expect(rows("microgrid.interlock").length).toBeGreaterThanOrEqual(6);
  }, 60_000);

  it("manual: Busbar never writes", async () => {
    expect((await write("MICROGRID.bess_mode", 0)).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    const writes = busbar.microgrid!.writes;
    await new Promise((r) => setTimeout(r, 3000));
    expect(busbar.microgrid!.writes).toBe(writes);
    expect((await write("MICROGRID.bess_mode", 1)).ok).toBe(true);
    expect((await write("MICROGRID.gdp_request", 0)).ok).toBe(true);
    await waitFor("GDP ended", () => val("MICROGRID.gdp_active") === 0, 1000);
  }, 15_000);
});
