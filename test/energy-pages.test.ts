import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { Flag, INTERVAL_MS, type Interval } from "../src/energy/counters.ts";
import { artifact, launchChromium, newPage, SIZES, startDemo, type Demo } from "./helpers/browser.ts";

/**
 * The energy pages on the demo building, in Chromium, over a month of stored intervals: the
 * previous month (complete, untouched by the live feed) with a 2-hour gap on 2B6, a held spike
 * on 2B2 and three hours of the 20th that no meter reached. Screenshots in test/artifacts/energy-*.png.
 */
let demo: Demo;
let browser: Browser;
let at = "";
let expectedHead = 0;
/** The local day holding 2B6's estimated interval. */
let estDay = "";
/** The local day with three hours no meter reached (03:00–06:00). */
let holeDay = "";

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
  const ep = clock.parts(from + 10 * 86_400_000);
  estDay = `${ep.year}-${String(ep.month).padStart(2, "0")}-${String(ep.day).padStart(2, "0")}`;
  holeDay = `${y}-${String(m).padStart(2, "0")}-20`;
  const holeFrom = clock.fromLocal(y, m, 20) + 3 * 3_600_000;
  const inHole = (ts: number) => ts >= holeFrom && ts < holeFrom + 3 * 3_600_000;
  const perMeter = new Map<string, Interval[]>();
  let sum = 0;
  let k = 0;
  for (const meter of e.service.meters) {
    if (meter.head || meter.excluded) continue;
    const ivs: Interval[] = [];
    const base = 4 + (k++ % 5) * 3; // kWh per interval, steady per feeder
    for (let ts = from; ts < to; ts += INTERVAL_MS) {
      if (inHole(ts)) continue;
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
  const byTs = [...perMeter.values()].map((ivs) => new Map(ivs.map((iv) => [iv.ts, iv.value])));
  for (let ts = from; ts < to; ts += INTERVAL_MS) {
    if (inHole(ts)) continue;
    let s = 0;
    for (const values of byTs) s += values.get(ts)!;
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
    // Circuit colours reach the table despite the CSP (no inline style attributes): set by script.
    expect(await page.$eval(".en-dot", (el) => getComputedStyle(el).backgroundColor)).not.toBe("rgba(0, 0, 0, 0)");
    await page.screenshot({ path: artifact("energy-month-1920.png") });
    // CSV of what is on screen: one row per day plus the header.
    const csv = await (await page.request.get(url.replace("/energy?", "/api/energy/view.csv?"))).text();
    const lines = csv.trim().split("\r\n");
    const days = new Date(Date.UTC(Number(at.slice(0, 4)), Number(at.slice(5, 7)), 0)).getUTCDate();
    expect(lines.length).toBe(days + 1);
    expect(lines[0]).toContain("CVC (kWh)");
    expect(csv).toContain("bad");
    expect(csv).toContain("estimated");
    // Every day of the month has data (the 20th only in part): no missing note.
    expect(await page.$(".en-missing")).toBeNull();
    // The 20th by hour: three hours no meter reached are named, not silently left out of the total.
    await page.goto(`${demo.busbar.url}energy?view=total&period=day&at=${holeDay}`);
    await page.waitForSelector("#energy-chart canvas");
    expect(await page.textContent(".en-missing")).toMatch(/Aucune donnée pour 3 des 24 heures écoulées/);
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
    // A day by hour of one feeder, and the zones (overlapping: lines, not stacks), at full size.
    const big = await newPage(browser, SIZES.control, { lang: "en" });
    await big.page.goto(`${demo.busbar.url}energy?view=details&period=day&at=${estDay}&a=2B6`);
    await big.page.waitForSelector("#energy-chart canvas");
    expect(await big.page.textContent(".en-quality")).toMatch(/estimated/);
    await big.page.screenshot({ path: artifact("energy-day-details-1920.png") });
    await big.page.goto(`${demo.busbar.url}energy?view=partial&group=zones&period=month&at=${at}`);
    await big.page.waitForSelector("#energy-chart canvas");
    await big.page.screenshot({ path: artifact("energy-zones-1920.png") });
    // The zones' cost is that of the consumption shown (not 0), and the held spike is named once.
    expect(await big.page.textContent(".en-headline")).not.toContain("$0.00");
    expect(await big.page.textContent(".en-quality")).toMatch(/^9,000 kWh of bad data/);
    await big.context.close();
    const lobby = await newPage(browser, SIZES.control, { lang: "fr" });
    await lobby.page.goto(`${demo.busbar.url}energy?view=total&period=month&at=${at}&lobby=1`);
    await lobby.page.waitForSelector("#energy-chart canvas");
    expect(await lobby.page.isVisible(".topbar")).toBe(false);
    await lobby.page.screenshot({ path: artifact("energy-lobby-1920.png") });
    await lobby.context.close();
  }, 90_000);

  it("admin: the energy YAML is checked like the site file, warned before saving, repriced from a date (journaled)", async () => {
    const bb = demo.busbar;
    const u = bb.auth.users.byName("admin-e") ?? (await bb.auth.users.create("admin-e", "admin", "password-of-admin"));
    const { token, session } = bb.auth.sessions.create(u.id, "password", "admin", "10.9.9.9", 600_000, 3_600_000);
    const call = (method: string, path: string, body?: unknown, csrf = session.csrf) =>
      bb.app.fetch(
        new Request(`http://busbar.test${path}`, { method, headers: { host: "busbar.test", accept: "application/json", "content-type": "application/json", cookie: `busbar_session=${token}`, "x-csrf-token": csrf }, body: body === undefined ? undefined : JSON.stringify(body) }),
        { requestIP: () => ({ address: "10.9.9.9", family: "IPv4", port: 50000 }) },
      );
    const page = await call("GET", "/admin/energy");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("TH40C.energy_import");
    const { stringify } = await import("yaml");
    const energy = structuredClone(demo.site.energy) as typeof demo.site.energy;
    // The vendor's weekday bands only: the weekend has no tariff.
    energy.costs[0]!.rules = [
      { tariff: "energy", time: { from: "00:00", to: "18:59" }, days: ["mon", "tue", "wed", "thu", "fri"], repeatYearly: false },
      { tariff: "energy", time: { from: "19:00", to: "23:59" }, days: ["mon", "tue", "wed", "thu", "fri"], repeatYearly: false },
    ];
    const check = await (await call("POST", "/admin/energy", { yaml: stringify(energy) })).json();
    expect(check.errors).toEqual([]);
    expect(check.warnings[0].message).toMatch(/sat 00:00–sun 23:59/);
    expect((await call("POST", "/admin/energy", { yaml: stringify(energy), save: true })).status).toBe(409);
    const bad = structuredClone(energy);
    (bad.meters[3] as { circuit: string }).circuit = "sauna";
    const refused = await call("POST", "/admin/energy", { yaml: stringify(bad), save: true, confirm: true });
    expect(refused.status).toBe(400);
    expect((await refused.json()).errors[0].path).toBe("energy.meters[3].circuit");
    // Saved, and costs recomputed from the 1st of the stored month: weekend days lose their cost.
    const saved = await (await call("POST", "/admin/energy", { yaml: stringify(energy), save: true, confirm: true, recomputeFrom: at.slice(0, 8) + "01" })).json();
    expect(saved.saved).toBe(true);
    expect(saved.repriced).toBeGreaterThan(1000);
    const view = await (await call("GET", `/api/energy/view?view=total&period=month&at=${at}`)).json();
    expect(view.total.cost).toBeNull(); // some consumption now has no tariff: no made-up total
    const types = (bb.db.sqlite.query("SELECT type, actor FROM events WHERE type IN ('energy.reprice', 'energy.config') ORDER BY id").all() as { type: string; actor: string }[]);
    expect(types).toEqual([
      { type: "energy.reprice", actor: "admin-e" },
      { type: "energy.config", actor: "admin-e" },
    ]);
    // Without the CSRF token, nothing.
    expect((await call("POST", "/admin/energy", { yaml: stringify(energy), save: true, confirm: true }, "x")).status).toBe(403);
  });
});
