import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite, type ModbusBusConfig } from "../src/config/site.ts";
import { createLink, TcpLink, type ModbusLink } from "../src/protocols/modbus/link.ts";
import { SerialPort } from "../src/protocols/serial/tty.ts";
import { timeSyncSpec, TimeSyncRunner, tzOffsetMs, type TimeSyncBus } from "../src/drivers/modbus/timesync.ts";
import type { BusEvent } from "../src/drivers/modbus/protocol.ts";
import { putFloats, startPyModbus, type PyModbusServer } from "./helpers/peers.ts";
import { startPtyPair, startPyModbusRtu, type PtyPair, type PyModbusRtu } from "./fixtures/rtu-peers.ts";

/**
 * Broadcast (unit 0) over Modbus TCP (issue 9 item 14): no device answers unit 0, so a broadcast
 * write is sent and never waited for. The TH40C clock setting (seed th40c manual, Appendice E: FC16
 * to unit 0 at 0x7000) over a TCP bus is journaled as set — not "failed: no answer (timeout)" — and
 * is next due a day later, not in an hour. Against Debian's pymodbus with broadcast enabled, which
 * executes a broadcast on every unit and prints each write.
 */

const TZ = "America/Toronto";
const TIMEOUT_MS = 800;

function image(driftS: number): Record<number, number> {
  const regs: Record<number, number> = {};
  for (const [from, to] of [[0x1040, 0x1046], [0x7000, 0x7003]] as const) for (let a = from; a < to; a++) regs[a] = 0;
  for (let a = 0; a < 8; a++) regs[a] = 0; // coils for the FC5 broadcast below
  const now = Date.now() + driftS * 1000;
  const wall = new Date(now + tzOffsetMs(TZ, now));
  [wall.getUTCFullYear(), wall.getUTCMonth() + 1, wall.getUTCDate(), wall.getUTCHours(), wall.getUTCMinutes(), wall.getUTCSeconds()].forEach((v, i) => (regs[0x1040 + i] = v));
  return putFloats(regs, { 0xa612: 230 });
}

let server: PyModbusServer;
let link: TcpLink;

beforeAll(async () => {
  server = await startPyModbus({ 1: { hr: image(-30), co: { 0: 0, 1: 0 } }, 2: { hr: image(-10), co: { 0: 0, 1: 0 } } }, undefined, { broadcast: true });
  const site = parseSite(
    { site: { name: "bcast" }, buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: server.port, timeoutMs: TIMEOUT_MS }], devices: [] },
    loadProfiles(),
  );
  link = new TcpLink(site.buses[0] as Extract<(typeof site.buses)[number], { kind: "modbus-tcp" }>);
  await link.connect();
});

afterAll(async () => {
  await link?.close();
  await server?.stop();
});

