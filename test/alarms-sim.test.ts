/**
 * Alarms against the simulated demo building, polled by the real bus workers, seen in Chromium:
 *  - a feeder trip shows as a critical alarm on the banner within 2 s, and the horn flag is set;
 *  - maintenance unlocks the kiosk with the on-screen PIN pad and acknowledges with a comment;
 *    the journal has the activation and the acknowledgement;
 *  - deadband and on-delay keep a value oscillating around a limit from chattering;
 *  - a shelved alarm stays quiet (no banner, no horn) and comes back when its time runs out.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseYaml } from "../src/config/profile.ts";
import { parseSite } from "../src/config/site.ts";
import { DEMO_SITE } from "../src/embedded.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { startSimulator, type Sim } from "../src/sim/simulator.ts";
import { waitFor } from "./helpers/peers.ts";

const PIN = "731946";
let sim: Sim;
let busbar: Busbar;
let browser: Browser;
let page: Page;

/** The demo site, polled faster, with the test's analog alarms. */
function testSite() {
  const raw = parseYaml(DEMO_SITE, "demo-site.yaml") as { devices: { pollMs?: number }[]; alarms: { points: unknown[] } };
  for (const d of raw.devices) d.pollMs = 250;
  raw.alarms.points = [
    // Deadband: 60.4 is inside it, so 60.6 ↔ 60.4 is one alarm, not one per swing.
    { point: "5B1.frequency", h: { value: 60.5, priority: "high" }, deadband: 0.2 },
    // On-delay: excursions of 1 s never last the 3 s the condition must hold.
    { point: "2B1.p_total", h: { value: 100, priority: "medium" }, onDelaySeconds: 3 },
  ];
  return parseSite(raw, loadProfiles(), "demo-site.yaml");
}

beforeAll(async () => {
  sim = startSimulator(testSite(), { anyPort: true, host: "127.0.0.1", tickMs: 100 });
  const dir = mkdtempSync(join(tmpdir(), "busbar-alarms-sim-"));
  busbar = await startBusbar({
    site: sim.servedSite,
    dbPath: join(dir, "busbar.db"),
    httpPort: 0,
    httpHost: "127.0.0.1",
    kiosk: ["127.0.0.1", "::1", "::ffff:127.0.0.1"],
    log: () => {},
  });
  await busbar.auth.users.create("maint", "maintenance", "maintenance-password", PIN);
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
  });
  page = await browser.newPage();
  // Every device answering first: no communication-loss alarm in the way.
  await waitFor("all devices polled", () => busbar.supervisor.stats().every((b) => "devices" in b && (b.devices ?? []).every((d) => d.status === "ok")), 20_000, 100);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await busbar?.stop();
  sim?.stop();
});

const banner = (p: Page) =>
  p.evaluate(() => {
    const b = document.getElementById("alarm-banner")!;
    return { critical: Number(b.dataset.critical ?? 0), state: b.dataset.state, horn: document.documentElement.dataset.horn, text: b.textContent ?? "" };
  });

const rows = (type: string, source?: string) =>
  busbar.db.sqlite
    .query(`SELECT type, actor, message, data FROM events WHERE type = ? ${source ? "AND source = ?" : ""} ORDER BY id`)
    .all(...(source ? [type, source] : [type])) as { type: string; actor: string; message: string; data: string }[];

