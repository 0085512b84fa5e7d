import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { waitFor } from "./helpers/peers.ts";

/**
 * A misbehaving Modbus TCP device server written here byte by byte: per unit it answers right,
 * with a wrong byte count, with an exception, or with garbage. Busbar must classify each, keep the
 * good device good, and never crash or restart its worker.
 */

type Behaviour = "good" | "short" | "exception" | "garbage-pdu" | "noise";
const UNITS: Record<number, Behaviour> = { 1: "good", 5: "short", 6: "exception", 7: "garbage-pdu", 8: "noise" };

function reply(req: Uint8Array): Uint8Array | null {
  const tid = (req[0]! << 8) | req[1]!;
  const unit = req[6]!;
  const fc = req[7]!;
  const count = (req[10]! << 8) | req[11]!;
  const mbap = (pduLen: number) => [tid >> 8, tid & 0xff, 0, 0, (pduLen + 1) >> 8, (pduLen + 1) & 0xff, unit];
  switch (UNITS[unit]) {
    case "good": {
      const data: number[] = [];
      for (let i = 0; i < count; i++) data.push(0x01, 0x00 + i); // register i = 0x0100 + i
      return Uint8Array.from([...mbap(2 + data.length), fc, data.length, ...data]);
    }
    case "short": // says and carries 2 bytes where 2×count were asked
      return Uint8Array.from([...mbap(4), fc, 2, 0x12, 0x34]);
    case "exception":
      return Uint8Array.from([...mbap(2), fc | 0x80, 0x02]);
    case "garbage-pdu": // a frame whose function code is nonsense
      return Uint8Array.from([...mbap(5), 0x2b, 0xde, 0xad, 0xbe, 0xef]);
    case "noise": // bytes with no MBAP shape at all
      return Uint8Array.from([0xff, 0x00, 0x13, 0x37, 0x42, 0x99, 0x01]);
    default:
      return null;
  }
}

let server: Bun.TCPSocketListener<undefined>;
let busbar: Busbar;
const point = (id: string) => busbar.live.value(busbar.registry.byId.get(id)!);

beforeAll(async () => {
  server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket, data) {
        // One request per chunk is enough for a master that waits for each answer.
        for (let off = 0; off + 12 <= data.length; off += 12) {
          const r = reply(data.subarray(off, off + 12));
          if (r) socket.write(r);
        }
      },
    },
  });
  const devices = Object.keys(UNITS).map((u) => ({ id: `U${u}`, bus: "gw", unit: Number(u), profile: "generic", pollMs: 500 }));
  const site = parseSite(
    { site: { name: "malformed" }, buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: server.port, timeoutMs: 250, retries: 1, backoffMs: 2000 }], devices },
    loadProfiles(),
  );
  busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
});

afterAll(async () => {
  await busbar?.stop();
  server?.stop(true);
});

describe("malformed replies", () => {
  it("classifies each fault on its own device and keeps the good one good", async () => {
    await waitFor("all classified", () =>
      point("U1.hr_0").quality === "good" &&
      point("U5.hr_0").quality === "bad-data" &&
      point("U6.hr_0").quality === "device-exception" &&
      ["bad-data", "comm-fail"].includes(point("U7.hr_0").quality) &&
      ["bad-data", "comm-fail"].includes(point("U8.hr_0").quality),
      8000,
    );
    expect(point("U1.hr_0").value).toBe(0x0100);
    expect(point("U1.hr_3").value).toBe(0x0103);
    // Nothing plausible is shown for the faulty devices.
    for (const u of [5, 6, 7, 8]) expect(point(`U${u}.hr_0`).value).toBeNull();
    await waitFor("stats", () => (busbar.supervisor.stats()[0] as { devices?: unknown }).devices);
    const bus = busbar.supervisor.stats()[0] as unknown as { devices: { id: string; lastError: string | null }[]; exceptions: number; badReplies: number; restarts: number };
    const err = (id: string) => bus.devices.find((d) => d.id === id)!.lastError ?? "";
    expect(err("U5")).toMatch(/malformed reply/);
    expect(err("U6")).toMatch(/exception 2 \(illegal data address\)/);
    expect(bus.exceptions).toBeGreaterThan(0);
    expect(bus.badReplies).toBeGreaterThan(0);
  });

  it("keeps polling the good device at its rate and never restarts the worker", async () => {
    const ages: number[] = [];
    for (let i = 0; i < 20; i++) {
      const v = point("U1.hr_0");
      expect(v.quality).toBe("good");
      ages.push(Date.now() - v.ts!);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Math.max(...ages)).toBeLessThan(500 + 250 * 2 * 2 + 300);
    expect((busbar.supervisor.stats()[0] as { restarts: number }).restarts).toBe(0);
    expect(busbar.db.recentEvents(100).some((e) => e.type === "worker.restart")).toBe(false);
  });
});
