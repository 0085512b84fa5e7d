import { execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseProfile } from "../src/config/profile.ts";
import { loadSiteFile, parseSite, type Site } from "../src/config/site.ts";
import { type Sim, startSimulator } from "../src/sim/simulator.ts";
import { scaleValue } from "../src/sim/scale-load.ts";
import { waitFor } from "./helpers/peers.ts";

/**
 * The simulator serving the demo site, read and written over Modbus TCP by independent masters
 * (mbpoll, Debian's pymodbus client) and driven through its API.
 */

const SPEED = 360; // 1 s of wall clock = 6 simulated minutes for the integrators
let site: Site;
let sim: Sim;
let swPort: number; // gw-switchgear
let enPort: number; // gw-energy

beforeAll(() => {
  site = loadSiteFile(join(import.meta.dirname, "../data/demo-site.yaml"), loadProfiles());
  sim = startSimulator(site, { anyPort: true, seed: 7, speed: SPEED });
  // The BESS idles (remote setpoint 0 kW) until its own test: on its own it shaves the midday peak
  // and charges at night, and at this speed it would reach its SOC limits at some hours first.
  sim.device("BESS")!.set("p_control_mode", 1);
  sim.device("BESS")!.set("p_setpoint", 0);
  swPort = sim.ports.get("gw-switchgear")!;
  enPort = sim.ports.get("gw-energy")!;
});
afterAll(() => sim?.stop());

// ---- peers ------------------------------------------------------------------------------------------

function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** mbpoll: references are 1-based, i.e. the Schneider register numbers of the MicroLogic maps. */
async function mbpoll(port: number, args: string[], writeValues: string[] = []) {
  return run("mbpoll", ["-m", "tcp", "-1", "-o", "0.5", "-p", String(port), ...args, "127.0.0.1", ...writeValues]);
}
async function mbRead(port: number, args: string[]): Promise<number[]> {
  const r = await mbpoll(port, args);
  const vals: number[] = [];
  for (const line of r.out.split("\n")) {
    const m = /^\[(\d+)\]:\s+(-?[\d.]+)/.exec(line.trim());
    if (m) vals.push(Number(m[2]));
  }
  if (vals.length === 0) throw new Error(`mbpoll ${args.join(" ")}: ${r.out}`);
  return vals;
}

const PY_CLIENT = `
import json, sys, logging
logging.disable(logging.CRITICAL)
from pymodbus.client import ModbusTcpClient
port = int(sys.argv[1]); ops = json.loads(sys.argv[2])
c = ModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0, retry_on_empty=False)
c.connect()
out = []
for op in ops:
    kind, unit, addr = op[0], op[1], op[2]
    try:
        f = {"rh": c.read_holding_registers, "wr": c.write_register, "wrs": c.write_registers}[kind]
        r = f(addr, op[3], slave=unit)
        if r.isError():
            code = getattr(r, "exception_code", None)
            out.append({"exc": code} if code is not None else {"err": str(r)})
        elif kind == "rh": out.append({"ok": list(r.registers)})
        else: out.append({"ok": True})
    except Exception as e:
        out.append({"err": type(e).__name__ + ": " + str(e)})
c.close()
print(json.dumps(out))
`;
type PyResult = { ok?: unknown; exc?: number; err?: string };
async function pymodbus(port: number, ops: unknown[][]): Promise<PyResult[]> {
  const r = await run("/usr/bin/python3", ["-c", PY_CLIENT, String(port), JSON.stringify(ops)], 20_000);
  try {
    return JSON.parse(r.out.trim().split("\n").pop()!) as PyResult[];
  } catch {
    throw new Error(`pymodbus peer failed: ${r.out}`);
  }
}

