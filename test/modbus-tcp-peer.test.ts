import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { freePort, putFloats, startPyModbus, waitFor, type PyModbusServer } from "./helpers/peers.ts";

/**
 * Busbar polling Debian's pymodbus — an independent Modbus TCP server — through its real bus worker.
 * TH40C registers from the seed manual: 0x8010 energy, 0xA612 phase A voltage, 0xA622 current, 0xA630 power.
 */

/** pymodbus' sparse block answers "illegal address" for holes: fill the TH40C's register areas first. */
function th40cImage(floats: Record<number, number>): Record<number, number> {
  const regs: Record<number, number> = {};
  for (const [from, to] of [[0x1040, 0x1046], [0x8000, 0x8140], [0xa600, 0xa680]] as const) for (let a = from; a < to; a++) regs[a] = 0;
  for (let a = 0x1040; a <= 0x1045; a++) regs[a] = [2026, 11, 21, 9, 30, 0][a - 0x1040]!;
  return putFloats(regs, floats);
}

const image = () => ({
  1: { hr: th40cImage({ 0x8010: 0.39, 0xa612: 230.5, 0xa614: 231.25, 0xa616: 229.75, 0xa622: 12.25, 0xa630: 8.5 }) },
  2: { hr: th40cImage({ 0x8010: 1234.5, 0xa612: 347, 0xa622: 100, 0xa630: 60 }) },
});

let server: PyModbusServer;
let busbar: Busbar;
const POLL_MS = 1000;
const TIMEOUT_MS = 300;
const BACKOFF_MS = 3000;

const point = (id: string) => busbar.live.value(busbar.registry.byId.get(id)!);
const deviceStats = (id: string) => {
  const bus = busbar.supervisor.stats()[0] as { devices?: { id: string; requests: number; status: string; lastError: string | null }[] };
  return bus.devices?.find((d) => d.id === id);
};

beforeAll(async () => {
  server = await startPyModbus(image());
  const site = parseSite(
    {
      site: { name: "peer test" },
      buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: server.port, timeoutMs: TIMEOUT_MS, retries: 1, backoffMs: BACKOFF_MS }],
      devices: [
        { id: "M1", bus: "gw", unit: 1, profile: "th40c", pollMs: POLL_MS, slowPollMs: POLL_MS },
        { id: "M2", bus: "gw", unit: 2, profile: "th40c", pollMs: POLL_MS, slowPollMs: POLL_MS },
        // Configured but never answered by the server: a dead device on a live bus.
        { id: "DEAD", bus: "gw", unit: 3, profile: "th40c", pollMs: POLL_MS, slowPollMs: POLL_MS },
      ],
    },
    loadProfiles(),
  );
  busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", kiosk: ["127.0.0.1", "::1", "::ffff:127.0.0.1"], log: () => {} });
});

afterAll(async () => {
  await busbar?.stop();
  await server?.stop();
});

