/**
 * The control room in practice (issue 14), journeys in Chromium against the demo building, at
 * 1920×1080 and 390 px, counting the taps each takes (printed; the counts: acknowledging
 * took 13 taps with the PIN, a setpoint 9 + 7):
 *  - trip → banner → tap → the breaker's detail → acknowledge with a preset;
 *  - select-before-operate: the confirm screen with the true state and the load at stake, the lock
 *    seen by a second session, execute, and a selection that runs out;
 *  - a setpoint: keypad starts empty, units both sides, warning when beyond the process value;
 *  - acknowledge all visible alarms with one comment (one journal row each);
 *  - the admin's simulation controls producing an alarm and a communication failure;
 *  - French pages without English state names; the English UI with English labels and journal;
 *  - the journal export honouring the filters as typed.
 * One browser, one demo for the file. Screenshots: test/artifacts/room-*.png.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artifact, launchChromium, newPage, SIZES, startDemo, until, type Demo } from "./helpers/browser.ts";

const PIN = "482913";
let demo: Demo;
let browser: Browser;
const SELECT_TIMEOUT_S = 5;

beforeAll(async () => {
  [demo, browser] = await Promise.all([
    startDemo({
      pollMs: 250,
      mutate: (raw) => {
        (raw.security as Record<string, unknown>) = { ...((raw.security as Record<string, unknown>) ?? {}), selectTimeoutSeconds: SELECT_TIMEOUT_S };
        // The comm-loss alarm after 1 s instead of 5: the test stays short.
        const alarms = (raw.alarms as Record<string, unknown>) ?? {};
        alarms.commLoss = { ...((alarms.commLoss as Record<string, unknown>) ?? {}), onDelaySeconds: 1 };
        raw.alarms = alarms;
      },
    }),
    launchChromium(),
  ]);
  await demo.busbar.auth.users.create("maint", "maintenance", "maintenance-password", PIN);
  await demo.busbar.auth.users.create("mathis", "maintenance", "second-maintenance-password");
  await demo.busbar.auth.users.create("ada", "admin", "administrator-password");
  await until("all devices polled", () => demo.busbar.supervisor.stats().every((b) => "devices" in b && (b.devices ?? []).every((d) => d.status === "ok")), 20_000);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

const rows = (type: string, source?: string) =>
  demo.busbar.db.sqlite.query(`SELECT type, actor, source, message, data FROM events WHERE type = ? ${source ? "AND source = ?" : ""} ORDER BY id`).all(...(source ? [type, source] : [type])) as {
    type: string;
    actor: string;
    source: string;
    message: string;
    data: string;
  }[];

/** Taps of a journey, counted where the test taps (page.tap on a phone, click on the desk). */
function tapper(page: Page, phone: boolean) {
  let n = 0;
  return {
    async tap(selector: string) {
      n++;
      const el = page.locator(selector).first();
      await el.waitFor({ state: "visible", timeout: 10_000 });
      if (phone) await el.tap();
      else await el.click();
    },
    get count() {
      return n;
    },
  };
}

/** The kiosk's PIN unlock (not counted in the journeys: the issue counts after unlocking). */
async function unlock(page: Page, next: string) {
  await page.goto(`${demo.busbar.url}auth/pin?next=${encodeURIComponent(next)}`);
  await page.locator("label.pin-user", { hasText: "maint" }).first().click();
  for (const d of PIN) await page.locator(`.keypad [data-key="${d}"]`).click();
  await page.locator('.pin-form button[type="submit"]').click();
  await page.waitForURL((u) => !u.pathname.startsWith("/auth/"));
}

