import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { SerialPort } from "../src/protocols/serial/tty.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { putFloats, waitFor } from "./helpers/peers.ts";
import { startPtyPair, startPyModbusRtu, type PtyPair, type PyModbusRtu } from "./fixtures/rtu-peers.ts";

/**
 * RTU over TCP: Busbar sends raw RTU frames to a serial device server, here a transparent
 * TCP ↔ serial bridge in front of Debian's pymodbus RTU server on a socat pty pair:
 *
 *   Busbar ── TCP (raw RTU) ── bridge ── pty pair ── pymodbus RTU (units 1, 2)
 */

let pair: PtyPair;
let py: PyModbusRtu;
let bridge: Server;
let port: SerialPort;
let conn: Socket | undefined;
let connections = 0;
let busbar: Busbar;
const point = (id: string) => busbar.live.value(busbar.registry.byId.get(id)!);

beforeAll(async () => {
  pair = await startPtyPair();
  const regs = (v: number) => {
    const r: Record<number, number> = {};
    for (let a = 0xa600; a < 0xa680; a++) r[a] = 0;
    for (let a = 0x8000; a < 0x8140; a++) r[a] = 0;
    for (let a = 0x1040; a < 0x1046; a++) r[a] = 1;
    return putFloats(r, { 0xa612: v, 0x8010: v * 10 });
  };
  py = await startPyModbusRtu(pair.b, { 1: { hr: regs(230) }, 2: { hr: regs(231) } }, { baud: 19200, parity: "even", stopBits: 1 });
  port = SerialPort.open(pair.a, { baud: 19200, parity: "even", stopBits: 1 });
  port.onData = (d) => conn?.write(d);
  bridge = createServer((s) => {
    connections++;
    conn?.destroy();
    conn = s;
    s.on("data", (d: Buffer) => port.write(new Uint8Array(d)));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => bridge.listen(0, "127.0.0.1", () => r()));
  const site = parseSite(
    {
      site: { name: "rtu over tcp" },
      buses: [{ id: "dsrv", kind: "modbus-rtu-tcp", host: "127.0.0.1", port: (bridge.address() as { port: number }).port, baud: 19200, timeoutMs: 600, backoffMs: 1000 }],
      devices: [
        { id: "M1", bus: "dsrv", unit: 1, profile: "th40c", pollMs: 300, slowPollMs: 300 },
        { id: "M2", bus: "dsrv", unit: 2, profile: "th40c", pollMs: 300, slowPollMs: 300 },
      ],
    },
    loadProfiles(),
  );
  busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
});

afterAll(async () => {
  await busbar?.stop();
  conn?.destroy();
  await new Promise<void>((r) => (bridge ? bridge.close(() => r()) : r()));
  await port?.close();
  await py?.stop();
  await pair?.stop();
});

describe("Modbus RTU over TCP", () => {
  it("polls RTU devices behind a serial device server", async () => {
    // The bus's own baud wins over the profile's 9600; parity and stop bits come from the profile (8N1).
    expect(busbar.site.buses[0]).toMatchObject({ kind: "modbus-rtu-tcp", baud: 19200, parity: "none", stopBits: 1 });
    await waitFor("values", () => point("M1.v_an").quality === "good" && point("M2.energy_import").quality === "good", 15_000);
    expect(point("M1.v_an").value).toBe(230);
    expect(point("M2.v_an").value).toBe(231);
    expect(point("M2.energy_import").value).toBe(2310);
  });

  it("reconnects when the device server drops the connection", async () => {
    const before = connections;
    conn!.destroy();
    await waitFor("reconnected", () => connections > before, 10_000);
    const t = Date.now();
    await waitFor("fresh values", () => point("M1.v_an").quality === "good" && point("M1.v_an").ts! > t, 10_000);
    expect((busbar.supervisor.stats()[0] as { restarts: number }).restarts).toBe(0);
  });
});
