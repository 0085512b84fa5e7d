import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { artifact, launchChromium, newPage, SIZES, startDemo, until, type Demo } from "./helpers/browser.ts";

/**
 * The microgrid page in real Chromium, as the kiosk sees it: the why panel answers "why is the
 * building shedding" at a glance (stage, signal, rule with its thresholds), refreshed every second,
 * and a GDP event shows on every page's banner.
 */
let demo: Demo;
let browser: Browser;

beforeAll(async () => {
  // The building under its setpoint when the page opens, at any hour: the demo's load follows the
  // time of day (~326 kW at midday against the 250 kW default), and a building already shedding
  // would open on a held row instead of the rule the test then moves from.
  demo = await startDemo({ mutate: (raw) => void ((raw.microgrid as Record<string, unknown>).setpointKw = 1000) });
  browser = await launchChromium();
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

describe("microgrid page", () => {
  it("shows stage, signal and the rule that fired; follows a setpoint change live; GDP on the banner", async () => {
    const { page, context } = await newPage(browser, SIZES.control, { lang: "fr" });
    const errors: string[] = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(`${demo.busbar.url}microgrid`);
    await expect(page.locator("[data-k=rule]").innerText()).resolves.toMatch(/Dépassement|Aucune mesure/);
    await expect(page.locator("[data-k=meaning]").innerText()).resolves.toMatch(/charge permise/);
    const b = demo.busbar;
    // Start-up is not a communication loss: no interlock alarm before the BESS was ever read.
    expect(b.alarms.get("MICROGRID.bess_interlock.H")?.active ?? false).toBe(false);
    const kw = b.live.value(b.registry.byId.get("MICROGRID.kw_instant")!).value as number;
    // A setpoint 32 kW under the building's kW: row 5 (+30 kW → 60 %) within the page's refresh.
    await b.supervisor.write(b.registry.byId.get("MICROGRID.shed_setpoint")!.index, Math.round(kw - 32));
    await until("stage shown", async () => Number(await page.locator("#mg-why").getAttribute("data-stage")) >= 4, 6000);
    expect(await page.locator("[data-k=rule]").innerText()).toMatch(/ligne \d+\) → \d+ %/);
    await b.supervisor.write(b.registry.byId.get("MICROGRID.gdp_request")!.index, 1);
    await until("GDP banner", async () => ((await page.locator("#gdp-banner").innerText()) || "").includes("ÉVÉNEMENT GDP"), 8000);
    await page.screenshot({ path: artifact("microgrid-page.png") });
    await b.supervisor.write(b.registry.byId.get("MICROGRID.gdp_request")!.index, 0);
    expect(errors).toEqual([]);
    await context.close();
  }, 40_000);
});
