/**
 * HMI bench: 50 browser pages on the one-line diagram of the demo building.
 *
 *   bun bench/hmi.bench.ts            (or: npm run bench -- hmi)
 *
 * Three processes so each figure is what it says:
 *   - the simulator (its own Bun process): serves the demo's devices; the bench pins the 14
 *     feeders' kW to a new value every 100 ms, so every poll reads a change;
 *   - Busbar (its own Bun process): polls, drains, streams — its CPU is the "server CPU";
 *   - this process drives Debian's chromium (playwright-core) with 50 pages on "/".
 *
 * Latency "poll → DOM": each page watches the 14 feeders' kW texts with a MutationObserver and
 * records (performance.timeOrigin + performance.now()) − the value's source timestamp (the time
 * the bus poll read it, carried in the stream message) at the moment the text changes.
 * Same machine, same wall clock.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { BrowserContext, Page } from "playwright-core";
import { report } from "./report.ts";

const ROLE = process.argv.find((a) => a.startsWith("--role="))?.slice(7);
const PAGES = Number(process.env.HMI_PAGES ?? 50);
const MEASURE_MS = Number(process.env.HMI_MEASURE_MS ?? 20_000);
const FEEDERS = ["4B1", "2B1", "2B2", "2B3", "2B4", "2B5", "2B6", "2B7", "2B8", "2B9", "2B10", "2B11", "2B12", "2B13"];

async function demoSite() {
  const { loadProfiles } = await import("../src/config/profiles.ts");
  const { parseSite } = await import("../src/config/site.ts");
  const { parseYaml } = await import("../src/config/profile.ts");
  const { DEMO_SITE } = await import("../src/generated/embedded.ts");
  const raw = parseYaml(DEMO_SITE, "demo-site.yaml") as { buses: { host?: string; port?: number }[] };
  return { raw, profiles: loadProfiles(), parseSite };
}

// ---- child: the simulator -------------------------------------------------------------------------
async function runSim() {
  const { raw, profiles, parseSite } = await demoSite();
  const { startSimulator } = await import("../src/sim/simulator.ts");
  const sim = startSimulator(parseSite(raw, profiles, "demo-site.yaml"), { anyPort: true, host: "127.0.0.1", seed: 3 });
  let seq = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  process.on("message", (m: { cmd: string }) => {
    if (m.cmd === "pin") {
      timer = setInterval(() => {
        seq++;
        // A new, distinct kW on every feeder every 100 ms: each 1 s poll reads a change.
        FEEDERS.forEach((f, i) => sim.setValue(f, "p_total", 10 + i + (seq % 500) / 10));
      }, 100);
    } else if (m.cmd === "stop") {
      clearInterval(timer);
      sim.stop();
      process.exit(0);
    }
  });
  process.send!({ ports: Object.fromEntries(sim.ports) });
}

// ---- child: Busbar --------------------------------------------------------------------------------
async function runBusbar() {
  const { raw, profiles, parseSite } = await demoSite();
  const ports = JSON.parse(process.env.SIM_PORTS!) as Record<string, number>;
  for (const b of raw.buses as { id: string; host?: string; port?: number }[]) {
    b.host = "127.0.0.1";
    b.port = ports[b.id];
  }
  const { startBusbar } = await import("../src/server/runtime.ts");
  const busbar = await startBusbar({
    site: parseSite(raw, profiles, "demo-site.yaml"),
    dbPath: ":memory:",
    httpPort: 0,
    httpHost: "127.0.0.1",
    kiosk: ["127.0.0.1", "::1", "::ffff:127.0.0.1"],
    log: () => {},
  });
  process.on("message", async (m: { cmd: string }) => {
    if (m.cmd === "stop") {
      await busbar.stop();
      process.exit(0);
    }
  });
  process.send!({ url: busbar.url });
}

// ---- orchestrator ---------------------------------------------------------------------------------
function cpuMs(pid: number): number {
  // utime + stime in clock ticks (fields 14, 15 of /proc/PID/stat; USER_HZ = 100 on Linux).
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** CPU (ms) of every process below `root` (this process's chromium: the browser and its renderers). */
function descendantsCpuMs(root = process.pid): number {
  const parent = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parent.set(Number(pid), Number(f[1]));
      cpu.set(Number(pid), (Number(f[11]) + Number(f[12])) * 10);
    } catch {}
  }
  let sum = 0;
  for (const [pid, ms] of cpu) {
    let p = parent.get(pid);
    for (let d = 0; p && d < 16; d++, p = parent.get(p)) if (p === root) {
      sum += ms;
      break;
    }
  }
  return sum;
}

