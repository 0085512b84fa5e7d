import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseProfile, parseYaml, type Profile } from "../src/config/profile.ts";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { decodeRaw } from "../src/protocols/modbus/codec.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { deviceClock, timeSyncSpec, timeWords, tzOffsetMs } from "../src/drivers/modbus/timesync.ts";
import { putFloats, waitFor } from "./helpers/peers.ts";
import { startPtyPair, startPyModbusRtu, type PtyPair, type PyModbusRtu } from "./fixtures/rtu-peers.ts";

/**
 * Device clock setting, TH40C style (seed th40c manual, Appendice E): a broadcast FC16 to unit 0 at
 * 0x7000 with YY MM DD hh mm ss, at most once a day, and only when the meter's clock is within
 * 5 minutes — otherwise an event instead of a write. Against Debian's pymodbus (RTU, broadcast
 * enabled), which prints every write it executes.
 *
 *   bus A: meters 1 and 2, clocks 40 s and 20 s behind → one broadcast sets both
 *   bus B: meter 1 whose clock is 10 minutes behind, meter 2 fine → event, nothing written
 */

const TZ = "America/Toronto";

/** The TH40C profile with the time sync its manual describes. */
function th40cWithSync(): Profile {
  const raw = parseYaml(readFileSync(join(import.meta.dirname, "../data/profiles/th40c.yaml"), "utf8"), "th40c.yaml") as Record<string, unknown>;
  return parseProfile(
    {
      ...raw,
      profile: "th40c-sync",
      timeSync: {
        tag: "time_set",
        periodMin: 1440,
        broadcast: true,
        minIntervalMin: 1440,
        maxDriftS: 300,
        clockParts: { year: "clock_year", month: "clock_month", day: "clock_day", hour: "clock_hour", minute: "clock_minute", second: "clock_second" },
      },
    },
    "th40c-sync",
  );
}

/** A TH40C register image whose clock shows local time + `driftS`. */
function image(driftS: number): Record<number, number> {
  const regs: Record<number, number> = {};
  for (const [from, to] of [[0x1040, 0x1046], [0x7000, 0x7003], [0x8000, 0x8140], [0xa600, 0xa680]] as const) for (let a = from; a < to; a++) regs[a] = 0;
  const now = Date.now() + driftS * 1000;
  const wall = new Date(now + tzOffsetMs(TZ, now));
  const parts = [wall.getUTCFullYear(), wall.getUTCMonth() + 1, wall.getUTCDate(), wall.getUTCHours(), wall.getUTCMinutes(), wall.getUTCSeconds()];
  parts.forEach((v, i) => (regs[0x1040 + i] = v));
  return putFloats(regs, { 0xa612: 230 });
}

let pairA: PtyPair;
let pairB: PtyPair;
let pyA: PyModbusRtu;
let pyB: PyModbusRtu;
let busbar: Busbar;
const logs: string[] = [];
/** Device events: in the event journal when the runtime has one, else in its log. */
const events = (): string[] => {
  const j = (busbar as unknown as { journal?: { list(f: object, limit: number): { message: string }[] } }).journal;
  return [...logs, ...(j ? j.list({}, 1000).map((r) => r.message) : [])];
};
const LINE = { baud: 9600, parity: "none", stopBits: 1 } as const;

beforeAll(async () => {
  pairA = await startPtyPair();
  pairB = await startPtyPair();
  pyA = await startPyModbusRtu(pairA.b, { 1: { hr: image(-40) }, 2: { hr: image(-20) } }, LINE);
  pyB = await startPyModbusRtu(pairB.b, { 1: { hr: image(-600) }, 2: { hr: image(0) } }, LINE);
  const profiles = loadProfiles();
  profiles.set("th40c-sync", th40cWithSync());
  const dev = (id: string, bus: string, unit: number) => ({ id, bus, unit, profile: "th40c-sync", pollMs: 500, slowPollMs: 500 });
  const site = parseSite(
    {
      site: { name: "time sync", timezone: TZ },
      buses: [
        { id: "A", kind: "modbus-rtu", port: pairA.a, timeoutMs: 600, backoffMs: 2000 },
        { id: "B", kind: "modbus-rtu", port: pairB.a, timeoutMs: 600, backoffMs: 2000 },
      ],
      devices: [dev("A1", "A", 1), dev("A2", "A", 2), dev("B1", "B", 1), dev("B2", "B", 2)],
    },
    profiles,
  );
  busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: (l) => logs.push(l) });
});

