/**
 * Alarm actions for a real shift, over HTTP against the simulated building:
 *  - the site's policy on notes (alarms.notesRequired) is enforced by the server, for one alarm
 *    and for several acknowledged at once (one journal row per alarm, one comment);
 *  - shelving needs a reason;
 *  - silencing the horn: anyone at a kiosk by default (journaled, not an acknowledgement), or only
 *    signed-in operators when the site says so.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseYaml } from "../src/config/profile.ts";
import { parseSite } from "../src/config/site.ts";
import { DEMO_SITE } from "../src/generated/embedded.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { startSimulator, type Sim } from "../src/sim/simulator.ts";
import { waitFor } from "./helpers/peers.ts";

const KIOSK = "10.9.9.9";
const DESK = "10.9.9.10";
let sim: Sim;
let busbar: Busbar;

beforeAll(async () => {
  const raw = parseYaml(DEMO_SITE, "demo-site.yaml") as { devices: { pollMs?: number }[]; alarms: Record<string, unknown> };
  for (const d of raw.devices) d.pollMs = 250;
  raw.alarms.notesRequired = ["critical"];
  sim = startSimulator(parseSite(raw, loadProfiles(), "demo"), { anyPort: true, host: "127.0.0.1", tickMs: 100 });
  busbar = await startBusbar({ site: sim.servedSite, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", kiosk: [KIOSK], log: () => {} });
  await waitFor("polled", () => busbar.live.value(busbar.registry.byId.get("2B3.tripped")!).quality === "good", 15_000);
}, 30_000);

afterAll(async () => {
  await busbar?.stop();
  sim?.stop();
});

function session(role: "operator" | "maintenance", name: string) {
  const id = (busbar.db.sqlite.query("INSERT INTO users (name, role, password_hash, created_at, updated_at) VALUES (?, ?, 'x', 0, 0) RETURNING id").get(name, role) as { id: number }).id;
  const { token, session } = busbar.auth.sessions.create(id, "password", role, DESK, 600_000, 3_600_000);
  return { cookie: `busbar_session=${token}`, csrf: session.csrf };
}

async function call(path: string, ip: string, s: { cookie?: string; csrf: string }, body: Record<string, unknown>) {
  const headers: Record<string, string> = { host: "busbar.test", accept: "application/json", "content-type": "application/json", "x-csrf-token": s.csrf };
  if (s.cookie) headers.cookie = s.cookie;
  const res = await busbar.app.fetch(new Request(`http://busbar.test${path}`, { method: "POST", headers, body: JSON.stringify(body) }), {
    requestIP: () => ({ address: ip, family: "IPv4", port: 1 }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const rows = (type: string) => busbar.db.sqlite.query("SELECT source, actor, data FROM events WHERE type = ? ORDER BY id").all(type) as { source: string; actor: string; data: string }[];

describe("notes, reasons and the horn", () => {
  it("a critical alarm needs a note; several are acknowledged at once with one, one row each", { timeout: 20_000 }, async () => {
    const m = session("maintenance", "marie");
    sim.trip("2B3");
    sim.trip("2B5");
    await waitFor("trips", () => ["2B3", "2B5"].every((b) => busbar.alarms.get(`${b}.tripped`)!.state === "unack_active"), 5000);
    const bare = await call("/alarms/2B3.tripped/ack", DESK, m, {});
    expect(bare.status).toBe(400);
    expect(String(bare.json.error)).toMatch(/note is required/);
    expect(busbar.alarms.get("2B3.tripped")!.state).toBe("unack_active");
    const bulkBare = await call("/alarms/ack", DESK, m, { ids: ["2B3.tripped", "2B5.tripped"] });
    expect(bulkBare.status).toBe(400);
    expect(rows("alarm.ack")).toHaveLength(0);

    const bulk = await call("/alarms/ack", DESK, m, { ids: ["2B3.tripped", "2B5.tripped", "2B3.tripped"], preset: "Vérifié sur place" });
    expect(bulk.status).toBe(200);
    expect((bulk.json.acked as string[]).sort()).toEqual(["2B3.tripped", "2B5.tripped"]);
    const acks = rows("alarm.ack");
    expect(acks.map((r) => r.source).sort()).toEqual(["2B3.tripped", "2B5.tripped"]);
    for (const r of acks) expect(JSON.parse(r.data).comment).toBe("Vérifié sur place");
    sim.setBreaker("2B3", true);
    sim.setBreaker("2B5", true);
  });

  it("shelving asks for a reason", async () => {
    const m = session("maintenance", "maude");
    const none = await call("/alarms/2B4.tripped/shelve", DESK, m, { minutes: 15 });
    expect(none.status).toBe(400);
    const ok = await call("/alarms/2B4.tripped/shelve", DESK, m, { minutes: 15, preset: "Entretien en cours" });
    expect(ok.status).toBe(200);
    expect(JSON.parse(rows("alarm.shelve").at(-1)!.data).comment).toBe("Entretien en cours");
  });

  it("the kiosk silences without a PIN by default (journaled, nothing acknowledged); a site can keep it for operators", { timeout: 20_000 }, async () => {
    sim.trip("2B6");
    await waitFor("2B6", () => busbar.alarms.summary().horn, 5000);
    // An anonymous kiosk's CSRF token is its cookie's (the security middleware's double submit).
    const csrf = "k".repeat(32);
    const headers = { cookie: `busbar_csrf=${csrf}`, csrf };
    const ok = await call("/alarms/silence", KIOSK, headers, {});
    expect(ok.status).toBe(200);
    expect(busbar.alarms.summary().horn).toBe(false);
    expect(busbar.alarms.get("2B6.tripped")!.state).toBe("unack_active");
    expect(rows("alarm.silence").at(-1)!.actor).toBe(`kiosk@${KIOSK}`);
    // Elsewhere than a kiosk, anonymous: refused.
    expect((await call("/alarms/silence", DESK, headers, {})).status).toBe(401);
    busbar.alarms.config = { ...busbar.alarms.config, silence: "operator" };
    expect((await call("/alarms/silence", KIOSK, headers, {})).status).toBe(403);
    expect((await call("/alarms/silence", DESK, session("operator", "olga"), {})).status).toBe(200);
    busbar.alarms.config = { ...busbar.alarms.config, silence: "anyone" };
    sim.setBreaker("2B6", true);
  });
});
