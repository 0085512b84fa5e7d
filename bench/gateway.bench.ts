/**
 * The Modbus TCP gateway:
 * 1. added latency per forwarded request over the bus time: a client sends pass-through reads one
 *    after another to an RTU device (19200 baud, wire-time honest simulator in its own process);
 *    the gateway's share is the client's round trip minus the time the bus worker spent on the wire.
 *    Target < 1 ms (mbusd, the usual open-source gateway, pauses 100 ms per request by default).
 *    Measured with the bus otherwise idle, then while Busbar polls it flat out (then a request also
 *    waits for the poll request in progress: bus time, reported for information).
 * 2. cached-mode requests/s: 32 clients (in another process) read registers Busbar polls, answered
 *    from the last poll replies.
 *
 * Run: bun bench/gateway.bench.ts (or npm run bench -- gateway). Needs socat.
 * `bun bench/gateway.bench.ts --clients PORT N MS UNIT ADDR COUNT` is the load generator it spawns.
 */
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { startBusbar } from "../src/server/runtime.ts";
import { startSerialSimProcess } from "../src/sim/serial-bus.ts";
import { report } from "./report.ts";
import { freePort } from "../src/server/ports.ts";

/** A minimal Modbus TCP client: one request at a time, resolves with the reply PDU. */
async function client(port: number) {
  let buf = new Uint8Array(0);
  let waiting: ((pdu: Uint8Array) => void) | undefined;
  let tid = 0;
  const sock = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      binaryType: "uint8array",
      data(_s, chunk: Uint8Array) {
        const n = new Uint8Array(buf.length + chunk.length);
        n.set(buf);
        n.set(chunk, buf.length);
        buf = n;
        while (buf.length >= 7) {
          const len = (buf[4]! << 8) | buf[5]!;
          if (buf.length < 6 + len) break;
          const pdu = buf.slice(7, 6 + len);
          buf = buf.slice(6 + len);
          const w = waiting;
          waiting = undefined;
          w?.(pdu);
        }
      },
    },
  });
  sock.setNoDelay(true);
  return {
    read(unit: number, address: number, count: number): Promise<Uint8Array> {
      tid = (tid + 1) & 0xffff;
      const req = Uint8Array.of(tid >> 8, tid & 0xff, 0, 0, 0, 6, unit, 3, address >> 8, address & 0xff, 0, count);
      const p = new Promise<Uint8Array>((r) => (waiting = r));
      sock.write(req);
      return p;
    },
    close: () => sock.end(),
  };
}

// ---- load generator mode ------------------------------------------------------------------------
if (process.argv[2] === "--clients") {
  const [port, n, ms, unit, address, count] = process.argv.slice(3).map(Number) as [number, number, number, number, number, number];
  const clients = await Promise.all(Array.from({ length: n }, () => client(port)));
  let done = 0;
  let errors = 0;
  const until = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      while (performance.now() < until) {
        const pdu = await c.read(unit, address, count);
        if (pdu[0] === 3 && pdu[1] === count * 2) done++;
        else errors++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  for (const c of clients) c.close();
  process.stdout.write(JSON.stringify({ done, errors, seconds }) + "\n");
  process.exit(0);
}

// ---- bench ----------------------------------------------------------------------------------------
const N = 300;

async function run(pollMs: number): Promise<void> {
  const doc = {
    site: { name: "gateway bench" },
    buses: [{ id: "rs485", kind: "modbus-rtu", port: "/dev/null", baud: 19200, parity: "even", stopBits: 1, timeoutMs: 300 }],
    devices: [
      { id: "M1", bus: "rs485", unit: 1, profile: "th40c", pollMs, slowPollMs: pollMs },
      { id: "G2", bus: "rs485", unit: 2, profile: "generic", pollMs, slowPollMs: pollMs },
    ],
  };
  const sim = await startSerialSimProcess(doc, { wireTime: true, turnaroundMs: 5, compensateRig: true });
  const gwPort = await freePort();
  const site = parseSite(
    {
      ...doc,
      buses: [{ ...doc.buses[0], port: sim.ports.rs485 }],
      gateway: { host: "127.0.0.1", port: gwPort, units: [{ unit: 1, device: "M1", mode: "cached" }], maxClientsPerAddress: 64 },
    },
    loadProfiles(),
  );
  const busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
  const gateway = busbar.gateway!; // started by the runtime from the site's `gateway:` section
  try {
    // Let the first polls finish so the cache is warm and the bus settles.
    await new Promise((r) => setTimeout(r, 2500));
    const c = await client(gwPort);
    for (let i = 0; i < 20; i++) await c.read(2, 0, 2); // warm-up
    const before = gateway.stats();
    const rtts: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      const pdu = await c.read(2, 0, 2);
      rtts.push(performance.now() - t0);
      if (pdu[0] !== 3) throw new Error(`unexpected reply ${Array.from(pdu)}`);
    }
    const after = gateway.stats();
    const busMs = after.busMsSum - before.busMsSum;
    const rttMs = rtts.reduce((a, b) => a + b, 0);
    const added = (rttMs - busMs) / N;
    const serverSide = (after.overheadMsSum - before.overheadMsSum) / N;
    rtts.sort((a, b) => a - b);
    const mode = pollMs >= 60_000 ? "bus idle" : `Busbar polling every ${pollMs} ms`;
    console.log(
      `  ${mode}: ${N} pass-through reads, round trip median ${rtts[N >> 1]!.toFixed(2)} ms, p99 ${rtts[Math.floor(N * 0.99)]!.toFixed(2)} ms, ` +
        `bus time ${(busMs / N).toFixed(2)} ms per request; inside Busbar (handler to answer, minus bus) ${serverSide.toFixed(3)} ms`,
    );
    if (pollMs >= 60_000) report("gateway: added latency per forwarded request (bus idle)", added, "ms", { max: 1, note: "mbusd default: +100 ms" });
    else report(`gateway: latency over own bus time while polling`, added, "ms", { note: "includes waiting for the poll request in progress" });
    c.close();

    if (pollMs < 60_000) {
      // Cached mode: 32 clients in another process read M1's polled voltage registers.
      const proc = Bun.spawn([process.execPath, import.meta.path, "--clients", String(gwPort), "32", "5000", "1", String(0xa612), "2"], { stdout: "pipe", stderr: "inherit" });
      const hitsBefore = gateway.stats().cacheHits;
      const out = JSON.parse((await new Response(proc.stdout).text()).trim()) as { done: number; errors: number; seconds: number };
      await proc.exited;
      const hits = gateway.stats().cacheHits - hitsBefore;
      console.log(`  32 clients × 5 s: ${out.done} answers, ${out.errors} errors, ${hits} from the cache`);
      report("gateway: cached-mode requests/s, 32 clients", out.done / out.seconds, "req/s");
    }
  } finally {
    await busbar.stop();
    await sim.stop();
  }
}

const { loadavg, cpus } = await import("node:os");
console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(1)).join(" ")} at start (timing figures are only meaningful on a quiet machine)`);
await run(60_000);
await run(100);
console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(" ")} at the end`);
process.exit(0);