const f32 = (w: number[], i = 0) => {
  const d = new DataView(new ArrayBuffer(4));
  d.setUint16(0, w[i]!);
  d.setUint16(2, w[i + 1]!);
  return d.getFloat32(0);
};
const f64 = (w: number[]) => {
  const d = new DataView(new ArrayBuffer(8));
  w.slice(0, 4).forEach((x, i) => d.setUint16(i * 2, x));
  return d.getFloat64(0);
};
const u64 = (w: number[]) => ((w[0]! * 65536 + w[1]!) * 65536 + w[2]!) * 65536 + w[3]!;
const floatWords = (v: number) => {
  const d = new DataView(new ArrayBuffer(4));
  d.setFloat32(0, v);
  return [d.getUint16(0), d.getUint16(2)];
};
const num = (dev: string, tag: string) => sim.getValue(dev, tag) as number;
const unitOf = (id: string) => site.devices.find((d) => d.id === id)!.unit;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// MicroLogic wire addresses (profile registers are 1-based).
const ML_STATUS = 31999; // registers 32000 (validity), 32001 (status bits)
const ML_P_TOTAL = 32077; // register 32078, float W
const ML_ENERGY = 32103; // register 32104, int64 Wh
const ML_CMD = 65280; // register 65281

const FEEDERS = ["2B1", "2B2", "2B3", "2B4", "2B5", "2B6", "2B7", "2B8", "2B9", "2B10", "2B11", "2B12", "2B13", "4B1"];

// ---- tests ------------------------------------------------------------------------------------------------

