/**
 * HMI bench: 50 browser pages on the one-line diagram of the demo building.
 *
 *   bun bench/hmi.bench.ts            (or: npm run bench -- hmi)
 *
 * Three processes so each figure is what it says:
 *   - the simulator (its own Bun process): serves the demo's devices; the bench pins the 14
 *     feeders' kW to a new value every 100 ms, so every poll reads a change;
 *   - Busbar (its own Bun process): polls, drains, streams — its CPU is the "server CPU";
 *   - this process drives Debian's chromium (playwright-core) with the pages on "/".
 *
 * Latency "poll → DOM": each page watches the 14 feeders' kW texts with a MutationObserver and
 * records (performance.timeOrigin + performance.now()) − the value's source timestamp (the time
 * the bus poll read it, carried in the stream message) at the moment the text changes.
 * Same machine, same wall clock.
 *
 * The 50 pages share this 2-core machine with the server, where a control room has 50 screens.
 * Two ways to open them, both measured, and for each the same 50 pages fed by a server that does
 * nothing (a 20-value page and a burst sent every second): that floor is the browsers' own share.
 *   - tabs (the target's figure): one browser profile, 50 tabs on distinct host names
 *     (p0.localhost…, so the 6-connections-per-host limit does not hold streams back) in 2 renderer
 *     processes, one per core. Every page still opens its own stream and does all its own work
 *     (script, style, layout, paint); only the browser's final drawing of 49 hidden tabs is skipped.
 *   - windows: 50 profiles, each page in its own window and renderer process. Here 50 renderers and
 *     the one GPU process that draws 50 full-HD windows in software queue for 2 cores; the floor
 *     shows how much of the latency that alone costs.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { cpuMs, procStat, rssMB } from "./proc.ts";
import { report } from "./report.ts";

const ROLE = process.argv.find((a) => a.startsWith("--role="))?.slice(7);
const PAGES = Number(process.env.HMI_PAGES ?? 50);
const MEASURE_MS = Number(process.env.HMI_MEASURE_MS ?? 20_000);
const FLOOR_MS = 10_000;
const FEEDERS = ["4B1", "2B1", "2B2", "2B3", "2B4", "2B5", "2B6", "2B7", "2B8", "2B9", "2B10", "2B11", "2B12", "2B13"];

async function demoSite() {
  const { loadProfiles } = await import("../src/config/profiles.ts");
  const { parseSite } = await import("../src/config/site.ts");
  const { parseYaml } = await import("../src/config/profile.ts");
  const { DEMO_SITE } = await import("../src/embedded.ts");
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
  // BACnet/IP: the UPS listens on a port of its own; Busbar's bus broadcasts to it and knows its address.
  const bacnet = {
    buses: sim.servedSite.buses.filter((b) => b.kind === "bacnet-ip"),
    addresses: Object.fromEntries(sim.servedSite.devices.filter((d) => d.instance !== undefined).map((d) => [d.id, d.address])),
  };
  process.send!({ ports: Object.fromEntries(sim.ports), bacnet });
}

// ---- child: Busbar --------------------------------------------------------------------------------
async function runBusbar() {
  const { raw, profiles, parseSite } = await demoSite();
  const ports = JSON.parse(process.env.SIM_PORTS!) as Record<string, number>;
  const bacnet = JSON.parse(process.env.SIM_BACNET ?? '{"buses":[],"addresses":{}}') as { buses: { id: string; port: number; broadcast: string }[]; addresses: Record<string, string> };
  for (const b of raw.buses as { id: string; kind: string; host?: string; port?: number; broadcast?: string }[]) {
    const served = bacnet.buses.find((x) => x.id === b.id);
    if (b.kind === "bacnet-ip") Object.assign(b, served ? { port: served.port, broadcast: served.broadcast } : {});
    else {
      b.host = "127.0.0.1";
      b.port = ports[b.id];
    }
  }
  for (const d of (raw as unknown as { devices: { id: string; address?: string }[] }).devices) if (bacnet.addresses[d.id]) d.address = bacnet.addresses[d.id];
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
/** CPU (ms) of the chromium processes below this one, by --type (browser, renderer, gpu-process…). */
function chromiumCpu(): Map<string, number> {
  const parent = new Map<number, number>();
  const found = new Map<number, { ms: number; type: string }>();
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const { ppid, cpuMs } = procStat(Number(pid));
      parent.set(Number(pid), ppid);
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmd.includes("chrom")) found.set(Number(pid), { ms: cpuMs, type: /--type=([\w-]+)/.exec(cmd)?.[1] ?? "browser" });
    } catch {}
  }
  const out = new Map<string, number>();
  for (const [pid, { ms, type }] of found) {
    for (let p = parent.get(pid), d = 0; p && d < 16; d++, p = parent.get(p)) {
      if (p !== process.pid) continue;
      out.set(type, (out.get(type) ?? 0) + ms);
      out.set(`${type} processes`, (out.get(`${type} processes`) ?? 0) + 1);
      out.set("all", (out.get("all") ?? 0) + ms);
      break;
    }
  }
  return out;
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

