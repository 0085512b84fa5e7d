/**
 * Issue 9 item 2: a legitimate master (Debian's mbpoll) against a gateway under a starvation
 * attack — 200 idle sockets from its own address, 200 idle sockets from 20 addresses (the server
 * full), 70 sockets sending one byte a second. Figure: mbpoll's whole run (connect, one read
 * through the gateway to a device, close), the median of 5 runs; target ≤ 1000 ms (served at all,
 * promptly: before the fix it was refused for as long as the attack lasted). Also how long the
 * dribblers survive (the frame timeout, 2 s by default).
 *
 * Run: bun bench/gateway-starvation.bench.ts (or npm run bench -- starvation). Needs mbpoll.
 */
import { spawn } from "node:child_process";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { startModbusTcpServer } from "../src/protocols/modbus/tcp-server.ts";
import { freePort } from "../src/server/ports.ts";
import { startBusbar } from "../src/server/runtime.ts";
import { SimDevice } from "../src/sim/device.ts";
import { simDevicesHandler } from "../src/sim/serial.ts";
import { crowd } from "../test/fixtures/hostile-clients.ts";
import { report } from "./report.ts";
import { readFileSync } from "node:fs";

const profiles = loadProfiles();
const devPort = await freePort();
const site = parseSite(
  {
    site: { name: "starvation bench" },
    buses: [{ id: "tcp", kind: "modbus-tcp", host: "127.0.0.1", port: devPort, timeoutMs: 500 }],
    devices: [{ id: "G5", bus: "tcp", unit: 5, profile: "generic", pollMs: 1000 }],
    gateway: { host: "127.0.0.1", port: await freePort() }, // the defaults under test
  },
  profiles,
);
const sim = new SimDevice(site.devices[0]!, profiles.get("generic")!);
sim.set("hr_0", 11);
const device = startModbusTcpServer({ host: "127.0.0.1", port: devPort, handler: simDevicesHandler([sim]) });
const busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
const gw = busbar.gateway!;

function mbpoll(): Promise<{ ok: boolean; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const p = spawn("mbpoll", ["-m", "tcp", "-p", String(gw.port), "-a", "5", "-r", "1", "-c", "1", "-t", "4", "-1", "-o", "3", "127.0.0.1"]);
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.on("exit", () => resolve({ ok: /^\[1\]:\s+11$/m.test(out), ms: performance.now() - t0 }));
  });
}
async function median(): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await mbpoll();
    ms.push(r.ok ? r.ms : Infinity);
  }
  ms.sort((a, b) => a - b);
  return ms[2]!;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

console.log(`load average: ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
report("gateway starvation: mbpoll, no attack", await median(), "ms", { max: 1000 });

let c = await crowd(gw.port, 200);
await sleep(1100);
report("gateway starvation: mbpoll, 200 idle sockets (same address)", await median(), "ms", { max: 1000 });
c.stop();

c = await crowd(gw.port, 200, { from: Array.from({ length: 20 }, (_, i) => `127.0.0.${10 + i}`) });
await sleep(1100);
report("gateway starvation: mbpoll, 200 idle sockets (20 addresses)", await median(), "ms", { max: 1000 });
c.stop();

const t0 = performance.now();
c = await crowd(gw.port, 70, { from: Array.from({ length: 5 }, (_, i) => `127.0.0.${40 + i}`), dribble: true });
await sleep(1100);
report("gateway starvation: mbpoll, 70 sockets at 1 byte/s", await median(), "ms", { max: 1000 });
while (c.open() > 0 && performance.now() - t0 < 10_000) await sleep(50);
report("gateway starvation: last 1-byte/s socket closed after", performance.now() - t0, "ms", { max: 4000, note: "first byte after 1 s, then the 2 s frame timeout, + sweep" });
c.stop();
const s = gw.stats();
console.log(`counters: refused ${s.rejectedConnections}, evicted ${s.evictedConnections}, frame timeouts ${s.frameTimeouts}, idle closed ${s.idleClosed}`);
await busbar.stop();
device.stop();
process.exit(0);