describe("simulator: the demo site over Modbus TCP", () => {
  it("serves the main breaker's measurements as its profile encodes them (mbpoll)", async () => {
    const u = String(unitOf("5B1"));
    const [van, vbn, vcn] = await mbRead(swPort, ["-a", u, "-r", "32062", "-c", "3", "-t", "4:float", "-B"]);
    for (const v of [van, vbn, vcn]) expect(v).toBeGreaterThan(335), expect(v).toBeLessThan(360);
    const [vab] = await mbRead(swPort, ["-a", u, "-r", "1000", "-t", "4"]);
    expect(vab).toBeGreaterThan(580);
    expect(vab).toBeLessThan(620);
    const [fx10] = await mbRead(swPort, ["-a", u, "-r", "1054", "-t", "4"]);
    expect(fx10).toBeGreaterThanOrEqual(599);
    expect(fx10).toBeLessThanOrEqual(601);
    const [status] = await mbRead(swPort, ["-a", u, "-r", "32001", "-t", "4"]);
    expect(status! & 1).toBe(1); // OF: closed
    expect(status! & 6).toBe(0); // not tripped
    const [pW] = await mbRead(swPort, ["-a", u, "-r", "32078", "-t", "4:float", "-B"]);
    expect(pW).toBeGreaterThan(10_000); // W: a building draws tens to hundreds of kW
    expect(pW).toBeLessThan(1_000_000);
  });

  it("computes the main breaker's power as the sum of its feeders, phases ≈ P/3, currents from P and V", () => {
    sim.tick();
    const sum = FEEDERS.reduce((s, id) => s + num(id, "p_total"), 0);
    const p = num("5B1", "p_total");
    expect(p).toBeCloseTo(sum, 6);
    for (const ph of ["p_a", "p_b", "p_c"]) expect(Math.abs(num("5B1", ph) - p / 3)).toBeLessThan(p * 0.05);
    // I = S / V per phase, with a power factor between 0.85 and 1.
    const ia = num("5B1", "i_a");
    const sa = (ia * num("5B1", "v_an")) / 1000;
    expect(num("5B1", "p_a") / sa).toBeGreaterThan(0.85);
    expect(num("5B1", "p_a") / sa).toBeLessThanOrEqual(1.0001);
    // The TH40C at the main sees the same power.
    expect(num("TH40C", "p_total")).toBeCloseTo(p, 6);
  });

  it("integrates energy counters from power (pymodbus reads the int64 Wh register)", async () => {
    const u = unitOf("2B4");
    const before = await pymodbus(swPort, [["rh", u, ML_ENERGY, 4]]);
    const t0 = Date.now();
    const p0 = num("2B4", "p_total");
    await sleep(1500);
    const after = await pymodbus(swPort, [["rh", u, ML_ENERGY, 4], ["rh", u, ML_P_TOTAL, 2]]);
    const dtH = ((Date.now() - t0) / 3_600_000) * SPEED;
    const dWh = u64(after[0]!.ok as number[]) - u64(before[0]!.ok as number[]);
    const p1 = f32(after[1]!.ok as number[]) / 1000;
    const expected = ((p0 + p1) / 2) * dtH * 1000;
    expect(dWh).toBeGreaterThan(0);
    expect(dWh).toBeGreaterThan(expected * 0.7);
    expect(dWh).toBeLessThan(expected * 1.3);
  });

  it("trips a breaker: OF 0, SD/SDE 1, no power; a close command over Modbus resets it", async () => {
    const u = unitOf("2B3");
    // A known load on 2B3: its daily shape is small at some hours, below the main's own noise.
    // The BESS is held off: above 250 kW it shaves the peak and the main stays at 250 across the trip.
    sim.setBessFault("BESS", true);
    sim.setLoad("2B3", { kind: "constant", kw: 60 });
    await waitFor("2B3 at 60 kW", () => Math.abs(num("2B3", "p_total") - 60) < 3, 5000);
    const mainBefore = num("5B1", "p_total");
    const feederBefore = num("2B3", "p_total");
    expect(feederBefore).toBeGreaterThan(0);
    sim.trip("2B3");
    let r = await pymodbus(swPort, [["rh", u, ML_STATUS, 2], ["rh", u, ML_P_TOTAL, 2]]);
    let status = (r[0]!.ok as number[])[1]!;
    expect(status & 1).toBe(0);
    expect(status & 6).toBe(6);
    expect(f32(r[1]!.ok as number[])).toBe(0);
    expect(num("5B1", "p_total")).toBeLessThan(mainBefore - feederBefore * 0.5);
    sim.setLoad("2B3", null);
    sim.setBessFault("BESS", false);
    // A value a trip unit does not know is refused; then close by command (FC6, register 65281).
    const bad = await mbpoll(swPort, ["-a", String(u), "-r", "65281", "-t", "4"], ["7"]);
    expect(bad.out).toMatch(/Illegal data value/i);
    const ok = await mbpoll(swPort, ["-a", String(u), "-r", "65281", "-t", "4"], ["1"]);
    expect(ok.code, ok.out).toBe(0);
    r = await pymodbus(swPort, [["rh", u, ML_STATUS, 2], ["rh", u, ML_P_TOTAL, 2]]);
    status = (r[0]!.ok as number[])[1]!;
    expect(status & 7).toBe(1);
    expect(f32(r[1]!.ok as number[])).toBeGreaterThan(0);
    // Open by command and by API.
    await pymodbus(swPort, [["wr", u, ML_CMD, 0]]);
    expect(sim.getValue("2B3", "closed")).toBe(0);
    expect(sim.getValue("2B3", "tripped")).toBe(0);
    sim.setBreaker("2B3", true);
    expect(sim.getValue("2B3", "closed")).toBe(1);
  });

  it("transfers the ATS: position bits flip and the generator runs; retransfer by Modbus command", async () => {
    const ats = String(unitOf("ATS"));
    const gen = unitOf("GEN");
    let [word] = await mbRead(swPort, ["-a", ats, "-r", "41", "-t", "4"]);
    expect(word! & 3).toBe(1); // on normal
    sim.transferAts(true);
    [word] = await mbRead(swPort, ["-a", ats, "-r", "41", "-t", "4"]);
    expect(word! & 3).toBe(2); // on emergency
    let g = await pymodbus(enPort, [["rh", gen, 0, 2]]);
    expect(((g[0]!.ok as number[])[0]! & 1) === 1).toBe(true);
    expect((g[0]!.ok as number[])[1]).toBe(3); // RUNNING
    // The load is on the generator now: the ATS still carries the building.
    expect(num("ATS", "p_total")).toBeGreaterThan(10);
    const r = await mbpoll(swPort, ["-a", ats, "-r", "51", "-t", "4"], ["2"]); // retransfer
    expect(r.code, r.out).toBe(0);
    [word] = await mbRead(swPort, ["-a", ats, "-r", "41", "-t", "4"]);
    expect(word! & 3).toBe(1);
    g = await pymodbus(enPort, [["rh", gen, 0, 2]]);
    expect((g[0]!.ok as number[])[0]! & 1).toBe(0);
  });

  it("loses the utility: the ATS transfers on its own, the alarm bit sets", () => {
    sim.setUtility(false);
    expect(sim.getValue("ATS", "on_emergency")).toBe(1);
    expect(sim.getValue("ATS", "ats_alarm")).toBe(1);
    expect(sim.getValue("GEN", "running")).toBe(1);
    sim.setUtility(true);
    expect(sim.getValue("ATS", "on_normal")).toBe(1);
    expect(sim.getValue("GEN", "running")).toBe(0);
  });

  it("moves the BESS SOC with its power setpoint (written by pymodbus)", async () => {
    const u = unitOf("BESS");
    const soc0 = num("BESS", "soc");
    // REMOTE SETPOINT control, discharge 200 kW.
    let r = await pymodbus(enPort, [["wr", u, 25, 1], ["wrs", u, 32, floatWords(200)]]);
    expect(r).toEqual([{ ok: true }, { ok: true }]);
    await sleep(600);
    const read = await pymodbus(enPort, [["rh", u, 0, 6]]);
    const regs = read[0]!.ok as number[];
    const soc1 = f32(regs, 0);
    expect(f32(regs, 4)).toBe(200); // bess.power
    expect(soc1).toBeLessThan(soc0 - 0.5);
    expect(num("2B8", "p_total")).toBeCloseTo(-200, 3); // the BESS feeds the busbar
    // Charge.
    r = await pymodbus(enPort, [["wrs", u, 32, floatWords(-200)]]);
    // The PCS ramps from +200 to −200 kW (1000 kW/s), then the SOC rises.
    const socAtCharge = num("BESS", "soc");
    await waitFor("charging", () => num("BESS", "soc") > socAtCharge + 0.5, 5000);
    await pymodbus(enPort, [["wr", u, 25, 0]]); // back to LOCAL
    // An invalid mode is refused.
    r = await pymodbus(enPort, [["wr", u, 25, 9]]);
    expect(r[0]).toEqual({ exc: 3 });
  });

  it("accumulates a pulse meter from its feeder and resets it on command", async () => {
    const u = unitOf("CPE-2B11");
    const m0 = num("CPE-2B11", "accumulated");
    const e0 = num("2B11", "energy_import");
    await sleep(1000);
    sim.tick();
    const dm = num("CPE-2B11", "accumulated") - m0;
    const de = num("2B11", "energy_import") - e0;
    expect(dm).toBeGreaterThan(0);
    expect(dm).toBeCloseTo(de, 3);
    const before = await pymodbus(enPort, [["rh", u, 0, 7]]);
    expect(f64(before[0]!.ok as number[])).toBeGreaterThan(1000);
    expect((before[0]!.ok as number[])[6]).toBe(2); // units code kWh
    // A known load on 2B11 across the reset: what the meter counts after it is bounded by that load
    // over the measured time (its daily shape would make the bound depend on the hour).
    const KW = 10;
    sim.setLoad("2B11", { kind: "constant", kw: KW });
    const t0 = Date.now();
    const t = Math.floor(t0 / 1000);
    const w = await pymodbus(enPort, [["wr", u, 10, 1]]);
    expect(w[0]).toEqual({ ok: true });
    const written = Math.ceil(Date.now() / 1000);
    const after = await pymodbus(enPort, [["rh", u, 0, 6]]);
    // setLoad ticked at t0, so whatever the meter integrated after the reset lies within [t0, now] (+ a little margin).
    const sinceResetKwh = (KW * (Date.now() - t0 + 300) * SPEED) / 3_600_000;
    sim.setLoad("2B11", null);
    const regs = after[0]!.ok as number[];
    // Restarted from 0: only what the known load brought since (it was > 1000 kWh before).
    expect(f64(regs)).toBeLessThanOrEqual(sinceResetKwh);
    const lastReset = regs[4]! * 65536 + regs[5]!;
    expect(lastReset).toBeGreaterThanOrEqual(t); // stamped while the write was under way
    expect(lastReset).toBeLessThanOrEqual(written);
  });

  it("stops answering for an offline device only", async () => {
    sim.setOffline("2B1", true);
    const dead = await mbpoll(swPort, ["-a", String(unitOf("2B1")), "-r", "32001", "-t", "4"]);
    expect(dead.out).toMatch(/timed out/i);
    const alive = await mbRead(swPort, ["-a", String(unitOf("2B2")), "-r", "32001", "-t", "4"]);
    expect(alive[0]! & 1).toBe(1);
    sim.setOffline("2B1", false);
    const back = await mbRead(swPort, ["-a", String(unitOf("2B1")), "-r", "32001", "-t", "4"]);
    expect(back.length).toBe(1);
  });

  it("answers garbage on demand: a byte count that does not match the data, rejected by pymodbus", async () => {
    sim.setGarbage("2B1", true);
    const bad = await pymodbus(swPort, [["rh", unitOf("2B1"), 32000, 2]]);
    expect(bad[0]!.ok).toBeUndefined();
    const other = await pymodbus(swPort, [["rh", unitOf("2B2"), 32000, 2]]);
    expect(other[0]!.ok).toHaveLength(2);
    sim.setGarbage("2B1", false);
    const back = await pymodbus(swPort, [["rh", unitOf("2B1"), 32000, 2]]);
    expect(back[0]!.ok).toHaveLength(2);
  });

  it("drives a feeder's load by a profile (read back over Modbus), then gives it back its daily shape", async () => {
    const u = String(unitOf("2B1"));
    sim.setLoad("2B1", { kind: "constant", kw: 55 });
    const [pW] = await mbRead(swPort, ["-a", u, "-r", "32078", "-t", "4:float", "-B"]);
    expect(pW! / 1000).toBeCloseTo(55, 0);
    expect(sim.status().breakers.find((b) => b.id === "2B1")!.profile).toEqual({ kind: "constant", kw: 55 });
    sim.setLoad("2B1", { kind: "step", fromKw: 5, toKw: 80, atS: 3600 });
    const [before] = await mbRead(swPort, ["-a", u, "-r", "32078", "-t", "4:float", "-B"]);
    expect(before! / 1000).toBeCloseTo(5, 0);
    sim.setLoad("2B1", null);
    expect(sim.status().breakers.find((b) => b.id === "2B1")!.profile).toBeNull();
    expect(() => sim.setLoad("2B8", { kind: "constant", kw: 1 })).toThrow(/feeds no load/); // the BESS feeder
  });

  it("answers illegal data address outside the profile's registers, nothing for unknown units", async () => {
    const r = await pymodbus(swPort, [["rh", unitOf("5B1"), 5000, 2], ["rh", unitOf("5B1"), 32100, 20], ["rh", 99, 0, 1]]);
    expect(r[0]).toEqual({ exc: 2 });
    expect(r[1]).toEqual({ exc: 2 }); // runs past the end of the 32000 block
    expect(r[2]!.err).toMatch(/No response/i);
  });

  it("pins a value with scale reversed, and releases it", async () => {
    const u = String(unitOf("5B1"));
    sim.setValue("5B1", "frequency", 59.5);
    await sleep(300); // a tick passes: the pin holds
    expect(await mbRead(swPort, ["-a", u, "-r", "1054", "-t", "4"])).toEqual([595]);
    expect(sim.getValue("5B1", "frequency")).toBe(59.5);
    sim.setValue("5B1", "frequency", null);
    sim.tick();
    const [f] = await mbRead(swPort, ["-a", u, "-r", "1054", "-t", "4"]);
    expect(f).toBeGreaterThanOrEqual(599);
    expect(() => sim.setValue("5B1", "nope", 1)).toThrow(/no tag/);
  });

  it("sets the TH40C clock by a broadcast time set (unit 0, FC16 at 0x7000)", async () => {
    // Manual example format: YY MM DD hh mm ss, here 25-07-05 15:10:40.
    const r = await mbpoll(enPort, ["-a", "0", "-r", String(0x7000 + 1), "-t", "4"], [String(0x1907), String(0x050f), String(0x0a28)]);
    expect(r.out).toMatch(/timed out|Connection/i); // a broadcast gets no answer
    sim.tick();
    const clock = ["clock_year", "clock_month", "clock_day", "clock_hour", "clock_minute"].map((t) => sim.getValue("TH40C", t));
    expect(clock).toEqual([2025, 7, 5, 15, 10]);
    const [year, month] = await mbRead(enPort, ["-a", String(unitOf("TH40C")), "-r", String(0x1040 + 1), "-c", "2", "-t", "4"]);
    expect([year, month]).toEqual([2025, 7]);
  });
});

