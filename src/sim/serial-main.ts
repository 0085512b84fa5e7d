/**
 * A standalone serial simulator process: `bun src/sim/serial-main.ts SITE.(json|yaml) [options]`
 * models the site and serves each of its `modbus-rtu` buses on a fresh socat pty pair, then prints
 * one JSON line `{"ready":true,"ports":{BUS: "/dev/pts/N"},"rig":{BUS: ms}}` giving the end each
 * bus's master should open. Runs until SIGTERM/SIGINT or until its stdin closes.
 *
 *   --wire-time        answer after the frames' real transmission time at the bus's line speed
 *   --turnaround MS    device turnaround in wire-time mode (default 5)
 *   --compensate       measure socat's relay latency and take it off the wire-time delays
 *
 * Benches run it in its own process so the simulated devices' timing does not share an event loop
 * with the Busbar they are measuring; it also serves mbpoll or any other master by hand.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseYaml } from "../config/profile.ts";
import { loadProfiles } from "../config/profiles.ts";
import { parseSite } from "../config/site.ts";
import { serveSerialBuses } from "./serial-bus.ts";
import { startSimulator } from "./simulator.ts";

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: { "wire-time": { type: "boolean" }, turnaround: { type: "string" }, compensate: { type: "boolean" }, profiles: { type: "string" } },
});
const file = positionals[0];
if (!file) {
  process.stderr.write("usage: bun src/sim/serial-main.ts SITE.(json|yaml) [--wire-time] [--turnaround MS] [--compensate]\n");
  process.exit(2);
}
const text = readFileSync(file, "utf8");
const raw = file.endsWith(".json") ? JSON.parse(text) : parseYaml(text, file);
const site = parseSite(raw, loadProfiles(values.profiles), file);
const sim = startSimulator(site, { anyPort: true });
const serial = await serveSerialBuses(sim, site, {
  wireTime: values["wire-time"],
  turnaroundMs: values.turnaround === undefined ? undefined : Number(values.turnaround),
  compensateRig: values.compensate,
});
const ports: Record<string, string> = {};
for (const b of serial.site.buses) if (b.kind === "modbus-rtu") ports[b.id] = b.port;
process.stdout.write(JSON.stringify({ ready: true, ports, rig: Object.fromEntries(serial.rigLatencyMs) }) + "\n");

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const stats = Object.fromEntries([...serial.slaves].map(([id, s]) => [id, s.stats]));
  process.stdout.write(JSON.stringify({ stopped: true, stats }) + "\n");
  await serial.stop();
  sim.stop();
  process.exit(0);
}
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
process.stdin.on("end", () => void stop());
process.stdin.resume();
