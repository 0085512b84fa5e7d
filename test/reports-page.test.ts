import { mkdtempSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseYaml } from "../src/config/profile.ts";
import { parseSite } from "../src/config/site.ts";
import { DEMO_SITE } from "../src/embedded.ts";
import { reportPoolPrimed } from "../src/reports/pool.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { startSimulator, type Sim } from "../src/sim/simulator.ts";
import { artifact, KIOSK, launchChromium, newPage, SIZES } from "./helpers/browser.ts";
import { waitFor } from "./helpers/peers.ts";
import { startSmtp, type SmtpPeer } from "./helpers/smtp.ts";

/**
 * /reports in Chromium on the demo (its database on disk, as the report pool reads it): an admin
 * creates a schedule through the form (journaled with its name), runs it now and a real SMTP server
 * receives the PDF; a maintenance user downloads a PDF on demand and sees no schedule form.
 */
let busbar: Busbar;
let sim: Sim;
let browser: Browser;
let smtp: SmtpPeer;
const dir = mkdtempSync(join(tmpdir(), "busbar-reports-page-"));

beforeAll(async () => {
  const site = parseSite(parseYaml(DEMO_SITE, "demo-site.yaml"), loadProfiles(), "demo-site.yaml");
  sim = startSimulator(site, { anyPort: true, host: "127.0.0.1", seed: 7 });
  busbar = await startBusbar({ site: sim.servedSite, dbPath: join(dir, "busbar.db"), httpPort: 0, httpHost: "127.0.0.1", kiosk: KIOSK, log: () => {}, sim });
  await busbar.auth.users.create("ada", "admin", "ada-password-123");
  await busbar.auth.users.create("max", "maintenance", "max-password-123");
  smtp = await startSmtp();
  busbar.notify.saveChannel(undefined, "Relais", "email", { host: "127.0.0.1", port: smtp.port, tls: "none", user: "", from: "busbar@example.org", allowSelfSigned: false }, {}, [], true);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await busbar?.stop();
  sim?.stop();
  smtp?.stop();
});

async function signedIn(name: string, password: string): Promise<{ page: Page; context: BrowserContext }> {
  const { page, context } = await newPage(browser, SIZES.control, { lang: "fr" });
  await page.goto(`${busbar.url}reports`);
  const csrf = (await context.cookies()).find((c) => c.name === "busbar_csrf")!.value;
  const login = await context.request.post(`${busbar.url}auth/login`, { form: { name, password }, headers: { accept: "application/json", "x-csrf-token": csrf } });
  expect(login.status()).toBe(200);
  await page.goto(`${busbar.url}reports`);
  return { page, context };
}

describe("/reports", () => {
  it("an admin schedules a monthly report through the form and runs it now: the PDF arrives by e-mail", async () => {
    const { page, context } = await signedIn("ada", "ada-password-123");
    await page.fill("input[name=name]", "Direction générale");
    await page.fill("input[name=recipients]", "direction@example.org");
    await page.selectOption("form[action='/reports/schedules'] select[name=format]", "pdf");
    await page.click("form[action='/reports/schedules'] button[type=submit]");
    await page.waitForURL(/ok=1/);
    expect(await page.locator("table.list tbody tr").count()).toBe(1);
    await page.screenshot({ path: artifact("reports-page.png"), fullPage: true });
    const row = busbar.db.sqlite.query("SELECT actor, message FROM events WHERE type = 'report.schedule.create'").get() as { actor: string; message: string };
    expect(row.actor).toBe("ada");
    // Edited: the form comes back filled in; the change is journaled too.
    await page.click("a[href^='/reports?edit=']");
    expect(await page.inputValue("input[name=name]")).toBe("Direction générale");
    await page.fill("input[name=recipients]", "direction@example.org, finance@example.org");
    await page.click("form[action='/reports/schedules'] button[type=submit]");
    await page.waitForURL(/ok=1/);
    expect(await page.locator("table.list tbody tr").count()).toBe(1);
    expect(await page.locator("table.list tbody").innerText()).toContain("direction@example.org, finance@example.org");
    expect((busbar.db.sqlite.query("SELECT actor FROM events WHERE type = 'report.schedule.update'").get() as { actor: string }).actor).toBe("ada");
    await page.click("form[action$='/run'] button");
    await page.waitForURL(/ok=1/);
    await waitFor("report mail", () => smtp.messages.length === 1, 15_000, 100);
    const m = smtp.messages[0]!;
    expect(m.to.sort()).toEqual(["direction@example.org", "finance@example.org"]);
    expect(m.data).toMatch(/Content-Type: application\/pdf;\s+name=Edifice-de-demonstration-Quebec-general-\d{4}-\d{2}\.pdf/);
    expect((busbar.db.sqlite.query("SELECT actor FROM events WHERE type = 'report.run'").get() as { actor: string }).actor).toBe("ada");
    await context.close();
  }, 60_000);

  it("maintenance downloads a PDF on demand and has no schedule form", async () => {
    // The server primed the report pool before it listened (test/reports.test.ts measures what it saves).
    expect(await reportPoolPrimed()).toBe(true);
    const { page, context } = await signedIn("max", "max-password-123");
    expect(await page.locator("form[action='/reports/schedules']").count()).toBe(0);
    await page.selectOption("form[action='/reports/report.pdf'] select[name=kind]", "detailed");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("form[action='/reports/report.pdf'] button[type=submit]")]);
    const file = join(dir, "on-demand.pdf");
    await download.saveAs(file);
    expect(readFileSync(file).subarray(0, 5).toString()).toBe("%PDF-");
    expect(spawnSync("pdftotext", [file, "-"], { encoding: "utf8" }).stdout).toContain("Rapport énergétique détaillé");
    expect((busbar.db.sqlite.query("SELECT actor FROM events WHERE type = 'report.download'").get() as { actor: string }).actor).toBe("max");
    await context.close();
  }, 60_000);

  it("Busbar restarted after missing three months sends the monthly report once, and not again at the next start", async () => {
    const start = () => startBusbar({ site: sim.servedSite, dbPath: join(dir, "busbar.db"), httpPort: 0, httpHost: "127.0.0.1", kiosk: KIOSK, log: () => {}, sim });
    const id = busbar.reports!.list()[0]!.id;
    await busbar.stop();
    // Down since before the last three month ends: the schedule last sent four months ago.
    const { Database } = await import("bun:sqlite");
    const db = new Database(join(dir, "busbar.db"));
    const s = busbar.reports!;
    let old = s.lastComplete("monthly", Date.now());
    for (let k = 0; k < 3; k++) old = s.periodStart("monthly", old - 1);
    db.run("UPDATE report_schedules SET last_period = ? WHERE id = ?", [old, id]);
    db.close();
    const before = smtp.messages.length;
    busbar = await start();
    await waitFor("the late report", () => smtp.messages.length === before + 1, 20_000, 100);
    const row = busbar.db.sqlite.query("SELECT message FROM events WHERE type = 'report.queued' ORDER BY id DESC LIMIT 1").get() as { message: string };
    expect(row.message).toContain("(2 période(s) antérieure(s) non envoyée(s))");
    await busbar.stop();
    busbar = await start();
    await new Promise((r) => setTimeout(r, 2000));
    expect(smtp.messages.length).toBe(before + 1);
  }, 60_000);
});
