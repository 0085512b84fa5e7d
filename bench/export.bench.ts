/**
 * CSV export of one year of 15-minute data for 50 points (issue 13): time and peak RSS.
 * The year is written straight into a history file in the historian's format (as historian.bench
 * does), then exported through the same generator the route streams, bytes counted and dropped.
 * Targets chosen here (the issue names the figures, not their limits): < 15 s, and memory flat:
 * RSS growth during the export < 64 MB whatever the range; the peak is also given as a ratio of the
 * RSS before the export (the baseline: the process with its data opened).
 * The same for energy: one year of 15-minute intervals of 50 meters (by meter, per 15 minutes),
 * written straight into the energy store's table and exported through the route's generator.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { csvFormat, historyCsv, type CsvFormat } from "../src/exports/csv.ts";
import { historianSchema } from "../src/historian/config.ts";
import { Historian } from "../src/historian/historian.ts";
import type { HistPoint } from "../src/historian/points.ts";
import { openHistoryDb } from "../src/historian/store.ts";
import { report } from "./report.ts";
import { Database } from "bun:sqlite";
import { EnergyStore } from "../src/energy/store.ts";
import { energySchema, validateEnergy } from "../src/energy/structure.ts";
import { energyCsv } from "../src/exports/energy.ts";

const DAY = 86_400_000;
const POINTS = 50;
const LEN = 900_000;
const dir = mkdtempSync(join(tmpdir(), "busbar-export-bench-"));
const path = join(dir, "year.history.db");
const end = Math.floor(Date.now() / DAY) * DAY;
const start = end - 365 * DAY;
{
  const db = openHistoryDb(path);
  db.exec("PRAGMA journal_mode = OFF");
  db.exec("PRAGMA synchronous = OFF");
  const addPoint = db.prepare("INSERT INTO h_points (id, name, kind, unit) VALUES (?, ?, ?, ?)");
  for (let p = 1; p <= POINTS; p++) addPoint.run(p, `C${p}.p_total`, "analog", "kW");
  const per = 100;
  const one = "(?,?,?,?,?,?,?,?,?)";
  const stmt = db.prepare(`INSERT INTO h_15m (point, ts, n, good_ms, mean, min, max, first, last) VALUES ${Array(per).fill(one).join(",")}`);
  for (let p = 1; p <= POINTS; p++) {
    db.transaction(() => {
      let buf: number[] = [];
      let v = 100 + p;
      for (let t = start; t < end; t += LEN) {
        v += Math.sin(t / 3_600_000 + p) * 0.5;
        buf.push(p, t, 15, LEN, Math.round(v * 1000) / 1000, Math.round((v - 1) * 1000) / 1000, Math.round((v + 1) * 1000) / 1000, v, v);
        if (buf.length === per * 9) {
          stmt.run(...buf);
          buf = [];
        }
      }
      const single = db.prepare(`INSERT INTO h_15m (point, ts, n, good_ms, mean, min, max, first, last) VALUES ${one}`);
      for (let i = 0; i < buf.length; i += 9) single.run(...buf.slice(i, i + 9));
    })();
  }
  db.query("INSERT INTO h_meta (key, value) VALUES ('closed.15m', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(String(end));
  db.exec("PRAGMA journal_mode = WAL");
  db.close();
}
const points: HistPoint[] = Array.from({ length: POINTS }, (_, i) => ({ index: i, name: `C${i + 1}.p_total`, device: `C${i + 1}`, kind: "analog", unit: "kW", deadband: 0, relDeadband: 0, heartbeatMs: 60_000, store: true }));
const h = new Historian({ path, points, config: historianSchema.parse({}), timeZone: "America/Toronto" });
/** Exports [from, end) and measures: memory flat means a month and a year peak alike. */
function run(from: number, pieces = (f: number) => historyCsv({ historian: h, indexes: points.map((p) => p.index), from: f, to: end, group: "15m", format: csvFormat({}, "America/Toronto") as CsvFormat })) {
  Bun.gc(true);
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  let bytes = 0;
  let lines = 0;
  let longest = 0;
  const gaps: number[] = [];
  const t0 = performance.now();
  let tp = t0;
  for (const piece of pieces(from)) {
    bytes += Buffer.byteLength(piece);
    for (let k = piece.indexOf("\n"); k >= 0; k = piece.indexOf("\n", k + 1)) lines++;
    peak = Math.max(peak, process.memoryUsage().rss);
    const tn = performance.now();
    longest = Math.max(longest, tn - tp);
    gaps.push(tn - tp);
    tp = tn;
  }
  gaps.sort((x, y) => x - y);
  return { longest, p99: gaps[Math.floor(gaps.length * 0.99)] ?? 0, chunks: gaps.length, s: (performance.now() - t0) / 1000, growth: (peak - rss0) / 1e6, peak: peak / 1e6, ratio: peak / rss0, bytes, lines };
}
const month = run(end - 30 * DAY);
const year = run(start);
const s = year.s;
h.stop();

