/**
 * A thread of the report pool (src/reports/pool.ts, piscina): PDF and CSV reports off the main
 * thread. From source, piscina's own worker.js loads this file for its default export. In the
 * compiled binary there is no piscina/dist/worker.js to start, so scripts/build.ts puts piscina's
 * bootstrap at the top of this entrypoint and points piscina at it.
 *
 * The job's modules (pdfmake, the fonts: ~1 s of this thread's CPU and ~50 MB) are imported on the
 * first warm-up or report, not with the thread: the server's start-up prime (primeReportPool)
 * starts a thread that loads none of them.
 */
import { getPriority, setPriority } from "node:os";
import type { PoolTask } from "../reports/job.ts";

/**
 * Polling, alarms and pages come before a report: this thread runs at the process's nice + 10, so
 * on a busy machine the main thread and the driver workers get the core first. A report takes
 * longer then; nothing else waits for it. Linux only: there setpriority on pid 0 sets the calling
 * thread alone; elsewhere it would lower the whole process.
 */
if (process.platform === "linux") {
  try {
    setPriority(Math.min(19, getPriority() + 10));
  } catch {
    // Refused (a sandbox): the report runs at normal priority.
  }
}

export default async function runPoolTask(task: PoolTask): Promise<Uint8Array> {
  if ("start" in task) return new Uint8Array(0);
  const { default: runReportJob } = await import("../reports/job.ts");
  return await runReportJob(task);
}
