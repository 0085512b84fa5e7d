/**
 * Microgrid control (issue 12): the control tick's main-thread CPU, and the latency from a 5B1
 * reading to the updated shedding signal.
 *
 * The demo site and its simulator over Modbus TCP on loopback, Busbar polling it (5B1 every 1 s),
 * the controller reacting to each fresh 5B1 value. Latency = time the signal is written to the
 * table − the 5B1 sample's timestamp (set by the bus worker when the reply is decoded): it covers
 * worker → shared table → change ring → main-thread drain → tick. A GDP event runs half the time
 * so the battery dispatch (and its writes) is inside the measured ticks.
 * Target: latency p95 < 100 ms. The tick's CPU is reported per tick (mean, p95, max) and as a share
 * of one core over the run (Σ tick CPU ÷ wall time); the issue names no limit for it, so the bench
 * holds it to 1 % of one core, a budget a 1 s control loop beside the pollers can afford.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { parseYaml } from "../src/config/profile.ts";
import { DEMO_SITE } from "../src/embedded.ts";
import { startSimulator } from "../src/sim/simulator.ts";
import { startBusbar } from "../src/server/runtime.ts";
import { report } from "./report.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 40);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

const dir = mkdtempSync(join(tmpdir(), "busbar-mg-bench-"));
const site = parseSite(parseYaml(DEMO_SITE, "demo"), loadProfiles(), "demo");
const sim = startSimulator(site, { anyPort: true });
sim.setValue("BESS", "p_control_mode", 1);
const busbar = await startBusbar({ site: sim.servedSite, dbPath: join(dir, "b.db"), httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
const mg = busbar.microgrid!;
await Bun.sleep(5000); // first polls, warm-up
mg.latencies.length = 0;
mg.tickCpuMs.length = 0;
const load0 = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
const t0 = performance.now();
const gdp = busbar.registry.byId.get("MICROGRID.gdp_request")!.index;
await Bun.sleep((SECONDS * 1000) / 2);
await busbar.supervisor.write(gdp, 1);
await Bun.sleep((SECONDS * 1000) / 2);
await busbar.supervisor.write(gdp, 0);
const wallMs = performance.now() - t0;
const lat = mg.latencies.filter(Number.isFinite);
const cpu = mg.tickCpuMs;
console.log(`${SECONDS} s, ${lat.length} ticks on a fresh 5B1 reading, ${cpu.length} ticks in all (${((cpu.length * 1000) / wallMs).toFixed(1)}/s), ${mg.writes} BESS writes; 1-min load ${load0} at start, ${readFileSync("/proc/loadavg", "utf8").split(" ")[0]} at end`);
report("5B1 reading → shedding signal, p50", pct(lat, 50), "ms");
report("5B1 reading → shedding signal, p95", pct(lat, 95), "ms", { max: 100 });
report("5B1 reading → shedding signal, max", Math.max(...lat), "ms");
const cpuSum = cpu.reduce((a, b) => a + b, 0);
report("control tick CPU, mean", cpuSum / cpu.length, "ms");
report("control tick CPU, p95", pct(cpu, 95), "ms");
report("control tick CPU, max", Math.max(...cpu), "ms");
report("control tick CPU, share of one core", (100 * cpuSum) / wallMs, "%", { max: 1, note: "the issue names no target: 1 % of a core is the budget held" });
await busbar.stop();
sim.stop();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
