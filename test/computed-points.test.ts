import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite, type Site } from "../src/config/site.ts";
import { buildRegistry } from "../src/drivers/index.ts";
import type { ComputedPointDef } from "../src/points/computed.ts";
import { Quality } from "../src/points/quality.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { freePort, waitFor } from "./helpers/peers.ts";

/**
 * Computed points (issue 15 §1): the main thread's own points beside the devices' ones — numbered in
 * the same registry, written on the main thread's ring, operated through the same route (role check,
 * confirmation, journal) as a device point, and a writable one keeps its value across a restart.
 */

const IP = "10.9.9.9";
const COMPUTED: ComputedPointDef[] = [
  { device: "ENERGY", name: "import_today", label: "Site import today", labelFr: "Import du site aujourd'hui", unit: "kWh", staleAfterMs: 400 },
  { device: "MGC", name: "export_limit", label: "Export limit", unit: "kW", range: { min: 0, max: 500 }, writable: { default: 120 }, role: "microgrid.export_limit" },
  { device: "MGC", name: "mode", label: "Mode", kind: "multi-state", states: { "0": "AUTO", "1": "MANUAL", "2": "ISLAND" }, writable: { default: 0 } },
];

let dir: string;
let site: Site;
let busbar: Busbar;

async function start(): Promise<Busbar> {
  return startBusbar({ site, dbPath: join(dir, "busbar.db"), httpPort: 0, httpHost: "127.0.0.1", log: () => {}, computed: COMPUTED });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "busbar-computed-"));
  // One Modbus device nobody answers for: the computed points must not care.
  site = parseSite(
    {
      site: { name: "computed" },
      buses: [{ id: "lan", kind: "modbus-tcp", host: "127.0.0.1", port: await freePort(), timeoutMs: 200, retries: 0, backoffMs: 2000 }],
      devices: [{ id: "M", bus: "lan", unit: 1, profile: "generic", pollMs: 500 }],
    },
    loadProfiles(),
  );
  busbar = await start();
});

