import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { startBusbar } from "../src/server/runtime.ts";
import { artifact, KIOSK, launchChromium, newPage, SIZES, startDemo, until, waitLive, type Demo } from "./helpers/browser.ts";

/**
 * The one-line diagram in real headless Chromium against the demo building (simulator + Busbar):
 * breaker states as text, a trip shown without reload, a dead device's quality, the detail panel,
 * a lost and restored link, both screen sizes. Screenshots: test/artifacts/oneline-*.png.
 */

let demo: Demo;
let browser: Browser;

const STATES_FR = ["FERMÉ", "OUVERT", "DÉCLENCHÉ", "INCONNU"];

/** State text of every breaker and ATS symbol of one orientation. */
async function switchingStates(page: Page, orient: "wide" | "tall") {
  return page.$$eval(`.ol-${orient} .nd[data-k="breaker"], .ol-${orient} .nd[data-k="ats"]`, (els) =>
    els.map((el) => ({ id: el.getAttribute("data-id")!, kind: el.getAttribute("data-k")!, state: el.querySelector(":scope > .st")!.textContent!.trim(), cls: el.getAttribute("class")! })),
  );
}

const nodeState = (page: Page, id: string) =>
  page.$eval(`.ol-wide .nd[data-id="${id}"]`, (el) => ({ state: el.querySelector(":scope > .st")!.textContent!.trim(), cls: el.getAttribute("class")!, reason: el.querySelector(":scope > .qr")!.textContent!.trim() }));

beforeAll(async () => {
  [demo, browser] = await Promise.all([startDemo(), launchChromium()]);
  // Every device answered once before the page opens.
  await until("first poll", () => demo.busbar.live.value(demo.busbar.registry.byId.get("4B1.closed")!).quality === "good", 15_000);
});

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