describe("feeder trip in the browser", () => {
  it("raises a critical alarm on the banner within 2 s, sounds the horn; maintenance acknowledges with a comment", { timeout: 45_000 }, async () => {
    await page.goto(busbar.url + "alarms");
    await page.waitForFunction(() => document.getElementById("alarm-banner")?.dataset.state === "none", null, { timeout: 10_000 });

    const t0 = Date.now();
    sim.trip("2B3");
    await page.waitForFunction(() => document.getElementById("alarm-banner")?.dataset.critical === "1", null, { timeout: 5000 });
    const elapsed = Date.now() - t0;
    console.log(`feeder trip → banner: ${elapsed} ms`);
    expect(elapsed).toBeLessThan(2000);
    const b = await banner(page);
    expect(b.horn).toBe("on");
    expect(b.text).toContain("CDS-7");
    expect(b.state).toBe("unacked");

    // The kiosk sees the alarm but no acknowledge button: it unlocks with the PIN pad.
    await page.waitForSelector('tr[data-alarm="2B3.tripped"]', { timeout: 5000 });
    expect(await page.locator('tr[data-alarm="2B3.tripped"] form[data-alarm-action="ack"]').count()).toBe(0);
    await page.locator('tr[data-alarm="2B3.tripped"] a[href^="/auth/pin"]').click();
    await page.waitForURL(/\/auth\/pin/);
    await page.locator("label.pin-user", { hasText: "maint" }).click();
    for (const d of PIN) await page.locator(`.keypad [data-key="${d}"]`).click();
    expect(await page.locator(".keypad-display").textContent()).toBe("••••••");
    await page.locator('.pin-form button[type="submit"]').click();
    await page.waitForURL(/\/alarms/);

    const form = page.locator('tr[data-alarm="2B3.tripped"] form[data-alarm-action="ack"]');
    await form.locator('input[name="comment"]').fill("Vérifié sur place, réarmement à 14 h");
    await form.locator('button[data-ack="plain"]').click();
    await page.waitForSelector(".flash-ok", { timeout: 5000 });
    await page.waitForFunction(() => document.documentElement.dataset.horn === "off", null, { timeout: 5000 });
    expect((await banner(page)).state).toBe("active");

    const active = rows("alarm.active", "2B3.tripped");
    const acks = rows("alarm.ack", "2B3.tripped");
    expect(active).toHaveLength(1);
    expect(acks).toHaveLength(1);
    expect(acks[0]!.actor).toBe("maint");
    expect(JSON.parse(acks[0]!.data).comment).toBe("Vérifié sur place, réarmement à 14 h");
    expect(busbar.alarms.get("2B3.tripped")!.state).toBe("ack_active");

    sim.setBreaker("2B3", true);
    await waitFor("2B3 back to normal", () => busbar.alarms.get("2B3.tripped")!.state === "normal", 5000);
    await page.waitForFunction(() => document.getElementById("alarm-banner")?.dataset.state === "none", null, { timeout: 5000 });
  });
});

describe("chatter", () => {
  it("deadband: a frequency swinging 60.6 ↔ 60.4 around its 60.5 Hz limit is one alarm, not one per swing", { timeout: 30_000 }, async () => {
    for (let k = 0; k < 8; k++) {
      sim.setValue("5B1", "frequency", k % 2 ? 60.4 : 60.6);
      await Bun.sleep(700);
    }
    expect(rows("alarm.active", "5B1.frequency.H")).toHaveLength(1);
    expect(rows("alarm.rtn", "5B1.frequency.H")).toHaveLength(0);
    sim.setValue("5B1", "frequency", null);
    await waitFor("frequency back", () => busbar.alarms.get("5B1.frequency.H")!.state === "unack_rtn", 5000);
    busbar.alarms.ack("5B1.frequency.H", "test");
  });

  it("on-delay: a feeder load swinging across its limit every second never raises", { timeout: 30_000 }, async () => {
    for (let k = 0; k < 8; k++) {
      sim.setValue("2B1", "p_total", k % 2 ? 80 : 120);
      await Bun.sleep(1000);
    }
    expect(rows("alarm.active", "2B1.p_total.H")).toHaveLength(0);
    // Held past the delay, it does raise.
    sim.setValue("2B1", "p_total", 120);
    await waitFor("lasting excursion raises", () => rows("alarm.active", "2B1.p_total.H").length === 1, 6000);
    sim.setValue("2B1", "p_total", null);
    await waitFor("load back", () => busbar.alarms.get("2B1.p_total.H")!.state === "unack_rtn", 5000);
    busbar.alarms.ack("2B1.p_total.H", "test");
  });
});

describe("shelving", () => {
  it("a shelved alarm stays quiet and returns after its time", { timeout: 30_000 }, async () => {
    await page.goto(busbar.url + "alarms");
    await page.waitForFunction(() => document.getElementById("alarm-banner")?.dataset.state === "none", null, { timeout: 10_000 });
    expect(busbar.alarms.shelve("2B5.tripped", "maint", 0.1).ok).toBe(true); // 6 s
    sim.trip("2B5");
    await waitFor("2B5 trip seen", () => busbar.alarms.get("2B5.tripped")!.state === "unack_active", 5000);
    await Bun.sleep(500);
    let b = await banner(page);
    expect(b.critical).toBe(0);
    expect(b.horn).not.toBe("on");
    expect(await page.locator("caption", { hasText: /attente|Shelved/ }).count()).toBeGreaterThan(0);
    await page.waitForFunction(() => document.getElementById("alarm-banner")?.dataset.critical === "1", null, { timeout: 10_000 });
    b = await banner(page);
    expect(b.horn).toBe("on");
    expect(rows("alarm.unshelve", "2B5.tripped")).toHaveLength(1);
    sim.setBreaker("2B5", true);
  });
});