afterAll(async () => {
  await busbar?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function session(b: Busbar, role: "operator" | "maintenance", name: string) {
  const u = b.auth.users.byName(name);
  const id = u ? u.id : (b.db.sqlite.query("INSERT INTO users (name, role, password_hash, created_at, updated_at) VALUES (?, ?, 'x', 0, 0) RETURNING id").get(name, role) as { id: number }).id;
  const { token, session } = b.auth.sessions.create(id, "password", role, IP, 600_000, 3_600_000);
  return { cookie: `busbar_session=${token}`, csrf: session.csrf };
}

function post(b: Busbar, path: string, s: { cookie: string; csrf: string }, value: string) {
  return b.app.fetch(
    new Request(`http://busbar.test${path}`, {
      method: "POST",
      headers: { host: "busbar.test", cookie: s.cookie, "x-csrf-token": s.csrf, "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
      body: new URLSearchParams({ _csrf: s.csrf, value }),
    }),
    { requestIP: () => ({ address: IP, family: "IPv4", port: 1 }) },
  );
}

const value = (b: Busbar, id: string) => b.live.value(b.registry.byId.get(id)!);

describe("computed points", () => {
  it("are numbered after the device points, with protocol-free facts only", () => {
    const r = buildRegistry(site, COMPUTED);
    const device = r.byDevice.get("M")!;
    const mode = r.byId.get("MGC.mode")!;
    expect(r.byId.get("ENERGY.import_today")!.index).toBe(device.length);
    expect(mode).toMatchObject({ device: "MGC", name: "mode", kind: "multi-state", writable: true, readable: true, owner: { driver: "computed" } });
    expect(device[0]!.owner).toEqual({ driver: "modbus", bus: "lan" });
    // Nothing Modbus in a point's facts: no tag, no address.
    for (const p of r.points) expect(Object.keys(p)).not.toContain("tag");
    expect(() => buildRegistry(site, [...COMPUTED, COMPUTED[0]!])).toThrow(/ENERGY.import_today is declared twice/);
  });

  it("show what their owner sets, with its quality, and turn stale when it stops", async () => {
    busbar.computed.set("ENERGY.import_today", 1234.5);
    await waitFor("shown", () => value(busbar, "ENERGY.import_today").value === 1234.5);
    expect(value(busbar, "ENERGY.import_today")).toMatchObject({ unit: "kWh", quality: "good", device: "ENERGY", tag: "import_today" });
    busbar.computed.set("ENERGY.import_today", 1300, Quality.COMM_FAIL);
    await waitFor("comm-fail shown", () => value(busbar, "ENERGY.import_today").quality === "comm-fail");
    expect(value(busbar, "ENERGY.import_today").value).toBe(1234.5); // the last good value, marked
    busbar.computed.set("ENERGY.import_today", 1301);
    await waitFor("stale after 400 ms without an update", () => value(busbar, "ENERGY.import_today").quality === "stale", 3000);
    expect(() => busbar.computed.set("M.hr_0", 1)).toThrow(/not a computed point/);
  });

  it("start at their default, are operated like device points (journaled), refuse bad values", async () => {
    expect(value(busbar, "MGC.export_limit")).toMatchObject({ value: 120, quality: "good" });
    const m = session(busbar, "maintenance", "marie");
    const ok = await post(busbar, "/operate/MGC.export_limit", m, "250");
    expect(await ok.text()).toContain('data-write-result="ok"');
    expect(value(busbar, "MGC.export_limit").value).toBe(250);
    const row = busbar.db.sqlite.query("SELECT actor, source, data FROM events WHERE type = 'point.write' ORDER BY id DESC").get() as { actor: string; source: string; data: string };
    expect(row).toMatchObject({ actor: "marie", source: "MGC.export_limit" });
    expect(JSON.parse(row.data)).toMatchObject({ old: 120, new: 250, ok: true });

    // Out of range: refused by the route, and by the owner itself if called directly.
    expect((await post(busbar, "/operate/MGC.export_limit", m, "900")).status).toBe(400);
    expect(await busbar.supervisor.write(busbar.registry.byId.get("MGC.export_limit")!.index, 900)).toMatchObject({ ok: false });
    expect(await busbar.supervisor.write(busbar.registry.byId.get("ENERGY.import_today")!.index, 1)).toMatchObject({ ok: false, error: "ENERGY.import_today is not writable" });
    expect(value(busbar, "MGC.export_limit").value).toBe(250);

    // An operator may not operate at all.
    const o = session(busbar, "operator", "oscar");
    expect((await post(busbar, "/operate/MGC.export_limit", o, "10")).status).toBe(403);
  });

  it("let their owner act on a write or refuse it", async () => {
    const seen: number[] = [];
    busbar.computed.onWrite("MGC.mode", (v) => {
      seen.push(v);
      return v === 2 ? "islanding needs the generator running" : undefined;
    });
    const m = session(busbar, "maintenance", "marie");
    expect(await (await post(busbar, "/operate/MGC.mode", m, "1")).text()).toContain('data-write-result="ok"');
    const refused = await (await post(busbar, "/operate/MGC.mode", m, "2")).text();
    expect(refused).toContain("islanding needs the generator running");
    expect(seen).toEqual([1, 2]);
    expect(value(busbar, "MGC.mode").value).toBe(1);
  });

  it("keep a written value across a restart, and what their owner last set", async () => {
    busbar.computed.set("MGC.mode", 0);
    busbar.computed.set("MGC.mode", 2, Quality.BAD_DATA); // not a value to start from
    await busbar.stop();
    busbar = await start();
    expect(value(busbar, "MGC.export_limit")).toMatchObject({ value: 250, quality: "good" });
    expect(value(busbar, "MGC.mode").value).toBe(0);
    // Never set since this start: no value, and it does not pretend to have one.
    expect(value(busbar, "ENERGY.import_today")).toMatchObject({ value: null, quality: "init" });
  });
});
