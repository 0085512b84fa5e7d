import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { startSimulator, type Sim } from "../src/sim/simulator.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { waitFor } from "./helpers/peers.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseYaml } from "../src/config/profile.ts";
import { parseBacnetProfile } from "../src/protocols/bacnet/profile.ts";
import { bacnetAsProfile } from "../src/config/bacnet-profile.ts";
import { artifact, launchChromium, newPage, SIZES } from "./helpers/browser.ts";

/**
 * The simulated Socomec UPS on BACnet/IP through the whole stack: supervised BACnet worker → shared
 * table → live view → alarms and pages. factor_10 and −1 as the seed says, COV on input loss,
 * comm-fail within a poll period plus timeout when the UPS stops, and back by itself.
 */

const POLL_MS = 500;
const TIMEOUT_MS = 300;
const RAW = {
  site: { name: "ups" },
  buses: [{ id: "bn", kind: "bacnet-ip", port: 47810, broadcast: "127.255.255.255:47809", timeoutMs: TIMEOUT_MS, retries: 0, backoffMs: 800 }],
  devices: [
    { id: "UPS", bus: "bn", instance: 1338, address: "127.0.0.1:47809", profile: "socomec-ups", label: "ASI", pollMs: POLL_MS, cov: "confirmed", covLifetimeS: 60 },
    // A device with commandable objects (the bacserv demo's map), for writes with priority.
    { id: "AUX", bus: "bn", instance: 4001, address: "127.0.0.1:47811", profile: "bacserv-demo", pollMs: POLL_MS },
  ],
  topology: {
    sources: [
      { id: "utility", kind: "utility" },
      { id: "ups", kind: "ups", label: "ASI Socomec", device: "UPS", fedBy: "F1" },
    ],
    breakers: [{ id: "F1", from: "utility", load: "UPS input" }],
  },
};

let sim: Sim;
let busbar: Busbar;
const value = (id: string) => busbar.live.value(busbar.registry.byId.get(`UPS.${id}`)!);

