import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { LinkSilence } from "../src/drivers/modbus/link-silence.ts";
import type { BusStats } from "../src/drivers/protocol.ts";
import { putFloats, startPyModbus, waitFor, type PyModbusServer } from "./helpers/peers.ts";

/**
 * A silent TCP gateway (issue 9 item 16): 16 devices behind one gateway that stops answering while
 * its connection stays open (pymodbus frozen with SIGSTOP: the kernel still accepts connections and
 * data, nothing comes back). Poll 1 s, timeout 500 ms, 1 retry: every device must be comm-fail within
 * poll + (retries + 1) × timeout + 1 s = 3 s — while on another gateway, dead devices still cost
 * their bus at most one timeout per backoff period each and the live ones never go comm-fail.
 */

const POLL_MS = 1000;
const TIMEOUT_MS = 500;
const RETRIES = 1;
const BACKOFF_MS = 2000;
const TARGET_MS = POLL_MS + (RETRIES + 1) * TIMEOUT_MS + 1000;
/** A loaded machine delays timers: a little room beyond the target. */
const MARGIN_MS = 300;

function th40c(v: number): Record<number, number> {
  const regs: Record<number, number> = {};
  for (let a = 0xa600; a < 0xa680; a++) regs[a] = 0;
  for (const [from, to] of [[0x1040, 0x1046], [0x8000, 0x8140]] as const) for (let a = from; a < to; a++) regs[a] = 0;
  return putFloats(regs, { 0xa612: v });
}
const units = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [i + 1, { hr: th40c(230 + i) }]));

let silentGw: PyModbusServer;
let liveGw: PyModbusServer;
let busbar: Busbar;
const A = Array.from({ length: 16 }, (_, i) => `A${i + 1}`);
/** B6, B7 and B8 are configured but never answer (absent at commissioning), next to each other. */
const B = Array.from({ length: 8 }, (_, i) => `B${i + 1}`);
const LIVE_B = B.slice(0, 5);
const DEAD_B = B.slice(5);
const quality = (d: string) => busbar.live.value(busbar.registry.byId.get(`${d}.v_an`)!).quality;
const bus = (id: string) => busbar.supervisor.stats().find((s) => s.bus === id) as BusStats;
const dev = (id: string) => [...bus("A").devices, ...bus("B").devices].find((d) => d.id === id)!;

beforeAll(async () => {
  silentGw = await startPyModbus(units(16));
  liveGw = await startPyModbus(units(5));
  const device = (id: string, busId: string, unit: number) => ({ id, bus: busId, unit, profile: "th40c", pollMs: POLL_MS, slowPollMs: 60_000 });
  const site = parseSite(
    {
      site: { name: "silent gateway", language: "en" },
      buses: [
        { id: "A", kind: "modbus-tcp", host: "127.0.0.1", port: silentGw.port, timeoutMs: TIMEOUT_MS, retries: RETRIES, backoffMs: BACKOFF_MS },
        { id: "B", kind: "modbus-tcp", host: "127.0.0.1", port: liveGw.port, timeoutMs: TIMEOUT_MS, retries: RETRIES, backoffMs: BACKOFF_MS },
      ],
      devices: [...A.map((id, i) => device(id, "A", i + 1)), ...B.map((id, i) => device(id, "B", i + 1))],
    },
    loadProfiles(),
  );
  busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", kiosk: ["127.0.0.1", "::1", "::ffff:127.0.0.1"], log: () => {} });
  await waitFor("every device polled", () => A.every((d) => quality(d) === "good") && LIVE_B.every((d) => quality(d) === "good"), 10_000);
});

afterAll(async () => {
  if (silentGw?.proc.exitCode === null) silentGw.proc.kill("SIGCONT");
  await busbar?.stop();
  await silentGw?.stop();
  await liveGw?.stop();
});

