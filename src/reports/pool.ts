/**
 * The report pool: piscina, one thread (the machine runs polling, pages and the historian too; a
 * second report waits its turn), started on first use (or when /reports is opened) and gone after
 * five minutes idle.
 *
 * Inside the compiled binary piscina would start `__dirname/worker.js`, a file the binary does not
 * have: scripts/build.ts rewrites that path to globalThis.__busbarPiscinaWorker, set here to the
 * binary's own entrypoint src/workers/report-pool.ts (piscina's bootstrap + the job).
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Piscina from "piscina";
import type { ReportJob } from "./job.ts";

let pool: Piscina | undefined;

function entry(): string {
  if (import.meta.url.includes("$bunfs")) {
    const file = fileURLToPath(new URL("./workers/report-pool.ts", import.meta.url));
    (globalThis as { __busbarPiscinaWorker?: string }).__busbarPiscinaWorker = file;
    return file;
  }
  return join(import.meta.dirname, "../workers/report-pool.ts");
}

export function reportPool(): Piscina {
  pool ??= new Piscina({ filename: entry(), minThreads: 0, maxThreads: 1, idleTimeout: 5 * 60_000, maxQueue: 20 });
  return pool;
}

/** Generates a report off the main thread; resolves with the file's bytes. */
export async function runReport(job: ReportJob): Promise<Uint8Array> {
  const r = (await reportPool().run(job)) as Uint8Array;
  return r instanceof Uint8Array ? r : new Uint8Array(r);
}

/** Starts the pool's thread ahead of a report (the /reports page); errors are the report's to tell. */
export function warmReportPool(): void {
  void reportPool()
    .run({ warm: true })
    .catch(() => {});
}

/** Threads the pool runs now (the CLI and tests show that the job ran off the main thread). */
export function poolThreads(): number {
  return pool?.threads.length ?? 0;
}

export async function closeReportPool(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.destroy();
}
