/**
 * Time to detect a silent TCP gateway (issue 9 item 16).
 *
 * 16 TH40C meters behind one Modbus TCP gateway (Debian's pymodbus serving 16 units), polled every
 * 1 s with a 500 ms timeout and 1 retry. The gateway is frozen with SIGSTOP — its connection stays
 * open and the kernel keeps accepting data, but nothing answers — at a random point of the poll
 * cycle (and once right after a cycle, the worst case), then thawed until every device is good again.
 * Figures: time from the freeze until the first and until every device is comm-fail, worst of the
 * trials, against poll + (retries + 1) × timeout + 1 s = 3 s; and the requests the silent link
 * costs per backoff period afterwards.
 *
 * Run: bun bench/silent-gateway.bench.ts (or npm run bench -- silent). Needs /usr/bin/python3 with pymodbus.
 */
import { readFileSync } from "node:fs";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { startBusbar } from "../src/server/runtime.ts";
import type { BusStats } from "../src/drivers/protocol.ts";
import { putFloats, startPyModbus, waitFor } from "../test/helpers/peers.ts";
import { report } from "./report.ts";

const DEVICES = 16;
const POLL_MS = 1000;
const TIMEOUT_MS = 500;
const RETRIES = 1;
const BACKOFF_MS = 5000;
const TRIALS = Number(process.env.SILENT_BENCH_TRIALS ?? 6);
const TARGET_MS = POLL_MS + (RETRIES + 1) * TIMEOUT_MS + 1000;

function image(): Record<number, number> {
  const regs: Record<number, number> = {};
  for (const [from, to] of [[0x1040, 0x1046], [0x8000, 0x8140], [0xa600, 0xa680]] as const) for (let a = from; a < to; a++) regs[a] = 0;
  return putFloats(regs, { 0xa612: 230 });
}

const gw = await startPyModbus(Object.fromEntries(Array.from({ length: DEVICES }, (_, i) => [i + 1, { hr: image() }])));
const ids = Array.from({ length: DEVICES }, (_, i) => `M${i + 1}`);
const site = parseSite(
  {
    site: { name: "silent gateway bench" },
    buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: gw.port, timeoutMs: TIMEOUT_MS, retries: RETRIES, backoffMs: BACKOFF_MS }],
    devices: ids.map((id, i) => ({ id, bus: "gw", unit: i + 1, profile: "th40c", pollMs: POLL_MS, slowPollMs: 60_000 })),
  },
  loadProfiles(),
);
const busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
const quality = (d: string) => busbar.live.value(busbar.registry.byId.get(`${d}.v_an`)!).quality;
const allGood = () => ids.every((d) => quality(d) === "good");

const first: number[] = [];
const all: number[] = [];
let probesPerBackoff = NaN;
try {
  for (let t = 0; t < TRIALS; t++) {
    await waitFor("every device good", allGood, 20_000, 5);
    // Trial 0 freezes right after a poll cycle (the next request is a whole period away): the worst case.
    if (t > 0) await Bun.sleep(Math.random() * POLL_MS);
    gw.proc.kill("SIGSTOP");
    const at = performance.now();
    const failed = new Map<string, number>();
    await waitFor(
      "every device comm-fail",
      () => {
        for (const d of ids) if (!failed.has(d) && quality(d) === "comm-fail") failed.set(d, performance.now() - at);
        return failed.size === DEVICES;
      },
      30_000,
      5,
    );
    first.push(Math.min(...failed.values()));
    all.push(Math.max(...failed.values()));
    if (t === 0) {
      // What the silent link costs the bus while it stays silent.
      const stats = () => busbar.supervisor.stats()[0] as BusStats;
      await Bun.sleep(1100);
      const before = stats().requests;
      await Bun.sleep(2 * BACKOFF_MS);
      await Bun.sleep(1100);
      probesPerBackoff = (stats().requests - before) / ((2 * BACKOFF_MS + 1100) / BACKOFF_MS);
    }
    gw.proc.kill("SIGCONT");
  }
} finally {
  gw.proc.kill("SIGCONT");
  await busbar.stop();
  await gw.stop();
}

const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${DEVICES} devices behind one gateway, poll ${POLL_MS} ms, timeout ${TIMEOUT_MS} ms, ${RETRIES} retry; ${TRIALS} freezes; load average ${load}`);
console.log(`all-comm-fail per trial (ms): ${all.map((x) => Math.round(x)).join(", ")}`);
report("silent gateway: every device comm-fail (worst trial)", Math.round(Math.max(...all)), "ms", { max: TARGET_MS, note: "poll + (retries+1)×timeout + 1 s" });
report("silent gateway: every device comm-fail (median)", Math.round(median(all)), "ms", { max: TARGET_MS });
report("silent gateway: first device comm-fail (worst trial)", Math.round(Math.max(...first)), "ms", { max: TARGET_MS });
report("silent link: requests per backoff period while silent", Math.round(probesPerBackoff * 10) / 10, "req", { max: 1.5, note: "one probe per backoff period" });
process.exit(0);