beforeAll(async () => {
  const profiles = loadProfiles();
  profiles.set("bacserv-demo", bacnetAsProfile(parseBacnetProfile(parseYaml(readFileSync(join(import.meta.dirname, "fixtures/bacserv-demo.bacnet.yaml"), "utf8"), "f"), "f")));
  const site = parseSite({ ...RAW, devices: RAW.devices }, profiles, "ups");
  sim = startSimulator(site, { anyPort: true, host: "127.0.0.1", tickMs: 100, speed: 200, bacnet: { UPS: { profileName: "factor_10" } } });
  busbar = await startBusbar({ site: sim.servedSite, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", kiosk: ["127.0.0.1"], log: () => {} });
  await waitFor("UPS values", () => value("ups_load_status").quality === "good" && value("ups_output_kva").quality === "good", 10_000);
}, 20_000);

afterAll(async () => {
  await busbar?.stop();
  sim?.stop();
});

describe("simulated Socomec UPS over BACnet/IP", () => {
  test("serves the seed's raw values; Busbar shows them scaled, −1 as not-available, states by text", async () => {
    sim.setValue("UPS", "ups_output_kva", 42.5);
    sim.setValue("UPS", "ups_output_fr", 50);
    await waitFor("pinned values", () => value("ups_output_kva").value === 42.5 && value("ups_output_fr").value === 50, 5000);
    // What went on the wire is the raw value (factor_10 → ×10; ##.# → ×10), read back by the simulator's own encoder.
    const d = await waitFor("port statistics", () => busbar.supervisor.stats().find((s: any) => s.bus === "bn" && s.bacnet?.devices[0]?.cov === "active") as any, 3000);
    expect(d.bacnet.devices[0]).toMatchObject({ factor: 0.1, cov: "active", missing: [] });
    expect(d.bacnet.discovered[0]).toMatchObject({ instance: 1338, vendorId: 591, maxApdu: 1476, segmentation: 3, device: "UPS" });
    expect(value("unit_output_kw1")).toMatchObject({ quality: "not-available" });
    expect(value("ups_load_status")).toMatchObject({ value: 4, quality: "good" });
    expect(value("unit_alarms_overload").value).toBe(0);
  });

  test("utility lost: on battery by COV, battery discharging, alarms by role; back on normal", async () => {
    sim.setUtility(false);
    await waitFor("on battery", () => value("ups_load_status").value === 2, 3000);
    const soc0 = value("battery_pct").value as number;
    await waitFor("battery discharging", () => (value("battery_pct").value as number) < soc0, 5000);
    await waitFor("on-battery alarm", () => busbar.alarms.get("UPS.ups_load_status.on_battery")?.active, 3000);
    sim.setValue("UPS", "unit_alarms_fan_failure", 1);
    await waitFor("fan failure bit and alarm", () => value("unit_alarms_fan_failure").value === 1 && busbar.alarms.get("UPS.unit_alarms_fan_failure")?.active, 3000);
    sim.setValue("UPS", "unit_alarms_fan_failure", null);
    sim.setUtility(true);
    await waitFor("normal mode", () => value("ups_load_status").value === 4, 3000);
  });

  test("the one-line's UPS symbol shows its live lines, and its detail panel lists its points", async () => {
    await waitFor("UPS good", () => value("ups_output_kw").quality === "good" && value("ups_load_status").quality === "good", 5000);
    const fetchAs = (path: string) =>
      busbar.app.fetch(new Request(`http://busbar.test${path}`, { headers: { host: "busbar.test" } }), { requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 50000 }) });
    const page = await (await fetchAs("/")).text();
    for (const id of ["UPS.ups_load_status", "UPS.ups_output_lr", "UPS.battery_pct", "UPS.battery_min", "UPS.ups_output_kw"]) expect(page).toContain(`data-p="${id}"`);
    expect(page).not.toMatch(/ASI Socomec[^<]*<\/text>\s*<text[^>]*>[^<]*(NO DATA|PAS DE DONNÉES)/i);
    const panel = await (await fetchAs("/hmi/detail/ups")).text();
    expect(panel).toContain("UPS.unit_alarms_fan_failure");
    expect(panel).toContain("UPS.battery_status");
    expect((panel.match(/UPS\.[a-z0-9_]+/g) ?? []).length).toBeGreaterThan(100);
  });

  test("a refused write shows the device's reason; non-writable points are refused before the wire", async () => {
    const r = await busbar.supervisor.write(busbar.registry.byId.get("UPS.ups_output_kva")!.index, 1);
    expect(r).toMatchObject({ ok: false, error: "UPS.ups_output_kva is not writable" });
  });

  test("a stopped UPS is comm-fail within a poll period plus timeout, and comes back by itself", async () => {
    sim.setOffline("UPS", true);
    const t0 = Date.now();
    await waitFor("comm-fail", () => value("ups_output_kva").quality === "comm-fail" && value("unit_alarms_overload").quality === "comm-fail", 5000, 20);
    // COV is on, yet the UPS is asked once per poll period that it is alive.
    expect(Date.now() - t0).toBeLessThan(POLL_MS + TIMEOUT_MS + 400);
    sim.setOffline("UPS", false);
    await waitFor("back", () => value("ups_output_kva").quality === "good" && value("ups_load_status").quality === "good", 8000);
  });

  test("the BACnet worker is supervised: a crash is restarted and the UPS is read again", async () => {
    busbar.supervisor.crash("bn");
    await waitFor("restarted", () => (busbar.supervisor.stats().find((s) => s.bus === "bn") as any).restarts === 1, 5000);
    await waitFor("good again", () => value("ups_output_kva").quality === "good", 8000);
  });

  test("Who-Is scan lists the UPS with its I-Am data", async () => {
    const heard = await busbar.bacnet.whoIs("bn", undefined, undefined, 500);
    expect(heard).toEqual([expect.objectContaining({ instance: 1338, vendorId: 591, device: "UPS" })]);
  });
});