afterAll(async () => {
  await busbar?.stop();
  await pyA?.stop();
  await pyB?.stop();
  await pairA?.stop();
  await pairB?.stop();
});

describe("clock encoding", () => {
  const p = th40cWithSync();
  const spec = timeSyncSpec(p)!;

  it("writes the manual's example frame data: 05 07 14 0f 0a 28 = 2005-07-20 15:10:40", () => {
    const t = Date.UTC(2005, 6, 20, 15, 10, 40);
    expect(timeWords(spec, t, "UTC")).toEqual([0x0507, 0x140f, 0x0a28]);
    expect(decodeRaw(Uint8Array.of(0x05, 0x07, 0x14, 0x0f, 0x0a, 0x28), 0, p.tags.find((x) => x.id === "time_set")!)).toBe(t);
  });

  it("writes and reads local time in the site's zone", () => {
    const t = Date.UTC(2026, 0, 15, 17, 0, 0); // 12:00 in Toronto (UTC-5 in winter)
    expect(tzOffsetMs(TZ, t)).toBe(-5 * 3600_000);
    expect(tzOffsetMs(TZ, Date.UTC(2026, 6, 15, 16, 0, 0))).toBe(-4 * 3600_000);
    expect(timeWords(spec, t, TZ)).toEqual([(26 << 8) | 1, (15 << 8) | 12, 0]);
    const regs = Uint8Array.of(0x07, 0xea, 0, 1, 0, 15, 0, 12, 0, 0, 0, 0); // 2026 1 15 12 00 00
    expect(deviceClock(spec, regs, 0x1040, TZ)).toBe(t);
  });
});

describe("TH40C broadcast time sync against pymodbus", () => {
  const writesAt = (py: PyModbusRtu) => py.writes.filter((w) => w.split(" ")[3] === String(0x7000));

  it("sets both meters of a bus with one broadcast when they drift less than 5 minutes", async () => {
    await waitFor("time set on bus A", () => writesAt(pyA).length >= 2, 20_000);
    const w = writesAt(pyA);
    // One broadcast, executed by both units, with the same six bytes.
    expect(w.map((x) => x.split(" ")[1]).sort()).toEqual(["1", "2"]);
    expect(new Set(w.map((x) => x.split(" ")[4])).size).toBe(1);
    const words = w[0]!.split(" ")[4]!.split(",").map(Number);
    expect(words.length).toBe(3);
    const bytes = Uint8Array.from(words.flatMap((x) => [x >> 8, x & 0xff]));
    const p = th40cWithSync();
    const wall = decodeRaw(bytes, 0, p.tags.find((x) => x.id === "time_set")!) as number;
    const now = Date.now();
    expect(Math.abs(wall - (now + tzOffsetMs(TZ, now)))).toBeLessThan(15_000);
    // pymodbus's clock registers stand still: the drift grows by the seconds since the image was made.
    const drift = async (d: string) => Number((await waitFor(`${d} event`, () => events().find((l) => l.startsWith(`${d}: clock set (broadcast)`)), 5000)).match(/off by ([\d.]+) s behind/)![1]);
    expect(await drift("A1")).toBeGreaterThanOrEqual(40);
    expect(await drift("A1")).toBeLessThan(70);
    // Whole-second clocks: the two drifts differ by 20 s give or take a second.
    expect(Math.abs((await drift("A1")) - (await drift("A2")) - 20)).toBeLessThanOrEqual(1.5);
  });

  it("raises an event instead of writing when a meter is more than 5 minutes off", async () => {
    await waitFor("drift event", () => events().some((l) => /B1: clock is off by 1\d\.\d min behind, more than the 300 s/.test(l)), 20_000);
    // The broadcast would reach B1 too: nothing is written on bus B.
    await new Promise((r) => setTimeout(r, 1000));
    expect(writesAt(pyB)).toEqual([]);
  });

  it("sets a clock at most once a day, even across a worker restart", async () => {
    const before = writesAt(pyA).length;
    busbar.supervisor.crash("A");
    await waitFor("restarted", () => (busbar.supervisor.stats()[0] as { restarts: number }).restarts === 1, 10_000);
    await waitFor("polling again", () => busbar.live.value(busbar.registry.byId.get("A1.v_an")!).quality === "good", 10_000);
    // The runner's first attempt comes 5 s after start.
    await new Promise((r) => setTimeout(r, 6500));
    expect(writesAt(pyA).length).toBe(before);
  });
});
