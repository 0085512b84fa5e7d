/**
 * What maintenance and admin may do beyond viewing, end to end against the simulator:
 *  - operating a writable point: select → confirm (old and new value shown) → execute through the
 *    bus worker → the device's result; every attempt journaled (user, old → new, outcome), refused
 *    ones included;
 *  - the admin's alarm configuration: invalid YAML is refused with every problem and its path,
 *    valid YAML is applied at once and journaled, and can be reverted to the site file.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseYaml } from "../src/config/profile.ts";
import { parseSite } from "../src/config/site.ts";
import { DEMO_SITE } from "../src/embedded.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { startSimulator, type Sim } from "../src/sim/simulator.ts";
import { waitFor } from "./helpers/peers.ts";

const IP = "10.1.1.2";
let sim: Sim;
let busbar: Busbar;

beforeAll(async () => {
  const raw = parseYaml(DEMO_SITE, "demo-site.yaml") as { devices: { pollMs?: number }[] };
  for (const d of raw.devices) d.pollMs = 250;
  sim = startSimulator(parseSite(raw, loadProfiles(), "demo"), { anyPort: true, host: "127.0.0.1", tickMs: 100 });
  busbar = await startBusbar({ site: sim.servedSite, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
  await waitFor("2B4 polled", () => busbar.live.value(busbar.registry.byId.get("2B4.closed")!).quality === "good", 15_000);
}, 30_000);

afterAll(async () => {
  await busbar?.stop();
  sim?.stop();
});

function session(role: "operator" | "maintenance" | "admin", name: string) {
  const u = busbar.auth.users.byName(name);
  const id = u ? u.id : (busbar.db.sqlite.query("INSERT INTO users (name, role, password_hash, created_at, updated_at) VALUES (?, ?, 'x', 0, 0) RETURNING id").get(name, role) as { id: number }).id;
  const { token, session } = busbar.auth.sessions.create(id, "password", role, IP, 600_000, 3_600_000);
  return { cookie: `busbar_session=${token}`, csrf: session.csrf };
}

async function call(method: string, path: string, s?: { cookie: string; csrf: string }, form?: Record<string, string>, accept = "text/html") {
  const headers: Record<string, string> = { host: "busbar.test", accept };
  if (s) headers.cookie = s.cookie;
  if (s && method !== "GET") headers["x-csrf-token"] = s.csrf;
  if (form) headers["content-type"] = "application/x-www-form-urlencoded";
  return busbar.app.fetch(new Request(`http://busbar.test${path}`, { method, headers, body: form ? new URLSearchParams(form) : undefined }), {
    requestIP: () => ({ address: IP, family: "IPv4", port: 1 }),
  });
}

// People's writes: the microgrid control's own BESS writes (actor "control") are journaled beside them.
const writes = () => busbar.db.sqlite.query("SELECT actor, source, message, data FROM events WHERE type = 'point.write' AND actor != 'control' ORDER BY id").all() as { actor: string; source: string; message: string; data: string }[];

describe("operating a writable point", () => {
  it("select, confirm old → new, execute through the bus worker, show the result; journaled", { timeout: 20_000 }, async () => {
    const m = session("maintenance", "marie");
    const list = await (await call("GET", "/operate", m)).text();
    expect(list).toContain("/operate/2B4.cmd_open_close");
    expect(list).toContain("/operate/MICROGRID.shed_setpoint");

    const select = await (await call("GET", "/operate/2B4.cmd_open_close", m)).text();
    expect(select).toContain('href="/operate/2B4.cmd_open_close?value=0"');
    const confirm = await (await call("GET", "/operate/2B4.cmd_open_close?value=0", m)).text();
    // The truth before the change: the breaker's status point (FERMÉ), not its write-only command,
    // and the load at stake; state texts in the site's French.
    expect(confirm).toMatch(/class="old"[\s\S]*data-p="2B4.closed"[^>]*>FERMÉ<[\s\S]*class="new"[\s\S]*OUVRIR/);
    expect(confirm).toMatch(/2B4 CDS-4 porte <b[^>]*data-p="2B4.p_total"[^>]*>[\d ,]+<\/b> kW maintenant ; le départ sera mis hors tension/);
    expect(confirm).toContain('name="_csrf"');
    // A Modbus command has no BACnet priority to choose.
    expect(confirm).not.toContain("data-priority-picker");

    // A breaker is selected before it is operated: executing without a selection is refused.
    const unselected = await call("POST", "/operate/2B4.cmd_open_close", m, { _csrf: m.csrf, value: "0" });
    expect(unselected.status).toBe(303);
    expect(unselected.headers.get("location")).toContain("err=notSelected");
    expect(busbar.live.value(busbar.registry.byId.get("2B4.closed")!).value).toBe(1);
    const sel = await call("POST", "/operate/2B4.cmd_open_close/select", m, { _csrf: m.csrf, value: "0" });
    expect(sel.status).toBe(303);
    const res = await call("POST", "/operate/2B4.cmd_open_close", m, { _csrf: m.csrf, value: "0" });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('data-write-result="ok"');
    await waitFor("2B4 opened", () => busbar.live.value(busbar.registry.byId.get("2B4.closed")!).value === 0, 5000);
    const w = writes().at(-1)!;
    expect(w).toMatchObject({ actor: "marie", source: "2B4.cmd_open_close" });
    expect(JSON.parse(w.data)).toMatchObject({ new: 0, ok: true });
    expect(w.message).toContain("→ OUVRIR");

    // A setpoint: old → new in the journal, with units.
    const before = busbar.live.value(busbar.registry.byId.get("MICROGRID.shed_setpoint")!).value as number;
    const sp = await call("POST", "/operate/MICROGRID.shed_setpoint", m, { _csrf: m.csrf, value: "300,5" });
    expect(await sp.text()).toContain('data-write-result="ok"');
    const ws = writes().at(-1)!;
    expect(JSON.parse(ws.data)).toMatchObject({ old: before, new: 300.5, ok: true });
    expect(ws.message).toMatch(/kW → 300,5 kW/);
    await waitFor("setpoint read back", () => Math.abs((busbar.live.value(busbar.registry.byId.get("MICROGRID.shed_setpoint")!).value as number) - 300.5) < 0.01, 5000);
    sim.setBreaker("2B4", true);
    await waitFor("2B4 closed again", () => busbar.live.value(busbar.registry.byId.get("2B4.closed")!).value === 1, 5000);
  });

  it("out-of-range and unknown states are refused and journaled; operators are refused and that is journaled too", async () => {
    const m = session("maintenance", "marie");
    const bad = await call("POST", "/operate/MICROGRID.shed_setpoint", m, { _csrf: m.csrf, value: "99999" });
    expect(bad.status).toBe(400);
    expect(JSON.parse(writes().at(-1)!.data)).toMatchObject({ ok: false, new: 99999 });
    const state = await call("POST", "/operate/2B4.cmd_open_close", m, { _csrf: m.csrf, value: "7" });
    expect(state.status).toBe(400);

    const o = session("operator", "olivier");
    const page = await (await call("GET", "/operate/2B4.cmd_open_close?value=0", o)).text();
    expect(page).not.toContain('class="operate-exec"');
    const denied = await call("POST", "/operate/2B4.cmd_open_close", o, { _csrf: o.csrf, value: "0" });
    expect(denied.status).toBe(403);
    const row = busbar.db.sqlite.query("SELECT actor, source FROM events WHERE type = 'auth.denied' ORDER BY id DESC LIMIT 1").get();
    expect(row).toEqual({ actor: "olivier", source: "POST /operate/2B4.cmd_open_close" });
    expect(busbar.live.value(busbar.registry.byId.get("2B4.closed")!).value).toBe(1);
  });
});

describe("alarm configuration by an admin", () => {
  it("refuses invalid YAML with paths, applies valid YAML at once, journals it, reverts", async () => {
    const a = session("admin", "alain");
    const page = await (await call("GET", "/admin/alarms", a)).text();
    expect(page).toContain("5B1.p_total");
    const bad = await call("POST", "/admin/alarms", a, { _csrf: a.csrf, action: "save", yaml: "points:\n  - { point: 5B1.nope, h: 1 }\n  - { point: 5B1.p_total, h: 10, hh: 5 }\n" });
    expect(bad.status).toBe(400);
    const badHtml = await bad.text();
    expect(badHtml).toContain("alarms.points[0].point");
    expect(badHtml).toContain("alarms.points[1].h");
    expect(busbar.alarms.get("5B1.p_total.H")).toBeDefined();

    const ok = await call("POST", "/admin/alarms", a, { _csrf: a.csrf, action: "save", yaml: "points:\n  - { point: 2B2.p_total, h: { value: 1, priority: low } }\n" });
    expect(ok.status).toBe(303);
    expect(busbar.alarms.get("5B1.p_total.H")).toBeUndefined();
    await waitFor("new alarm raised", () => busbar.alarms.get("2B2.p_total.H")?.state === "unack_active", 5000);
    const row = busbar.db.sqlite.query("SELECT actor FROM events WHERE type = 'config.alarms' ORDER BY id DESC LIMIT 1").get();
    expect(row).toEqual({ actor: "alain" });

    const back = await call("POST", "/admin/alarms", a, { _csrf: a.csrf, action: "revert" });
    expect(back.status).toBe(303);
    expect(busbar.alarms.get("5B1.p_total.H")).toBeDefined();
    expect(busbar.alarms.get("2B2.p_total.H")).toBeUndefined();

    const m = session("maintenance", "marie");
    expect((await call("POST", "/admin/alarms", m, { _csrf: m.csrf, action: "revert" })).status).toBe(403);
  });
});