/**
 * The floor: a page of 20 values fed by a server that does no work (a burst to every page once a
 * second, stamped when sent). Its poll → DOM is what the browsers alone cost on this machine.
 */
function startFloorServer() {
  const page = `<!doctype html><meta charset=utf-8><body style="font:20px system-ui;background:#d0d0d0">${"<div><b>0</b> kW</div>".repeat(20)}<script>
const els=[...document.querySelectorAll("b")];window.__lat=[];document.body.dataset.link="connecting";
const es=new EventSource("/s");es.onopen=()=>document.body.dataset.link="live";
es.addEventListener("values",(e)=>{const d=JSON.parse(e.data);d.forEach((v,i)=>els[i].textContent=v[1].toFixed(1));const now=performance.timeOrigin+performance.now();for(const v of d)window.__lat.push(now-v[3]);});
</script>`;
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  let k = 0;
  const timer = setInterval(() => {
    k++;
    const ts = Date.now();
    const msg = new TextEncoder().encode(`event: values\ndata: ${JSON.stringify(Array.from({ length: 20 }, (_, i) => [`F${i}.p_total`, 10 + i + (k % 50) / 10, "good", ts]))}\n\n`);
    for (const s of streams) {
      try {
        s.enqueue(msg);
      } catch {}
    }
  }, 1000);
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    fetch(req) {
      if (new URL(req.url).pathname !== "/s") return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
      let me: ReadableStreamDefaultController<Uint8Array>;
      return new Response(
        new ReadableStream<Uint8Array>({
          start: (c) => void streams.add((me = c)),
          cancel: () => void streams.delete(me),
        }),
        { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } },
      );
    },
  });
  return { url: `http://127.0.0.1:${server.port}/`, stop: () => (clearInterval(timer), server.stop(true)) };
}

type LayoutName = "tabs" | "windows";

/** Opens `n` pages of `url` in the layout, waits until each is live, then starts measuring on all at once. */
async function openPages(browser: Browser, layout: LayoutName, url: string, n: number, watch: "busbar" | "floor") {
  const contexts: BrowserContext[] = [];
  const pages: Page[] = [];
  const options = { viewport: { width: 1920, height: 1080 }, locale: "fr-CA" };
  const shared = layout === "tabs" ? await browser.newContext(options) : undefined;
  if (shared) contexts.push(shared);
  for (let i = 0; i < n; i++) {
    const context = shared ?? (await browser.newContext(options));
    if (!shared) contexts.push(context);
    const page = await context.newPage();
    await page.goto(shared ? url.replace("127.0.0.1", `p${i}.localhost`) : url);
    pages.push(page);
  }
  await Promise.all(pages.map((p) => p.waitForFunction(() => document.body.dataset.link === "live", undefined, { timeout: 60_000 })));
  await Promise.all(
    pages.map((p) =>
      watch === "floor"
        ? p.evaluate(() => void ((window as unknown as { __lat: number[] }).__lat = []))
        : p.evaluate((feeders) => {
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
    latencies: async () => (await Promise.all(pages.map((p) => p.evaluate(() => (window as unknown as { __lat: number[] }).__lat)))).flat().sort((a, b) => a - b),
    close: () => Promise.all(contexts.map((c) => c.close())),
  };
}

async function launch(layout: LayoutName): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  const { CHROMIUM_ARGS } = await import("../test/helpers/browser.ts");
  // Tabs: 2 renderer processes for 50 pages, one per core (sites share a process only without site isolation).
  const extra = layout === "tabs" ? ["--renderer-process-limit=2", "--disable-site-isolation-trials"] : [];
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: [...CHROMIUM_ARGS, ...extra] });
}

