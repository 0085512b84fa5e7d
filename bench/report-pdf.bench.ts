/**
 * Issue 13 PDF figures: a yearly detailed report of every circuit of the demo site, from a synthetic
 * year of counter readings fed through the energy service into a history file.
 *   1. generation time, in the piscina pool                  target < 3 s
 *   2. the longest event-loop stall on the main thread meanwhile  target < 20 ms
 * Both for the first report after a fresh pool (its thread created for it, pdfmake and the fonts
 * loaded in it: what the first report after start, or after five idle minutes, costs) and for a
 * report on a warm pool. The process is primed as the server primes it before it listens
 * (primeReportPool); BUSBAR_BENCH_UNPRIMED=1 leaves that out, to see what it saves.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseYaml } from "../src/config/profile.ts";
import { parseSite, siteUnits } from "../src/config/site.ts";
import { INTERVAL_MS, type Interval } from "../src/energy/counters.ts";
import { EnergyService } from "../src/energy/service.ts";
import { EnergyStore } from "../src/energy/store.ts";
import { validateEnergy } from "../src/energy/structure.ts";
import { openHistoryDb } from "../src/historian/store.ts";
import { DEMO_SITE } from "../src/embedded.ts";
import { closeReportPool, primeReportPool, runReport } from "../src/reports/pool.ts";
import { report } from "./report.ts";

const profiles = loadProfiles();
const site = parseSite(parseYaml(DEMO_SITE, "demo-site.yaml"), profiles);
const { meters } = validateEnergy(site.energy, siteUnits(site, profiles));
const tz = site.site.timezone;
const dir = mkdtempSync(join(tmpdir(), "busbar-report-bench-"));
const dbPath = join(dir, "history.db");
const db = openHistoryDb(dbPath);
const store = new EnergyStore(db, tz);
const svc = new EnergyService({ config: site.energy, meters, store, timeZone: tz });

const DAY = 86_400_000;
const year = new Date().getUTCFullYear() - 1;
const from = svc.clock.fromLocal(year - 1, 1, 1);
const to = svc.clock.fromLocal(year + 1, 1, 1);
let seed = 11;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const t0 = performance.now();
/**
 * Intervals written as the energy service stores them (the counter path is issue 11's bench): a
 * daily-shaped load per feeder, the head their sum + 3 %, priced by the demo's tariffs. In a
 * function, so that its 1.3 million interval objects are garbage once written: held, every
 * collection of the main thread's heap would have them to mark during the measured reports (a
 * full GC of them takes 40–500 ms here), which the server's main thread never holds.
 */
