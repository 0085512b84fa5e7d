import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BACNET_BIN } from "./helpers/bacnet.ts";

/**
 * The standard port 47808 on both sides and a real broadcast domain: two network namespaces joined
 * by a veth pair (../shared/peers/README.md), bacserv in one, Busbar's BACnet driver in the other.
 * Discovery by broadcast Who-Is, RPM, COV, a write at priority 10 checked with the peer's own bacrp,
 * and every frame Busbar sent decoded by tshark on the standard port. Needs root (CI is).
 */

const root = process.getuid?.() === 0 && spawnSync("ip", ["netns", "list"]).status === 0;
const tag = `${process.pid % 100000}`;
const nsA = `bba${tag}`;
const nsB = `bbb${tag}`;
const vA = `bva${tag}`;
const vB = `bvb${tag}`;
const net = `198.18.${100 + (process.pid % 150)}`;
const INSTANCE = 5000 + (process.pid % 1000);
const sh = (args: string[]) => spawnSync(args[0]!, args.slice(1), { encoding: "utf8" });

describe.skipIf(!root || !BACNET_BIN)("BACnet on the standard port between two network namespaces", () => {
  let server: ChildProcess | undefined;
  let capture: ChildProcess | undefined;
  const cap = join(mkdtempSync(join(tmpdir(), "busbar-netns-")), "cap.pcapng");

  beforeAll(async () => {
    for (const c of [
      ["ip", "netns", "add", nsA],
      ["ip", "netns", "add", nsB],
      ["ip", "link", "add", vA, "type", "veth", "peer", "name", vB],
      ["ip", "link", "set", vA, "netns", nsA],
      ["ip", "link", "set", vB, "netns", nsB],
      ["ip", "-n", nsA, "addr", "add", `${net}.1/24`, "brd", `${net}.255`, "dev", vA],
      ["ip", "-n", nsB, "addr", "add", `${net}.2/24`, "brd", `${net}.255`, "dev", vB],
      ["ip", "-n", nsA, "link", "set", vA, "up"],
      ["ip", "-n", nsB, "link", "set", vB, "up"],
      ["ip", "-n", nsA, "link", "set", "lo", "up"],
      ["ip", "-n", nsB, "link", "set", "lo", "up"],
    ]) {
      const r = sh(c);
      if (r.status !== 0) throw new Error(`${c.join(" ")}: ${r.stderr}`);
    }
    capture = spawn("ip", ["netns", "exec", nsA, "tshark", "-i", vA, "-f", "udp", "-w", cap, "-q"], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    capture.stderr!.on("data", (d) => (err += d));
    for (let i = 0; i < 200 && !err.includes("Capturing on"); i++) await new Promise((r) => setTimeout(r, 50));
    server = spawn("ip", ["netns", "exec", nsB, "env", `BACNET_IFACE=${vB}`, join(BACNET_BIN!, "bacserv"), String(INSTANCE)], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 500));
  }, 30_000);

  afterAll(async () => {
    server?.kill();
    if (capture && capture.exitCode === null) {
      capture.kill("SIGINT");
      await new Promise((r) => capture!.once("exit", r));
    }
    sh(["ip", "netns", "del", nsA]);
    sh(["ip", "netns", "del", nsB]);
  });

  test("binds by broadcast, reads, subscribes, writes with a priority; bacrp sees the write; tshark finds no defect", async () => {
    const client = spawnSync(
      "ip",
      ["netns", "exec", nsA, process.execPath, join(import.meta.dirname, "fixtures/bacnet-netns-client.ts"), `${net}.1`, `${net}.255`, String(INSTANCE), join(import.meta.dirname, "fixtures/bacserv-demo.bacnet.yaml")],
      { encoding: "utf8", timeout: 30_000 },
    );
    const line = client.stdout.trim().split("\n").pop() ?? "";
    let out: any;
    try {
      out = JSON.parse(line);
    } catch {
      throw new Error(`client output: ${client.stdout}\n${client.stderr}`);
    }
    // A sender on 47808 is named by its address alone.
    expect(out.info).toMatchObject({ address: `${net}.2`, cov: "active", missing: [{ object: "AV:99", error: "object/unknown-object" }] });
    expect(out.heard[0]).toMatchObject({ instance: INSTANCE, address: `${net}.2`, maxApdu: 1476 });
    expect(out.ai1.quality).toBe(1);
    expect(out.write).toMatchObject({ ok: true });
    expect(out.ao1.value).toBe(12.5);
    // The peer's own client, from Busbar's namespace now that its port is free again.
    const rp = sh(["ip", "netns", "exec", nsA, "env", `BACNET_IFACE=${vA}`, join(BACNET_BIN!, "bacrp"), String(INSTANCE), "1", "1", "87"]);
    expect(rp.stdout.split(",")[9]).toMatch(/12\.5/);

    capture!.kill("SIGINT");
    await new Promise((r) => capture!.once("exit", r));
    const fields = sh(["tshark", "-r", cap, "-Y", `ip.src == ${net}.1 && udp.srcport == 47808`, "-T", "fields", "-E", "separator=|", "-e", "_ws.malformed", "-e", "_ws.expert.severity", "-e", "_ws.col.Info"]);
    const frames = fields.stdout.split("\n").filter(Boolean);
    expect(frames.length).toBeGreaterThan(5);
    expect(frames.filter((f) => f.startsWith("1|") || /\|8388608\||\|error\|/i.test(f))).toEqual([]);
    const info = frames.join("\n");
    expect(info).toMatch(/who-Is/i);
    expect(info).toMatch(/readPropertyMultiple/);
    expect(info).toMatch(/subscribeCOV/);
    expect(info).toMatch(/writeProperty/);
  }, 60_000);
});
