import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BACNET_BIN } from "./helpers/bacnet.ts";

/**
 * Foreign-device registration against a real BBMD: bacnet-stack's bacserv is built with its BBMD
 * (apps/Makefile's default BBMD=full, src/bacnet/basic/bbmd/h_bbmd.c). Four network namespaces:
 * Busbar on subnet A, a router, and on subnet B (a bridge) the BBMD (a bacserv) and the device
 * (another bacserv). Broadcasts do not cross the router, so Busbar reaches the device only
 * through the BBMD: Register-Foreign-Device answered by BVLC-Result success and repeated before the
 * TTL runs out, Who-Is sent as Distribute-Broadcast-To-Network, the device's start-up I-Am broadcast
 * forwarded to Busbar from the BBMD's foreign-device table. Every frame on Busbar's link decoded
 * by tshark without malformed or error flags. Needs root (CI is).
 */

const root = process.getuid?.() === 0 && spawnSync("ip", ["netns", "list"]).status === 0;
const tag = `${process.pid % 100000}`;
const [nsA, nsR, nsM, nsB] = [`bfa${tag}`, `bfr${tag}`, `bfm${tag}`, `bfb${tag}`];
const [vA, vRa, vM, vRm, vB, vRb, br] = [`bfa${tag}`, `bfra${tag}`, `bfm${tag}`, `bfrm${tag}`, `bfb${tag}`, `bfrb${tag}`, `bfbr${tag}`];
const n = 100 + (process.pid % 70);
const netA = `198.18.${n}`;
const netB = `198.18.${n + 70}`;
const BBMD_INSTANCE = 6000 + (process.pid % 1000);
const INSTANCE = BBMD_INSTANCE + 1000;
const TTL_S = 6;
const sh = (args: string[]) => spawnSync(args[0]!, args.slice(1), { encoding: "utf8" });