describe("broadcast over Modbus TCP", () => {
  it("sends a write to unit 0 without waiting for an answer, and every unit executes it", async () => {
    const t0 = performance.now();
    await link.writeBits(0, 5, 1, [true], TIMEOUT_MS);
    expect(performance.now() - t0).toBeLessThan(TIMEOUT_MS / 2);
    await link.writeRegisters(0, 16, 0x7000, [1, 2, 3], TIMEOUT_MS);
    const writesFor = (kind: string, addr: number) => server.writes.filter((w) => w.split(" ")[2] === kind && w.split(" ")[3] === String(addr));
    await new Promise((r) => setTimeout(r, 200));
    expect(writesFor("co", 1).map((w) => w.split(" ")[1]).sort()).toEqual(["1", "2"]);
    expect(writesFor("hr", 0x7000).map((w) => w.split(" ")[1]).sort()).toEqual(["1", "2"]);
    // The connection is still good: the next request to a real unit is answered at once.
    const t1 = performance.now();
    const bytes = await link.read(1, 3, 0x1040, 1, TIMEOUT_MS);
    expect(performance.now() - t1).toBeLessThan(TIMEOUT_MS / 2);
    expect((bytes[0]! << 8) | bytes[1]!).toBe(new Date().getFullYear());
  });

  it("journals the TH40C clock setting by broadcast as set, and next sets it a day later", async () => {
    const spec = timeSyncSpec(loadProfiles().get("th40c")!)!;
    expect(spec.broadcast).toBe(true);
    const events: BusEvent[] = [];
    const synced: string[] = [];
    const bus: TimeSyncBus = {
      read: (unit, fc, start, count) => link.read(unit, fc, start, count, TIMEOUT_MS),
      writeRegisters: (unit, fc, address, words) => link.writeRegisters(unit, fc, address, words, TIMEOUT_MS),
      wireMs: () => 0,
      isFailed: () => false,
      event: (e) => events.push(e),
      synced: (devices) => synced.push(...devices),
    };
    const before = server.writes.length;
    // Started "5 s ago": the first attempt is due now.
    const runner = new TimeSyncRunner(
      [
        { device: "M1", unit: 1, spec },
        { device: "M2", unit: 2, spec },
      ],
      TZ,
      {},
      Date.now() - 5_000,
    );
    await runner.runDue(bus);
    expect(events.filter((e) => e.kind === "timesync.failed")).toEqual([]);
    expect(events.map((e) => e.kind)).toEqual(["timesync.set", "timesync.set"]);
    expect(events[0]!.message).toMatch(/^M1: clock set \(broadcast\), it was off by \d+\.\d s behind; sent to unit 0, which no device answers$/);
    expect(events[0]!.data).toMatchObject({ broadcast: true, acknowledged: false });
    expect(synced.sort()).toEqual(["M1", "M2"]);
    // Once a day (the meter accepts no more): not retried within the hour as a failure would be.
    expect(runner.nextDue() - Date.now()).toBeGreaterThan(23 * 3_600_000);
    const setWrites = server.writes.slice(before).filter((w) => w.split(" ")[3] === String(0x7000));
    expect(setWrites.map((w) => w.split(" ")[1]).sort()).toEqual(["1", "2"]);
    expect(new Set(setWrites.map((w) => w.split(" ")[4])).size).toBe(1);
  });
});

describe("broadcast over RTU-over-TCP (serial RTU: timesync.test.ts)", () => {
  // RTU on a serial port, and raw RTU over TCP through a device server (a transparent TCP ↔ serial
  // bridge), both in front of pymodbus RTU (broadcast enabled, units 1 and 2).
  let pair: PtyPair;
  let py: PyModbusRtu;
  let bridge: Server;
  let serial: SerialPort;
  let conn: Socket | undefined;
  const links: ModbusLink[] = [];
  const LINE = { baud: 19200, parity: "none", stopBits: 1 } as const;

  beforeAll(async () => {
    pair = await startPtyPair();
    py = await startPyModbusRtu(pair.b, { 1: { hr: { 0x7000: 0, 0x7001: 0, 0x7002: 0 } }, 2: { hr: { 0x7000: 0, 0x7001: 0, 0x7002: 0 } } }, LINE);
    serial = SerialPort.open(pair.a, LINE);
    serial.onData = (d) => conn?.write(d);
    bridge = createServer((s) => {
      conn?.destroy();
      conn = s;
      s.on("data", (d: Buffer) => serial.write(new Uint8Array(d)));
      s.on("error", () => {});
    });
    await new Promise<void>((r) => bridge.listen(0, "127.0.0.1", () => r()));
  });

  afterAll(async () => {
    for (const l of links) await l.close().catch(() => {});
    conn?.destroy();
    bridge?.close();
    serial?.close();
    await py?.stop();
    await pair?.stop();
  });

  it("sends a write to unit 0 over RTU-over-TCP without waiting for an answer", async () => {
    const site = parseSite(
      { site: { name: "bcast" }, buses: [{ id: "dsrv", kind: "modbus-rtu-tcp", host: "127.0.0.1", port: (bridge.address() as { port: number }).port, ...LINE, timeoutMs: TIMEOUT_MS }], devices: [] },
      loadProfiles(),
    );
    const link = createLink(site.buses[0]! as ModbusBusConfig);
    links.push(link);
    await link.connect();
    const t0 = performance.now();
    await link.writeRegisters(0, 16, 0x7000, [7, 8, 9], TIMEOUT_MS);
    // The frame's wire time and the bus's quiet time after a broadcast (100 ms), never the timeout.
    expect(performance.now() - t0).toBeLessThan(TIMEOUT_MS / 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(py.writes.filter((w) => w.endsWith(`${0x7000} 7,8,9`)).map((w) => w.split(" ")[1]).sort()).toEqual(["1", "2"]);
    await link.close();
  });
});