async function main() {
  const sim = spawnChild("sim");
  const { ports, bacnet } = (await sim.first) as { ports: Record<string, number>; bacnet: unknown };
  const server = spawnChild("busbar", { SIM_PORTS: JSON.stringify(ports), SIM_BACNET: JSON.stringify(bacnet) });
  const { url } = (await server.first) as { url: string };
  const floor = startFloorServer();
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
    report("one-line page HTML size", size / 1024, "KB", { max: 100 });
    report("one-line server render time p50", pct(renders, 50), "ms", { max: 20 });
    report("one-line server render time p95", pct(renders, 95), "ms", { max: 20 });

    // 2. Server CPU idle (no page), then the server's share of the latency with plain SSE clients.
    sim.proc.send({ cmd: "pin" });
    await Bun.sleep(2000);
    let c0 = cpuMs(server.proc.pid);
    let t0 = Date.now();
    await Bun.sleep(5000);
    report("server CPU, no page open", ((cpuMs(server.proc.pid) - c0) / (Date.now() - t0)) * 100, "%", { note: "of one core" });
    const sse = await sseLatency(url, PAGES, 10_000);
    report(`poll → SSE message, ${PAGES} plain clients p50`, pct(sse, 50), "ms");
    report(`poll → SSE message, ${PAGES} plain clients p95`, pct(sse, 95), "ms");
    report(`poll → SSE message, ${PAGES} plain clients p99`, pct(sse, 99), "ms");

    // 3. One operator screen alone.
    {
      const browser = await launch("windows");
      const one = await openPages(browser, "windows", url, 1, "busbar");
      await Bun.sleep(10_000);
      const lat = await one.latencies();
      await browser.close();
      report("poll → DOM latency, 1 page p50", pct(lat, 50), "ms");
      report("poll → DOM latency, 1 page p95", pct(lat, 95), "ms", { max: 100 });
      report("poll → DOM latency, 1 page p99", pct(lat, 99), "ms");
    }

    // 4. 50 pages, in each layout; then the floor in the same layout.
    for (const layout of ["tabs", "windows"] as LayoutName[]) {
      const browser = await launch(layout);
      try {
        const many = await openPages(browser, layout, url, PAGES, "busbar");
        const load0 = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
        c0 = cpuMs(server.proc.pid);
        const b0 = chromiumCpu();
        t0 = Date.now();
        await Bun.sleep(MEASURE_MS);
        const elapsed = Date.now() - t0;
        const serverCpu = ((cpuMs(server.proc.pid) - c0) / elapsed) * 100;
        const b1 = chromiumCpu();
        const procs = b1.get("renderer processes") ?? 0;
        const lat = await many.latencies();
        const rss = rssMB(server.proc.pid);
        const load1 = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
        await many.close();

        const base = await openPages(browser, layout, floor.url, PAGES, "floor");
        await Bun.sleep(FLOOR_MS);
        const floorLat = await base.latencies();
        await base.close();

        const label = layout === "tabs" ? `${PAGES} pages as tabs (${procs} renderers)` : `${PAGES} pages as windows (${procs} renderers)`;
        console.log(`\n${label}: ${MEASURE_MS / 1000} s, ${lat.length} DOM updates (${(lat.length / PAGES / (MEASURE_MS / 1000)).toFixed(1)} per page per s); load average ${load0} → ${load1}`);
        const target = layout === "tabs" ? { max: 100 } : { note: "no target: see the floor below" };
        report(`poll → DOM latency, ${layout} p50`, pct(lat, 50), "ms");
        report(`poll → DOM latency, ${layout} p95`, pct(lat, 95), "ms", target);
        report(`poll → DOM latency, ${layout} p99`, pct(lat, 99), "ms");
        report(`poll → DOM latency, ${layout} max`, lat[lat.length - 1] ?? NaN, "ms");
        report(`  floor (20-value page, idle server), ${layout} p50`, pct(floorLat, 50), "ms");
        report(`  floor (20-value page, idle server), ${layout} p95`, pct(floorLat, 95), "ms");
        report(`server CPU, ${PAGES} pages open`, serverCpu, "%", { note: "of one core" });
        report("server RSS", rss, "MB");
        const cpu = (type: string) => (((b1.get(type) ?? 0) - (b0.get(type) ?? 0)) / elapsed) * 100;
        report(`chromium CPU, ${PAGES} pages`, cpu("all"), "%", { note: `of one core; renderers ${cpu("renderer").toFixed(1)}, GPU process ${cpu("gpu-process").toFixed(1)}, browser ${cpu("browser").toFixed(1)}` });
        if (lat.length < PAGES * 14 * (MEASURE_MS / 1000) * 0.5) console.log(`!!! fewer updates than expected: ${lat.length}`);
      } finally {
        await browser.close();
      }
    }
    console.log(`machine: ${navigator.hardwareConcurrency} cores`);
  } finally {
    floor.stop();
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
