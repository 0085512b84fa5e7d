import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * bacnet-stack's C tools (an independent BACnet implementation) and tshark, for tests.
 * On loopback every party gets its own UDP port other than 47808 (../shared/peers/README.md).
 */

const CANDIDATES = [process.env.BACNET_STACK_BIN, join(import.meta.dirname, "../../.cache/bacnet-stack/bin"), "/work/cache/bacnet-stack/bin"];
export const BACNET_BIN = CANDIDATES.find((d) => d && existsSync(join(d, "bacserv")));

/** A UDP port nobody listens on now (bound, read, released). */
export async function freeUdpPort(): Promise<number> {
  for (;;) {
    const s = createSocket("udp4");
    const port = await new Promise<number>((resolve, reject) => {
      s.once("error", reject);
      s.bind(0, "127.0.0.1", () => resolve(s.address().port));
    });
    s.close();
    if (port !== 47808) return port;
  }
}

export interface Bacserv {
  port: number;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** `bacserv INSTANCE` on loopback `port`, broadcasting to `peerPort` (where Busbar listens). */
export async function startBacserv(instance: number, port: number, peerPort: number, name?: string): Promise<Bacserv> {
  const args = [String(instance)];
  if (name) args.push(name);
  const proc = spawn(join(BACNET_BIN!, "bacserv"), args, {
    env: { ...process.env, BACNET_IFACE: "lo", BACNET_IP_PORT: String(port), BACNET_IP_BROADCAST_PORT: String(peerPort) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  // bacserv prints its banner once its socket is bound.
  const t0 = Date.now();
  while (!/BACnet Device ID|Server/i.test(out) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
  return {
    port,
    proc,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
      }),
  };
}

/** Runs a bacnet-stack client tool (bacrp, bacwp...) from its own loopback port. */
export function bacTool(tool: string, args: (string | number)[], ownPort: number, devicePort: number): string {
  const r = spawnSync(join(BACNET_BIN!, tool), args.map(String), {
    env: { ...process.env, BACNET_IFACE: "lo", BACNET_IP_PORT: String(ownPort), BACNET_IP_BROADCAST_PORT: String(devicePort) },
    encoding: "utf8",
    timeout: 10_000,
  });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
}

export interface Capture {
  file: string;
  stop(): Promise<void>;
}

/** tshark capturing UDP on loopback for the given ports (root, as CI is). */
export async function startCapture(ports: number[]): Promise<Capture> {
  const dir = mkdtempSync(join(tmpdir(), "busbar-bacnet-cap-"));
  const file = join(dir, "cap.pcapng");
  const filter = ports.map((p) => `udp port ${p}`).join(" or ");
  const proc = spawn("tshark", ["-i", "lo", "-f", filter, "-w", file, "-q"], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  const t0 = Date.now();
  while (!err.includes("Capturing on") && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
  return {
    file,
    stop: async () => {
      // Let the last frames reach the file before stopping.
      await new Promise((r) => setTimeout(r, 300));
      await new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGINT");
      });
    },
  };
}

export interface DecodedFrame {
  frame: number;
  src: number;
  dst: number;
  service: string;
  malformed: boolean;
  severity: string;
  info: string;
}

/** Every frame sent from `fromPort`, decoded as BACnet by tshark, with its malformed/expert flags. */
export function decodeFrames(file: string, fromPort: number, decodePorts: number[]): DecodedFrame[] {
  const args = ["-r", file, "-Y", `udp.srcport == ${fromPort}`, "-T", "fields", "-E", "separator=|", "-e", "frame.number", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "bacapp.type", "-e", "_ws.malformed", "-e", "_ws.expert.severity", "-e", "_ws.col.Info"];
  for (const p of decodePorts) args.unshift("-d", `udp.port==${p},bvlc`);
  const r = spawnSync("tshark", args, { encoding: "utf8" });
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [frame, src, dst, type, malformed, severity, ...info] = l.split("|");
      return { frame: Number(frame), src: Number(src), dst: Number(dst), service: type ?? "", malformed: !!malformed, severity: severity ?? "", info: info.join("|") };
    });
}

/**
 * The same from a test whose Busbar runs in this very process (its BACnet server must keep
 * answering while the tool waits, so not spawnSync).
 */
export function bacToolAsync(tool: string, args: (string | number)[], ownPort: number, devicePort: number, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn(join(BACNET_BIN!, tool), args.map(String), {
      env: { ...process.env, BACNET_IFACE: "lo", BACNET_IP_PORT: String(ownPort), BACNET_IP_BROADCAST_PORT: String(devicePort) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => p.kill("SIGTERM"), timeoutMs);
    p.on("exit", () => {
      clearTimeout(timer);
      resolve(out.trim());
    });
  });
}
