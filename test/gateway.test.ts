import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite, type Site } from "../src/config/site.ts";
import type { Gateway } from "../src/gateway/gateway.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { SimDevice } from "../src/sim/device.ts";
import { RtuSlave, simDevicesHandler } from "../src/sim/serial.ts";
import { floatWords, freePort, waitFor } from "./helpers/peers.ts";
import { startPtyPair, type PtyPair } from "./fixtures/rtu-peers.ts";

/**
 * The Modbus TCP gateway driven by independent masters (Debian's mbpoll and pymodbus's client),
 * in front of an RTU bus served by Busbar's simulator over a socat pty pair:
 *
 *   mbpoll / pymodbus ── TCP ── gateway ── bus worker queue ── pty pair ── RtuSlave (sim)
 *
 * Units: 1 = TH40C M1 (cached mode), 2 = TH40C M2 (pass-through), 5 = generic G5 (writable hr_3),
 * 4 = DEAD (configured, never answers), 99 = unknown.
 */

let pair: PtyPair;
let slave: RtuSlave;
let busbar: Busbar;
let gateway: Gateway;
let site: Site;
const sims = new Map<string, SimDevice>();
/** Wire requests per unit seen by the simulated devices, as "fc/start/count". */
const wire = new Map<number, string[]>();
const wireCount = (unit: number) => wire.get(unit)?.length ?? 0;

const point = (id: string) => busbar.live.value(busbar.registry.byId.get(id)!);
const busStats = () => busbar.supervisor.stats()[0] as unknown as { restarts: number; forwarded?: number; devices: { id: string; requests: number; status: string }[] };

function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
  });
}

const mbpoll = (args: string[], writeValues: string[] = []) =>
  run("mbpoll", ["-m", "tcp", "-p", String(gateway.port), "-1", "-o", "3", ...args, "127.0.0.1", ...writeValues]);
/** mbpoll's "[ref]: value" lines. */
const values = (out: string) => [...out.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)].map((m) => Number(m[2]));

async function pyClients(spec: unknown): Promise<{ ok: number; wrong: unknown[]; exceptions: Record<string, number>; errors: string[]; ms: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), "busbar-gw-"));
  const file = join(dir, "spec.json");
  writeFileSync(file, JSON.stringify(spec));
  const r = await run("/usr/bin/python3", [join(import.meta.dirname, "fixtures/pymodbus_tcp_clients.py"), "127.0.0.1", String(gateway.port), file], 50_000);
  if (r.code !== 0) throw new Error(`pymodbus clients failed (${r.code}): ${r.err}`);
  return JSON.parse(r.out.trim().split("\n").pop()!);
}

beforeAll(async () => {
  pair = await startPtyPair();
  const profiles = loadProfiles();
  const gwPort = await freePort();
  site = parseSite(
    {
      site: { name: "gateway test" },
      buses: [{ id: "rs485", kind: "modbus-rtu", port: pair.a, baud: 38400, parity: "even", timeoutMs: 500, retries: 1, backoffMs: 3000 }],
      devices: [
        { id: "M1", bus: "rs485", unit: 1, profile: "th40c", pollMs: 300, slowPollMs: 300 },
        { id: "M2", bus: "rs485", unit: 2, profile: "th40c", pollMs: 300, slowPollMs: 300 },
        { id: "G5", bus: "rs485", unit: 5, profile: "generic", pollMs: 300 },
        { id: "DEAD", bus: "rs485", unit: 4, profile: "generic", pollMs: 300 },
      ],
      gateway: { host: "127.0.0.1", port: gwPort, units: [{ unit: 1, device: "M1", mode: "cached", maxAgeMs: 5000 }], maxClientsPerAddress: 64, writes: { enabled: true, clients: ["127.0.0.1"], registers: [{ unit: 5, from: 0, to: 0 }] } },
    },
    profiles,
  );
  for (const d of site.devices.filter((x) => x.id !== "DEAD")) sims.set(d.id, new SimDevice(d, site.profiles.get(d.profile)!));
  sims.get("M1")!.set("v_an", 230.5);
  sims.get("M1")!.set("i_a", 12.25);
  sims.get("M2")!.set("v_an", 347);
  sims.get("M2")!.set("energy_import", 1234.5);
  sims.get("G5")!.set("hr_0", 11);
  sims.get("G5")!.set("hr_3", 7);
  const handler = simDevicesHandler(sims.values());
  const counted = {
    ...handler,
    readRegisters: (unit: number, fc: 3 | 4, a: number, c: number, conn: never) => {
      if (!wire.has(unit)) wire.set(unit, []);
      wire.get(unit)!.push(`${fc}/${a}/${c}`);
      return handler.readRegisters(unit, fc, a, c, conn);
    },
  };
  slave = new RtuSlave({ path: pair.b, line: { baud: 38400, parity: "even", stopBits: 1 }, handler: counted });
  busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
  // The runtime starts the site's gateway itself.
  gateway = busbar.gateway!;
  expect(gateway.port).toBe(gwPort);
  await waitFor("devices polled", () => point("M1.v_an").quality === "good" && point("M2.v_an").quality === "good" && point("G5.hr_0").quality === "good", 15_000);
  await waitFor("DEAD comm-fail", () => point("DEAD.hr_0").quality === "comm-fail", 10_000);
  await waitFor("bus statistics", () => busStats().devices?.length === 4, 5000);
});