async function login(context: BrowserContext, name: string, password: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${demo.busbar.url}auth/login?next=/`);
  await page.fill('input[name="name"]', name);
  await page.fill('input[name="password"]', password);
  await page.click('form[action="/auth/login"] button[type="submit"]');
  await page.waitForURL((u) => !u.pathname.startsWith("/auth/"));
  return page;
}

const taps: Record<string, number> = {};

describe("trip → banner → detail → acknowledge with a preset", () => {
  for (const [size, breaker] of [
    ["control", "2B3"],
    ["phone", "2B9"],
  ] as const) {
    it(`${size}: in two taps after unlocking`, { timeout: 45_000 }, async () => {
      const phone = size === "phone";
      const { page, context } = await newPage(browser, SIZES[size]);
      await unlock(page, "/");
      demo.sim.trip(breaker);
      await page.waitForFunction((b) => document.querySelector(".ab-newest")?.getAttribute("href") === `/?device=${b}`, breaker, { timeout: 10_000 });
      const t = tapper(page, phone);
      await t.tap(".ab-newest");
      await page.waitForURL(new RegExp(`device=${breaker}`));
      const alarm = page.locator(`.detail-alarm[data-alarm="${breaker}.tripped"]`);
      await alarm.waitFor({ timeout: 10_000 });
      // The state, not a raw 1; in French.
      expect(await alarm.locator(".msg").textContent()).toMatch(/: DÉCLENCHÉ$/);
      await page.screenshot({ path: artifact(`room-trip-detail-${size}.png`) });
      await t.tap(`.detail-alarm[data-alarm="${breaker}.tripped"] button[data-preset="alarm.comment.checked"]`);
      await page.waitForURL(new RegExp(`node=${breaker}`));
      await page.locator(`.detail-alarm[data-alarm="${breaker}.tripped"][data-state="ack_active"]`).waitFor({ timeout: 10_000 });
      taps[`ack-${size}`] = t.count;
      expect(t.count).toBeLessThanOrEqual(6);
      const ack = rows("alarm.ack", `${breaker}.tripped`).at(-1)!;
      expect(ack.actor).toBe("maint");
      expect(JSON.parse(ack.data).comment).toBe("Vérifié sur place");
      await page.screenshot({ path: artifact(`room-trip-acked-${size}.png`) });
      if (phone) {
        // Targets of the journey stay 48 px on the phone.
        const small = await page.$$eval(".detail-alarm .btn, .detail-close", (els) => els.map((e) => e.getBoundingClientRect()).filter((r) => r.width > 0 && (r.height < 47.5 || r.width < 47.5)).length);
        expect(small).toBe(0);
      }
      demo.sim.setBreaker(breaker, true);
      await until("back to normal", () => demo.busbar.alarms.get(`${breaker}.tripped`)!.state === "normal", 10_000);
      await context.close();
    });
  }
});

describe("select-before-operate", () => {
  it("confirm shows the true state and load; a second session sees the lock; execute; a selection runs out", { timeout: 60_000 }, async () => {
    const { page, context } = await newPage(browser, SIZES.control);
    await unlock(page, "/");
    const other = await browser.newContext({ viewport: SIZES.phone, locale: "fr-CA", hasTouch: true });
    const second = await login(other, "mathis", "second-maintenance-password");

    const t = tapper(page, false);
    await page.waitForFunction(() => document.body.dataset.link === "live", undefined, { timeout: 10_000 });
    await t.tap('.ol-wide .nd[data-id="2B4"]');
    await page.locator(".detail-commands").waitFor({ timeout: 10_000 });
    await t.tap('.detail-commands a[data-cmd="2B4.cmd_open_close=0"]');
    await page.waitForURL(/\/operate\/2B4\.cmd_open_close\?value=0/);
    // The truth: CLOSED from its status point, the load it carries, in French.
    expect(await page.locator('[data-actual="2B4.closed"]').textContent()).toBe("FERMÉ");
    const consequence = (await page.locator("[data-consequence]").textContent()) ?? "";
    expect(consequence).toMatch(/2B4 CDS-4 porte \d+(,\d+)? kW maintenant ; le départ sera mis hors tension/);
    expect(await page.locator("[data-new]").textContent()).toBe("OUVRIR");
    await t.tap('button[data-act="select"]');
    await page.locator('button[data-act="execute"]').waitFor();
    // Execute and Cancel far apart.
    const ex = (await page.locator('button[data-act="execute"]').boundingBox())!;
    const ca = (await page.locator('button[data-act="cancel"]').boundingBox())!;
    expect(ca.x - (ex.x + ex.width)).toBeGreaterThanOrEqual(48);
    await page.screenshot({ path: artifact("room-sbo-selected-1920x1080.png") });

    // The second session sees who holds it and cannot select nor execute.
    await second.goto(`${demo.busbar.url}operate/2B4.cmd_open_close?value=0`);
    expect(await second.locator("[data-selected-by]").getAttribute("data-selected-by")).toBe("maint");
    expect(await second.locator('button[data-act="select"]').count()).toBe(0);
    expect(await second.locator('button[data-act="execute"]').count()).toBe(0);
    await second.screenshot({ path: artifact("room-sbo-second-390.png"), fullPage: true });
    const refused = await second.evaluate(async () => {
      const csrf = (await (await fetch("/auth/me")).json()).csrf;
      const r = await fetch("/operate/2B4.cmd_open_close", { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: JSON.stringify({ value: 0 }) });
      return { status: r.status, body: await r.json() };
    });
    expect(refused.status).toBe(409);
    expect(refused.body.reason).toBe("other");
    await second.goto(`${demo.busbar.url}?node=2B4`);
    await second.locator(".detail-commands [data-selected-by]").waitFor({ timeout: 10_000 });
    // The symbol itself is marked on the other screen, live.
    await second.waitForFunction(() => document.querySelector('.ol-tall .nd[data-id="2B4"]')?.classList.contains("selby"), undefined, { timeout: 5000 });
    expect(demo.busbar.live.value(demo.busbar.registry.byId.get("2B4.closed")!).value).toBe(1);

    await t.tap('button[data-act="execute"]');
    await page.locator('[data-write-result="ok"]').waitFor();
    taps["sbo-open"] = t.count;
    // One tap back to the breaker's detail on the one-line.
    expect(await page.locator('a[data-act="back"]').getAttribute("href")).toBe("/?node=2B4");
    await second.waitForFunction(() => !document.querySelector('.ol-tall .nd[data-id="2B4"]')?.classList.contains("selby"), undefined, { timeout: 5000 });
    await until("2B4 opened", () => demo.busbar.live.value(demo.busbar.registry.byId.get("2B4.closed")!).value === 0, 10_000);

    // Select to close, then let it run out: the screen releases it, the journal says so, the other may select.
    // This kiosk's clock is an hour behind the server's: the countdown still shows the selection's own seconds.
    await page.clock.setSystemTime(Date.now() - 3_600_000);
    await page.goto(`${demo.busbar.url}operate/2B4.cmd_open_close?value=1`);
    expect(await page.locator('[data-actual="2B4.closed"]').textContent()).toBe("OUVERT");
    await page.click('button[data-act="select"]');
    await page.locator(".sel-countdown[data-left]").waitFor();
    expect(Number(await page.locator(".sel-countdown").getAttribute("data-left"))).toBeLessThanOrEqual(SELECT_TIMEOUT_S);
    await page.locator('button[data-act="select"]').waitFor({ timeout: 12_000 }); // reloaded after the timeout
    expect(rows("operate.timeout").length).toBeGreaterThanOrEqual(1);
    await second.goto(`${demo.busbar.url}operate/2B4.cmd_open_close?value=1`);
    await second.tap('button[data-act="select"]');
    await second.tap('button[data-act="execute"]');
    await second.locator('[data-write-result="ok"]').waitFor();
    await until("2B4 closed", () => demo.busbar.live.value(demo.busbar.registry.byId.get("2B4.closed")!).value === 1, 10_000);
    const kinds = demo.busbar.db.sqlite.query("SELECT type, actor FROM events WHERE type LIKE 'operate.%' OR type = 'point.write' ORDER BY id").all() as { type: string; actor: string }[];
    expect(kinds.map((k) => k.type)).toEqual(["operate.select", "operate.refused", "point.write", "operate.select", "operate.timeout", "operate.select", "point.write"]);
    await page.goto(`${demo.busbar.url}operate`);
    await page.screenshot({ path: artifact("room-operate-1920x1080.png") });
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    expect(height).toBeLessThan(2200); // 3,129 px before, one column of 40 buttons
    await other.close();
    await context.close();
  });

  it("a setpoint: empty keypad, units both sides, a warning when beyond the process value", { timeout: 30_000 }, async () => {
    // The building must draw more than the 150 kW typed below: the demo's load follows the time of
    // day (about 120 kW at night and on weekend evenings), so 2B1 carries a known 120 kW on top.
    const kwInstant = () => demo.busbar.live.value(demo.busbar.registry.byId.get("MICROGRID.kw_instant")!);
    const setpoint = demo.busbar.registry.byId.get("MICROGRID.shed_setpoint")!;
    const setpointBefore = demo.busbar.live.value(setpoint).value as number;
    demo.sim.setLoad("2B1", { kind: "constant", kw: 120 });
    await until("building above 170 kW", () => kwInstant().quality === "good" && (kwInstant().value as number) > 170, 10_000);
    const { page, context } = await newPage(browser, SIZES.phone);
    await unlock(page, "/");
    const t = tapper(page, true);
    await t.tap('.nav a[href="/operate"]');
    // A grid by device, the live state beside each command (not "—"), in French.
    const card = page.locator('.operate-card[data-device="2B3"]');
    expect(await card.locator(".operate-state").textContent()).toMatch(/État : (FERMÉ|OUVERT|DÉCLENCHÉ) · [\d,]+ kW/);
    await page.screenshot({ path: artifact("room-operate-390.png") });
    await t.tap('a[data-point="MICROGRID.shed_setpoint"]');
    expect(await page.locator(".keypad-display").textContent()).toBe("");
    for (const d of "150") await t.tap(`.keypad [data-key="${d}"]`);
    await t.tap('.operate-value button[type="submit"]');
    expect(await page.locator("[data-new]").textContent()).toBe("150 kW");
    expect(await page.locator(".operate-change .old").textContent()).toMatch(/kW/);
    // The demo building draws more than 150 kW: shedding would start at once.
    expect(await page.locator('[data-beyond="1"]').textContent()).toMatch(/Attention : Kw\/instantané [\d ,]+ kW maintenant/);
    await page.screenshot({ path: artifact("room-setpoint-confirm-390.png"), fullPage: true });
    await t.tap('button[data-act="execute"]');
    await page.locator('[data-write-result="ok"]').waitFor();
    taps["setpoint"] = t.count;
    // Back as it was: at 150 kW the building would shed, and its stage alarms would join the next tests'.
    demo.sim.setLoad("2B1", null);
    expect((await demo.busbar.supervisor.write(setpoint.index, setpointBefore)).ok).toBe(true);
    await context.close();
  });
});

describe("acknowledge all", () => {
  for (const size of ["control", "phone"] as const) {
    it(`${size}: every alarm shown, one comment, one journal row each`, { timeout: 40_000 }, async () => {
      const phone = size === "phone";
      const { page, context } = await newPage(browser, SIZES[size]);
      await unlock(page, "/alarms");
      const before = rows("alarm.ack").length;
      demo.sim.trip("2B5");
      demo.sim.trip("2B6");
      await until("two trips", () => ["2B5", "2B6"].every((b) => demo.busbar.alarms.get(`${b}.tripped`)!.state === "unack_active"), 10_000);
      await page.locator('[data-bulk-all="alarm.comment.working"]').waitFor({ timeout: 10_000 });
      await page.waitForFunction(() => document.querySelectorAll('tr[data-state="unack_active"]').length >= 2, undefined, { timeout: 10_000 });
      // The page's own counts follow the live summary (it was opened before the trips).
      await page.waitForFunction(() => document.querySelector(".alarm-counts .count-critical .count-n")?.textContent === "2", undefined, { timeout: 5000 });
      await page.screenshot({ path: artifact(`room-ack-all-${size}.png`), fullPage: phone });
      if (phone) expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      const t = tapper(page, phone);
      await t.tap('[data-bulk-all="alarm.comment.working"]');
      await page.locator(".flash-ok").waitFor();
      taps[`ack-all-${size}`] = t.count;
      const acks = rows("alarm.ack").slice(before);
      expect(acks.map((r) => r.source).sort()).toEqual(["2B5.tripped", "2B6.tripped"]);
      for (const r of acks) expect(JSON.parse(r.data).comment).toBe("Intervention en cours");
      demo.sim.setBreaker("2B5", true);
      demo.sim.setBreaker("2B6", true);
      await until("normal", () => ["2B5", "2B6"].every((b) => demo.busbar.alarms.get(`${b}.tripped`)!.state === "normal"), 10_000);
      await context.close();
    });
  }
});

describe("simulation controls", () => {
  it("an admin trips a breaker and makes a device answer garbage: an alarm and a communication failure, journaled", { timeout: 60_000 }, async () => {
    const context = await browser.newContext({ viewport: SIZES.control, locale: "fr-CA" });
    const page = await login(context, "ada", "administrator-password");
    // The pages satisfy the site's Content-Security-Policy (no inline script or style).
    const csp: string[] = [];
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
    });
    await page.goto(`${demo.busbar.url}sim`);
    expect(await page.locator(".sim-warning").textContent()).toContain("simulé");
    const t = tapper(page, false);
    await t.tap('button[data-sim="trip:2B7"]');
    await page.waitForURL(/ok=sim/);
    await until("2B7 trip alarm", () => demo.busbar.alarms.get("2B7.tripped")!.state === "unack_active", 10_000);
    await t.tap('button[data-sim="garbage:2B10"]');
    await until("2B10 answers garbage", () => demo.busbar.supervisor.stats().some((b) => "devices" in b && (b.devices ?? []).some((d) => d.id === "2B10" && d.status === "bad-reply")), 10_000);
    // Replies that do not parse are lost communication: its alarm comes after the on-delay.
    await until("2B10 comm-loss alarm", () => demo.busbar.alarms.get("2B10.comm-loss")?.state === "unack_active", 15_000);
    await t.tap('button[data-sim="load:2B1:ramp-over-shed"]');
    await page.screenshot({ path: artifact("room-sim-1920x1080.png"), fullPage: true });
    const sims = demo.busbar.db.sqlite.query("SELECT type, actor, data FROM events WHERE type LIKE 'sim.%' ORDER BY id").all() as { type: string; actor: string; data: string }[];
    expect(sims.map((s) => s.type)).toEqual(["sim.trip", "sim.garbage", "sim.load"]);
    expect(sims.every((s) => s.actor === "ada" && JSON.parse(s.data).simulation === true)).toBe(true);
    expect(JSON.parse(sims[2]!.data).profile.kind).toBe("ramp");
    // A GDP event from the page, as the BMS would start it: the controller's event follows.
    const gdpActive = () => demo.busbar.live.value(demo.busbar.registry.byId.get("MICROGRID.gdp_active")!).value;
    await t.tap('button[data-sim="gdp-start"]');
    await until("GDP event from the simulator", () => gdpActive() === 1, 5000);
    await page.reload();
    expect(await page.locator('[data-sim-state="gdp"]').textContent()).toMatch(/EN COURS/);
    await t.tap('button[data-sim="gdp-end"]');
    await until("GDP event ended", () => gdpActive() === 0, 5000);
    // The communication page shows the device failing.
    await page.goto(`${demo.busbar.url}comm`);
    await page.screenshot({ path: artifact("room-sim-comm-1920x1080.png"), fullPage: true });
    await page.goto(`${demo.busbar.url}?node=2B4`);
    await page.locator(".detail-commands a[data-cmd]").first().waitFor();
    await page.goto(`${demo.busbar.url}operate/2B4.cmd_open_close?value=0`);
    await page.click('button[data-act="select"]');
    await page.locator(".sel-countdown").waitFor();
    await page.click('button[data-act="cancel"]');
    expect(csp).toEqual([]);
    // Put everything back.
    await page.goto(`${demo.busbar.url}sim`);
    await page.click('button[data-sim="sane:2B10"]');
    await page.click('button[data-sim="reset:2B7"]');
    await page.click('button[data-sim="load-release:2B1"]');
    // Operators and maintenance never get there.
    const m = await browser.newContext();
    const mp = await login(m, "mathis", "second-maintenance-password");
    expect((await mp.goto(`${demo.busbar.url}sim`))!.status()).toBe(403);
    await m.close();
    await context.close();
  });
});

const ENGLISH_STATES = /\b(CLOSED|OPEN|CLOSE|TRIPPED|CHARGED|DISCHARGED|NOT READY|READY|RUNNING|STOPPED|STARTING|COOLDOWN|ON EMERGENCY|ON NORMAL|NOT AVAILABLE|AVAILABLE|FAULT|ALARM|OFF|ON|MANUAL|ISLANDED|GRID-TIED|NO REQUEST)\b/;

describe("language", () => {
  it("French pages carry no English state names; the English UI shows English labels and journal", { timeout: 60_000 }, async () => {
    const { page, context } = await newPage(browser, SIZES.control, { lang: "fr" });
    await unlock(page, "/");
    demo.sim.trip("2B12");
    await until("2B12", () => demo.busbar.alarms.get("2B12.tripped")!.state === "unack_active", 10_000);
    for (const path of ["", "points", "alarms", "operate", "?node=ATS", "?node=2B12"]) {
      await page.goto(`${demo.busbar.url}${path}`);
      await page.waitForFunction(() => document.body.dataset.link === "live", undefined, { timeout: 10_000 });
      if (path.startsWith("?")) await page.locator(".detail-inner").waitFor();
      const text = await page.evaluate(() => {
        // Text in French-marked elements only (the language toggle says "English" on purpose).
        const out: string[] = [];
        const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let n = walk.nextNode(); n; n = walk.nextNode()) {
          const el = n.parentElement;
          if (el && el.closest("[lang]")?.getAttribute("lang") === "fr" && !el.closest("code,.pt-id,small,script,.badge-write")) out.push(n.textContent ?? "");
        }
        return out.join(" ");
      });
      const hit = ENGLISH_STATES.exec(text);
      expect(hit?.[0], `English state on /${path}`).toBeUndefined();
      if (path === "?node=2B12") await page.screenshot({ path: artifact("room-fr-detail-1920x1080.png") });
    }
    // The same screens in English: English labels (not "Disjoncteur principal 5B1"), journal in English.
    const en = await browser.newContext({ viewport: SIZES.phone, locale: "en-CA", hasTouch: true });
    const ep = await login(en, "ada", "administrator-password");
    await ep.goto(`${demo.busbar.url}?node=5B1`);
    await ep.locator(".detail-inner").waitFor();
    expect(await ep.locator(".detail-inner").textContent()).toContain("Main breaker 5B1");
    expect(await ep.locator(".detail-inner").textContent()).not.toContain("Disjoncteur principal");
    await ep.screenshot({ path: artifact("room-en-detail-390.png"), fullPage: true });
    await ep.goto(`${demo.busbar.url}journal?type=alarm`);
    const msgs = await ep.locator("td.msg").allTextContents();
    expect(msgs.some((m) => /Breaker tripped/.test(m))).toBe(true);
    expect(msgs.some((m) => /déclenché|Disjoncteur principal/.test(m))).toBe(false);
    // Writes: old → new in English words and numbers (stored once, in French).
    await ep.goto(`${demo.busbar.url}journal?type=point.write`);
    const writes = (await ep.locator("td.msg").allTextContents()).join("\n");
    expect(writes).toMatch(/→ OPEN/);
    expect(writes).not.toMatch(/OUVRIR|FERMER/);
    expect(demo.busbar.db.sqlite.query("SELECT message FROM events WHERE type = 'point.write' ORDER BY id LIMIT 1").get()).toMatchObject({ message: expect.stringMatching(/→ OUVRIR/) });
    demo.sim.setBreaker("2B12", true);
    await en.close();
    await context.close();
  });
});

describe("accessibility basics", () => {
  it("Tab reaches the one-line's symbols with a visible focus, Enter opens one; priority marks ≥ 3:1; no text under 12 px", { timeout: 40_000 }, async () => {
    const { page, context } = await newPage(browser, SIZES.control, { touch: false });
    await page.goto(demo.busbar.url);
    await page.waitForFunction(() => document.body.dataset.link === "live", undefined, { timeout: 10_000 });
    let focused = "";
    for (let i = 0; i < 40 && !focused; i++) {
      await page.keyboard.press("Tab");
      focused = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.closest?.(".ol-wide .nd[data-id]")?.getAttribute("data-id") ?? "");
    }
    expect(focused).not.toBe("");
    const ring = await page.evaluate(() => getComputedStyle(document.activeElement!.querySelector(".hit")!).strokeWidth);
    expect(parseFloat(ring)).toBeGreaterThanOrEqual(3);
    await page.keyboard.press("Enter");
    await page.locator(`.detail-inner[data-node="${focused}"]`).waitFor({ timeout: 10_000 });
    // A focused button shows an outline.
    await page.locator(".detail-close").focus();
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe("none");

    // Contrast of the priority marks on the page's grey.
    const contrast = await page.evaluate(() => {
      const lum = (c: string) => {
        const [r, g, b] = c.match(/\d+/g)!.slice(0, 3).map((x) => Number(x) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
        return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
      };
      const bg = getComputedStyle(document.body).backgroundColor;
      const out: Record<string, number> = {};
      for (const p of ["critical", "high", "medium", "low"]) {
        const el = document.createElement("span");
        el.className = `prio prio-${p}`;
        el.innerHTML = '<span class="prio-glyph">■</span>';
        document.body.append(el);
        const fg = getComputedStyle(el.firstElementChild!).color;
        const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
        out[p] = (a! + 0.05) / (b! + 0.05);
        el.remove();
      }
      return out;
    });
    for (const [p, c] of Object.entries(contrast)) expect(c, p).toBeGreaterThanOrEqual(3);

    // No visible text below 12 px on the main pages.
    const small: string[] = [];
    const phone = await newPage(browser, SIZES.phone);
    for (const [pg, path] of [...["", "alarms", "comm", "points", "operate"].map((p) => [page, p] as const), [phone.page, ""] as const, [phone.page, "comm"] as const]) {
      const page = pg;
      await page.goto(`${demo.busbar.url}${path}`);
      await page.waitForFunction(() => document.body.dataset.link === "live", undefined, { timeout: 10_000 });
      small.push(
        ...(await page.evaluate((path) => {
          const out: string[] = [];
          const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          for (let n = walk.nextNode(); n; n = walk.nextNode()) {
            const el = n.parentElement;
            if (!el || !(n.textContent ?? "").trim()) continue;
            const r = el.getBoundingClientRect();
            if (r.width === 0 || getComputedStyle(el).visibility === "hidden") continue;
            const px = parseFloat(getComputedStyle(el).fontSize);
            // SVG text scales with its drawing: what counts is the size on screen.
            const svg = el instanceof SVGElement ? (el.ownerSVGElement ?? (el as unknown as SVGSVGElement)) : null;
            const scale = svg && svg.viewBox.baseVal && svg.viewBox.baseVal.width ? svg.getBoundingClientRect().width / svg.viewBox.baseVal.width : 1;
            // font-size 0 is the phone's live dot: the words stay for screen readers only.
            if (px > 0 && px * scale < 11.95) out.push(`/${path}: "${(n.textContent ?? "").trim().slice(0, 20)}" ${(px * scale).toFixed(1)} px`);
          }
          return out;
        }, path)),
      );
    }
    expect([...new Set(small)].slice(0, 15)).toEqual([]);
    // The phone's Points page keeps the Value column on the screen.
    await phone.page.goto(`${demo.busbar.url}points`);
    const value = await phone.page.locator("table.points thead th.num").boundingBox();
    expect(value && value.x + value.width <= 390).toBe(true);
    await phone.page.screenshot({ path: artifact("room-points-390.png") });
    await phone.context.close();
    await context.close();
  });
});

describe("journal export", () => {
  it("downloads with the filters as typed (not yet applied), named by the site's local date", { timeout: 30_000 }, async () => {
    const context = await browser.newContext({ viewport: SIZES.control, locale: "fr-CA", acceptDownloads: true });
    const page = await login(context, "ada", "administrator-password");
    await page.goto(`${demo.busbar.url}journal`);
    await page.selectOption('#journal-filters select[name="device"]', "2B4");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click('button[data-export="csv"]')]);
    const localDate = new Intl.DateTimeFormat("en-CA", { timeZone: demo.site.site.timezone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
    expect(download.suggestedFilename()).toBe(`busbar-journal-${localDate}.csv`);
    const csv = await (await import("node:fs/promises")).readFile((await download.path())!, "utf8");
    const lines = csv.trim().split("\r\n").slice(1);
    expect(lines.length).toBeGreaterThan(2);
    for (const l of lines) expect(l.split(",")[4]).toBe("2B4");
    await context.close();
    console.log(`taps after unlocking: ${JSON.stringify(taps)}`);
  });
});