describe("link silence", () => {
  it("needs retries + 1 timeouts from three answering devices in a row, and any answer in between clears it", () => {
    const s = new LinkSilence(1);
    expect(s.timedOut("a", 16)).toBe(false);
    expect(s.timedOut("a", 16)).toBe(false); // one device's retries: that device, not the link
    expect(s.timedOut("b", 16)).toBe(false); // two devices dead together are two devices
    expect(s.answered()).toBe(false);
    expect(s.timedOut("a", 16)).toBe(false);
    expect(s.timedOut("b", 16)).toBe(false);
    expect(s.timedOut("c", 16)).toBe(true);
    expect(s.silent).toBe(true);
    expect(s.answered()).toBe(true);
    expect(s.silent).toBe(false);
    // With one device answering, a silent link looks like a silent device: it fails on its own.
    expect(s.timedOut("a", 1)).toBe(false);
    expect(s.timedOut("a", 1)).toBe(false);
    const two = new LinkSilence(1);
    expect(two.timedOut("a", 2)).toBe(false);
    expect(two.timedOut("b", 2)).toBe(true);
    const noRetries = new LinkSilence(0);
    expect(noRetries.timedOut("a", 16)).toBe(false);
    expect(noRetries.timedOut("b", 16)).toBe(true);
  });
});

describe("a silent TCP gateway with 16 devices (pymodbus frozen)", () => {
  let silentAt = 0;

  it(`marks every device comm-fail within poll + (retries + 1) × timeout + 1 s = ${TARGET_MS} ms`, async () => {
    silentGw.proc.kill("SIGSTOP");
    silentAt = Date.now();
    const failedAt = new Map<string, number>();
    await waitFor(
      "all 16 comm-fail",
      () => {
        for (const d of A) if (!failedAt.has(d) && quality(d) === "comm-fail") failedAt.set(d, Date.now() - silentAt);
        return failedAt.size === A.length;
      },
      20_000,
      10,
    );
    const times = [...failedAt.values()];
    console.log(`silent gateway: first device comm-fail at ${Math.min(...times)} ms, all 16 at ${Math.max(...times)} ms (target ${TARGET_MS} ms)`);
    expect(Math.max(...times)).toBeLessThanOrEqual(TARGET_MS + MARGIN_MS);
    await waitFor("bus A silent", () => bus("A").silent === true, 3000);
    expect(dev("A5").lastError).toMatch(/no device answers on 127\.0\.0\.1:\d+ \(\d+ timeouts in a row from 3 devices; gateway or line silent\)/);
  });

  it("probes the silent link with one request per backoff period, then asks everyone again when it answers", async () => {
    const before = bus("A").requests;
    await new Promise((r) => setTimeout(r, 2 * BACKOFF_MS));
    // Two backoff periods: two probes (three if a period boundary falls just inside the window).
    expect(bus("A").requests - before).toBeLessThanOrEqual(3);
    silentGw.proc.kill("SIGCONT");
    const back = Date.now();
    await waitFor("all 16 good again", () => A.every((d) => quality(d) === "good"), BACKOFF_MS + 5000);
    expect(Date.now() - back).toBeLessThan(BACKOFF_MS + 2500);
  });

  it("on another gateway, dead devices cost one timeout per backoff each and the live ones never fail", async () => {
    await waitFor("B6-B8 comm-fail", () => DEAD_B.every((d) => quality(d) === "comm-fail"), 5000);
    const before = Object.fromEntries(B.map((d) => [d, dev(d).requests]));
    const until = Date.now() + 2 * BACKOFF_MS;
    while (Date.now() < until) {
      for (const d of LIVE_B) expect(quality(d)).toBe("good");
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1100)); // one more stats report
    for (const d of DEAD_B) expect(dev(d).requests - before[d]!).toBeLessThanOrEqual(3);
    expect(dev("B1").requests - before.B1!).toBeGreaterThanOrEqual((2 * BACKOFF_MS) / POLL_MS - 1);
    expect(bus("B").silent).toBe(false);
    // Since the start (and beside the silent gateway above), no live device was ever comm-fail: three
    // units never heard, timing out in a row, are three absent devices, not a silent link.
    const events = busbar.db.recentEvents(500).map((e) => `${e.type} ${e.source} ${e.message}`);
    expect(events.filter((e) => e.startsWith("device.comm B") && DEAD_B.some((d) => e.startsWith(`device.comm ${d} `)))).not.toEqual([]);
    expect(events.filter((e) => LIVE_B.some((d) => e.startsWith(`device.comm ${d} `)) && /comm-fail|no communication/i.test(e))).toEqual([]);
  });
});