describe.skipIf(!root || !BACNET_BIN)("BACnet foreign-device registration with bacnet-stack's BBMD", () => {
  const procs: ChildProcess[] = [];
  let capture: ChildProcess | undefined;
  const cap = join(mkdtempSync(join(tmpdir(), "busbar-bbmd-")), "cap.pcapng");

  beforeAll(async () => {
    // A: Busbar ─ R: router (subnet B on a bridge) ─┬─ M: the BBMD
    //                                                └─ B: the device
    for (const c of [
      ...[nsA, nsR, nsM, nsB].map((ns) => ["ip", "netns", "add", ns]),
      ["ip", "link", "add", vA, "type", "veth", "peer", "name", vRa],
      ["ip", "link", "add", vM, "type", "veth", "peer", "name", vRm],
      ["ip", "link", "add", vB, "type", "veth", "peer", "name", vRb],
      ...([[vA, nsA], [vRa, nsR], [vM, nsM], [vRm, nsR], [vB, nsB], [vRb, nsR]] as const).map(([dev, ns]) => ["ip", "link", "set", dev, "netns", ns]),
      ["ip", "-n", nsR, "link", "add", br, "type", "bridge"],
      ["ip", "-n", nsR, "link", "set", vRm, "master", br],
      ["ip", "-n", nsR, "link", "set", vRb, "master", br],
      ["ip", "-n", nsA, "addr", "add", `${netA}.1/24`, "brd", `${netA}.255`, "dev", vA],
      ["ip", "-n", nsR, "addr", "add", `${netA}.2/24`, "brd", `${netA}.255`, "dev", vRa],
      ["ip", "-n", nsR, "addr", "add", `${netB}.254/24`, "brd", `${netB}.255`, "dev", br],
      ["ip", "-n", nsM, "addr", "add", `${netB}.1/24`, "brd", `${netB}.255`, "dev", vM],
      ["ip", "-n", nsB, "addr", "add", `${netB}.2/24`, "brd", `${netB}.255`, "dev", vB],
      ...([[nsA, vA], [nsR, vRa], [nsR, vRm], [nsR, vRb], [nsR, br], [nsM, vM], [nsB, vB], [nsA, "lo"], [nsR, "lo"], [nsM, "lo"], [nsB, "lo"]] as const).map(([ns, dev]) => ["ip", "-n", ns, "link", "set", dev, "up"]),
      ["ip", "-n", nsA, "route", "add", "default", "via", `${netA}.2`],
      ["ip", "-n", nsM, "route", "add", "default", "via", `${netB}.254`],
      ["ip", "-n", nsB, "route", "add", "default", "via", `${netB}.254`],
      ["ip", "netns", "exec", nsR, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
    ]) {
      const r = sh(c);
      if (r.status !== 0) throw new Error(`${c.join(" ")}: ${r.stderr}`);
    }
    capture = spawn("ip", ["netns", "exec", nsA, "tshark", "-i", vA, "-f", "udp", "-w", cap, "-q"], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    capture.stderr!.on("data", (d) => (err += d));
    for (let i = 0; i < 200 && !err.includes("Capturing on"); i++) await new Promise((r) => setTimeout(r, 50));
    // The BBMD: a bacserv on subnet B (bacnet-stack binds its socket to the interface).
    procs.push(spawn("ip", ["netns", "exec", nsM, "env", `BACNET_IFACE=${vM}`, join(BACNET_BIN!, "bacserv"), String(BBMD_INSTANCE)], { stdio: "ignore" }));
    await new Promise((r) => setTimeout(r, 500));
  }, 30_000);

  afterAll(async () => {
    for (const p of procs) p.kill();
    if (capture && capture.exitCode === null) {
      capture.kill("SIGINT");
      await new Promise((r) => capture!.once("exit", r));
    }
    for (const ns of [nsA, nsR, nsM, nsB]) sh(["ip", "netns", "del", ns]);
  });

  test("registers, re-registers before the TTL, discovers and reads the device behind the BBMD; tshark finds no defect", async () => {
    const runMs = 2 * TTL_S * 1000;
    const client = spawn("ip", ["netns", "exec", nsA, process.execPath, join(import.meta.dirname, "fixtures/bacnet-bbmd-client.ts"), `${netA}.1`, `${netA}.255`, `${netB}.1`, String(TTL_S), String(INSTANCE), join(import.meta.dirname, "fixtures/bacserv-demo.bacnet.yaml"), String(runMs)], { stdio: ["ignore", "pipe", "pipe"] });
    procs.push(client);
    let stdout = "";
    let stderr = "";
    client.stdout!.on("data", (d) => (stdout += d));
    client.stderr!.on("data", (d) => (stderr += d));
    const exited = new Promise((r) => client.once("exit", r));
    for (let i = 0; i < 200 && !stdout.includes("registered"); i++) await new Promise((r) => setTimeout(r, 50));
    // The device starts only now: its start-up I-Am broadcast reaches Busbar only through the BBMD's table.
    procs.push(spawn("ip", ["netns", "exec", nsB, "env", `BACNET_IFACE=${vB}`, join(BACNET_BIN!, "bacserv"), String(INSTANCE)], { stdio: "ignore" }));
    await exited;
    let out: any;
    try {
      out = JSON.parse(stdout.trim().split("\n").pop() ?? "");
    } catch {
      throw new Error(`client output: ${stdout}\n${stderr}`);
    }
    if (process.env.DEBUG_BACNET) {
      capture!.kill("SIGINT");
      await new Promise((r) => capture!.once("exit", r));
      console.log(stdout, stderr, sh(["tshark", "-r", cap]).stdout);
    }
    expect(out.foreign).toMatchObject({ bbmd: `${netB}.1:47808`, ttlS: TTL_S, error: null });
    expect(out.logs).toEqual([]);
    expect(out.page).toMatch(new RegExp(`^Foreign device of the BBMD ${netB}\\.1:47808 \\(TTL ${TTL_S} s\\): registered \\d+ s ago$`));
    // Bound to the device's own address on the other subnet (from the Forwarded-NPDU's originator), and read through the router.
    expect(out.info).toMatchObject({ address: `${netB}.2`, missing: [{ object: "AV:99", error: "object/unknown-object" }] });
    expect(out.ai1.quality).toBe(1);
    // The admin's scan goes out as Distribute-Broadcast-To-Network: both devices of subnet B answer.
    expect(out.scan.heard.map((h: any) => [h.instance, h.address])).toEqual([
      [BBMD_INSTANCE, `${netB}.1`],
      [INSTANCE, `${netB}.2`],
    ]);

    capture!.kill("SIGINT");
    await new Promise((r) => capture!.once("exit", r));
    const frames = sh(["tshark", "-r", cap, "-T", "fields", "-E", "separator=|", "-e", "frame.time_relative", "-e", "ip.src", "-e", "ip.dst", "-e", "bvlc.function", "-e", "bvlc.result", "-e", "_ws.malformed", "-e", "_ws.expert.severity", "-e", "_ws.col.Info"])
      .stdout.split("\n")
      .filter(Boolean)
      .map((l) => {
        const [t, src, dst, fn, result, malformed, severity, ...info] = l.split("|");
        return { t: Number(t), src, dst, fn: Number(fn), result, malformed: !!malformed, severity: severity ?? "", info: info.join("|") };
      });
    const bad = frames.filter((f) => f.malformed || /error/i.test(f.severity) || f.severity === "8388608");
    expect(bad).toEqual([]);
    // BVLC functions (Annex J): 0x05 Register-Foreign-Device, 0x00 BVLC-Result, 0x09 Distribute-Broadcast-To-Network, 0x04 Forwarded-NPDU.
    const registers = frames.filter((f) => f.src === `${netA}.1` && f.dst === `${netB}.1` && f.fn === 0x05);
    const results = frames.filter((f) => f.src === `${netB}.1` && f.fn === 0x00);
    expect(registers.length).toBeGreaterThanOrEqual(3);
    expect(results.length).toBe(registers.length);
    expect(results.every((f) => Number(f.result) === 0)).toBe(true);
    // Each re-registration comes well before the BBMD's entry (TTL + 30 s grace) would run out: at half the TTL.
    const gaps = registers.slice(1).map((f, i) => f.t - registers[i]!.t);
    for (const g of gaps) expect(g).toBeLessThan(TTL_S);
    expect(frames.some((f) => f.src === `${netA}.1` && f.fn === 0x09 && /who-Is/i.test(f.info))).toBe(true);
    // No broadcast of Busbar's leaves its subnet for the device; the device's I-Am came forwarded by the BBMD.
    expect(frames.some((f) => f.src === `${netB}.1` && f.fn === 0x04 && /i-Am/i.test(f.info))).toBe(true);
    expect(frames.some((f) => f.src === `${netA}.1` && f.dst === `${netB}.2` && /readPropertyMultiple/.test(f.info))).toBe(true);
  }, 60_000);
});