function storeSyntheticYear(): void {
  const ev = svc.evaluators.get("electricity");
  const head = meters.find((m) => m.head)!;
  const headIvs: Interval[] = [];
  const per = new Map(meters.filter((m) => !m.head).map((m) => [m.id, [] as Interval[]]));
  for (let ts = from; ts < to; ts += INTERVAL_MS) {
    const hour = new Date(ts).getUTCHours();
    const shape = 0.4 + 0.6 * Math.max(0, Math.sin(((hour - 5) / 24) * 2 * Math.PI));
    let sum = 0;
    for (const m of meters) {
      if (m.head) continue;
      const kwh = (10 + rnd() * 40) * shape * 0.25;
      if (!m.excluded) sum += kwh;
      per.get(m.id)!.push({ ts, value: kwh, held: 0, flags: 0 });
    }
    headIvs.push({ ts, value: sum * 1.03, held: 0, flags: 0 });
  }
  for (const [id, ivs] of per) store.write(id, ivs, ev);
  store.write(head.id, headIvs, ev);
}
storeSyntheticYear();
console.log(`synthetic year of ${meters.length} meters stored in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const job = { dbPath, site: site.site.name, timezone: tz, config: site.energy, meters, req: { kind: "detailed" as const, period: "year" as const, year, month: 1, lang: "fr" as const }, format: "pdf" as const };

/**
 * A 1 ms timer on the main thread: the longest gap between its ticks is the event-loop stall. On a
 * loaded machine a gap can also be the thread waiting for a core, so the probe also reads the main
 * thread's /proc/self/task/PID/schedstat (ns: CPU it ran, time it waited runnable on the run queue)
 * at each tick and keeps: the most CPU it ran between two ticks (work on the main thread), and the
 * longest gap less that gap's run-queue wait (what is left when no core was free is not the
 * thread's doing). What remains beyond its own CPU is the thread asleep in epoll past its 1 ms
 * timer (seen here up to ~40 ms on a loaded VM with no Worker at all): the idle probe shows it.
 */
type Probe = { stall: number; busy: number; stallLessWait: number };
function loopProbe(): { stop(): Probe } {
  const stat = `/proc/self/task/${process.pid}/schedstat`;
  const read = () => readFileSync(stat, "utf8").split(" ").map((x) => Number(x) / 1e6);
  let last = performance.now();
  let [lastCpu, lastWait] = read();
  let stall = 0;
  let busy = 0;
  let stallLessWait = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const [c, w] = read();
    const gap = now - last;
    stall = Math.max(stall, gap);
    busy = Math.max(busy, c! - lastCpu!);
    stallLessWait = Math.max(stallLessWait, gap - (w! - lastWait!));
    last = now;
    lastCpu = c;
    lastWait = w;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      return { stall: Math.max(0, stall - 1), busy, stallLessWait: Math.max(0, stallLessWait - 1) };
    },
  };
}

/** Runs one report while the probe watches the main thread. */
async function measured(label: string): Promise<Probe & { ms: number; bytes: Uint8Array }> {
  // The synthetic year left garbage on the main thread: collect it before, not during, the figure.
  Bun.gc(true);
  await Bun.sleep(100);
  const p = loopProbe();
  const a = performance.now();
  const bytes = await runReport(job);
  const ms = performance.now() - a;
  const probe = p.stop();
  if (process.env.BUSBAR_BENCH_DEBUG) console.log(`  ${label}: run ${ms.toFixed(0)} ms, stall ${probe.stall.toFixed(1)} ms (${probe.stallLessWait.toFixed(1)} less its run-queue wait), main thread ran ${probe.busy.toFixed(1)} ms of it (load ${loadavg()[0]!.toFixed(2)}, main heap ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MB)`);
  return { ...probe, ms, bytes };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const fmtLoad = () => loadavg().map((x) => x.toFixed(2)).join(" ");

Bun.gc(true);
const idleProbe = loopProbe();
await Bun.sleep(5000);
const idle = idleProbe.stop();
const startLoad = fmtLoad();
let primeCpu = 0;
if (!process.env.BUSBAR_BENCH_UNPRIMED) {
  // What the server does before it listens: measured as the main thread's CPU, not a figure.
  const cpu = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
  const c = cpu();
  const primed = primeReportPool();
  primeCpu = cpu() - c;
  await primed;
}
// Cold: each time a new pool, so a new thread that loads pdfmake and the fonts for this report.
const colds = [];
for (let i = 0; i < 3; i++) {
  await closeReportPool();
  colds.push(await measured(`cold ${i + 1}`));
}
const warms = [];
for (let i = 0; i < 3; i++) warms.push(await measured(`warm ${i + 1}`));
const cold = colds[0]!;
if (process.env.BUSBAR_BENCH_KEEP) writeFileSync(process.env.BUSBAR_BENCH_KEEP, cold.bytes);
const circuits = new Set(meters.filter((m) => !m.head && !m.excluded).map((m) => m.circuit)).size;
const max = (xs: number[]) => Math.max(...xs);
console.log(`yearly detailed report, ${circuits} circuits of ${meters.length} meters: ${(cold.bytes.length / 1024).toFixed(0)} KiB; load average at start ${startLoad}`);
console.log(process.env.BUSBAR_BENCH_UNPRIMED ? "process NOT primed (BUSBAR_BENCH_UNPRIMED)" : `process primed as the server does before it listens: ${primeCpu.toFixed(1)} ms of main-thread CPU`);
report("yearly detailed PDF, first after a fresh pool (median of 3)", median(colds.map((r) => r.ms)), "ms", { max: 3000 });
report("yearly detailed PDF, pool warm (median of 3)", median(warms.map((r) => r.ms)), "ms", { max: 3000 });
for (const [name, rs] of [["first report after a fresh pool", colds], ["pool warm", warms]] as const) {
  report(`longest main-thread stall, ${name} (max of 3)`, max(rs.map((r) => r.stall)), "ms", { max: 20 });
  report("  less the run-queue wait (no core free) of each gap", max(rs.map((r) => r.stallLessWait)), "ms", { max: 20 });
  report("  main thread's own CPU between two ticks", max(rs.map((r) => r.busy)), "ms", { max: 20 });
}
report("the same probe, 5 s with no report running: stall (machine noise)", idle.stall, "ms");
report("  less the run-queue wait", idle.stallLessWait, "ms");
console.log(`load average ${fmtLoad()}`);
await closeReportPool();
db.close();
rmSync(dir, { recursive: true, force: true });