/** Poll → message received, over plain SSE clients (no browser): the server's and network's share. */
async function sseLatency(url: string, clients: number, ms: number): Promise<number[]> {
  const ids = new Set(FEEDERS.map((f) => `${f}.p_total`));
  const lat: number[] = [];
  const aborts: AbortController[] = [];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const ac = new AbortController();
      aborts.push(ac);
      const res = await fetch(`${url}api/stream?view=oneline&fmt=c`, { signal: ac.signal });
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      let first = true;
      void (async () => {
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            const now = Date.now();
            buf += value;
            let cut;
            while ((cut = buf.indexOf("\n\n")) >= 0) {
              const block = buf.slice(0, cut);
              buf = buf.slice(cut + 2);
              if (!block.startsWith("event: values")) continue;
              const data = JSON.parse(block.slice(block.indexOf("data: ") + 6)) as [string, number, string, number][];
              if (first) {
                first = false; // the snapshot is not a change
                continue;
              }
              for (const [id, , , ts] of data) if (ids.has(id)) lat.push(now - ts);
            }
          }
        } catch {}
      })();
    }),
  );
  await Bun.sleep(ms);
  for (const a of aborts) a.abort();
  return lat.sort((a, b) => a - b);
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

function spawnChild(role: string, env: Record<string, string> = {}) {
  let resolveFirst: (m: Record<string, unknown>) => void;
  const first = new Promise<Record<string, unknown>>((r) => (resolveFirst = r));
  const proc = Bun.spawn([process.execPath, import.meta.path, `--role=${role}`], {
    env: { ...process.env, ...env },
    stdout: "inherit",
    stderr: "inherit",
    ipc(message) {
      resolveFirst(message as Record<string, unknown>);
    },
  });
  return { proc, first };
}

