import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite, type Site } from "../src/config/site.ts";
import { charMs, t35Ms, wireMs } from "../src/protocols/modbus/rtu-frame.ts";
import { RtuLink } from "../src/protocols/modbus/rtu-link.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { serveSerialBuses, type SerialSim } from "../src/sim/serial-bus.ts";
import { startSimulator, type Sim } from "../src/sim/simulator.ts";
import { waitFor } from "./helpers/peers.ts";

/**
 * Busbar's own simulator on a serial line: its RTU slave checked by an independent master (Debian's
 * mbpoll, RTU mode) and by Busbar; and its wire-time honest mode, which answers only after the time
 * the frames would take on a real line.
 */

let sim: Sim;
let serial: SerialSim;
let site: Site;

beforeAll(async () => {
  const raw = {
    site: { name: "rtu sim" },
    buses: [{ id: "rs485", kind: "modbus-rtu", port: "/dev/null", baud: 9600, parity: "none", timeoutMs: 300 }],
    devices: [
      { id: "TH", bus: "rs485", unit: 1, profile: "th40c", pollMs: 500, slowPollMs: 500 },
      { id: "G", bus: "rs485", unit: 2, profile: "generic", pollMs: 500 },
    ],
    topology: { sources: [{ id: "utility", kind: "utility" }], busbars: [{ id: "mdp" }], breakers: [], meters: [{ id: "TH", device: "TH", at: "mdp" }] },
  };
  site = parseSite(raw, loadProfiles());
  sim = startSimulator(site, { autoTick: false });
  sim.setValue("TH", "v_an", 231.5);
  sim.setValue("G", "hr_0", 1234);
  serial = await serveSerialBuses(sim, site, { wireTime: true, turnaroundMs: 5 });
});

afterAll(async () => {
  await serial?.stop();
  sim?.stop();
});

function mbpoll(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn("mbpoll", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const t = setTimeout(() => p.kill("SIGKILL"), 15_000);
    p.on("exit", (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, out, err });
    });
  });
}

describe("the simulator's RTU slave", () => {
  it("answers mbpoll, an independent RTU master", async () => {
    const port = serial.site.buses[0]!.kind === "modbus-rtu" ? (serial.site.buses[0] as { port: string }).port : "";
    const r = await mbpoll(["-m", "rtu", "-b", "9600", "-P", "none", "-a", "1", "-r", String(0xa612 + 1), "-c", "1", "-t", "4:float", "-B", "-1", "-o", "2", port]);
    expect(r.code, r.err + r.out).toBe(0);
    expect(r.out).toMatch(/\[42515\]:\s+231\.5/);
    const g = await mbpoll(["-m", "rtu", "-b", "9600", "-P", "none", "-a", "2", "-r", "1", "-c", "1", "-1", "-o", "2", port]);
    expect(g.out).toMatch(/\[1\]:\s+1234/);
  });

  it("answers after the frames' real wire time at 9600 baud plus the turnaround", async () => {
    const bus = serial.site.buses[0]! as Extract<Site["buses"][number], { kind: "modbus-rtu" }>;
    const link = new RtuLink(bus);
    await link.connect();
    try {
      const line = { baud: 9600, parity: "none", stopBits: 1 } as const;
      // The TH40C's instantaneous block, 86 registers: request 8 bytes, reply 177 bytes.
      const expected = wireMs(line, 8) + t35Ms(line) + 5 + wireMs(line, 5 + 172);
      expect(charMs(line)).toBeCloseTo(10 / 9.6, 6);
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await link.read(1, 3, 0xa612, 86, 1000);
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      // Never faster than the wire; the median within a few ms of it (scheduling on a shared machine).
      expect(times[0]).toBeGreaterThanOrEqual(expected - 0.5);
      expect(times[2]).toBeLessThan(expected + 20);
      expect(serial.slaves.get("rs485")!.stats.replies).toBeGreaterThanOrEqual(5);
    } finally {
      await link.close();
    }
  });

  it("is polled by Busbar through the same pty", async () => {
    let busbar: Busbar | undefined;
    try {
      busbar = await startBusbar({ site: serial.site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
      const v = (id: string) => busbar!.live.value(busbar!.registry.byId.get(id)!);
      await waitFor("values", () => v("TH.v_an").quality === "good" && v("G.hr_0").quality === "good", 10_000);
      expect(v("TH.v_an").value).toBe(231.5);
      expect(v("G.hr_0").value).toBe(1234);
      // A write through Busbar lands in the simulated device.
      const w = await busbar.supervisor.write(busbar.registry.byId.get("G.hr_3")!.index, 77);
      expect(w).toMatchObject({ ok: true });
      expect(sim.getValue("G", "hr_3")).toBe(77);
    } finally {
      await busbar?.stop();
    }
  });
});
