/**
 * Run by test/reports.test.ts in a process of its own (a process's first worker_threads Worker is
 * what the server's start-up prime pays for, so the test cannot share a process with others):
 * optionally primes the report pool as the server does before it listens, then generates the first
 * report on a fresh pool while a 1 ms timer samples the main thread's own CPU time between two
 * ticks (/proc/self/task/PID/schedstat: CPU the thread ran, not time it waited for a core).
 *   bun test/helpers/report-first-run.ts JOB.json [--unprimed]
 * Prints one JSON line: { maxTickCpuMs, workersAfterPrime, mainNice, reportThreadNice, bytes, head }.
 */
import { readdirSync, readFileSync } from "node:fs";
import { closeReportPool, primeReportPool, runReport } from "../../src/reports/pool.ts";

const job = JSON.parse(readFileSync(process.argv[2]!, "utf8"));
/** Threads Bun names "Worker" (a Worker's own thread; JSC's helpers it starts once have other names). */
const workerTasks = () => readdirSync("/proc/self/task").filter((t) => readFileSync(`/proc/self/task/${t}/comm`, "utf8").trim() === "Worker");
const workers = () => workerTasks().length;
/** A thread's nice value: field 19 of /proc/.../stat (after the parenthesised name). */
const niceOf = (t: string) => {
  const st = readFileSync(`/proc/self/task/${t}/stat`, "utf8");
  return Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[16]);
};
const cpu = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
let workersAfterPrime = 0;
if (!process.argv.includes("--unprimed")) {
  await primeReportPool();
  // The prime's thread is gone once it resolved (Bun may take a moment to reap it).
  for (let i = 0; i < 50 && workers() > 0; i++) await Bun.sleep(20);
  workersAfterPrime = workers();
}
Bun.gc(true);
await Bun.sleep(100);
let last = cpu();
let maxTickCpuMs = 0;
const timer = setInterval(() => {
  const c = cpu();
  maxTickCpuMs = Math.max(maxTickCpuMs, c - last);
  last = c;
}, 1);
const bytes = await runReport(job);
clearInterval(timer);
// The pool's thread stays (idle) until it is closed: its priority, as it generated the report.
const reportThreadNice = workerTasks().map(niceOf);
await closeReportPool();
const mainNice = niceOf(String(process.pid));
console.log(JSON.stringify({ maxTickCpuMs, workersAfterPrime, mainNice, reportThreadNice, bytes: bytes.length, head: new TextDecoder().decode(bytes.subarray(0, 5)) }));
