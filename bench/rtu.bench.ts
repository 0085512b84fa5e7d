/**
 * RTU poll cycle against the physical minimum.
 *
 * The demo's RS-485 devices (both demo buses, each turned into a 9600-baud 8N1 RTU bus) are served
 * by the wire-time honest simulator on a socat pty pair: every reply is written only after the time
 * the request and the reply take on a real 9600-baud line, the t3.5 silence and a device turnaround.
 * Busbar polls each bus flat out (every read every cycle) through its real bus worker; the measured
 * cycle is compared with the wire-time minimum of the optimal request plan: the fewest wire
 * milliseconds any master could spend on those tags under the same device limits (max registers per
 * read, max gap), each request costing request + t3.5 + turnaround + reply + t3.5.
 *
 * Run: bun bench/rtu.bench.ts (or npm run bench -- rtu). Needs socat.
 */
import { parseYaml, type Tag } from "../src/config/profile.ts";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite, type Site } from "../src/config/site.ts";
import { DEMO_SITE } from "../src/embedded.ts";
import { registerCount } from "../src/protocols/modbus/codec.ts";
import { charMs, t35Ms, type LineSettings } from "../src/protocols/modbus/rtu-frame.ts";
import { startBusbar } from "../src/server/runtime.ts";
import { startSerialSimProcess } from "../src/sim/serial-bus.ts";
import { report } from "./report.ts";

const LINE: LineSettings = { baud: 9600, parity: "none", stopBits: 1 };
const TURNAROUND_MS = 5;
const WARMUP_MS = 4000;
const WINDOW_MS = Number(process.env.RTU_BENCH_WINDOW_MS ?? 15_000);

/** Wire milliseconds of one read request of `count` registers (or bits) and its reply, with both silences. */
function requestMs(fc: number, count: number): number {
  const data = fc <= 2 ? Math.ceil(count / 8) : count * 2;
  return (8 + 5 + data) * charMs(LINE) + 2 * t35Ms(LINE) + TURNAROUND_MS;
}

/**
 * The cheapest way to read `tags` (one function, one rate) under the limits: dynamic programming
 * over the address-sorted tags, a read covering tags i..j being allowed when it spans at most `max`
 * and no hole inside it exceeds `maxGap` (the planner's rules).
 */
function optimalMs(tags: Tag[], fc: number, max: number, maxGap: number): number {
  const width = (t: Tag) => (fc <= 2 ? 1 : registerCount(t));
  const gap = fc <= 2 ? maxGap * 16 : maxGap;
  const s = [...tags].sort((a, b) => a.address - b.address);
  const best = new Array<number>(s.length + 1).fill(Infinity);
  best[0] = 0;
  for (let j = 1; j <= s.length; j++) {
    let end = -Infinity;
    let start = Infinity;
    // Extend the read backwards from tag j-1 to tag i.
    let ok = true;
    for (let i = j; i >= 1 && ok; i--) {
      const t = s[i - 1]!;
      start = Math.min(start, t.address);
      end = Math.max(end, t.address + width(t));
      if (end - start > max) break;
      // The hole between tag i-1 and the rest of the read (tags i..j-1, sorted) must be small.
      if (i < j) {
        let covered = -Infinity;
        for (let k = i - 1; k < j - 1; k++) covered = Math.max(covered, s[k]!.address + width(s[k]!));
        if (s[i]!.address - Math.max(t.address + width(t), Math.min(covered, s[i]!.address)) > gap) ok = false;
      }
      if (!ok) break;
      best[j] = Math.min(best[j]!, best[i - 1]! + requestMs(fc, end - start));
    }
  }
  return best[s.length]!;
}

/** The demo site, both buses turned into 9600 8N1 RTU buses, every read due every cycle. */
function demoSiteDoc(): { buses: Record<string, unknown>[]; devices: Record<string, unknown>[] } {
  const raw = parseYaml(DEMO_SITE, "demo-site.yaml") as { buses: Record<string, unknown>[]; devices: Record<string, unknown>[] };
  // The Modbus buses only: the UPS's BACnet/IP port stays as it is, its device disabled below.
  raw.buses = raw.buses.map((b) => (b.kind === "bacnet-ip" ? b : { id: b.id, kind: "modbus-rtu", port: "/dev/null", baud: LINE.baud, parity: LINE.parity, stopBits: LINE.stopBits, timeoutMs: 500, retries: 1, backoffMs: 5000 }));
  raw.devices = raw.devices.map((d) => ({ ...d, pollMs: 50, slowPollMs: 50 }));
  // Only the polling is measured: no Modbus TCP gateway (its units would name disabled devices).
  delete (raw as { gateway?: unknown }).gateway;
  return raw;
}

