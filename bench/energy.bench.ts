/**
 * Energy figures of issue 11, on a synthetic year in the historian's shape (a counter's last value
 * per 15-minute interval, as the historian's 15 m tier keeps it) for the demo's 14 feeders plus the
 * head meter, fed through the energy service (consumption, pricing, days) into the history file;
 * nine earlier years as day rows, so a ten-year view has ten years to read.
 *   1. month-by-day histogram of all circuits      target < 50 ms
 *   2. ten-years-by-year histogram of all circuits target < 100 ms
 *   3. recomputing one month's costs after a tariff change < 1 s
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseYaml } from "../src/config/profile.ts";
import { parseSite, siteUnits } from "../src/config/site.ts";
import { INTERVAL_MS } from "../src/energy/counters.ts";
import { EnergyService } from "../src/energy/service.ts";
import { EnergyStore } from "../src/energy/store.ts";
import { validateEnergy } from "../src/energy/structure.ts";
import { buildView } from "../src/energy/views.ts";
import { openHistoryDb } from "../src/historian/store.ts";
import { DEMO_SITE } from "../src/embedded.ts";
import { report } from "./report.ts";

const profiles = loadProfiles();
const site = parseSite(parseYaml(DEMO_SITE, "demo-site.yaml"), profiles);
const { meters } = validateEnergy(site.energy, siteUnits(site, profiles));
const counted = meters.filter((m) => !m.excluded);
const tz = site.site.timezone;
const dir = mkdtempSync(join(tmpdir(), "busbar-energy-bench-"));
const db = openHistoryDb(join(dir, "history.db"));
const store = new EnergyStore(db, tz);
const svc = new EnergyService({ config: site.energy, meters: counted, store, timeZone: tz });

const DAY = 86_400_000;
const end = svc.clock.fromLocal(new Date().getUTCFullYear(), new Date().getUTCMonth() + 1, 1);
const yearStart = end - 365 * DAY;
let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

// The year: every feeder's counter advances by a daily-shaped load; the head is their sum + 3 %.
let t0 = performance.now();
const feeders = counted.filter((m) => !m.head);
const head = counted.find((m) => m.head)!;
const cum = new Map(counted.map((m) => [m.id, 10_000 * (1 + rnd())]));
let n = 0;
for (let ts = yearStart; ts <= end; ts += INTERVAL_MS) {
  const hour = new Date(ts).getUTCHours();
  const shape = 0.4 + 0.6 * Math.max(0, Math.sin(((hour - 5) / 24) * 2 * Math.PI));
  let sum = 0;
  for (const m of feeders) {
    const kwh = (10 + rnd() * 40) * shape * 0.25;
    sum += kwh;
    cum.set(m.id, cum.get(m.id)! + kwh);
    svc.reading(m.id, ts, cum.get(m.id)!, true);
  }
  cum.set(head.id, cum.get(head.id)! + sum * 1.03);
  svc.reading(head.id, ts, cum.get(head.id)!, true);
  n += counted.length;
  // Flush once a simulated day: as live, a day's intervals go in at a time.
  if ((ts - yearStart) % DAY === 0) svc.flush(ts);
}
svc.flush(end + 1);
console.log(`synthetic year: ${n.toLocaleString("en")} counter readings → intervals, priced, stored in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// Nine earlier years as day rows (what a running site would have built up).
t0 = performance.now();
const addDay = db.prepare("INSERT OR REPLACE INTO e_day (meter, day, value, held, flags, cost, priced) VALUES (?, ?, ?, 0, 0, ?, 1)");
db.transaction(() => {
  for (const m of counted) for (let d = store.cal.start(3, yearStart - 9 * 365 * DAY); d < yearStart; d = store.cal.next(3, d)) addDay.run(m.id, d, 500 + rnd() * 100, 30 + rnd() * 5);
})();
for (const m of counted) store.rebuildMonths(m.id, yearStart - 9 * 365 * DAY, yearStart + 31 * DAY);
console.log(`nine earlier years of day rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

function time(f: () => void, runs = 9): number {
  f();
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = performance.now();
    f();
    ts.push(performance.now() - a);
  }
  return ts.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

const monthFrom = store.cal.start(4, end - 40 * DAY);
const monthTo = store.cal.next(4, monthFrom);
let bars = 0;
const month = time(() => {
  bars = 0;
  const starts = store.buckets("day", monthFrom, monthTo);
  for (const m of counted) bars += store.histogram(m.id, "day", monthFrom, monthTo, starts).length;
});
report(`month-by-day histogram, ${counted.length} meters (${bars} bars)`, month, "ms", { max: 50 });

// What the page asks for: circuits summed, the unmetered remainder, the previous month beside.
const view = time(() => {
  buildView(store, svc.clock, site.energy, counted, svc.evaluators.get("electricity"), { view: "total", period: "month", at: monthFrom + 15 * DAY, lang: "fr" });
});
report("the Total page's month view (circuits + remainder + previous month)", view, "ms", { max: 50 });
const tenView = time(() => {
  buildView(store, svc.clock, site.energy, counted, svc.evaluators.get("electricity"), { view: "total", period: "decade", at: end - DAY, lang: "fr" });
});
report("the Total page's ten-year view (+ previous ten years)", tenView, "ms", { max: 100 });

const tenFrom = svc.clock.fromLocal(svc.clock.parts(end).year - 9, 1, 1);
const ten = time(() => {
  bars = 0;
  const starts = store.buckets("year", tenFrom, end);
  for (const m of counted) bars += store.histogram(m.id, "year", tenFrom, end, starts).length;
});
report(`ten-years-by-year histogram, ${counted.length} meters (${bars} bars)`, ten, "ms", { max: 100 });

const changed = structuredClone(site.energy.costs);
changed[0]!.tariffs[0]!.prices.push({ from: "2020-01-01", price: 0.07 });
svc.setTariffs(changed);
let repriced = 0;
const reprice = time(() => {
  repriced = store.reprice(counted.map((m) => m.id), monthFrom, svc.evaluators.get("electricity"), monthTo);
}, 5);
report(`recompute a month's costs after a tariff change (${repriced} intervals)`, reprice, "ms", { max: 1000 });

db.close();
rmSync(dir, { recursive: true, force: true });
