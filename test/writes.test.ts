import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { parseYaml } from "../src/config/profile.ts";
import { DEMO_SITE } from "../src/embedded.ts";
import { startSimulator, type Sim } from "../src/sim/simulator.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { waitFor } from "./helpers/peers.ts";

/** Writes travel main → bus worker (correlation id) → device, between poll requests, and come back with the device's answer. */
let sim: Sim;
let busbar: Busbar;
const idx = (id: string) => busbar.registry.byId.get(id)!.index;
const point = (id: string) => busbar.live.value(busbar.registry.byId.get(id)!);

beforeAll(async () => {
  const site = parseSite(parseYaml(DEMO_SITE, "demo"), loadProfiles(), "demo");
  sim = startSimulator(site, { anyPort: true });
  busbar = await startBusbar({ site: sim.servedSite, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
  await waitFor("2B3 closed", () => point("2B3.closed").quality === "good" && point("2B3.closed").value === 1, 10_000);
});

afterAll(async () => {
  await busbar?.stop();
  sim?.stop();
});

describe("writes through the bus worker", () => {
  it("opens and closes a feeder breaker and returns the device's result", async () => {
    const open = await busbar.supervisor.write(idx("2B3.cmd_open_close"), 0);
    expect(open).toMatchObject({ ok: true });
    expect(open.ms).toBeLessThan(1000);
    await waitFor("2B3 open", () => point("2B3.closed").value === 0, 3000);
    expect(sim.getValue("2B3", "closed")).toBe(0);
    const close = await busbar.supervisor.write(idx("2B3.cmd_open_close"), 1);
    expect(close.ok).toBe(true);
    await waitFor("2B3 closed again", () => point("2B3.closed").value === 1, 3000);
  });

  it("reports the device's refusal (exception) and refuses non-writable points", async () => {
    const bad = await busbar.supervisor.write(idx("2B3.cmd_open_close"), 7);
    expect(bad.ok).toBe(false);
    expect(bad.error).toMatch(/exception 3 \(illegal data value\)/);
    const ro = await busbar.supervisor.write(idx("2B3.p_total"), 1);
    expect(ro).toMatchObject({ ok: false, error: "2B3.p_total is not writable" });
  });

  it("writes a float setpoint with its scaling", async () => {
    const id = busbar.registry.byId.get("BESS.max_charge_current")!;
    const r = await busbar.supervisor.write(id.index, 275);
    expect(r.ok).toBe(true);
    if (id.readable) await waitFor("setpoint read back", () => point(id.id).value === 275, 3000);
    expect(sim.getValue("BESS", id.name)).toBe(275);
  });
});