describe("Modbus TCP against pymodbus", () => {
  it("reads the right engineering values", async () => {
    await waitFor("M1 values", () => point("M1.v_an").quality === "good" && point("M1.energy_import").quality === "good");
    expect(point("M1.energy_import").value).toBeCloseTo(0.39, 5);
    expect(point("M1.v_an").value).toBe(230.5);
    expect(point("M1.v_bn").value).toBe(231.25);
    expect(point("M1.v_cn").value).toBe(229.75);
    expect(point("M1.i_a").value).toBe(12.25);
    expect(point("M1.p_total").value).toBe(8.5);
    expect(point("M1.p_total").unit).toBe("kW");
    await waitFor("M2 values", () => point("M2.energy_import").quality === "good");
    expect(point("M2.energy_import").value).toBe(1234.5);
    expect(point("M2.v_an").value).toBe(347);
    const res = await fetch(`${busbar.url}api/points?device=M1`);
    const list = (await res.json()) as { id: string; value: number; unit: string; quality: string; ts: number }[];
    const v = list.find((p) => p.id === "M1.v_an")!;
    expect(v).toMatchObject({ id: "M1.v_an", value: 230.5, unit: "V", quality: "good" });
    expect(Date.now() - v.ts).toBeLessThan(POLL_MS + 1000);
  });

  it("marks a dead device comm-fail while the others keep their rate, costing one timeout per backoff", async () => {
    await waitFor("DEAD comm-fail", () => point("DEAD.v_an").quality === "comm-fail", 5000);
    await waitFor("DEAD stats", () => deviceStats("DEAD")?.status === "comm-fail", 3000);
    expect(deviceStats("DEAD")?.lastError).toMatch(/timeout/);
    const before = { m1: deviceStats("M1")!.requests, dead: deviceStats("DEAD")!.requests };
    const ages: number[] = [];
    const until = Date.now() + 2 * BACKOFF_MS;
    while (Date.now() < until) {
      const v = point("M1.v_an");
      expect(v.quality).toBe("good");
      ages.push(Date.now() - v.ts!);
      await new Promise((r) => setTimeout(r, 100));
    }
    const after = { m1: deviceStats("M1")!.requests, dead: deviceStats("DEAD")!.requests };
    // The live device stays fresh: never older than one period plus one (dead device's) timeout.
    expect(Math.max(...ages)).toBeLessThan(POLL_MS + TIMEOUT_MS + 200);
    const readsPerCycle = busbar.modbus.plans.get("M1")!.length;
    expect(after.m1 - before.m1).toBeGreaterThanOrEqual(readsPerCycle * (2 * BACKOFF_MS / POLL_MS - 1));
    // At most one probe (one request, no retries) per backoff period.
    expect(after.dead - before.dead).toBeLessThanOrEqual(3);
  });

  it("turns comm-fail within one cycle plus timeout when the server stops, and recovers by itself", async () => {
    await waitFor("M1 good", () => point("M1.v_an").quality === "good");
    const stoppedAt = Date.now();
    await server.stop();
    await waitFor("M1 comm-fail", () => point("M1.v_an").quality === "comm-fail" && point("M2.v_an").quality === "comm-fail", 5000, 20);
    const detectMs = Date.now() - stoppedAt;
    expect(detectMs).toBeLessThanOrEqual(POLL_MS + TIMEOUT_MS * 2 + 300);
    // The last value is kept for display, marked comm-fail.
    expect(point("M1.v_an").value).toBe(230.5);

    server = await startPyModbus(image(), server.port);
    const restartedAt = Date.now();
    await waitFor("M1 good again", () => point("M1.v_an").quality === "good", BACKOFF_MS + 5000);
    expect(Date.now() - restartedAt).toBeLessThan(BACKOFF_MS + 2500);
    expect(point("M1.v_an").value).toBe(230.5);
    const events = busbar.db.recentEvents(50).map((e) => `${e.type} ${e.source} ${e.message}`);
    expect(events.some((e) => e.startsWith("device.comm M1") && e.includes("comm-fail"))).toBe(true);
  });

  it("restarts a crashed bus worker within a second, marking its points stale meanwhile", async () => {
    await waitFor("M1 good", () => point("M1.v_an").quality === "good", 8000);
    const seen = new Set<string>();
    const unsubscribe = busbar.live.subscribe((indexes) => {
      const i = busbar.registry.byId.get("M1.v_an")!.index;
      if (indexes.includes(i)) seen.add(point("M1.v_an").quality);
    });
    const crashedAt = Date.now();
    busbar.supervisor.crash("gw");
    await waitFor("restart event", () => busbar.db.recentEvents(20).some((e) => e.type === "worker.restart" && e.ts >= crashedAt), 2000, 10);
    await waitFor("new worker connected", () => (busbar.supervisor.stats()[0] as { connected: boolean }).connected, 1500, 10);
    const restartMs = Date.now() - crashedAt;
    expect(restartMs).toBeLessThan(1500);
    await waitFor("M1 good after restart", () => point("M1.v_an").quality === "good", 3000);
    unsubscribe();
    expect(seen.has("stale")).toBe(true);
    expect((busbar.supervisor.stats()[0] as { restarts: number }).restarts).toBe(1);
  });
});