describe("one-line diagram", () => {
  it("shows the demo's 15 breakers and the ATS (16 switching devices) with text states, the sources and the BESS", async () => {
    const { page, context } = await newPage(browser, SIZES.control);
    await page.goto(demo.busbar.url);
    await waitLive(page);
    const states = await switchingStates(page, "wide");
    const breakers = states.filter((s) => s.kind === "breaker");
    expect(breakers.map((b) => b.id).sort()).toEqual(
      ["5B1", "4B1", "2B1", "2B2", "2B3", "2B4", "2B5", "2B6", "2B7", "2B8", "2B9", "2B10", "2B11", "2B12", "2B13"].sort(),
    );
    expect(states).toHaveLength(16);
    for (const b of breakers) expect(b.state, b.id).toBe("FERMÉ");
    for (const s of states) expect(s.state.length, s.id).toBeGreaterThan(0);
    const ats = states.find((s) => s.kind === "ats")!;
    expect(ats.state).toBe("NORMAL");
    // Feeders' names and live kW; main breaker's V, A, kW, Hz.
    const texts = await page.$eval(".ol-wide", (el) => el.textContent!);
    for (const name of ["PP-4", "CDS-11", "PE-2/PE-3", "BAT TX", "PRA-1", "ISO", "Hydro-Québec", "Génératrice", "Stockage BESS", "ASI Socomec"]) expect(texts).toContain(name);
    const main = await page.$eval('.ol-wide .nd[data-id="5B1"]', (el) => el.textContent!);
    for (const unit of [" V", " A", " kW", " Hz"]) expect(main).toContain(unit);
    // The UPS over BACnet/IP: its load status as text, load, battery, autonomy and kW live and good.
    await page.waitForFunction(() => {
      const vs = [...document.querySelectorAll('.ol-wide .nd[data-id="ups"] [data-p]')];
      return vs.length === 5 && vs.every((v) => !v.classList.contains("vb"));
    }, undefined, { timeout: 10_000 });
    const ups = await page.$eval('.ol-wide .nd[data-id="ups"]', (el) => ({ text: el.textContent!, cls: el.getAttribute("class")! }));
    // In French from the profile's statesFr (seed §6.2.2 "NORMAL MODE").
    expect(ups.text).toContain("MODE NORMAL");
    expect(ups.text).not.toContain("NORMAL MODE");
    expect(ups.text).not.toContain("AUCUNE DONNÉE");
    expect(ups.text).toMatch(/Util\.\s*\d+/);
    expect(ups.cls).not.toContain("q-bad");
    // BESS: SOC and kW as numbers with good quality.
    const bess = await page.$$eval('.ol-wide .nd[data-id="bess"] [data-p]', (els) => els.map((e) => ({ p: e.getAttribute("data-p"), text: e.textContent, bad: e.classList.contains("vb") })));
    expect(bess.map((b) => b.p).sort()).toEqual(["BESS.power", "BESS.soc"]);
    for (const b of bess) expect(b.text).toMatch(/^-?[\d\s  ]+(,\d+)?$/);
    await page.screenshot({ path: artifact("oneline-1920x1080.png") });
    await context.close();
  });

  it("shows TRIPPED within 2 s of a trip, without reloading, and a dead device's symbols as not trustworthy", async () => {
    const { page, context } = await newPage(browser, SIZES.control);
    await page.goto(demo.busbar.url);
    await waitLive(page);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    const t0 = Date.now();
    demo.sim.trip("2B3");
    await page.waitForFunction(() => document.querySelector('.ol-wide .nd[data-id="2B3"] > .st')?.textContent === "DÉCLENCHÉ", undefined, { timeout: 2000 });
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeLessThan(2000);
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42); // same document: no reload
    const tripped = await nodeState(page, "2B3");
    expect(tripped.cls).toContain("st-tripped");
    // Its feeder below is dead now: the wire below the breaker is drawn de-energized.
    expect(await page.$eval('.ol-wide [data-e="2B3>"]', (el) => el.getAttribute("class"))).toContain("e0");

    demo.sim.setOffline("2B5", true);
    await page.waitForFunction(() => document.querySelector('.ol-wide .nd[data-id="2B5"]')?.classList.contains("q-bad"), undefined, { timeout: 15_000 });
    const dead = await nodeState(page, "2B5");
    expect(dead.state).toBe("INCONNU");
    expect(dead.cls).toContain("st-unknown");
    expect(dead.reason).toBe("pas de comm.");
    expect(await page.$eval('.ol-wide .nd[data-id="2B5"] .qbadge', (el) => getComputedStyle(el).display)).not.toBe("none");
    const kw = await page.$eval('.ol-wide .nd[data-id="2B5"] [data-p="2B5.p_total"]', (el) => ({ text: el.textContent!, bad: el.classList.contains("vb") }));
    expect(kw.bad).toBe(true);
    expect(kw.text).toMatch(/\?$/);
    await page.screenshot({ path: artifact("oneline-abnormal-1920x1080.png") });

    demo.sim.setOffline("2B5", false);
    demo.sim.setBreaker("2B3", true);
    await page.waitForFunction(
      () => document.querySelector('.ol-wide .nd[data-id="2B3"] > .st')?.textContent === "FERMÉ" && document.querySelector('.ol-wide .nd[data-id="2B5"]')?.classList.contains("q-good"),
      undefined,
      { timeout: 15_000 },
    );
    await context.close();
  });

  it("opens a detail panel with the points' value, unit, quality and time, and a live trend", async () => {
    const { page, context } = await newPage(browser, SIZES.control);
    await page.goto(demo.busbar.url);
    await waitLive(page);
    await page.click('.ol-wide .nd[data-id="5B1"]');
    await page.waitForSelector("#detail .detail-inner");
    const rows = await page.$$eval("#detail tr[data-prow]", (trs) =>
      trs.map((tr) => ({ id: tr.getAttribute("data-prow"), cells: [...tr.querySelectorAll("td")].map((td) => td.textContent!.trim()) })),
    );
    const p = rows.find((r) => r.id === "5B1.p_total")!;
    expect(p.cells[1]).toMatch(/kW$/);
    expect(p.cells[2]).toBe("bonne");
    expect(p.cells[3]).toMatch(/^\d\d:\d\d:\d\d$/);
    // The profile's state text in French (statesFr), not "CLOSED".
    expect(rows.find((r) => r.id === "5B1.closed")!.cells[1]).toBe("FERMÉ");
    // A kiosk sees the command, not a way to operate it: the PIN unlock instead (issue 14).
    expect(await page.$eval("#detail", (el) => el.textContent)).toContain("5B1.cmd_open_close");
    expect(await page.$$("#detail .detail-commands a[data-cmd]")).toHaveLength(0);
    expect(await page.$$("#detail .detail-commands a[href^='/auth/pin']")).toHaveLength(1);
    expect(await page.$$("#detail button:not(.detail-close):not([data-trend-range])")).toHaveLength(0); // no acknowledge nor command button for a kiosk
    // The panel's points joined the page's lease: its values move live.
    await page.waitForSelector('#detail .mini-trend[data-ready="1"] canvas', { timeout: 10_000 });
    // Any of 5B1's: at some hours the demo's BESS holds the main at its setpoint, and a single value
    // (v_ab) went 10 s unchanged.
    const before = await page.evaluate(() => [...document.querySelectorAll('#detail [data-pt^="5B1."]')].map((el) => el.textContent).join("|"));
    await page.waitForFunction((b) => [...document.querySelectorAll('#detail [data-pt^="5B1."]')].map((el) => el.textContent).join("|") !== b, before, { timeout: 10_000 });
    await page.screenshot({ path: artifact("oneline-detail-1920x1080.png") });
    await page.click("#detail .detail-close");
    expect(await page.$eval("#detail", (el) => (el as HTMLElement).hidden)).toBe(true);
    await context.close();
  });

  it("works at phone width: the tall diagram, nothing cut off, touch targets of 48 px", async () => {
    const { page, context } = await newPage(browser, SIZES.phone, { touch: true });
    await page.goto(demo.busbar.url);
    await waitLive(page);
    expect(await page.$eval(".ol-wide", (el) => getComputedStyle(el).display)).toBe("none");
    const states = await switchingStates(page, "tall");
    expect(states).toHaveLength(16);
    for (const s of states) expect(STATES_FR).toContain(s.state.replace(/ .*/, "") === "NORMAL" ? "FERMÉ" : s.state);
    // Nothing wider than the screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    // Every tap target (nav, language, symbols) at least 48 × 48 CSS px.
    const small = await page.$$eval(".nav a, .lang-toggle, .ol-tall .nd .hit", (els) =>
      els
        .map((el) => ({ what: (el.closest("[data-id]") as Element | null)?.getAttribute("data-id") ?? el.textContent, r: el.getBoundingClientRect() }))
        .filter((x) => x.r.width < 47.5 || x.r.height < 47.5)
        .map((x) => `${x.what} ${Math.round(x.r.width)}×${Math.round(x.r.height)}`),
    );
    expect(small).toEqual([]);
    await page.screenshot({ path: artifact("oneline-390-full.png"), fullPage: true });
    await page.screenshot({ path: artifact("oneline-390.png") });
    await page.tap('.ol-tall .nd[data-id="2B8"] .hit');
    await page.waitForSelector("#detail .detail-inner");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: artifact("oneline-390-detail.png") });
    await context.close();
  });

  it("shows the lost link and reconnects by itself after a server restart", async () => {
    const { page, context } = await newPage(browser, SIZES.control);
    await page.goto(demo.busbar.url);
    await waitLive(page);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 7));
    const port = demo.busbar.port;
    await demo.busbar.stop();
    await page.waitForFunction(() => document.body.dataset.link === "lost", undefined, { timeout: 10_000 });
    expect(await page.$eval("#link-banner", (el) => (el as HTMLElement).hidden)).toBe(false);
    expect(await page.$eval("#link-banner", (el) => el.textContent)).toContain("Connexion au serveur perdue");
    await page.screenshot({ path: artifact("oneline-link-lost-1920x1080.png") });
    demo.busbar = await startBusbar({ site: demo.site, dbPath: ":memory:", httpPort: port, httpHost: "127.0.0.1", kiosk: KIOSK, log: () => {} });
    await waitLive(page, 15_000);
    expect(await page.$eval("#link-banner", (el) => (el as HTMLElement).hidden)).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(7);
    // Values flow again on the same page.
    demo.sim.trip("2B9");
    await page.waitForFunction(() => document.querySelector('.ol-wide .nd[data-id="2B9"] > .st')?.textContent === "DÉCLENCHÉ", undefined, { timeout: 5000 });
    demo.sim.setBreaker("2B9", true);
    await context.close();
  });
});
