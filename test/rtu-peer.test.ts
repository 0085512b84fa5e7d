import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { FaultyRelay } from "../src/sim/serial-faults.ts";
import { putFloats, waitFor } from "./helpers/peers.ts";
import { startPtyPair, startPyModbusRtu, type PtyPair, type PyModbusRtu } from "./fixtures/rtu-peers.ts";

/**
 * Busbar polling Debian's pymodbus — an independent Modbus RTU server — over socat pty pairs, through
 * its real bus worker, with a fault injector on the line between them:
 *
 *   Busbar ── pty pair 1 ── FaultyRelay ── pty pair 2 ── pymodbus (units 1, 2, 3; unit 4 absent)
 *
 * The relay corrupts replies per unit: bad CRC, dropped bytes, noise, echo, silence, late replies.
 * Throughout, the healthy devices' values must stay good and the worker must never restart.
 */

function th40cImage(floats: Record<number, number>): Record<number, number> {
  const regs: Record<number, number> = {};
  for (const [from, to] of [[0x1040, 0x1046], [0x8000, 0x8140], [0xa600, 0xa680]] as const) for (let a = from; a < to; a++) regs[a] = 0;
  for (let a = 0x1040; a <= 0x1045; a++) regs[a] = [2026, 11, 21, 9, 30, 0][a - 0x1040]!;
  return putFloats(regs, floats);
}

let busPair: PtyPair;
let devPair: PtyPair;
let relay: FaultyRelay;
let py: PyModbusRtu;
let busbar: Busbar;
const LINE = { baud: 9600, parity: "none", stopBits: 1 } as const;

const point = (id: string) => busbar.live.value(busbar.registry.byId.get(id)!);
const busStats = () =>
  busbar.supervisor.stats()[0] as unknown as {
    restarts: number;
    kind: string;
    timeouts: number;
    badReplies: number;
    line?: Record<string, number>;
    devices?: { id: string; status: string; requests: number; timeouts: number }[];
  };
const status = (id: string) => busStats().devices?.find((d) => d.id === id)?.status;

