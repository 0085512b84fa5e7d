import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { readFileSync } from "node:fs";
import { Quality } from "../src/points/quality.ts";
import { artifact, launchChromium, newPage, SIZES, startDemo, until, waitLive, type Demo } from "./helpers/browser.ts";

/**
 * Trends over the historian in Chromium: a week of 5B1's power backfilled (with a 2-hour comm
 * loss), then the week range (15-minute means with their band, the loss drawn as a gap), the year,
 * a custom from/to, the CSV of the view in French, French tick numbers, and the detail panel's
 * trend going back a week. Screenshots: test/artifacts/trends-week-*.png, oneline-detail-week.png.
 */

let demo: Demo;
let browser: Browser;
const DAY = 86_400_000;
let gapFrom = 0;

beforeAll(async () => {
  [demo, browser] = await Promise.all([startDemo(), launchChromium()]);
  await until("first poll", () => demo.busbar.live.value(demo.busbar.registry.byId.get("5B1.p_total")!).quality === "good", 15_000);
  // A week of history for 5B1.p_total, one sample a minute: a daily sine, and a comm loss 3 days ago.
  const h = demo.busbar.history!.historian;
  const i = demo.busbar.registry.byId.get("5B1.p_total")!.index;
  const now = Date.now();
  const start = Math.floor((now - 7 * DAY) / 60_000) * 60_000;
  gapFrom = start + 4 * DAY;
  for (let t = start; t < now - 120_000; t += 60_000) {
    const bad = t >= gapFrom && t < gapFrom + 2 * 3_600_000;
    h.enqueue(i, t, bad ? null : 200 + 50 * Math.sin((2 * Math.PI * t) / DAY), bad ? Quality.COMM_FAIL : Quality.GOOD);
  }
  h.flush();
});

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

type Ctl = { info: () => { tier: string }; view: () => [number, number]; data: () => (number | null)[][]; bands: () => (number | null)[][][] };
const ctl = (page: import("playwright-core").Page) =>
  page.evaluate(() => {
    const c = (window as unknown as { BusbarTrendLast: Ctl }).BusbarTrendLast;
    const [xs, ys] = c.data();
    const [mins, maxs] = c.bands();
    return { tier: c.info().tier, view: c.view(), xs: xs!, ys: ys!, mins: mins![0]!, maxs: maxs![0]! };
  });