async function measureBus(doc: ReturnType<typeof demoSiteDoc>, busId: string): Promise<void> {
  // The simulated devices run in their own process (wire-time honest, socat's relay latency measured
  // and taken off); Busbar polls only this bus.
  const sim = await startSerialSimProcess(doc, { wireTime: true, turnaroundMs: TURNAROUND_MS, compensateRig: true });
  const mine = { ...doc, buses: doc.buses.map((b) => (b.kind === "bacnet-ip" ? b : { ...b, port: sim.ports[b.id as string] })), devices: doc.devices.map((d) => ({ ...d, enabled: d.bus === busId })) };
  // The poll cycle is measured, not the TH40C's once-a-day clock setting (tested in test/timesync.test.ts):
  // its first attempt, 5 s after start, would fall inside the window.
  const profiles = loadProfiles();
  for (const p of profiles.values()) delete p.timeSync;
  const site: Site = parseSite(mine, profiles, "bench site");
  const busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
  let slaveStats;
  let stopped = false;
  try {
    const devices = site.devices.filter((d) => d.bus === busId);
    const reads = devices.flatMap((d) => busbar.modbus.plans.get(d.id) ?? []);
    const planMs = reads.reduce((s, r) => s + requestMs(r.fc, r.count), 0);
    let optimal = 0;
    for (const d of devices) {
      const p = site.profiles.get(d.profile)!;
      const groups = new Map<string, Tag[]>();
      for (const t of p.tags.filter((x) => x.poll)) {
        const k = `${t.function}/${t.slow ? 1 : 0}`;
        groups.set(k, [...(groups.get(k) ?? []), t]);
      }
      for (const [k, g] of groups) {
        const fc = Number(k.split("/")[0]);
        optimal += optimalMs(g, fc, fc <= 2 ? p.maxBitsPerRead : (d.maxRegistersPerRead ?? p.maxRegistersPerRead), d.maxGap ?? p.maxGap);
      }
    }
    type Stats = { at: number; requests: number; errors: number; timeouts: number };
    const stats = () => busbar.supervisor.stats().find((s) => s.bus === busId) as unknown as Stats;
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const nextReport = async (): Promise<Stats> => {
      const at = stats()?.at ?? 0;
      for (;;) {
        await new Promise((r) => setTimeout(r, 20));
        const s = stats();
        if (s && s.at !== at) return { ...s };
      }
    };
    const a = await nextReport();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const b = await nextReport();
    const perSec = ((b.requests - a.requests) * 1000) / (b.at - a.at);
    const cycle = (reads.length / perSec) * 1000;
    stopped = true;
    await busbar.stop();
    slaveStats = (await sim.stop())[busId];
    const label = busId.replace(/^gw-/, "");
    console.log(
      `  ${label}: ${devices.length} devices, ${reads.length} reads per cycle (Busbar's plan), ${b.errors - a.errors} errors in the window; ` +
        `socat relay ${sim.rig[busId]?.toFixed(3)} ms one way (compensated); simulator late by ${slaveStats ? (slaveStats.lateSum / Math.max(1, slaveStats.replies)).toFixed(3) : "?"} ms per reply on average`,
    );
    report(`RTU 9600 ${label}: wire-time minimum, optimal plan`, optimal, "ms");
    report(`RTU 9600 ${label}: wire-time of Busbar's plan`, planMs, "ms", { note: `${(planMs / optimal).toFixed(3)}× the optimal plan` });
    report(`RTU 9600 ${label}: poll cycle measured`, cycle, "ms");
    report(`RTU 9600 ${label}: poll cycle / wire-time minimum`, cycle / optimal, "×", { max: 1.05 });
    if (slaveStats?.replies) {
      // The simulator's own lateness (its event loop on a shared machine) is not Busbar's.
      const late = (slaveStats.lateSum / slaveStats.replies) * reads.length;
      report(`RTU 9600 ${label}: same, less the simulator's own lateness`, (cycle - late) / optimal, "×", { note: `${late.toFixed(1)} ms per cycle` });
    }
  } finally {
    if (!stopped) {
      await busbar.stop().catch(() => {});
      await sim.stop();
    }
  }
}

const { loadavg, cpus } = await import("node:os");
console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(1)).join(" ")} at start (timing figures are only meaningful on a quiet machine)`);
const doc = demoSiteDoc();
console.log(`9600 baud 8N1 (1 char = ${charMs(LINE).toFixed(3)} ms, t3.5 = ${t35Ms(LINE).toFixed(3)} ms), device turnaround ${TURNAROUND_MS} ms, window ${WINDOW_MS / 1000} s per bus`);
for (const bus of doc.buses) if (bus.kind !== "bacnet-ip") await measureBus(doc, bus.id as string);
console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(" ")} at the end`);
process.exit(0);