async function main() {
  const sim = spawnChild("sim");
  const { ports } = (await sim.first) as { ports: Record<string, number> };
  const server = spawnChild("busbar", { SIM_PORTS: JSON.stringify(ports) });
  const { url } = (await server.first) as { url: string };
  const { chromium } = await import("playwright-core");
  const { CHROMIUM_ARGS } = await import("../test/helpers/browser.ts");
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
  try {
    // Let every device answer once.
    for (let i = 0; i < 100; i++) {
      const v = (await (await fetch(`${url}api/points/4B1.closed`)).json()) as { quality: string };
      if (v.quality === "good") break;
      await Bun.sleep(100);
    }

    // 1. The page itself: size and server render time (Server-Timing), 50 sequential requests
    //    after 10 to warm the JIT.
    const renders: number[] = [];
    let size = 0;
    for (let i = 0; i < 10; i++) await (await fetch(url)).text();
    for (let i = 0; i < 50; i++) {
      const res = await fetch(url, { headers: { "accept-language": "fr" } });
      size = new TextEncoder().encode(await res.text()).length;
      renders.push(Number(/dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "")?.[1]));
    }
    renders.sort((a, b) => a - b);

    // 2. Server CPU idle (no page), then with the pages open.
    sim.proc.send({ cmd: "pin" });
    await Bun.sleep(2000);
    let c0 = cpuMs(server.proc.pid);
    let t0 = Date.now();
    await Bun.sleep(5000);
    const idleCpu = ((cpuMs(server.proc.pid) - c0) / (Date.now() - t0)) * 100;

    // Plain SSE clients first: the server's share of the latency, without browsers competing for the CPU.
    const sse = await sseLatency(url, PAGES, 10_000);

    // One browser context per page: separate clients (a browser allows only 6 HTTP/1.1
    // connections per host and profile, and every page keeps its stream open).
    const openPages = async (n: number) => {
      const contexts: BrowserContext[] = [];
      const pages: Page[] = [];
      for (let i = 0; i < n; i++) {
        const context = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: "fr-CA" });
        const page = await context.newPage();
        await page.goto(url);
        contexts.push(context);
        pages.push(page);
      }
      await Promise.all(pages.map((p) => p.waitForFunction(() => document.body.dataset.link === "live", undefined, { timeout: 60_000 })));
      // Start measuring on every page at once.
      await Promise.all(
        pages.map((p) =>
          p.evaluate((feeders) => {
            const w = window as unknown as { __lat: number[]; BusbarLive: { values: Map<string, { ts: number }> } };
            w.__lat = [];
            for (const f of feeders) {
              const id = `${f}.p_total`;
              for (const el of document.querySelectorAll(`.ol-wide [data-p="${id}"]`)) {
                new MutationObserver(() => {
                  const now = performance.timeOrigin + performance.now();
                  const v = w.BusbarLive.values.get(id);
                  if (v?.ts) w.__lat.push(now - v.ts);
                }).observe(el, { childList: true, characterData: true, subtree: true });
              }
            }
          }, FEEDERS),
        ),
      );
      return {
        pages,
        latencies: async () => (await Promise.all(pages.map((p) => p.evaluate(() => (window as unknown as { __lat: number[] }).__lat)))).flat().sort((a, b) => a - b),
        close: () => Promise.all(contexts.map((c) => c.close())),
      };
    };

    // One operator screen alone.
    const one = await openPages(1);
    await Bun.sleep(10_000);
    const latOne = await one.latencies();
    await one.close();

    const many = await openPages(PAGES);
    const load0 = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
    c0 = cpuMs(server.proc.pid);
    const b0 = descendantsCpuMs() - cpuMs(sim.proc.pid) - cpuMs(server.proc.pid);
    t0 = Date.now();
    await Bun.sleep(MEASURE_MS);
    const busyCpu = ((cpuMs(server.proc.pid) - c0) / (Date.now() - t0)) * 100;
    const browserCpu = ((descendantsCpuMs() - cpuMs(sim.proc.pid) - cpuMs(server.proc.pid) - b0) / (Date.now() - t0)) * 100;
    const lat = await many.latencies();
    const perPage = lat.length / PAGES / (MEASURE_MS / 1000);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.proc.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
    await many.close();

    console.log(`${PAGES} pages on the one-line, ${MEASURE_MS / 1000} s, ${lat.length} DOM updates measured (${perPage.toFixed(1)} per page per s)`);
    report("one-line page HTML size", size / 1024, "KB", { max: 100 });
    report("one-line server render time p50", pct(renders, 50), "ms", { max: 20 });
    report("one-line server render time p95", pct(renders, 95), "ms", { max: 20 });
    report(`poll → SSE message, ${PAGES} plain clients p50`, pct(sse, 50), "ms");
    report(`poll → SSE message, ${PAGES} plain clients p95`, pct(sse, 95), "ms");
    report(`poll → SSE message, ${PAGES} plain clients p99`, pct(sse, 99), "ms");
    report("poll → DOM latency, 1 page p50", pct(latOne, 50), "ms");
    report("poll → DOM latency, 1 page p95", pct(latOne, 95), "ms", { max: 100 });
    report("poll → DOM latency, 1 page p99", pct(latOne, 99), "ms");
    report(`poll → DOM latency, ${PAGES} pages p50`, pct(lat, 50), "ms");
    report(`poll → DOM latency, ${PAGES} pages p95`, pct(lat, 95), "ms", { max: 100 });
    report(`poll → DOM latency, ${PAGES} pages p99`, pct(lat, 99), "ms");
    report(`poll → DOM latency, ${PAGES} pages max`, lat[lat.length - 1] ?? NaN, "ms");
    report("server CPU, no page open", idleCpu, "%", { note: "of one core" });
    report(`server CPU, ${PAGES} pages open`, busyCpu, "%", { note: "of one core" });
    report("server RSS", rss, "MB");
    report(`chromium CPU, ${PAGES} pages (same 2-core machine)`, browserCpu, "%", { note: "of one core" });
    const load1 = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
    console.log(`machine: ${navigator.hardwareConcurrency} cores, load average ${load0} → ${load1} during the page run (other work on the machine delays the browsers)`);
    if (lat.length < PAGES * 14 * (MEASURE_MS / 1000) * 0.5) console.log(`!!! fewer updates than expected: ${lat.length}`);
  } finally {
    await browser.close();
    sim.proc.send({ cmd: "stop" });
    server.proc.send({ cmd: "stop" });
    await Promise.race([Promise.all([sim.proc.exited, server.proc.exited]), Bun.sleep(5000)]);
    sim.proc.kill();
    server.proc.kill();
  }
}

if (ROLE === "sim") await runSim();
else if (ROLE === "busbar") await runBusbar();
else {
  await main();
  process.exit(0);
}
