import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { launchChromium, newPage, SIZES, startDemo, until, type Demo } from "./helpers/browser.ts";

/**
 * Issue 9 items 3, 5 and 6 in headless Chromium against the demo building: the redirects the report
 * used never leave the site, every page is served with a Content-Security-Policy that it satisfies
 * (no violation reported), and the logout form works with scripts off.
 */

let demo: Demo;
let browser: Browser;
const PASSWORD = "correct horse battery";

beforeAll(async () => {
  [demo, browser] = await Promise.all([startDemo(), launchChromium()]);
  await demo.busbar.auth.users.create("root", "admin", PASSWORD);
  await until("first poll", () => demo.busbar.live.value(demo.busbar.registry.byId.get("5B1.p_total")!).quality === "good", 15_000);
});

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

async function signIn(page: Page): Promise<void> {
  await page.goto(`${demo.busbar.url}auth/login`);
  await page.fill('input[name="name"]', "root");
  await page.fill('input[name="password"]', PASSWORD);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/auth/login")), page.click('form[action="/auth/login"] button[type="submit"]')]);
}

describe("open redirects (item 3)", () => {
  it("the report's /lang URL, a login next and an alarm back stay on the site", async () => {
    const { page, context } = await newPage(browser, SIZES.control);
    const origin = new URL(demo.busbar.url).origin;
    const requested: string[] = [];
    page.on("request", (r) => requested.push(r.url()));
    const lang = await page.goto(`${demo.busbar.url}lang/en?back=/%09/evil.example:28099/phish.html`);
    expect(lang!.status()).toBe(400);
    expect(new URL(page.url()).origin).toBe(origin);
    await page.goto(`${demo.busbar.url}lang/en?back=//evil.example:28099/phish.html`);
    expect(page.url()).toBe(`${origin}/`);
    await page.goto(`${demo.busbar.url}lang/en?back=/\\evil.example:28099/phish.html`);
    expect(new URL(page.url()).origin).toBe(origin);
    const login = await page.goto(`${demo.busbar.url}auth/login?next=/%09/evil.example:28099/phish.html`);
    expect(login!.status()).toBe(400);
    // A login form whose `next` a hostile link filled with "/\t/host": refused, no session.
    await page.goto(`${demo.busbar.url}auth/login`);
    await page.evaluate(() => {
      const n = document.querySelector<HTMLInputElement>('input[name="next"]');
      if (n) n.value = "/\t/evil.example:28099/phish.html";
    });
    await page.fill('input[name="name"]', "root");
    await page.fill('input[name="password"]', PASSWORD);
    const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/auth/login") && r.request().method() === "POST"), page.click('form[action="/auth/login"] button[type="submit"]')]);
    expect(res.status()).toBe(400);
    expect(new URL(page.url()).origin).toBe(origin);
    expect((await context.cookies()).some((c) => c.name === "busbar_session")).toBe(false);
    // Signed in: an alarm action posted with back="/\t/host" is refused before it runs.
    await signIn(page);
    await page.goto(`${demo.busbar.url}alarms`);
    const silences = demo.busbar.journal.list({ type: "alarm.silence" }, 100).length;
    const status = await page.evaluate(async () => {
      const csrf = document.querySelector<HTMLInputElement>('input[name="_csrf"]')?.value ?? "";
      const r = await fetch("/alarms/silence", { method: "POST", body: new URLSearchParams({ _csrf: csrf, back: "/\t/evil.example:28099/phish.html" }), redirect: "manual" });
      return r.status;
    });
    expect(status).toBe(400);
    expect(demo.busbar.journal.list({ type: "alarm.silence" }, 100).length).toBe(silences);
    expect(requested.filter((u) => new URL(u).hostname === "evil.example")).toEqual([]);
    await context.close();
  });
});

describe("Content-Security-Policy (item 5)", () => {
  it("every page is served with it and reports no violation", async () => {
    const { page, context } = await newPage(browser, SIZES.control);
    await page.addInitScript(() => {
      (window as unknown as { cspViolations: string[] }).cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) =>
        (window as unknown as { cspViolations: string[] }).cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
      );
    });
    const consoleCsp: string[] = [];
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) consoleCsp.push(`${page.url()}: ${m.text()}`);
    });
    const check = async (path: string) => {
      const res = await page.goto(`${demo.busbar.url}${path.replace(/^\//, "")}`);
      expect(res!.headers()["content-security-policy"], path).toMatch(/script-src 'self'/);
      await page.waitForLoadState("load");
      await page.waitForTimeout(400);
      const v = await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations);
      expect(v, path).toEqual([]);
    };
    await check("/auth/login");
    await signIn(page);
    const point = [...demo.busbar.registry.points].find((p) => p.writable && p.kind === "analog")!.id;
    for (const path of ["/", "/trends?p=5B1.p_total,5B1.frequency", "/alarms", "/alarms/history", "/comm", "/points", "/journal", "/operate", `/operate/${point}`, `/operate/${point}?value=1`, "/admin", "/admin/alarms", "/users", "/account", "/admin/journal/verify", "/auth/pin"])
      await check(path);
    // A detail panel (htmx swap) on the one-line diagram.
    await page.goto(demo.busbar.url);
    const sym = await page.$("[data-device]");
    if (sym) {
      await sym.click().catch(() => {});
      await page.waitForTimeout(800);
    }
    expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([]);
    expect(consoleCsp).toEqual([]);
    await context.close();
  }, 90_000);
});

describe("logout (item 6)", () => {
  it("works with scripts off: the served form carries its token", async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: SIZES.control });
    const page = await context.newPage();
    await signIn(page);
    await page.goto(`${demo.busbar.url}points`);
    const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/auth/logout")), page.click("form.user-logout button")]);
    expect(res.status()).toBe(303);
    await page.waitForURL((u) => u.pathname === "/auth/login" || u.pathname === "/");
    expect((await context.cookies()).some((c) => c.name === "busbar_session")).toBe(false);
    await context.close();
  });
});