/** Samples qualities every 50 ms while `during` runs; returns the non-good samples of each point. */
async function watchGood(points: string[], during: () => Promise<void>): Promise<Record<string, string[]>> {
  const bad: Record<string, string[]> = Object.fromEntries(points.map((p) => [p, []]));
  let on = true;
  const sampler = (async () => {
    while (on) {
      for (const p of points) {
        const q = point(p).quality;
        if (q !== "good") bad[p]!.push(q);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    await during();
  } finally {
    on = false;
    await sampler;
  }
  return bad;
}

beforeAll(async () => {
  busPair = await startPtyPair();
  devPair = await startPtyPair();
  py = await startPyModbusRtu(
    devPair.b,
    {
      1: { hr: th40cImage({ 0x8010: 0.39, 0xa612: 230.5, 0xa614: 231.25, 0xa616: 229.75, 0xa622: 12.25, 0xa630: 8.5 }) },
      2: { hr: th40cImage({ 0x8010: 1234.5, 0xa612: 347, 0xa622: 100, 0xa630: 60 }) },
      3: { hr: th40cImage({ 0x8010: 77, 0xa612: 120, 0xa622: 3, 0xa630: 0.5 }) },
    },
    LINE,
  );
  relay = new FaultyRelay(busPair.b, devPair.a, LINE);
  const dev = (id: string, unit: number) => ({ id, bus: "rs485", unit, profile: "th40c", pollMs: 500, slowPollMs: 500 });
  const site = parseSite(
    {
      site: { name: "rtu peer test" },
      // Line settings left out: the TH40C profile says 9600 8N1.
      // A generous timeout: pymodbus (Python) on a busy shared machine sometimes takes a while.
      buses: [{ id: "rs485", kind: "modbus-rtu", port: busPair.a, timeoutMs: 600, retries: 1, backoffMs: 3000 }],
      devices: [dev("M1", 1), dev("M2", 2), dev("M3", 3), dev("DEAD", 4)],
    },
    loadProfiles(),
  );
  busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
});

afterAll(async () => {
  await busbar?.stop();
  await relay?.close();
  await py?.stop();
  await devPair?.stop();
  await busPair?.stop();
});

describe("Modbus RTU against pymodbus over socat", () => {
  it("takes the line settings from the profile and reads the right values", async () => {
    const bus = busbar.site.buses[0]!;
    expect(bus).toMatchObject({ kind: "modbus-rtu", baud: 9600, parity: "none", stopBits: 1, timeoutMs: 600 });
    await waitFor("M1..M3 values", () => ["M1", "M2", "M3"].every((d) => point(`${d}.v_an`).quality === "good" && point(`${d}.energy_import`).quality === "good"), 15_000);
    expect(point("M1.energy_import").value).toBeCloseTo(0.39, 5);
    expect(point("M1.v_an").value).toBe(230.5);
    expect(point("M1.v_bn").value).toBe(231.25);
    expect(point("M1.i_a").value).toBe(12.25);
    expect(point("M2.energy_import").value).toBe(1234.5);
    expect(point("M2.v_an").value).toBe(347);
    expect(point("M3.p_total").value).toBe(0.5);
    await waitFor("DEAD comm-fail", () => status("DEAD") === "comm-fail" && point("DEAD.v_an").quality === "comm-fail", 10_000);
    expect(busStats().kind).toBe("modbus-rtu");
  });

  it("counts and retries bad CRCs, dropped bytes, noise and echoes, keeping every value good", async () => {
    const before = { ...busStats().line! };
    const bad = await watchGood(["M1.v_an", "M2.v_an", "M3.v_an"], async () => {
      // Every other reply is faulty, so each retry gets through.
      relay.faults.set(1, { badCrc: true, count: 4, every: 2 });
      relay.faults.set(2, { dropBytes: 3, count: 4, every: 2 });
      relay.faults.set(3, { noise: 5, count: 4, every: 2 });
      await waitFor("faults applied", () => (relay.faults.applied.get(1) ?? 0) >= 4 && (relay.faults.applied.get(2) ?? 0) >= 4 && (relay.faults.applied.get(3) ?? 0) >= 4, 15_000);
      relay.faults.set(1, { echo: true, count: 3 });
      await waitFor("echoes", () => (busStats().line?.echoes ?? 0) - (before.echoes ?? 0) >= 3, 10_000);
      await new Promise((r) => setTimeout(r, 1500));
    });
    const after = busStats().line!;
    expect(after.crcErrors! - before.crcErrors!).toBeGreaterThanOrEqual(4);
    expect(after.shortFrames! - before.shortFrames!).toBeGreaterThanOrEqual(4);
    expect(after.garbageBytes! - before.garbageBytes!).toBeGreaterThanOrEqual(4 * 5);
    expect(after.echoes! - before.echoes!).toBeGreaterThanOrEqual(3);
    // Each fault cost one retry; no value ever left "good".
    expect(bad).toEqual({ "M1.v_an": [], "M2.v_an": [], "M3.v_an": [] });
    expect(busStats().restarts).toBe(0);
  });

  it("marks a silent device and a late one comm-fail while the others stay good, then recovers", async () => {
    const m3Timeouts = () => busStats().devices?.find((d) => d.id === "M3")?.timeouts ?? 0;
    const before3 = m3Timeouts();
    const bad = await watchGood(["M1.v_an", "M1.energy_import"], async () => {
      relay.faults.set(2, { silent: true });
      // Far beyond the 600 ms timeout (+ the reply's wire time): its answers land in later requests.
      relay.faults.set(3, { lateMs: 2000 });
      await waitFor("M2 comm-fail", () => point("M2.v_an").quality === "comm-fail", 10_000);
      // A late reply may still land in a later request to the same device and read (RTU has no
      // transaction ids), so M3 flaps between timeouts and old-but-right answers: its timeouts count.
      await waitFor("M3 timing out", () => m3Timeouts() > before3, 10_000);
      // Let the late replies collide with the other devices' polls for a while.
      await new Promise((r) => setTimeout(r, 4000));
    });
    expect(bad).toEqual({ "M1.v_an": [], "M1.energy_import": [] });
    // The last good value is kept for display, marked comm-fail.
    expect(point("M2.v_an")).toMatchObject({ value: 347, quality: "comm-fail" });
    relay.faults.clear();
    await waitFor("M2 and M3 recover", () => point("M2.v_an").quality === "good" && point("M3.v_an").quality === "good", 15_000);
    expect(point("M3.v_an").value).toBe(120);
    expect(busStats().restarts).toBe(0);
    expect(busStats().timeouts).toBeGreaterThan(0);
  });
});
