/**
 * Serving a site's RTU buses from the simulator: each `modbus-rtu` bus gets a socat virtual
 * null-modem (one end for Busbar, one for the simulated devices), the simulator's devices answer on
 * the device end through an RtuSlave (serial.ts), optionally wire-time honest.
 *
 * The simulator core (simulator.ts) serves TCP buses and ticks the models; this module only adds the
 * serial side, reading the same SimDevice register images.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Site } from "../config/site.ts";
import { RtuSlave, simDevicesHandler } from "./serial.ts";
import { SerialPort } from "../protocols/serial/tty.ts";
import type { SimDevice } from "./device.ts";

export interface PtyPair {
  /** Busbar's end. */
  a: string;
  /** The simulated devices' end. */
  b: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `socat pty,raw,echo=0 pty,raw,echo=0` and resolves with both ends once data can flow. */
export function openPtyPair(timeoutMs = 10_000): Promise<PtyPair> {
  const proc = spawn("socat", ["-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  const paths: string[] = [];
  const stop = () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once("exit", () => resolve());
      proc.kill("SIGTERM");
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`socat did not start: ${err}`));
    }, timeoutMs);
    proc.once("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run socat (apt install socat): ${e.message}`));
    });
    proc.stderr!.on("data", (d) => {
      err += d;
      for (const m of String(d).matchAll(/PTY is (\S+)/g)) paths.push(m[1]!);
      if (/starting data transfer loop/.test(err) && paths.length >= 2) {
        clearTimeout(timer);
        resolve({ a: paths[0]!, b: paths[1]!, proc, stop });
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`socat exited with ${code}: ${err}`));
    });
  });
}

/**
 * The smallest one-way latency of a pty pair (socat's relay between its two ends), over `n` pings
 * each way. Run before handing the pair out: it opens both ends.
 */
export async function calibratePtyPair(pair: { a: string; b: string }, n = 20): Promise<number> {
  const line = { baud: 115200, parity: "none", stopBits: 1 } as const;
  const a = SerialPort.open(pair.a, line);
  const b = SerialPort.open(pair.b, line);
  let best = Infinity;
  try {
    for (let i = 0; i < 2 * n; i++) {
      const [from, to] = i % 2 ? [a, b] : [b, a];
      const got = new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("pty pair does not relay")), 2000);
        to.onData = () => {
          clearTimeout(t);
          resolve(performance.now());
        };
      });
      const t0 = performance.now();
      from.write(Uint8Array.of(0x55));
      best = Math.min(best, (await got) - t0);
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    await a.close();
    await b.close();
  }
  return best;
}

export interface SerialSimOptions {
  /** Delay replies by their wire time at the bus's line speed plus the turnaround. */
  wireTime?: boolean;
  turnaroundMs?: number;
  /** Measure each pty pair's relay latency and take it off the wire-time delays (wire-time mode). */
  compensateRig?: boolean;
}

export interface SerialSim {
  /** The site with every RTU bus's port pointing at its pty pair (give this one to Busbar). */
  readonly site: Site;
  readonly slaves: Map<string, RtuSlave>;
  /** One-way relay latency measured per bus (compensateRig). */
  readonly rigLatencyMs: Map<string, number>;
  stop(): Promise<void>;
}

/**
 * Serves every `modbus-rtu` bus of `site` whose devices the simulator has (`device(id)`), each on a
 * fresh pty pair; returns the site rewritten to poll those ptys.
 */
export async function serveSerialBuses(sim: { device(id: string): SimDevice | undefined }, site: Site, opts: SerialSimOptions = {}): Promise<SerialSim> {
  const pairs: PtyPair[] = [];
  const slaves = new Map<string, RtuSlave>();
  const rig = new Map<string, number>();
  const buses = [];
  try {
    for (const bus of site.buses) {
      if (bus.kind !== "modbus-rtu") {
        buses.push(bus);
        continue;
      }
      const devices = site.devices.filter((d) => d.bus === bus.id).map((d) => sim.device(d.id)).filter((d): d is SimDevice => d !== undefined);
      const pair = await openPtyPair();
      pairs.push(pair);
      if (opts.wireTime && opts.compensateRig) rig.set(bus.id, await calibratePtyPair(pair));
      slaves.set(
        bus.id,
        new RtuSlave({
          path: pair.b,
          line: { baud: bus.baud, parity: bus.parity, stopBits: bus.stopBits },
          handler: simDevicesHandler(devices),
          wireTime: opts.wireTime,
          turnaroundMs: opts.turnaroundMs,
          rigLatencyMs: rig.get(bus.id),
        }),
      );
      buses.push({ ...bus, port: pair.a });
    }
  } catch (e) {
    for (const s of slaves.values()) await s.close();
    for (const p of pairs) await p.stop();
    throw e;
  }
  return {
    site: { ...site, buses },
    slaves,
    rigLatencyMs: rig,
    async stop() {
      for (const s of slaves.values()) await s.close();
      for (const p of pairs) await p.stop();
    },
  };
}

export interface SerialSimProcess {
  ports: Record<string, string>;
  rig: Record<string, number>;
  /** Stops the process; resolves with its slaves' statistics. */
  stop(): Promise<Record<string, import("./serial.ts").RtuSlaveStats>>;
}

/**
 * Runs serial-main.ts in its own process for `rawSite` (a site document), so the simulated devices'
 * timing does not share an event loop with the master being measured. Development and benches only
 * (it starts a .ts file next to this one, which a compiled binary does not have).
 */
export async function startSerialSimProcess(rawSite: unknown, opts: SerialSimOptions = {}): Promise<SerialSimProcess> {
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const file = join(mkdtempSync(join(tmpdir(), "busbar-serial-sim-")), "site.json");
  writeFileSync(file, JSON.stringify(rawSite));
  const args = [new URL("./serial-main.ts", import.meta.url).pathname, file];
  if (opts.wireTime) args.push("--wire-time");
  if (opts.turnaroundMs !== undefined) args.push("--turnaround", String(opts.turnaroundMs));
  if (opts.compensateRig) args.push("--compensate");
  const proc = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  const lines: ((l: Record<string, unknown>) => void)[] = [];
  proc.stdout!.on("data", (d) => {
    out += d;
    const parts = out.split("\n");
    out = parts.pop()!;
    for (const p of parts) if (p.trim()) lines.shift()?.(JSON.parse(p));
  });
  const next = () => new Promise<Record<string, unknown>>((resolve) => lines.push(resolve));
  const ready = await Promise.race([
    next(),
    new Promise<never>((_, reject) => proc.once("exit", (code) => reject(new Error(`serial simulator exited with ${code}: ${err}`)))),
  ]);
  return {
    ports: ready.ports as Record<string, string>,
    rig: ready.rig as Record<string, number>,
    async stop() {
      const done = next();
      const exited = new Promise<void>((r) => proc.once("exit", () => r()));
      proc.kill("SIGTERM");
      const res = await Promise.race([done, exited.then(() => ({ stats: {} }))]);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
      return (res as { stats: Record<string, import("./serial.ts").RtuSlaveStats> }).stats;
    },
  };
}
