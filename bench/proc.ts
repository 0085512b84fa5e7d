import { readdirSync, readFileSync } from "node:fs";

/** What the benches read of a Linux process from /proc. */

/** Parent pid and CPU time (user + system, ms) of `pid`. */
export function procStat(pid: number): { ppid: number; cpuMs: number } {
  // Fields after the ")" of the command name: ppid is field 4, utime and stime are 14 and 15 (1-based),
  // in clock ticks (USER_HZ = 100 on Linux).
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { ppid: Number(f[1]), cpuMs: (Number(f[11]) + Number(f[12])) * 10 };
}

export function cpuMs(pid: number): number {
  return procStat(pid).cpuMs;
}

/** Resident set size in MB. */
export function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU time (ms, 10 ms ticks) of each thread of `pid`, by thread id, with the thread's name. */
export function threadCpu(pid: number): Map<number, { name: string; ms: number }> {
  const out = new Map<number, { name: string; ms: number }>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(Number(t), { name, ms: (Number(f[11]) + Number(f[12])) * 10 });
    } catch {
      // a thread that ended meanwhile
    }
  }
  return out;
}

/** Threads of JSC's GC helpers and of the allocator's scavenger, by name. */
const GC_THREAD = /Heap|Collector|scavenger/i;

export type ThreadGroup = "main" | "jit" | "gc" | "other";

/** The group of thread `tid` of `pid`: its main thread, JSC's JIT compilers, its GC and allocator helpers, the rest. */
export function threadGroup(pid: number, tid: number, name: string): ThreadGroup {
  if (tid === pid) return "main";
  if (/JIT/i.test(name)) return "jit";
  if (GC_THREAD.test(name)) return "gc";
  return "other";
}

/** CPU ms of `pid` by threadGroup. */
export function threadGroups(pid: number): Record<ThreadGroup, number> {
  const g = { main: 0, jit: 0, gc: 0, other: 0 };
  for (const [tid, { name, ms }] of threadCpu(pid)) g[threadGroup(pid, tid, name)] += ms;
  return g;
}
