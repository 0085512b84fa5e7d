/**
 * The report pool: piscina, one thread (the machine runs polling, pages and the historian too; a
 * second report waits its turn), started on first use (or when /reports is opened) and gone after
 * five minutes idle: a thread with pdfmake and the fonts loaded holds ~50 MB.
 *
 * Inside the compiled binary piscina would start `__dirname/worker.js`, a file the binary does not
 * have: scripts/build.ts rewrites that path to globalThis.__busbarPiscinaWorker, set here to the
 * binary's own entrypoint src/workers/report-pool.ts (piscina's bootstrap + the job).
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Piscina from "piscina";
import type { PoolTask, ReportJob } from "./job.ts";

let pool: Piscina | undefined;
let priming: Promise<void> | undefined;

function entry(): string {
  if (import.meta.url.includes("$bunfs")) {
    const file = fileURLToPath(new URL("./workers/report-pool.ts", import.meta.url));
    (globalThis as { __busbarPiscinaWorker?: string }).__busbarPiscinaWorker = file;
    return file;
  }
  return join(import.meta.dirname, "../workers/report-pool.ts");
}

const newPool = () => new Piscina({ filename: entry(), minThreads: 0, maxThreads: 1, idleTimeout: 5 * 60_000, maxQueue: 20 });

export function reportPool(): Piscina {
  pool ??= newPool();
  return pool;
}

/** Generates a report off the main thread; resolves with the file's bytes. */
export async function runReport(job: ReportJob): Promise<Uint8Array> {
  const r = (await reportPool().run(job satisfies PoolTask)) as Uint8Array;
  return r instanceof Uint8Array ? r : new Uint8Array(r);
}

/**
 * Starts the pool's thread ahead of a report (the /reports page) and has it load pdfmake and the
 * fonts; errors are the report's to tell. Deferred to its own macrotask so that the page's response
 * is not held by the thread's creation.
 */
export function warmReportPool(): void {
  setTimeout(() => {
    void reportPool()
      .run({ warm: true } satisfies PoolTask)
      .catch(() => {});
  }, 0);
}

/**
 * Called once by the server before it listens. Bun's first node:worker_threads Worker of a process
 * costs the calling thread 5–12 ms (measured; the web Workers the drivers start do not pay it, and
 * piscina's code runs cold the first time too), later ones 0.3–2 ms. Unprimed, that first cost
 * landed in the first report after start, a main-thread stall beside the poll drain and the pages.
 * A throwaway pool starts a thread that loads nothing (src/workers/report-pool.ts) and is closed
 * at once: no memory is kept, and the report pool's own start later costs only the cheap part.
 */
export function primeReportPool(log: (msg: string) => void = () => {}): Promise<void> {
  priming ??= (async () => {
    const p = newPool();
    try {
      await p.run({ start: true } satisfies PoolTask);
    } catch (e) {
      // Only an optimisation lost: the first report starts the thread itself (and tells its own error).
      log(`[warn] report pool: prime failed (${(e as Error).message}); the first report will start its thread`);
    } finally {
      await p.destroy();
    }
  })();
  return priming;
}

/** Whether this process has been primed (the server does it before it listens). */
export function reportPoolPrimed(): Promise<boolean> {
  return priming ? priming.then(() => true) : Promise.resolve(false);
}

/** Threads the pool runs now (the CLI and tests show that the job ran off the main thread). */
export function poolThreads(): number {
  return pool?.threads.length ?? 0;
}

export async function closeReportPool(): Promise<void> {
  const p = pool;
  pool = undefined;
  await Promise.all([p?.destroy(), priming]);
}