// Energy: 50 meters × a year of intervals in e_interval (what the energy service writes).
const edb = new Database(join(dir, "energy.db"));
const estore = new EnergyStore(edb, "America/Toronto");
edb.exec("PRAGMA journal_mode = OFF");
edb.exec("PRAGMA synchronous = OFF");
{
  const per = 200;
  const ins = edb.prepare(`INSERT INTO e_interval (meter, ts, value, held, flags, cost) VALUES ${Array(per).fill("(?,?,?,0,0,?)").join(",")}`);
  for (let p = 1; p <= POINTS; p++)
    edb.transaction(() => {
      let buf: (string | number)[] = [];
      for (let t = start; t < end; t += LEN) {
        const v = Math.round((2 + Math.sin(t / 3_600_000 + p)) * 1000) / 1000;
        buf.push(`M${p}`, t, v, v * 0.1);
        if (buf.length === per * 4) {
          ins.run(...buf);
          buf = [];
        }
      }
      const one = edb.prepare("INSERT INTO e_interval (meter, ts, value, held, flags, cost) VALUES (?,?,?,0,0,?)");
      for (let i = 0; i < buf.length; i += 4) one.run(...buf.slice(i, i + 4));
    })();
}
const econfig = energySchema.parse({ meters: Array.from({ length: POINTS }, (_, i) => ({ id: `M${i + 1}`, point: `C${i + 1}.e` })), costs: [{ commodity: "electricity", currency: "CAD", tariffs: [{ id: "t", name: "T", prices: [{ price: 0.1 }] }], rules: [{ tariff: "t" }] }] });
const { meters } = validateEnergy(econfig, () => ({ unit: "kWh" }));
const energy = (f: number) => energyCsv({ store: estore, config: econfig, meters, by: "meter", bucket: "15m", from: f, to: end, format: csvFormat({}, "America/Toronto") as CsvFormat, lang: "fr" });
const eMonth = run(end - 30 * DAY, energy);
const eYear = run(start, energy);
edb.close();
rmSync(dir, { recursive: true, force: true });
const load = (await Bun.file("/proc/loadavg").text()).split(" ")[0];
console.log(`${year.lines.toLocaleString("en")} lines, ${(year.bytes / 1e6).toFixed(1)} MB of CSV (1-min load ${load})`);
report("CSV export, 1 year of 15 min × 50 points: time", s, "s", { max: 15 });
report("CSV export, 1 year: peak RSS", year.peak, "MB");
report("CSV export, 1 year: peak RSS / RSS before the export", year.ratio, "×");
report("CSV export: longest chunk (main-thread stall between yields)", year.longest, "ms", { max: 20, note: "the stream yields to the event loop between chunks" });
report(`CSV export: 99th percentile of the ${year.chunks} chunks`, year.p99, "ms");
report("CSV export: RSS growth, 1 month", month.growth, "MB");
report("CSV export: RSS growth, 1 year (flat: ≤ 1 month's + 64 MB)", year.growth, "MB", { max: month.growth + 64, note: "streamed in chunks; garbage the GC has not taken yet counts" });

console.log(`energy: ${eYear.lines.toLocaleString("en")} lines, ${(eYear.bytes / 1e6).toFixed(1)} MB of CSV`);
report("Energy CSV, 1 year of 15 min × 50 meters: time", eYear.s, "s", { max: 15 });
report("Energy CSV, 1 year: peak RSS", eYear.peak, "MB");
report("Energy CSV, 1 year: peak RSS / RSS before the export", eYear.ratio, "×");
report("Energy CSV: longest chunk (main-thread stall between yields)", eYear.longest, "ms", { max: 20 });
report(`Energy CSV: 99th percentile of the ${eYear.chunks} chunks`, eYear.p99, "ms");
report("Energy CSV: RSS growth, 1 month", eMonth.growth, "MB");
report("Energy CSV: RSS growth, 1 year (flat: ≤ 1 month's + 64 MB)", eYear.growth, "MB", { max: eMonth.growth + 64 });
console.log(`(1-min load average at the end: ${load})`);
