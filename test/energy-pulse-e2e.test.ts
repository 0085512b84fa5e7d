import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { startPyModbus, waitFor, type PyModbusServer } from "./helpers/peers.ts";

/**
 * End to end against an independent Modbus server: Debian's pymodbus serves a pulse meter
 * (data/profiles/pulse-meter.yaml map); the test drives its counter with mbpoll writes through a
 * reset (last-reset register set, counter from near zero) and a rollover of a counter configured
 * to wrap at 1000 kWh. Busbar's day total must equal the sum of what the test drove.
 */
const words64 = (v: number) => {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, v, false);
  return [0, 1, 2, 3].map((i) => dv.getUint16(i * 2, false));
};

let server: PyModbusServer;
let busbar: Busbar;

beforeAll(async () => {
  const hr: Record<number, number> = {};
  words64(100).forEach((w, i) => (hr[i] = w));
  Object.assign(hr, { 4: 0, 5: 0, 6: 2, 7: 0, 8: 0, 9: 0, 10: 0 });
  server = await startPyModbus({ 1: { hr } });
  const site = parseSite(
    {
      site: { name: "pulse e2e", language: "en", timezone: "America/Toronto" },
      buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: server.port, timeoutMs: 300, retries: 1, backoffMs: 500 }],
      devices: [{ id: "PM", bus: "gw", unit: 1, profile: "pulse-meter", pollMs: 100, slowPollMs: 100 }],
      historian: { enabled: false },
      energy: {
        meters: [{ id: "PM", point: "PM.accumulated", head: true, rollover: { max: 1000 }, lastResetPoint: "PM.last_reset", unitsCodePoint: "PM.units_code" }],
      },
    },
    loadProfiles(),
  );
  busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", kiosk: ["127.0.0.1"], log: () => {} });
});

afterAll(async () => {
  await busbar?.stop();
  await server?.stop();
});

/** Writes holding registers from `address` with mbpoll (PDU addressing). */
function write(address: number, values: number[]): void {
  const r = spawnSync("mbpoll", ["-m", "tcp", "-p", String(server.port), "-a", "1", "-t", "4", "-0", "-r", String(address), "-1", "127.0.0.1", ...values.map(String)], { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`mbpoll failed: ${r.stdout} ${r.stderr}`);
}
const value = (id: string) => busbar.live.value(busbar.registry.byId.get(id)!).value;
async function drive(counter: number): Promise<void> {
  write(0, words64(counter));
  await waitFor(`Busbar reads ${counter}`, () => value("PM.accumulated") === counter, 10_000);
}

describe("pulse meter through a reset and a rollover (pymodbus + mbpoll)", () => {
  it("the day total equals the driven total", async () => {
    await waitFor("first reading", () => value("PM.accumulated") === 100 && value("PM.units_code") === 2, 10_000);
    let driven = 0;
    let counter = 100;
    const step = async (to: number, consumed: number) => {
      await drive(to);
      counter = to;
      driven += consumed;
    };
    await step(150, 50);
    await step(230, 80);
    // Reset: the meter sets its last-reset time and counts again from zero (4 kWh since).
    const now = Math.floor(Date.now() / 1000);
    write(4, [Math.floor(now / 65536), now % 65536]);
    await waitFor("last reset read", () => value("PM.last_reset") !== null && value("PM.last_reset") !== 0, 10_000);
    await step(4, 4);
    await step(60, 56);
    await step(900, 840);
    await step(980, 80);
    // Rollover: 980 → 1000 ≡ 0 → 25.
    await step(25, 45);
    await step(70, 45);
    void counter;
    const e = busbar.energy!;
    e.service.flush();
    const today = e.store.histogram("PM", "day", Date.now(), Date.now() + 1)[0]!;
    expect(driven).toBe(1200);
    expect(today.value).toBeCloseTo(driven, 9);
    expect(today.held).toBe(0);
    // The computed points carry it too: ENERGY.site_today_kwh and this month's ENERGY.consumption_xxx.
    const month = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"][e.service.clock.parts(Date.now()).month - 1];
    expect(value("ENERGY.site_today_kwh")).toBeCloseTo(driven, 9);
    expect(value(`ENERGY.consumption_${month}`)).toBeCloseTo(driven, 9);
    expect(busbar.live.value(busbar.registry.byId.get("ENERGY.site_today_cost")!).quality).toBe("not-available"); // no tariff: not a 0
    const types = (busbar.db.sqlite.query("SELECT type FROM events WHERE type LIKE 'energy.%' ORDER BY id").all() as { type: string }[]).map((r) => r.type);
    expect(types).toEqual(["energy.reset", "energy.rollover"]);
  }, 60_000);
});
