import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { ConfigError } from "../src/config/validation.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { freePort, startPyModbus, waitFor, type PyModbusServer } from "./helpers/peers.ts";

/**
 * Issue 9 item 15: unit ids 0..255 on Modbus TCP (Schneider IFE/EIFE answer 255), 1..247 on serial.
 * Checked by check-site, then polled by the real bus worker from pymodbus at units 255 and 0, and read
 * by mbpoll through Busbar's gateway at unit 255.
 */
const profiles = loadProfiles();
const root = join(import.meta.dirname, "..");
const bun = join(root, "node_modules/.bin/bun");

function issuesOf(doc: unknown): string[] {
  try {
    parseSite(doc, profiles, "t.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  return [];
}

describe("unit ids per bus kind", () => {
  const tcp = { id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: 502 };
  const rtu = { id: "rs", kind: "modbus-rtu", port: "/dev/ttyUSB0" };
  const rtuTcp = { id: "ds", kind: "modbus-rtu-tcp", host: "127.0.0.1", port: 4001 };

  it("accepts 0 and 255 on modbus-tcp, in devices and gateway units", () => {
    expect(
      issuesOf({
        site: { name: "x" },
        buses: [tcp],
        devices: [
          { id: "IFE", bus: "gw", unit: 255, profile: "th40c" },
          { id: "ETH", bus: "gw", unit: 0, profile: "th40c", host: "127.0.0.2" },
        ],
        gateway: { units: [{ unit: 200, bus: "gw", targetUnit: 254 }], exposeAll: true },
      }),
    ).toEqual([]);
  });

  it("keeps 1..247 on serial buses (RTU and RTU over TCP), gateway targets included", () => {
    expect(
      issuesOf({
        site: { name: "x" },
        buses: [rtu, rtuTcp],
        devices: [
          { id: "A", bus: "rs", unit: 255, profile: "th40c" },
          { id: "B", bus: "ds", unit: 248, profile: "th40c" },
          { id: "C", bus: "rs", unit: 247, profile: "th40c" },
        ],
        gateway: { units: [{ unit: 10, bus: "rs", targetUnit: 250 }], exposeAll: false },
      }),
    ).toEqual([
      "devices[0].unit: must be 1..247 on a serial bus (bus rs is modbus-rtu; 0..255 only on modbus-tcp)",
      "devices[1].unit: must be 1..247 on a serial bus (bus ds is modbus-rtu-tcp; 0..255 only on modbus-tcp)",
      "gateway.units[0].targetUnit: must be 1..247 on a serial bus (bus rs is modbus-rtu; 0..255 only on modbus-tcp)",
    ]);
    expect(issuesOf({ site: { name: "x" }, buses: [tcp], devices: [{ id: "A", bus: "gw", unit: 256, profile: "th40c" }] })).toEqual([
      "devices[0].unit: must be 0..255",
    ]);
  });

  it("busbar check-site accepts unit 255 on a modbus-tcp bus", () => {
    const dir = mkdtempSync(join(tmpdir(), "busbar-unit-"));
    const file = join(dir, "ife.yaml");
    writeFileSync(file, ["site: { name: ife }", "buses:", "  - { id: gw, kind: modbus-tcp, host: 127.0.0.1 }", "devices:", "  - { id: M, bus: gw, unit: 255, profile: th40c }"].join("\n"));
    const r = spawnSync(bun, ["src/cli.ts", "check-site", file], { cwd: root, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("M unit 255 profile th40c:");
  });
});

describe("polling and gateway at unit 255 and 0 (pymodbus peer, mbpoll master)", () => {
  let server: PyModbusServer;
  let busbar: Busbar;
  let gwPort: number;
  // TH40C phase A voltage (float, 0xA612); pymodbus' sparse block needs the read's whole span filled.
  const th40c = (v: number) => {
    const hr: Record<number, number> = {};
    for (let a = 0xa600; a < 0xa680; a++) hr[a] = 0;
    for (let a = 0x8000; a < 0x8140; a++) hr[a] = 0;
    for (let a = 0x1040; a < 0x1046; a++) hr[a] = 0;
    const b = Buffer.alloc(4);
    b.writeFloatBE(v);
    hr[0xa612] = b.readUInt16BE(0);
    hr[0xa613] = b.readUInt16BE(2);
    return { hr };
  };
  const point = (id: string) => busbar.live.value(busbar.registry.byId.get(id)!);

  beforeAll(async () => {
    server = await startPyModbus({ 255: th40c(231.5), 0: th40c(229.25) });
    gwPort = await freePort();
    const site = parseSite(
      {
        site: { name: "unit ids" },
        buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: server.port, timeoutMs: 500 }],
        devices: [
          { id: "IFE", bus: "gw", unit: 255, profile: "th40c", pollMs: 300, slowPollMs: 300 },
          { id: "ZERO", bus: "gw", unit: 0, profile: "th40c", pollMs: 300, slowPollMs: 300 },
        ],
        gateway: { host: "127.0.0.1", port: gwPort, mode: "pass" },
      },
      profiles,
    );
    busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
  });

  afterAll(async () => {
    await busbar?.stop();
    await server?.stop();
  });

  it("the bus worker reads the devices at unit 255 and unit 0", async () => {
    await waitFor("IFE and ZERO good", () => point("IFE.v_an").quality === "good" && point("ZERO.v_an").quality === "good", 10_000);
    expect(point("IFE.v_an").value).toBe(231.5);
    expect(point("ZERO.v_an").value).toBe(229.25);
  });

  it("busbar scan finds unit 255 on a modbus-tcp bus, and keeps serial scans to 1..247", () => {
    const r = spawnSync(bun, ["src/cli.ts", "scan", "--host", "127.0.0.1", "--tcp-port", String(server.port), "--from", "253", "--to", "255", "--timeout", "200"], { cwd: root, encoding: "utf8" });
    expect(r.status).toBe(0);
    // The TH40C image has no register 0: exception 2 still proves a device is there. pymodbus answers
    // exception 11 (gateway target did not respond) for the units it does not have: nobody is there.
    expect(r.stdout).toMatch(/unit\s+255: answered with exception 2\b/);
    expect(r.stdout).not.toMatch(/unit\s+254/);
    expect(r.stdout).not.toMatch(/unit\s+253/);
    const serial = spawnSync(bun, ["src/cli.ts", "scan", "--port", "/dev/null", "--to", "255"], { cwd: root, encoding: "utf8" });
    expect(serial.status).toBe(2);
    expect(serial.stderr).toContain("a serial bus (modbus-rtu) has units 1..247");
  });

  it("the gateway routes mbpoll's unit 255 to the device", async () => {
    const r = await new Promise<{ code: number; out: string }>((resolve) => {
      const p = spawn("mbpoll", ["-m", "tcp", "-p", String(gwPort), "-a", "255", "-r", String(0xa612 + 1), "-c", "1", "-t", "4:float", "-B", "-1", "-o", "3", "127.0.0.1"]);
      let out = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (out += d));
      p.on("exit", (code) => resolve({ code: code ?? -1, out }));
    });
    expect(r.out).toMatch(/\[42515\]:\s+231\.5/);
    expect(r.code).toBe(0);
  });
});