describe("simulator: register images from any profile", () => {
  it("serves coils, discrete inputs, input registers and masked bits; coil writes land in the image", async () => {
    const profile = parseProfile({
      profile: "bits-test",
      name: "bits test",
      source: "test",
      tags: [
        { id: "relay", label: "relay", address: 5, function: 1, type: "bit", write: 5 },
        { id: "door", label: "door", address: 2, function: 2, type: "bit" },
        { id: "temp", label: "temp", address: 10, function: 4, type: "int16", scale: 0.1, offset: -40, unit: "°C" },
        { id: "lo", label: "low byte", address: 20, type: "uint16", mask: 0x00ff },
        { id: "flag", label: "flag", address: 20, type: "bit", mask: 0x0100 },
      ],
    });
    const s2 = parseSite(
      { site: { name: "t" }, buses: [{ id: "b", kind: "modbus-tcp", host: "127.0.0.1", port: 1502 }], devices: [{ id: "D", bus: "b", unit: 3, profile: "bits-test" }] },
      new Map([["bits-test", profile]]),
    );
    const s = startSimulator(s2, { anyPort: true, autoTick: false });
    try {
      const port = s.ports.get("b")!;
      s.setValue("D", "door", 1);
      s.setValue("D", "temp", 21.5); // raw (21.5 + 40) / 0.1 = 615
      s.setValue("D", "lo", 0x34);
      s.setValue("D", "flag", 1);
      expect(await mbRead(port, ["-a", "3", "-r", "3", "-t", "1"])).toEqual([1]);
      expect(await mbRead(port, ["-a", "3", "-r", "11", "-t", "3"])).toEqual([615]);
      const reg = await pymodbus(port, [["rh", 3, 20, 1]]);
      expect(reg[0]).toEqual({ ok: [0x0134] }); // both masked tags share the register
      expect(await mbRead(port, ["-a", "3", "-r", "6", "-t", "0"])).toEqual([0]);
      const w = await mbpoll(port, ["-a", "3", "-r", "6", "-t", "0"], ["1"]);
      expect(w.code, w.out).toBe(0);
      expect(s.getValue("D", "relay")).toBe(1);
      expect(await mbRead(port, ["-a", "3", "-r", "6", "-t", "0"])).toEqual([1]);
      // Writing a coil nobody declared writable is refused.
      const bad = await mbpoll(port, ["-a", "3", "-r", "5", "-t", "0"], ["1"]);
      expect(bad.out).toMatch(/Illegal data address/i);
    } finally {
      s.stop();
    }
  });
});