afterAll(async () => {
  await busbar?.stop();
  await slave?.close();
  await pair?.stop();
});

describe("Modbus TCP gateway", () => {
  it("routes units: every device at its own unit, M1 as listed", () => {
    expect([...gateway.routes.values()].map((r) => [r.unit, r.device, r.mode])).toEqual([
      [1, "M1", "cached"],
      [2, "M2", "pass"],
      [5, "G5", "pass"],
      [4, "DEAD", "pass"],
    ]);
  });

  it("passes mbpoll's reads through to the RTU device", async () => {
    const before = wireCount(2);
    const fwd = gateway.stats().forwarded;
    // 1-based reference: 0xA612 + 1 = 42515, floats high word first.
    const r = await mbpoll(["-a", "2", "-r", String(0xa612 + 1), "-c", "1", "-t", "4:float", "-B"]);
    expect(r.code, r.err).toBe(0);
    expect(values(r.out)).toEqual([347]);
    const e = await mbpoll(["-a", "2", "-r", String(0x8010 + 1), "-c", "1", "-t", "4:float", "-B"]);
    expect(values(e.out)).toEqual([1234.5]);
    expect(gateway.stats().forwarded).toBe(fwd + 2);
    expect(wire.get(2)!.slice(before)).toEqual(expect.arrayContaining([`3/${0xa612}/2`, `3/${0x8010}/2`]));
  });

  it("passes mbpoll's and pymodbus's writes through to the device", async () => {
    const r = await mbpoll(["-a", "5", "-r", "4", "-t", "4"], ["1234"]);
    expect(r.code, r.err + r.out).toBe(0);
    expect(sims.get("G5")!.get("hr_3")).toBe(1234);
    const py = await pyClients({ clients: 1, rounds: 1, ops: [{ fn: "write_register", unit: 5, address: 3, value: 4321 }, { fn: "read_holding_registers", unit: 5, address: 3, count: 1, expect: [4321] }] });
    expect(py).toMatchObject({ ok: 2, wrong: [], exceptions: {}, errors: [] });
    expect(sims.get("G5")!.get("hr_3")).toBe(4321);
    // Busbar reads it back soon after another master wrote it.
    await waitFor("hr_3 polled", () => point("G5.hr_3").value === 4321, 5000);
    // The device's own exception passes through: hr_0 is read-only in the simulator.
    const x = await pyClients({ clients: 1, rounds: 1, ops: [{ fn: "write_register", unit: 5, address: 0, value: 1 }] });
    expect(x.exceptions).toEqual({ "2": 1 });
  });

  it("answers cached reads from the last poll replies, without a frame on the wire", async () => {
    await waitFor("M1 polled", () => point("M1.v_an").quality === "good", 5000);
    const fwd = gateway.stats().forwarded;
    const hits = gateway.stats().cacheHits;
    const wireBefore = wireCount(1);
    const r = await mbpoll(["-a", "1", "-r", String(0xa612 + 1), "-c", "1", "-t", "4:float", "-B"]);
    expect(values(r.out)).toEqual([230.5]);
    const [hi, lo] = floatWords(12.25);
    const py = await pyClients({ clients: 4, rounds: 5, ops: [{ fn: "read_holding_registers", unit: 1, address: 0xa622, count: 2, expect: [hi, lo] }] });
    expect(py).toMatchObject({ ok: 20, wrong: [], exceptions: {}, errors: [] });
    expect(gateway.stats().cacheHits - hits).toBe(21);
    expect(gateway.stats().forwarded).toBe(fwd);
    await new Promise((r) => setTimeout(r, 700)); // a couple of poll cycles
    // Every frame unit 1 saw meanwhile was one of Busbar's own planned polls, none of the clients' reads.
    const planned = new Set(busbar.modbus.plans.get("M1")!.map((r) => `${r.fc}/${r.start}/${r.count}`));
    const seen = wire.get(1)!.slice(wireBefore);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((x) => !planned.has(x))).toEqual([]);
    // Registers Busbar does not poll pass through (the simulator answers "illegal address" there).
    const miss = await pyClients({ clients: 1, rounds: 1, ops: [{ fn: "read_holding_registers", unit: 1, address: 0x2000, count: 2 }] });
    expect(miss.exceptions).toEqual({ "2": 1 });
    expect(gateway.stats().forwarded).toBe(fwd + 1);
    expect(wire.get(1)!.slice(wireBefore)).toContain(`3/${0x2000}/2`);
  });

  it("answers 0x0B for a dead unit and 0x0A for an unknown one", async () => {
    const t0 = performance.now();
    const r = await pyClients({
      clients: 1,
      rounds: 1,
      ops: [
        { fn: "read_holding_registers", unit: 4, address: 0, count: 1 },
        { fn: "read_holding_registers", unit: 99, address: 0, count: 1 },
      ],
    });
    expect(r.exceptions).toEqual({ "11": 1, "10": 1 });
    // DEAD is known comm-fail: answered at once, without a timeout on the bus.
    expect(performance.now() - t0).toBeLessThan(5000);
    const m = await mbpoll(["-a", "99", "-r", "1"]);
    expect(m.out + m.err).toMatch(/gateway path|0x0a|Gateway/i);
  });

  it("closes a connection with a malformed MBAP header, and only that one", async () => {
    const bad = connect(gateway.port, "127.0.0.1");
    await new Promise<void>((r) => bad.once("connect", () => r()));
    const closed = new Promise<void>((r) => bad.once("close", () => r()));
    // Protocol id 0x1234 instead of 0.
    bad.write(Uint8Array.of(0, 1, 0x12, 0x34, 0, 6, 1, 3, 0, 0, 0, 1));
    await closed;
    const r = await mbpoll(["-a", "2", "-r", String(0xa612 + 1), "-c", "1", "-t", "4:float", "-B"]);
    expect(values(r.out)).toEqual([347]);
  });

  it("serves 32 pymodbus clients at once, cached and pass-through, while Busbar keeps polling", async () => {
    const [vhi, vlo] = floatWords(230.5);
    const [m2hi, m2lo] = floatWords(347);
    const m1Wire = wireCount(1);
    const m2Wire = wireCount(2);
    const hits = gateway.stats().cacheHits;
    const r = await pyClients({
      clients: 32,
      rounds: 3,
      ops: [
        { fn: "read_holding_registers", unit: 1, address: 0xa612, count: 2, expect: [vhi, vlo] },
        { fn: "read_holding_registers", unit: 2, address: 0xa612, count: 2, expect: [m2hi, m2lo] },
        { fn: "read_holding_registers", unit: 5, address: 0, count: 1, expect: [11] },
      ],
    });
    expect(r.errors).toEqual([]);
    expect(r.wrong).toEqual([]);
    expect(r.exceptions).toEqual({});
    expect(r.ok).toBe(32 * 3 * 3);
    expect(gateway.stats().cacheHits - hits).toBe(32 * 3);
    // Polling went on: both meters were polled during the burst and are still good.
    const planned = new Set([...busbar.modbus.plans.get("M1")!, ...busbar.modbus.plans.get("M2")!].map((r) => `${r.fc}/${r.start}/${r.count}`));
    expect(wire.get(1)!.slice(m1Wire).filter((x) => planned.has(x)).length).toBeGreaterThan(0);
    expect(wire.get(2)!.slice(m2Wire).filter((x) => planned.has(x)).length).toBeGreaterThan(0);
    expect(point("M1.v_an").quality).toBe("good");
    expect(point("M2.v_an").quality).toBe("good");
    expect(busStats().restarts).toBe(0);
  });
});
