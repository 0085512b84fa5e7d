import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { Flag, INTERVAL_MS, type Interval } from "../src/energy/counters.ts";
import { artifact, launchChromium, newPage, SIZES, startDemo, type Demo } from "./helpers/browser.ts";

/**
 * The energy pages on the demo building, in Chromium, over a month of stored intervals: the
 * previous month (complete, untouched by the live feed) with a 2-hour gap on 2B6 and a held spike
 * on 2B2. Screenshots in test/artifacts/energy-*.png.
 */
let demo: Demo;
let browser: Browser;
let at = "";
let expectedHead = 0;

beforeAll(async () => {
  demo = await startDemo();
  browser = await launchChromium();
  const e = demo.busbar.energy!;
  const clock = e.service.clock;
  const now = clock.parts(Date.now());
  const [y, m] = now.month === 1 ? [now.year - 1, 12] : [now.year, now.month - 1];
  at = `${y}-${String(m).padStart(2, "0")}-15`;
  const from = clock.fromLocal(y, m, 1);
  const to = clock.fromLocal(now.year, now.month, 1);
  const ev = e.service.evaluators.get("electricity");
  const perMeter = new Map<string, Interval[]>();
  let sum = 0;
  let k = 0;
  for (const meter of e.service.meters) {
    if (meter.head || meter.excluded) continue;
    const ivs: Interval[] = [];
    const base = 4 + (k++ % 5) * 3; // kWh per interval, steady per feeder
    for (let ts = from; ts < to; ts += INTERVAL_MS) {
      const hour = new Date(ts).getUTCHours();
      let value = base * (hour >= 12 && hour < 23 ? 1.6 : 0.7);
      let flags = 0;
      let held = 0;
      if (meter.id === "2B6" && ts === from + 10 * 86_400_000) flags = Flag.ESTIMATED;
      if (meter.id === "2B2" && ts === from + 12 * 86_400_000) {
        held = 9000;
        flags = Flag.BAD;
      }
      sum += value;
      ivs.push({ ts, value, held, flags });
    }
    perMeter.set(meter.id, ivs);
  }
  const head: Interval[] = [];
  for (let ts = from; ts < to; ts += INTERVAL_MS) {
    let s = 0;
    for (const ivs of perMeter.values()) s += ivs[(ts - from) / INTERVAL_MS]!.value;
    head.push({ ts, value: s * 1.04, held: 0, flags: 0 });
  }
  expectedHead = sum * 1.04;
  for (const [id, ivs] of perMeter) e.store.write(id, ivs, ev);
  e.store.write("TH40C", head, ev);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

describe("energy pages", () => {
  it("month by day at 1920×1080: headline, stacked circuits, marks, share, CSV", async () => {
    const { context, page } = await newPage(browser, SIZES.control, { lang: "fr" });
    const url = `${demo.busbar.url}energy?view=total&period=month&at=${at}`;
    await page.goto(url);
    await page.waitForSelector("#energy-chart canvas");
    const headline = await page.textContent(".en-headline");
    const kwh = Math.round(expectedHead / 100) / 10; // MWh, one decimal, fr-CA
    expect(headline).toContain(`${String(kwh).replace(".", ",")} MWh`);
    expect(headline).toMatch(/\$/);
    expect(headline).toContain("Puissance facturée");
    // The quality note names the held bad data and the estimated interval.
    expect(await page.textContent(".en-quality")).toMatch(/9\s000 kWh de données invalides.*estimés/s);
    const rows = await page.$$eval(".en-share tbody tr", (trs) => trs.map((tr) => tr.textContent));
    expect(rows.some((r) => r?.includes("Non mesuré"))).toBe(true);
    expect(rows.some((r) => r?.includes("CVC"))).toBe(true);
    await page.screenshot({ path: artifact("energy-month-1920.png") });
    // CSV of what is on screen: one row per day plus the header.
    const csv = await (await page.request.get(url.replace("/energy?", "/api/energy/view.csv?"))).text();
    const lines = csv.trim().split("\r\n");
    const days = new Date(Date.UTC(Number(at.slice(0, 4)), Number(at.slice(5, 7)), 0)).getUTCDate();
    expect(lines.length).toBe(days + 1);
    expect(lines[0]).toContain("CVC (kWh)");
    expect(csv).toContain("bad");
    expect(csv).toContain("estimated");
    await context.close();
  });

  it("cost view, year view and comparison at 390 px; lobby full-screen", async () => {
    const { context, page } = await newPage(browser, SIZES.phone, { lang: "en" });
    await page.goto(`${demo.busbar.url}energy?view=cost&period=month&at=${at}`);
    await page.waitForSelector("#energy-chart canvas");
    expect(await page.textContent(".en-share h2")).toBe("Cost share per circuit");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: artifact("energy-cost-390.png"), fullPage: true });
    await page.goto(`${demo.busbar.url}energy?view=total&period=year&at=${at}`);
    await page.waitForSelector("#energy-chart canvas");
    await page.screenshot({ path: artifact("energy-year-390.png"), fullPage: true });
    await page.goto(`${demo.busbar.url}energy?view=compare&period=month&at=${at}&a=2B2&b=2B3`);
    await page.waitForSelector("#energy-chart canvas");
    expect(await page.$eval('select[name="b"]', (s) => (s as HTMLSelectElement).value)).toBe("2B3");
    await context.close();
    const lobby = await newPage(browser, SIZES.control, { lang: "fr" });
    await lobby.page.goto(`${demo.busbar.url}energy?view=total&period=month&at=${at}&lobby=1`);
    await lobby.page.waitForSelector("#energy-chart canvas");
    expect(await lobby.page.isVisible(".topbar")).toBe(false);
    await lobby.page.screenshot({ path: artifact("energy-lobby-1920.png") });
    await lobby.context.close();
  });
});