describe("simulator: dynamics", () => {
  const at = (iso: string) => () => Date.parse(iso);
  const buildingKw = (s: Sim) => s.getValue("5B1", "p_total") as number;

  it("is deterministic given a seed and a clock, and follows the time of day", () => {
    const a = startSimulator(site, { anyPort: true, autoTick: false, seed: 3, clock: at("2025-01-15T16:00:00Z") }); // 11:00 Toronto
    const b = startSimulator(site, { anyPort: true, autoTick: false, seed: 3, clock: at("2025-01-15T16:00:00Z") });
    const c = startSimulator(site, { anyPort: true, autoTick: false, seed: 4, clock: at("2025-01-15T16:00:00Z") });
    const night = startSimulator(site, { anyPort: true, autoTick: false, seed: 3, clock: at("2025-01-15T08:00:00Z") }); // 03:00
    try {
      expect(buildingKw(a)).toBe(buildingKw(b));
      expect(a.getValue("2B5", "p_total")).toBe(b.getValue("2B5", "p_total"));
      expect(buildingKw(c)).not.toBe(buildingKw(a));
      const feedersDay = FEEDERS.filter((f) => f !== "2B8").reduce((s, f) => s + (a.getValue(f, "p_total") as number), 0);
      const feedersNight = FEEDERS.filter((f) => f !== "2B8").reduce((s, f) => s + (night.getValue(f, "p_total") as number), 0);
      expect(feedersDay).toBeGreaterThan(feedersNight * 1.6);
    } finally {
      for (const s of [a, b, c, night]) s.stop();
    }
  });

  it("opens the main breaker: every feeder and the busbar lose power and voltage", () => {
    const s = startSimulator(site, { anyPort: true, autoTick: false, seed: 5 });
    try {
      expect(buildingKw(s)).toBeGreaterThan(0);
      s.setBreaker("5B1", false);
      expect(buildingKw(s)).toBe(0);
      for (const f of FEEDERS) expect(s.getValue(f, "p_total")).toBe(0);
      expect(s.getValue("5B1", "closed")).toBe(0);
      expect(s.getValue("5B1", "tripped")).toBe(0);
      s.setBreaker("5B1", true);
      expect(buildingKw(s)).toBeGreaterThan(0);
    } finally {
      s.stop();
    }
  });

  it("holds the BESS SOC within 5..95 % and drops its power at the limits", () => {
    let now = Date.parse("2025-01-15T16:00:00Z");
    const s = startSimulator(site, { anyPort: true, autoTick: false, seed: 5, clock: () => now });
    try {
      s.setValue("BESS", "p_control_mode", 1);
      // The current limits cap the power at the DC voltage (≈ 700 V + 1.6 V per % SOC).
      s.setValue("BESS", "max_discharge_current", 100);
      s.setValue("BESS", "p_setpoint", 250);
      now += 1000;
      s.tick();
      const capped = s.getValue("BESS", "power") as number;
      expect(capped).toBeGreaterThan(70);
      expect(capped).toBeLessThan(86);
      s.setValue("BESS", "max_discharge_current", 400);
      s.setValue("BESS", "max_charge_current", 400);
      now += 1000;
      s.tick();
      s.setValue("BESS", "p_setpoint", 250); // discharge 250 kW from a 500 kWh battery: 50 %/h
      const soc0 = s.getValue("BESS", "soc") as number;
      now += 600_000;
      s.tick();
      expect(s.getValue("BESS", "soc") as number).toBeCloseTo(soc0 - 50 / 6, 6);
      expect(s.getValue("BESS", "power")).toBe(250);
      now += 4 * 3_600_000;
      s.tick();
      expect(s.getValue("BESS", "soc")).toBe(5);
      s.tick();
      expect(s.getValue("BESS", "power")).toBe(0);
      s.setValue("BESS", "p_setpoint", -250); // charge: 95 % efficient
      now += 600_000;
      s.tick();
      expect(s.getValue("BESS", "soc") as number).toBeCloseTo(5 + (250 * 0.95 * 100) / 500 / 6, 6);
      now += 4 * 3_600_000;
      s.tick();
      s.tick();
      expect(s.getValue("BESS", "soc")).toBe(95);
      expect(s.getValue("BESS", "power")).toBe(0);
    } finally {
      s.stop();
    }
  });

  it("scale-load: a separate process serving N units of changing float32 (read by mbpoll)", async () => {
    expect(Math.fround(scaleValue(247, 499, 7))).toBe(scaleValue(247, 499, 7));
    const proc = spawn(process.execPath, [join(import.meta.dirname, "../src/sim/scale-load.ts"), "--devices", "3", "--floats", "500", "--port", "0", "--ports-per", "2"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let out = "";
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`scale-load did not start: ${out}`)), 10_000);
        proc.stdout!.on("data", (d) => {
          out += d;
          if (/^ready \d+$/m.test(out)) {
            clearTimeout(t);
            resolve();
          }
        });
        proc.once("exit", (code) => reject(new Error(`scale-load exited ${code}: ${out}`)));
      });
      const ports = [...out.matchAll(/^listening (\d+) units 1\.\.(\d+)$/gm)].map((m) => [Number(m[1]), Number(m[2])]);
      expect(ports.map((p) => p[1])).toEqual([2, 1]);
      expect(out).toMatch(new RegExp(`^ready ${ports[0]![0]}$`, "m"));
      const read = async (port: number, unit: number) => {
        const s0 = Math.floor(Date.now() / 1000);
        const v = await mbRead(port, ["-a", String(unit), "-r", "997", "-c", "2", "-t", "4:float", "-B"]);
        const s1 = Math.floor(Date.now() / 1000);
        return { v, ok: [s0 - 1, s0, s1].some((s) => Math.abs(v[0]! - scaleValue(unit, 498, s)) < 0.006 && Math.abs(v[1]! - scaleValue(unit, 499, s)) < 0.006) };
      };
      const a = await read(ports[0]![0]!, 2);
      expect(a.ok, JSON.stringify(a.v)).toBe(true);
      const b = await read(ports[1]![0]!, 1);
      expect(b.ok, JSON.stringify(b.v)).toBe(true);
      await sleep(1100);
      const c = await read(ports[0]![0]!, 2);
      expect(c.v[0]).not.toBe(a.v[0]); // changed with the second
      const beyond = await mbpoll(ports[0]![0]!, ["-a", "1", "-r", "1000", "-c", "2", "-t", "4"]);
      expect(beyond.out).toMatch(/Illegal data address/i);
    } finally {
      proc.kill("SIGKILL");
    }
  });
});
