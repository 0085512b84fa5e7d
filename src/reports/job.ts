/**
 * The report job, run in the piscina pool (src/reports/pool.ts, thread entry src/workers/report-pool.ts): reads the energy tables through
 * its own SQLite connection (WAL: the main thread keeps writing meanwhile) and returns the file.
 * Nothing here runs on the main thread, so a yearly detailed report never stalls pages or polling.
 */
import { Database } from "bun:sqlite";
import { EnergyStore } from "../energy/store.ts";
import type { EnergyConfig, ResolvedMeter } from "../energy/structure.ts";
import { LocalClock } from "../energy/tariffs.ts";
import { reportCsv } from "./csv.ts";
import { gatherReport, type ReportRequest } from "./data.ts";
import { renderPdf, setupFonts } from "./pdf.ts";

export interface ReportJob {
  /** The database file holding the energy tables (the history file when the historian runs). */
  dbPath: string;
  site: string;
  timezone: string;
  config: EnergyConfig;
  meters: ResolvedMeter[];
  req: ReportRequest;
  format: "pdf" | "csv";
  /** Generation time (tests pin it); default now. */
  now?: number;
}

/** What the report pool's thread is given: a report, a warm-up (load pdfmake and the fonts), or the server's start-up prime (nothing). */
export type PoolTask = ReportJob | { warm: true } | { start: true };

export default async function runReportJob(job: ReportJob | { warm: true }): Promise<Uint8Array> {
  if ("warm" in job) {
    // Someone opened /reports: the thread, pdfmake and the fonts are ready before they click.
    setupFonts();
    return new Uint8Array(0);
  }
  // A connection per job (about a millisecond): a restore swaps the file, and a kept connection
  // would go on reading the old one.
  const db = new Database(job.dbPath);
  let data;
  try {
    // The main thread's writer holds the lock for at most a batch; wait for it rather than fail.
    db.exec("PRAGMA busy_timeout = 10000");
    const store = new EnergyStore(db, job.timezone);
    // One read transaction: every figure of the report from the same snapshot.
    data = db.transaction(() => gatherReport({ store, clock: new LocalClock(job.timezone), config: job.config, meters: job.meters, site: job.site, timezone: job.timezone, now: job.now }, job.req))();
  } finally {
    db.close();
  }
  if (job.format === "csv") return new TextEncoder().encode(reportCsv(data));
  return await renderPdf(data);
}
