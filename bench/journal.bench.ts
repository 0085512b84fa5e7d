/**
 * The event journal at a million rows (issue 4):
 *  - append rate through the hash chain (Journal.appendMany, 10,000 rows per transaction);
 *  - `verify` of the whole chain;
 *  - the admin's CSV download of all 1,000,000 rows through the real HTTP route (session, policy,
 *    streaming), fetched by curl: time, size, the server process's peak RSS and its growth during
 *    the export, the worst event-loop stall and the worst /healthz latency meanwhile (the export
 *    must neither blow memory nor block the server);
 *  - a filtered export (one day, one type).
 * Env: BENCH_JOURNAL_ROWS (1,000,000).
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { openDatabase } from "../src/db/database.ts";
import { Journal, type JournalEntry } from "../src/journal/journal.ts";
import { startBusbar } from "../src/server/runtime.ts";
import { report } from "./report.ts";

const ROWS = Number(process.env.BENCH_JOURNAL_ROWS ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), "busbar-journal-bench-"));
const dbPath = join(dir, "journal.db");
const mb = (b: number) => b / 1024 / 1024;

// ---- fill -------------------------------------------------------------------------------------
{
  const db = openDatabase(dbPath);
  const journal = new Journal(db.sqlite);
  const t0 = Date.UTC(2026, 0, 1);
  const types = ["alarm.active", "alarm.rtn", "alarm.ack", "device.comm", "auth.login", "point.write"];
  const start = performance.now();
  const BATCH = 10_000;
  for (let i = 0; i < ROWS; i += BATCH) {
    const entries: JournalEntry[] = [];
    for (let k = i; k < Math.min(ROWS, i + BATCH); k++) {
      const type = types[k % types.length]!;
      entries.push({
        ts: t0 + k * 2_000,
        type,
        source: `2B${k % 13}.tripped`,
        device: `2B${k % 13}`,
        actor: type === "alarm.ack" || type === "auth.login" ? `opérateur${k % 7}` : "",
        message: `Événement ${k} : disjoncteur 2B${k % 13} — « déclenché », valeur ${(k % 1000) / 10} kW`,
        data: { k, priority: "critical", value: (k % 1000) / 10 },
      });
    }
    journal.appendMany(entries);
  }
  const s = (performance.now() - start) / 1000;
  report("journal append (hash chain, 10k rows per transaction)", ROWS / s, "rows/s", { note: `${ROWS} rows in ${s.toFixed(1)} s` });
  const v0 = performance.now();
  const v = journal.verify();
  report("journal verify, whole chain", (performance.now() - v0) / 1000, "s", { note: `${v.rows} rows, ${v.ok ? "intact" : "BROKEN"}` });
  db.close();
  console.log(`database ${mb(statSync(dbPath).size).toFixed(0)} MB`);
}

// ---- export through the running server ----------------------------------------------------------
const site = parseSite(
  { site: { name: "journal bench", timezone: "America/Toronto" }, buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: 1 }], devices: [] },
  loadProfiles(),
);
const busbar = await startBusbar({ site, dbPath, httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
const admin = await busbar.auth.users.create("bench-admin", "admin", "bench-admin-password");
const { token } = busbar.auth.sessions.create(admin.id, "password", "admin", "127.0.0.1", 3_600_000, 3_600_000);

function rssNow(): number {
  return process.memoryUsage().rss;
}

async function measuredExport(query: string) {
  Bun.gc(true);
  const rss0 = rssNow();
  let peak = rss0;
  let lastTick = performance.now();
  let maxLag = 0;
  const sampler = setInterval(() => {
    const now = performance.now();
    maxLag = Math.max(maxLag, now - lastTick - 10);
    lastTick = now;
    peak = Math.max(peak, rssNow());
  }, 10);
  let maxHealth = 0;
  let pings = 0;
  let running = true;
  const pinger = (async () => {
    while (running) {
      const t = performance.now();
      await fetch(`${busbar.url}healthz`);
      maxHealth = Math.max(maxHealth, performance.now() - t);
      pings++;
      await Bun.sleep(50);
    }
  })();
  const t0 = performance.now();
  const out = join(dir, "export.csv");
  const curl = Bun.spawn(["curl", "-s", "-o", out, "-H", `Cookie: busbar_session=${token}`, "-w", "%{http_code} %{size_download}", `${busbar.url}journal/export.csv${query}`], { stdout: "pipe" });
  const [code, size] = (await new Response(curl.stdout).text()).split(" ").map(Number);
  await curl.exited;
  const seconds = (performance.now() - t0) / 1000;
  running = false;
  await pinger;
  clearInterval(sampler);
  const text = await Bun.file(out).slice(0, 200).text();
  return { code, size: size!, seconds, rss0, peak, maxLag, maxHealth, pings, head: text };
}

// A tenth of the rows first: memory must not grow with the size of the range.
const tenth = await measuredExport(`?to=${Date.UTC(2026, 0, 1) + (ROWS / 10) * 2_000 - 1}`);
report(`CSV export of ${ROWS / 10} rows: RSS growth`, mb(tenth.peak - tenth.rss0), "MB", { note: `${tenth.seconds.toFixed(2)} s` });
const all = await measuredExport("");
if (all.code !== 200) throw new Error(`export answered ${all.code}`);
console.log(`first bytes: ${JSON.stringify(all.head.slice(0, 120))}`);
report(`CSV export of ${ROWS} rows: time`, all.seconds, "s", { note: `${mb(all.size).toFixed(0)} MB, ${(ROWS / all.seconds / 1000).toFixed(0)}k rows/s` });
report("CSV export: server peak RSS", mb(all.peak), "MB", { note: `baseline ${mb(all.rss0).toFixed(0)} MB` });
report(`CSV export of ${ROWS} rows: RSS growth`, mb(all.peak - all.rss0), "MB", {
  max: 150,
  note: `×${(ROWS / (ROWS / 10)).toFixed(0)} rows → ×${((all.peak - all.rss0) / Math.max(1, tenth.peak - tenth.rss0)).toFixed(1)} memory; JS heap + allocator slack, bounded`,
});
report("CSV export: worst event-loop stall", all.maxLag, "ms", { max: 100 });
report("CSV export: worst /healthz latency meanwhile", all.maxHealth, "ms", { max: 250, note: `${all.pings} requests` });

const one = await measuredExport("?from=2026-01-10&to=2026-01-10&type=alarm.ack");
report("CSV export, one day and one type: time", one.seconds, "s", { note: `${mb(one.size).toFixed(2)} MB` });

await busbar.stop();
rmSync(dir, { recursive: true, force: true });
