import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { freePort, startPyModbus, waitFor, type PyModbusServer } from "./helpers/peers.ts";

/**
 * Ethernet devices with their own address on one modbus-tcp bus: one worker, one connection and
 * queue per address, polled in parallel — a dead address does not slow the others, and each
 * device answers from its own server even with the same unit id. Peers: two pymodbus servers.
 */
let a: PyModbusServer;
let b: PyModbusServer;
let busbar: Busbar;
const point = (id: string) => busbar.live.value(busbar.registry.byId.get(id)!);
const regs = (base: number) => ({ 1: { hr: { 0: base, 1: base + 1, 2: base + 2, 3: base + 3, 4: 0, 5: 0 } } });

beforeAll(async () => {
  [a, b] = await Promise.all([startPyModbus(regs(100)), startPyModbus(regs(200))]);
  const deadPort = await freePort();
  const site = parseSite(
    {
      site: { name: "ethernet meters" },
      buses: [{ id: "lan", kind: "modbus-tcp", host: "127.0.0.1", port: a.port, timeoutMs: 400, retries: 0, backoffMs: 3000 }],
      devices: [
        { id: "A", bus: "lan", unit: 1, profile: "generic", pollMs: 250 },
        { id: "B", bus: "lan", unit: 1, profile: "generic", pollMs: 250, port: b.port },
        { id: "C", bus: "lan", unit: 1, profile: "generic", pollMs: 250, host: "127.0.0.1", port: deadPort },
      ],
    },
    loadProfiles(),
  );
  busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
});

afterAll(async () => {
  await busbar?.stop();
  await Promise.all([a?.stop(), b?.stop()]);
});

describe("modbus-tcp bus with per-device addresses", () => {
  it("reads each device from its own server, with the same unit id", async () => {
    await waitFor("A and B good", () => point("A.hr_0").quality === "good" && point("B.hr_0").quality === "good", 10_000);
    expect(point("A.hr_0").value).toBe(100);
    expect(point("B.hr_0").value).toBe(200);
    expect(point("B.hr_3").value).toBe(203);
    await waitFor("C comm-fail", () => point("C.hr_0").quality === "comm-fail", 5000);
  });

  it("keeps the live addresses at their rate while another address is dead", async () => {
    const ages: number[] = [];
    for (let i = 0; i < 20; i++) {
      for (const id of ["A.hr_0", "B.hr_0"]) {
        const v = point(id);
        expect(v.quality).toBe("good");
        ages.push(Date.now() - v.ts!);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    // In parallel: never held behind C's connection attempts or timeouts.
    expect(Math.max(...ages)).toBeLessThan(250 + 200);
  });

  it("reports the addresses as one bus, and routes a write to the device's own address", async () => {
    await waitFor("merged stats", () => (busbar.supervisor.stats()[0] as { devices?: unknown[] }).devices?.length === 3, 5000);
    const stats = busbar.supervisor.stats()[0] as unknown as { bus: string; connected: boolean; devices: { id: string; status: string }[] };
    expect(stats.bus).toBe("lan");
    expect(stats.connected).toBe(false); // C's address is down
    expect(Object.fromEntries(stats.devices.map((d) => [d.id, d.status]))).toEqual({ A: "ok", B: "ok", C: "comm-fail" });
    const r = await busbar.supervisor.write(busbar.registry.byId.get("B.hr_3")!.index, 777);
    expect(r.ok).toBe(true);
    await waitFor("B.hr_3 written", () => point("B.hr_3").value === 777, 3000);
    expect(point("A.hr_3").value).toBe(103);
  });

  it("rejects an address on a device of a serial bus, and a unit used twice behind one address", () => {
    const profiles = loadProfiles();
    expect(() =>
      parseSite(
        {
          site: { name: "x" },
          buses: [{ id: "rs", kind: "modbus-rtu", port: "/dev/ttyUSB0" }, { id: "lan", kind: "modbus-tcp", host: "h" }],
          devices: [
            { id: "A", bus: "rs", unit: 1, profile: "generic", host: "10.0.0.5" },
            { id: "B", bus: "lan", unit: 1, profile: "generic", port: 5020 },
            { id: "C", bus: "lan", unit: 1, profile: "generic", port: 5020 },
          ],
        },
        profiles,
      ),
    ).toThrow(/devices\[0\]\.host: only devices on a modbus-tcp bus have their own address[\s\S]*devices\[2\]\.unit: unit 1 is already used on bus lan at \(bus host\):5020 by B/);
  });
});
