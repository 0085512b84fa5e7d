/**
 * The BACnet server on the standard port 47808 in a real broadcast domain: two network namespaces
 * joined by a veth pair (../shared/peers/README.md), Busbar in one, bacnet-stack's tools in the
 * other, each on 47808 as on a building network. bacwi's broadcast Who-Is reaches Busbar and its
 * I-Am comes back by broadcast; bacrp reads and bacwp writes from the allowed address. Needs root
 * (CI is); skipped otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACNET_BIN } from "./helpers/bacnet.ts";

const root = join(import.meta.dirname, "..");
const canNetns = process.getuid?.() === 0 && spawnSync("ip", ["netns", "list"]).status === 0;
const tag = `${process.pid % 100000}`;
const A = `bbms-a-${tag}`;
const B = `bbms-b-${tag}`;
const VA = `bbmsa${tag}`.slice(0, 15);
const VB = `bbmsb${tag}`.slice(0, 15);
// 198.18.0.0/15 (benchmarking range); a third octet per run, away from the README's 198.18.77.x.
const NET = `198.19.${(process.pid % 200) + 20}`;
const INSTANCE = 5000 + (process.pid % 1000);
let busbar: ChildProcess | undefined;

const sh = (args: string[]) => {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
};
const inB = (tool: string, args: (string | number)[]) =>
  new Promise<string>((resolve) => {
    const p = spawn("ip", ["netns", "exec", B, "env", `BACNET_IFACE=${VB}`, join(BACNET_BIN!, tool), ...args.map(String)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    const t = setTimeout(() => p.kill(), 15_000);
    p.on("exit", () => (clearTimeout(t), resolve(out.trim())));
  });

describe.skipIf(!canNetns || !BACNET_BIN)("BACnet server on 47808 between two network namespaces", () => {
  beforeAll(async () => {
    sh(["netns", "add", A]);
    sh(["netns", "add", B]);
    sh(["link", "add", VA, "type", "veth", "peer", "name", VB]);
    sh(["link", "set", VA, "netns", A]);
    sh(["link", "set", VB, "netns", B]);
    sh(["-n", A, "addr", "add", `${NET}.1/24`, "dev", VA]);
    sh(["-n", B, "addr", "add", `${NET}.2/24`, "dev", VB]);
    for (const [ns, dev] of [[A, VA], [B, VB]] as const) {
      sh(["-n", ns, "link", "set", dev, "up"]);
      sh(["-n", ns, "link", "set", "lo", "up"]);
    }
    const db = join(mkdtempSync(join(tmpdir(), "busbar-netns-")), "b.db");
    busbar = spawn("ip", ["netns", "exec", A, join(root, "node_modules/.bin/bun"), join(root, "test/fixtures/bacnet-server-netns.ts"), VA, String(INSTANCE), `${NET}.2`, db], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    busbar.stderr!.on("data", (d) => (out += d));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`Busbar did not start in ${A}: ${out}`)), 30_000);
      busbar!.stdout!.on("data", (d) => {
        out += d;
        if (out.includes("ready")) (clearTimeout(t), resolve());
      });
    });
    expect(out).toContain(`ready ${NET}.1:47808 broadcast ${NET}.255`);
    await new Promise((r) => setTimeout(r, 2500)); // every device polled once
  }, 60_000);

  afterAll(async () => {
    if (busbar && busbar.exitCode === null) {
      const done = new Promise((r) => busbar!.once("exit", r));
      busbar.kill("SIGTERM");
      await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
      if (busbar.exitCode === null) busbar.kill("SIGKILL");
    }
    spawnSync("ip", ["netns", "del", A]);
    spawnSync("ip", ["netns", "del", B]);
  });

  it("bacwi's broadcast finds Busbar; bacrp reads; bacwp writes from the allowed address", { timeout: 40_000 }, async () => {
    const wi = await inB("bacwi", ["--timeout", 2000]);
    const hex = NET.split(".").map((x) => Number(x).toString(16).toUpperCase().padStart(2, "0")).join(":");
    expect(wi).toMatch(new RegExp(`^\\s*${INSTANCE}\\s+${hex}:01:BA:C0\\s`, "m"));
    expect(await inB("bacrp", [INSTANCE, 8, INSTANCE, "object-name"])).toBe('"Busbar-Demo"');
    expect(await inB("bacrp", [INSTANCE, 8, INSTANCE, "system-status"])).toBe("operational");
    // AV 1 is the load-shedding setpoint on a fresh database (the first analog value served).
    expect(await inB("bacwp", [INSTANCE, 2, 1, "present-value", 8, -1, 4, 275])).toMatch(/Acknowledged/);
    expect(await inB("bacrp", [INSTANCE, 2, 1, "present-value"])).toBe("275.000000");
    expect(await inB("bacwp", [INSTANCE, 2, 1, "present-value", 8, -1, 0, 0])).toMatch(/Acknowledged/);
  });
});