describe("communication page", () => {
  const csrf = "bacnet-test-csrf-token-0123456789abcdef";
  let token = csrf;
  const req = (path: string, method = "GET", cookie?: string, htmx = false) =>
    busbar.app.fetch(
      new Request(`http://busbar.test${path}`, {
        method,
        headers: { host: "busbar.test", accept: htmx ? "text/html" : "application/json", cookie: [cookie, `busbar_csrf=${csrf}`].filter(Boolean).join("; "), "x-csrf-token": token, ...(htmx ? { "hx-request": "true" } : {}), "content-type": "application/x-www-form-urlencoded" },
        body: method === "POST" && path === "/auth/login" ? new URLSearchParams({ name: "adm", password: "adm-password-123" }) : undefined,
      }),
      { requestIP: () => ({ address: "10.1.1.2", family: "IPv4", port: 50000 }) },
    );

  test("lists the discovered device with its I-Am data; an admin's Who-Is scan answers with it", async () => {
    await busbar.auth.users.create("adm", "admin", "adm-password-123");
    const login = await req("/auth/login", "POST");
    const cookie = login.headers.getSetCookie().find((x) => x.startsWith("busbar_session="))!.split(";")[0]!;
    token = ((await login.json()) as { csrf: string }).csrf;
    const html = await (await req("/comm/bus/bn", "GET", cookie)).text();
    expect(html).toContain('data-instance="1338"');
    expect(html).toMatch(/<td class="num">591<\/td>/);
    expect(html).toMatch(/RPM, \d+ (objets par requête|objects per request)/);
    // Who-Is loads the network: an admin action, refused without a session.
    expect([401, 403]).toContain((await req("/api/buses/bn/scan?waitMs=300", "POST")).status);
    const scan = await req("/api/buses/bn/scan?waitMs=300", "POST", cookie, true);
    expect(scan.status).toBe(200);
    const frag = await scan.text();
    expect(frag).toMatch(/<td>1338<\/td><td>127\.0\.0\.1:\d+<\/td><td>591<\/td><td>1476<\/td><td>none<\/td><td>UPS<\/td>/);
  });

  test("operating a BACnet point: priority and relinquish, role-checked, journaled with the device's result", async () => {
    token = csrf;
    const login = await req("/auth/login", "POST");
    const cookie = login.headers.getSetCookie().find((x) => x.startsWith("busbar_session="))!.split(";")[0]!;
    token = ((await login.json()) as { csrf: string }).csrf;
    const op = (body: unknown, withCookie = true) =>
      busbar.app.fetch(
        new Request("http://busbar.test/operate/AUX.ao1", {
          method: "POST",
          headers: { host: "busbar.test", accept: "application/json", "content-type": "application/json", cookie: [withCookie ? cookie : undefined, `busbar_csrf=${csrf}`].filter(Boolean).join("; "), "x-csrf-token": token },
          body: JSON.stringify(body),
        }),
        { requestIP: () => ({ address: "10.1.1.2", family: "IPv4", port: 50000 }) },
      );
    await waitFor("AUX read", () => busbar.live.value(busbar.registry.byId.get("AUX.ao1")!).quality === "good", 5000);
    expect([401, 403]).toContain((await op({ value: 1 }, false)).status);
    const w = await (await op({ value: 42.5, priority: 9 })).json();
    expect(w).toMatchObject({ ok: true });
    expect(sim.getValue("AUX", "ao1")).toBe(42.5);
    await waitFor("read back", () => busbar.live.value(busbar.registry.byId.get("AUX.ao1")!).value === 42.5, 3000);
    // The pages: select offers the relinquish, confirm carries it.
    const page = (path: string) =>
      busbar.app.fetch(new Request(`http://busbar.test${path}`, { headers: { host: "busbar.test", cookie: `${cookie}; busbar_csrf=${csrf}` } }), { requestIP: () => ({ address: "10.1.1.2", family: "IPv4", port: 50000 }) });
    expect(await (await page("/operate/AUX.ao1")).text()).toContain('href="/operate/AUX.ao1?relinquish=1"');
    expect(await (await page("/operate/AUX.ao1?relinquish=1")).text()).toContain('name="relinquish" value="1"');
    const r = await (await op({ relinquish: true, priority: 9 })).json();
    expect(r).toMatchObject({ ok: true, new: null });
    expect((await op({ value: 1, priority: 17 })).status).toBe(400);
    // A refused write shows the device's own error.
    const refused = await busbar.bacnet.write(busbar.registry.byId.get("AUX.av1")!.index, 5, 8);
    expect(refused).toMatchObject({ ok: false, error: "AUX.av1 is not writable" });
    const rows = busbar.journal.list({ type: "point.write", device: "AUX" }).map((x) => ({ actor: x.actor, message: x.message, data: JSON.parse(x.data ?? "{}") }));
    expect(rows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ actor: "adm", data: expect.objectContaining({ new: 42.5, priority: 9, relinquish: false, ok: true }) }),
        expect.objectContaining({ actor: "adm", data: expect.objectContaining({ new: null, priority: 9, relinquish: true, ok: true }) }),
        expect.objectContaining({ data: expect.objectContaining({ priority: 17, ok: false }) }),
      ]),
    );
  });

  test("the confirm screen's priority picker (preset to the point's default, 8) and relinquish reach the device at the chosen priority, journaled with it", async () => {
    const aux = sim.bacnet("AUX")!;
    const admin = busbar.auth.users.byName("adm")!;
    const { token: sess, session } = busbar.auth.sessions.create(admin.id, "password", "admin", "127.0.0.1", 600_000, 3_600_000);
    const get = async (path: string) =>
      (await busbar.app.fetch(new Request(`http://busbar.test${path}`, { headers: { host: "busbar.test", cookie: `busbar_session=${sess}` } }), { requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 1 }) })).text();
    const confirm = await get("/operate/AUX.ao1?value=17");
    expect(confirm).toContain("data-priority-picker");
    expect(confirm).toMatch(/<label class="prio-chip is-default"><input type="radio" name="priority" value="8" form="operate-exec-form" checked="" data-priority="8"/);
    expect(await get("/operate/AUX.ao1?relinquish=1")).toContain("data-priority-picker");
    // No priority in the request: the point's default goes on the wire and into the journal.
    const form = (body: Record<string, string>) =>
      busbar.app.fetch(
        new Request("http://busbar.test/operate/AUX.ao1", {
          method: "POST",
          headers: { host: "busbar.test", accept: "application/json", "content-type": "application/x-www-form-urlencoded", cookie: `busbar_session=${sess}`, "x-csrf-token": session.csrf },
          body: new URLSearchParams(body),
        }),
        { requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 1 }) },
      );
    expect(((await (await form({ value: "18" })).json()) as { ok: boolean }).ok).toBe(true);
    expect(aux.writes.at(-1)).toEqual({ point: "ao1", value: 18, priority: 8 });
    const last = () => JSON.parse(busbar.journal.list({ type: "point.write", device: "AUX" }, 1)[0]!.data!) as { priority: number; relinquish: boolean; new: number | null };
    expect(last()).toMatchObject({ priority: 8, new: 18 });

    // In Chromium: pick priority 12 on the confirm screen, execute; then relinquish it.
    const browser = await launchChromium();
    try {
      const { page, context } = await newPage(browser, SIZES.control, { touch: true });
      await context.addCookies([{ name: "busbar_session", value: sess, url: busbar.url }]);
      await page.goto(`${busbar.url}operate/AUX.ao1?value=21`);
      await page.tap('label.prio-chip:has(input[data-priority="12"])');
      expect(await page.isChecked('input[data-priority="12"]')).toBe(true);
      const chip = await page.locator('label.prio-chip:has(input[data-priority="12"]) span').boundingBox();
      expect(Math.min(chip!.width, chip!.height)).toBeGreaterThanOrEqual(48);
      await page.screenshot({ path: artifact("operate-bacnet-priority-1920.png"), fullPage: true });
      await page.tap('button[data-act="execute"]');
      await page.waitForSelector("[data-write-result]");
      expect(await page.getAttribute("[data-write-result]", "data-write-result")).toBe("ok");
      expect(await page.textContent(".operate-page")).toMatch(/priorité 12/);
      expect(aux.writes.at(-1)).toEqual({ point: "ao1", value: 21, priority: 12 });
      expect(last()).toMatchObject({ priority: 12, new: 21, relinquish: false });
      await page.goto(`${busbar.url}operate/AUX.ao1?relinquish=1`);
      await page.tap('label.prio-chip:has(input[data-priority="12"])');
      await page.tap('button[data-act="execute"]');
      await page.waitForSelector("[data-write-result]");
      expect(aux.writes.at(-1)).toEqual({ point: "ao1", value: null, priority: 12 });
      expect(last()).toMatchObject({ priority: 12, new: null, relinquish: true });
      await context.close();
    } finally {
      await browser.close();
    }
  }, 30_000);
});
