/**
 * Alarm evaluation over a 20,000-point change stream (issue 4): main-thread time the alarm engine
 * spends on one drained batch in which every point changed.
 *
 * Site: 607 TH40C meters (33 tags each, 20,031 points) on 3 buses; every point has an H and an L
 * limit (40,062 analog alarms, deadband 1) plus 607 communication-loss alarms. Each cycle writes a
 * new value into all 20,031 points of the shared table, drains the change rings and times
 * `AlarmEngine.onChanges(batch)` — the reads, the evaluation, and when alarms change state the
 * commit (alarm_state, alarm_activations and the journal rows, one transaction, synchronous=FULL on
 * a file database) and the summary publication.
 *
 *   steady      values move inside their limits: no transition (the everyday cycle)
 *   1 % storm   200 points cross a limit every cycle (200 activations or returns, journaled)
 *   10 % storm  2,000 points cross at once (a whole switchboard losing voltage)
 * Target: a full steady cycle under 5 ms of main-thread time.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AlarmEngine } from "../src/alarms/engine.ts";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { openDatabase } from "../src/db/database.ts";
import { Journal } from "../src/journal/journal.ts";
import { Quality } from "../src/points/quality.ts";
import { buildRegistry } from "../src/drivers/index.ts";
import { PointTable } from "../src/points/table.ts";
import { report } from "./report.ts";

const METERS = 607;
const CYCLES = Number(process.env.BENCH_CYCLES ?? 60);

const profiles = loadProfiles();
const th40c = profiles.get("th40c")!;
const numericTags = th40c.tags.filter((t) => t.poll && (t.kind === "analog" || t.kind === "digital"));
const devices = [];
for (let i = 0; i < METERS; i++) devices.push({ id: `M${i}`, bus: `gw${Math.floor(i / 240)}`, unit: (i % 240) + 1, profile: "th40c" });
const points = [];
for (let i = 0; i < METERS; i++) for (const t of numericTags) points.push({ point: `M${i}.${t.id}`, h: 1000, l: 100, deadband: 1 });

let t0 = performance.now();
const site = parseSite(
  {
    site: { name: "alarm bench" },
    buses: [0, 1, 2].map((b) => ({ id: `gw${b}`, kind: "modbus-tcp", host: "127.0.0.1", port: 1502 + b })),
    devices,
    alarms: { points, fromRoles: { breakerTripped: false, atsEmergency: false } },
  },
  profiles,
);
const parseMs = performance.now() - t0;
const registry = buildRegistry(site);
const n = registry.points.length;
const table = PointTable.create({ capacity: n, rings: 2, historySlots: 2, historySlotMs: 1000 });
const dir = mkdtempSync(join(tmpdir(), "busbar-alarm-bench-"));
const db = openDatabase(join(dir, "bench.db"));
const journal = new Journal(db.sqlite);
let publishes = 0;
t0 = performance.now();
const engine = new AlarmEngine({ site, registry, table, db, journal, publish: () => publishes++, tickMs: 3_600_000 });
const buildMs = performance.now() - t0;

console.log(`${n} points, ${engine.definitions.length} alarm definitions (site parsed in ${parseMs.toFixed(0)} ms)`);
report("alarm definitions compiled + state restored", buildMs, "ms");

// Normal values: 500 ± 300 (limits L 100 / H 1000).
let tick = 0;
const batch: number[] = [];
function cycle(cross: Set<number>, over: boolean): number {
  tick++;
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const v = cross.has(i) ? (over ? 1500 : 500) : 500 + 300 * Math.sin(i * 0.37 + tick * 0.11);
    table.write(i, v, now, Quality.GOOD, 0);
  }
  batch.length = 0;
  table.drainAll((i) => batch.push(i));
  const s = performance.now();
  engine.onChanges(batch, now);
  return performance.now() - s;
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!, max: s[s.length - 1]! };
}

// Warm-up (JIT), then steady cycles.
for (let k = 0; k < 10; k++) cycle(new Set(), false);
const steady: number[] = [];
for (let k = 0; k < CYCLES; k++) steady.push(cycle(new Set(), false));
const st = stats(steady);
console.log(`batch of ${batch.length} changed points per cycle`);
report("steady cycle (20,031 changes, no transition), median", st.median, "ms", { max: 5 });
report("steady cycle, p99", st.p99, "ms", { max: 5 });

// 1 % storm: 200 points alternate above H and back every cycle.
const onePct = new Set<number>();
for (let i = 0; onePct.size < 200; i += Math.floor(n / 200)) onePct.add(i);
const storm: number[] = [];
const before = (journal.sqlite.query("SELECT COUNT(*) AS n FROM events").get() as { n: number }).n;
for (let k = 0; k < 20; k++) storm.push(cycle(onePct, k % 2 === 0));
const after = (journal.sqlite.query("SELECT COUNT(*) AS n FROM events").get() as { n: number }).n;
const ss = stats(storm);
report("1 % storm cycle (200 transitions, committed), median", ss.median, "ms", { note: `${after - before} journal rows in 20 cycles` });
report("1 % storm cycle, max", ss.max, "ms");

// 10 % at once, then back.
const tenPct = new Set<number>();
for (let i = 0; tenPct.size < 2000; i += Math.floor(n / 2000)) tenPct.add(i);
const up = cycle(tenPct, true);
const down = cycle(tenPct, false);
report("10 % storm: 2,000 activations in one cycle", up, "ms");
report("10 % storm: 2,000 returns to normal in one cycle", down, "ms");

t0 = performance.now();
const summary = engine.summary();
report("summary with 2,000 unacknowledged alarms", performance.now() - t0, "ms", { note: `${summary.unacked} unacked` });
const v = journal.verify();
console.log(`journal ${v.ok ? "verifies" : "BROKEN"} (${v.rows} rows); ${publishes} summaries published`);
engine.stop();
db.close();
rmSync(dir, { recursive: true, force: true });