describe("trends over the historian", () => {
  it("shows a week as 15-minute means with a min–max band and the comm loss as a gap, then a year, a custom range and its CSV", async () => {
    const { page, context } = await newPage(browser, SIZES.control);
    await page.goto(`${demo.busbar.url}trends?p=5B1.p_total,5B1.frequency`);
    await waitLive(page);
    await page.waitForSelector('#trend-chart[data-ready="1"]');
    // French tick numbers on the Hz axis (decimal comma), in the live window.
    await until("Hz ticks", async () => (await page.$$eval(".u-axis", (els) => els.length)) === 3);
    await page.click('.tr-range[data-range="week"]');
    await page.waitForFunction(() => document.querySelector(".tr-tier")?.getAttribute("data-tier") === "15m", undefined, { timeout: 10_000 });
    expect(await page.$eval(".tr-tier", (el) => el.textContent)).toBe("moyennes 15 min · bande min–max");
    expect(await page.$eval('.tr-range[data-range="week"]', (el) => el.getAttribute("aria-pressed"))).toBe("true");
    expect(page.url()).toContain("r=week");
    const w = await ctl(page);
    expect(w.tier).toBe("15m");
    expect(w.view[1] - w.view[0]).toBeCloseTo(7 * 86_400, -1);
    // Bands around the means, and the 2-hour loss as nulls (never a line across it).
    // The second bucket with data: the first may hold a single sample (history starts inside it), so no width.
    const k = w.ys.findIndex((y, j) => y !== null && j > w.ys.findIndex((v) => v !== null));
    expect(w.mins[k]!).toBeLessThanOrEqual(w.ys[k]!);
    expect(w.maxs[k]!).toBeGreaterThanOrEqual(w.ys[k]!);
    expect(w.maxs[k]! - w.mins[k]!).toBeGreaterThan(0);
    const inGap = w.xs.map((x, j) => [x! * 1000, w.ys[j]] as const).filter(([t]) => t >= gapFrom + 15 * 60_000 && t < gapFrom + 105 * 60_000);
    expect(inGap.length).toBeGreaterThan(4);
    expect(inGap.filter(([, y]) => y !== null).map(([t, y]) => [new Date(t).toISOString(), y, new Date(gapFrom).toISOString()])).toEqual([]);
    // Tick labels (drawn on the canvas) come from the axis formatter: French numbers.
    const ticks = await page.evaluate(() => {
      const u = (window as unknown as { BusbarTrendLast: { chart: { axes: { values: (...a: unknown[]) => string[] }[] } } }).BusbarTrendLast.chart;
      return [u.axes[2]!.values(u, [59.95, 60, 60.05], 2, 50, 0.05), u.axes[1]!.values(u, [1000, 1500, 2000], 1, 50, 500)];
    });
    expect(ticks[0]).toEqual(["59,95", "60,00", "60,05"]);
    expect(ticks[1]!.map((t) => t.replace(/\s/g, " "))).toEqual(["1 000", "1 500", "2 000"]);
    await page.screenshot({ path: artifact("trends-week-1920x1080.png") });

    // CSV of the view: French separators, the pens by name, the band columns, one row per interval shown.
    const [download] = await Promise.all([page.waitForEvent("download"), page.click('[data-act="csv"]')]);
    const csv = readFileSync((await download.path())!, "utf8");
    const lines = csv.replace(/^\ufeff/, "").trim().split("\r\n");
    expect(lines[0]).toMatch(/^Heure \(America\/Toronto\);Disjoncteur principal 5B1 · Puissance active totale \(kW\);.*min;.*max;/);
    expect(lines.length - 1).toBeGreaterThan(600);
    expect(lines.find((l) => /;2\d\d,\d/.test(l))).toBeDefined();

    // A year: daily means.
    await page.click('.tr-range[data-range="year"]');
    await page.waitForFunction(() => document.querySelector(".tr-tier")?.getAttribute("data-tier") === "1d", undefined, { timeout: 10_000 });

    // Custom from/to with the date-time pickers: 5 days ago to 4 days ago, in the site's time zone.
    await page.click('.tr-range[data-range="custom"]');
    expect(await page.isVisible(".tr-custom")).toBe(true);
    const local = (ms: number) => {
      const o = Object.fromEntries(
        new Intl.DateTimeFormat("en-CA", { timeZone: "America/Toronto", hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" })
          .formatToParts(new Date(ms))
          .map((p) => [p.type, p.value]),
      );
      return `${o.year}-${o.month}-${o.day}T${o.hour}:${o.minute}`;
    };
    const a = Math.floor((Date.now() - 5 * DAY) / 60_000) * 60_000;
    const b = a + DAY;
    await page.fill('.tr-custom input[name="from"]', local(a));
    await page.fill('.tr-custom input[name="to"]', local(b));
    await page.click('.tr-custom button[type="submit"]');
    await page.waitForFunction((x) => {
      const c = (window as unknown as { BusbarTrendLast: Ctl }).BusbarTrendLast;
      return Math.abs(c.view()[0] - x / 1000) < 1 && document.querySelector("#trend-chart")?.getAttribute("data-ready") === "1";
    }, a);
    expect(await page.$eval(".tr-mode", (el) => el.getAttribute("data-mode"))).toBe("paused");
    expect(page.url()).toContain(`from=${a}`);
    await page.screenshot({ path: artifact("trends-custom-1920x1080.png") });
    await context.close();
  });

  it("takes the detail panel's trend back a week", async () => {
    const { page, context } = await newPage(browser, SIZES.control);
    // This kiosk's clock is an hour behind the server's: the live trend still ends at the server's now.
    await page.clock.setSystemTime(Date.now() - 3_600_000);
    await page.goto(demo.busbar.url);
    await waitLive(page);
    await page.click('.ol-wide .nd[data-id="5B1"]');
    await page.waitForSelector('#detail .mini-trend[data-ready="1"] canvas', { timeout: 10_000 });
    expect(await page.$eval("#detail .mini-trend", (el) => el.getAttribute("data-trend"))).toBe("5B1.p_total");
    const liveEnd = await page.evaluate(() => (window as unknown as { BusbarTrendLast: Ctl }).BusbarTrendLast.view()[1]!);
    expect(Math.abs(liveEnd * 1000 - Date.now())).toBeLessThan(5_000);
    await page.click('#detail [data-trend-range="week"]');
    await page.waitForFunction(() => document.querySelector("#detail .mini-trend")?.getAttribute("data-tier") === "15m", undefined, { timeout: 10_000 });
    expect(await page.$eval('#detail [data-trend-range="week"]', (el) => el.getAttribute("aria-pressed"))).toBe("true");
    await page.screenshot({ path: artifact("oneline-detail-week.png") });
    await context.close();
  });
});
