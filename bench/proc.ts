import { readFileSync } from "node:fs";

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
