import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { loadProfiles } from "../../src/config/profiles.ts";
import { parseSite, type Site } from "../../src/config/site.ts";
import { parseYaml } from "../../src/config/profile.ts";
import { DEMO_SITE } from "../../src/embedded.ts";
import { startBusbar, type Busbar } from "../../src/server/runtime.ts";
import { startSimulator, type Sim } from "../../src/sim/simulator.ts";

/**
 * Page tests in Debian's chromium through playwright-core (no browser download), and the demo
 * building (simulator + Busbar) they look at.
 */

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // Background tabs must keep updating (the bench opens 50 pages in one browser).
  "--disable-background-timer-throttling",
  "--disable-renderer-backgrounding",
  "--disable-backgrounding-occluded-windows",
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
}

export const SIZES = {
  control: { width: 1920, height: 1080 },
  phone: { width: 390, height: 844 },
} as const;

export async function newPage(browser: Browser, size: { width: number; height: number }, opts: { lang?: "fr" | "en"; touch?: boolean } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: size,
    locale: opts.lang === "en" ? "en-CA" : "fr-CA",
    hasTouch: opts.touch ?? size.width < 800,
    isMobile: false,
  });
  const page = await context.newPage();
  return { context, page };
}

/** test/artifacts/ (gitignored) */
export const ARTIFACTS = join(import.meta.dirname, "..", "artifacts");
export function artifact(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

/** The kiosk addresses tests pass so pages stay readable once login is enforced (issue 4). */
export const KIOSK = ["127.0.0.1", "::1", "::ffff:127.0.0.1"];

export interface Demo {
  sim: Sim;
  busbar: Busbar;
  site: Site;
  stop(): Promise<void>;
}

/** The demo building (data/demo-site.yaml) served by the simulator on free ports, polled by Busbar. */
export async function startDemo(opts: { httpPort?: number; pollMs?: number; mutate?: (raw: Record<string, unknown>) => void } = {}): Promise<Demo> {
  const raw = parseYaml(DEMO_SITE, "demo-site.yaml") as { devices: { pollMs?: number }[] } & Record<string, unknown>;
  if (opts.pollMs) for (const d of raw.devices) d.pollMs = opts.pollMs;
  opts.mutate?.(raw);
  const site = parseSite(raw, loadProfiles(), "demo-site.yaml");
  const sim = startSimulator(site, { anyPort: true, host: "127.0.0.1", seed: 7 });
  const busbar = await startBusbar({
    site: sim.servedSite,
    dbPath: ":memory:",
    httpPort: opts.httpPort ?? 0,
    httpHost: "127.0.0.1",
    kiosk: KIOSK,
    log: () => {},
    sim,
  });
  const demo: Demo = {
    sim,
    busbar,
    site: sim.servedSite,
    async stop() {
      // demo.busbar, not the first one: a test may have restarted it.
      await demo.busbar.stop();
      sim.stop();
    },
  };
  return demo;
}

/** Waits until the page's live stream has delivered its first snapshot. */
export async function waitLive(page: Page, timeoutMs = 15_000): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.link === "live", undefined, { timeout: timeoutMs });
}

/** Polls an async condition. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, stepMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

// ---- other topologies (a site must render sensibly from its file alone) -------------------------

const profiles = loadProfiles();

/** Two utility incomers, one per busbar, a tie breaker, a generator breaker feeding an ATS, and a feeder with three currents and a long load name. */
export function twinSite(): Site {
  const feeders = (bus: string, from: number, n: number) =>
    Array.from({ length: n }, (_, i) => ({ id: `F${from + i}`, from: bus, load: `Load ${from + i}`, device: `F${from + i}` }));
  return parseSite(
    {
      site: { name: "Two incomers and a tie", language: "en" },
      buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: 1 }],
      devices: [
        { id: "MA", bus: "gw", unit: 1, profile: "micrologic-p" },
        { id: "MB", bus: "gw", unit: 2, profile: "micrologic-p" },
        { id: "TIE", bus: "gw", unit: 3, profile: "micrologic-e" },
        ...Array.from({ length: 10 }, (_, i) => ({ id: `F${i + 1}`, bus: "gw", unit: 10 + i, profile: "micrologic-e" })),
        // A feeder with three currents and a long load name: the phone row must find room for both.
        { id: "F11", bus: "gw", unit: 20, profile: "micrologic-p" },
      ],
      topology: {
        sources: [
          { id: "utilA", kind: "utility", label: "Utility A" },
          { id: "utilB", kind: "utility", label: "Utility B" },
          { id: "gen", kind: "generator", label: "Generator" },
        ],
        ats: [{ id: "atsB", label: "ATS B", normal: "utilB", emergency: "genBrk" }],
        busbars: [
          { id: "busA", label: "Bus A" },
          { id: "busB", label: "Bus B" },
        ],
        breakers: [
          { id: "MA", from: "utilA", to: "busA", device: "MA" },
          { id: "genBrk", from: "gen", to: "atsB" },
          { id: "MB", from: "atsB", to: "busB", device: "MB" },
          { id: "TIE", from: "busA", to: "busB", device: "TIE" },
          ...feeders("busA", 1, 5),
          ...feeders("busB", 6, 5),
          { id: "F11", from: "busB", load: "Chauffage, ventilation bât. B", device: "F11" },
        ],
      },
    },
    profiles,
  );
}

/** One busbar with 40 feeders. */
export function fortySite(): Site {
  return parseSite(
    {
      site: { name: "Forty feeders" },
      buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: 1 }],
      devices: [
        { id: "MAIN", bus: "gw", unit: 1, profile: "micrologic-p" },
        ...Array.from({ length: 40 }, (_, i) => ({ id: `F${i + 1}`, bus: "gw", unit: 2 + i, profile: "micrologic-e" })),
      ],
      topology: {
        sources: [{ id: "grid", kind: "utility", label: "Grid" }],
        busbars: [{ id: "bus", label: "Main bus" }],
        breakers: [
          { id: "MAIN", from: "grid", to: "bus", device: "MAIN" },
          ...Array.from({ length: 40 }, (_, i) => ({ id: `F${i + 1}`, from: "bus", load: `Panel ${i + 1}`, device: `F${i + 1}` })),
        ],
      },
    },
    profiles,
  );
}

