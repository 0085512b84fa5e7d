import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseProfile, parseYaml } from "../src/config/profile.ts";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite, type ModbusBusConfig } from "../src/config/site.ts";
import { ConfigError } from "../src/config/validation.ts";
import { gatewayRoutes } from "../src/gateway/gateway.ts";
import { createLink, LinkError } from "../src/protocols/modbus/link.ts";
import { breakEvenGap } from "../src/protocols/modbus/rtu-frame.ts";
import { RtuLink } from "../src/protocols/modbus/rtu-link.ts";
import { sttyArgs } from "../src/protocols/serial/tty.ts";
import { buildRegistry } from "../src/drivers/index.ts";
import { planSite } from "../src/drivers/modbus/driver.ts";

/** RTU bus, gateway and time-sync configuration: defaults, resolution from profiles, every error with its path. */

const profiles = loadProfiles();
const site = (extra: Record<string, unknown>) => parseSite({ site: { name: "t" }, ...extra }, profiles);
function issues(f: () => unknown): { path: string; message: string }[] {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  throw new Error("expected a configuration error");
}

describe("RTU bus settings", () => {
  it("defaults to the vendor gateway's 19200 even 1 stop, 300 ms", () => {
    const s = site({ buses: [{ id: "b", kind: "modbus-rtu", port: "/dev/ttyUSB0" }], devices: [{ id: "G", bus: "b", unit: 1, profile: "generic" }] });
    expect(s.buses[0]).toMatchObject({ baud: 19200, parity: "even", stopBits: 1, timeoutMs: 300, echo: false, broadcastDelayMs: 100 });
  });

  it("takes the line settings the devices' profiles agree on (TH40C: 9600 8N1)", () => {
    const s = site({ buses: [{ id: "b", kind: "modbus-rtu", port: "/dev/ttyUSB0" }], devices: [{ id: "M", bus: "b", unit: 1, profile: "th40c" }, { id: "G", bus: "b", unit: 2, profile: "generic" }] });
    expect(s.buses[0]).toMatchObject({ baud: 9600, parity: "none", stopBits: 1 });
  });

  it("asks the bus to decide when profiles disagree, naming the devices", () => {
    const err = issues(() =>
      site({
        buses: [{ id: "b", kind: "modbus-rtu", port: "/dev/ttyUSB0" }],
        devices: [
          { id: "M", bus: "b", unit: 1, profile: "th40c" },
          { id: "T", bus: "b", unit: 2, profile: "micrologic-e" },
        ],
      }),
    );
    expect(err.map((i) => i.path)).toEqual(["buses[0].baud", "buses[0].parity"]);
    expect(err[0]!.message).toBe("the device profiles disagree (9600: M (th40c); 19200: T (micrologic-e)): set baud on the bus");
    // Said on the bus, it wins over every profile.
    const ok = site({
      buses: [{ id: "b", kind: "modbus-rtu", port: "/dev/ttyUSB0", baud: 19200, parity: "even" }],
      devices: [
        { id: "M", bus: "b", unit: 1, profile: "th40c" },
        { id: "T", bus: "b", unit: 2, profile: "micrologic-e" },
      ],
    });
    expect(ok.buses[0]).toMatchObject({ baud: 19200, parity: "even", stopBits: 1 });
  });

  it("accepts the standard rates 1200..115200 only", () => {
    const err = issues(() => site({ buses: [{ id: "b", kind: "modbus-rtu", port: "/dev/ttyS0", baud: 14400, stopBits: 3 }] }));
    expect(err).toEqual([
      { path: "buses[0].baud", message: "must be one of 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600, 115200" },
      expect.objectContaining({ path: "buses[0].stopBits" }),
    ]);
  });

  it("configures the line with stty: raw 8 bits, parity, stop bits, no flow control", () => {
    expect(sttyArgs("/dev/ttyUSB0", { baud: 9600, parity: "odd", stopBits: 2 }).slice(0, 7)).toEqual(["-F", "/dev/ttyUSB0", "9600", "cs8", "cstopb", "parenb", "parodd"]);
    expect(sttyArgs("/dev/ttyUSB0", { baud: 19200, parity: "none", stopBits: 1 })).toEqual(expect.arrayContaining(["-parenb", "-cstopb", "raw", "-echo", "-crtscts", "-ixon", "clocal"]));
  });

  it("creates RTU links for both serial bus kinds, and reports a missing port as a link error", async () => {
    const s = site({ buses: [{ id: "b", kind: "modbus-rtu", port: "/dev/ttyBUSBAR-none" }, { id: "t", kind: "modbus-rtu-tcp", host: "127.0.0.1", port: 1 }] });
    const rtu = createLink(s.buses[0]! as ModbusBusConfig);
    const tcp = createLink(s.buses[1]! as ModbusBusConfig);
    expect(rtu).toBeInstanceOf(RtuLink);
    expect(tcp).toBeInstanceOf(RtuLink);
    const e = await rtu.connect().catch((x) => x);
    expect(e).toBeInstanceOf(LinkError);
    expect((e as LinkError).kind).toBe("disconnected");
    expect((e as LinkError).message).toMatch(/^cannot open \/dev\/ttyBUSBAR-none: /);
    const t = await tcp.connect().catch((x) => x);
    expect((t as LinkError).kind).toBe("disconnected");
  });

  it("plans serial buses without reading through holes wider than the line's break-even gap", () => {
    expect(breakEvenGap({ baud: 9600, parity: "none", stopBits: 1 })).toBe(12);
    expect(breakEvenGap({ baud: 115200, parity: "none", stopBits: 1 })).toBe(55);
    const doc = (kind: string) => ({
      buses: [kind === "tcp" ? { id: "b", kind: "modbus-tcp", host: "127.0.0.1" } : { id: "b", kind: "modbus-rtu", port: "/dev/ttyS0", baud: 9600 }],
      devices: [{ id: "M", bus: "b", unit: 1, profile: "th40c", slowPollMs: 1000 }],
    });
    const plan = (kind: string) => {
      const s = site(doc(kind));
      return planSite(s, buildRegistry(s)).get("M")!.filter((r) => r.slow).map((r) => `${r.start.toString(16)}×${r.count}`);
    };
    // Energy at 0x8010 and 0x8020 (hole of 14): one read over TCP (profile maxGap 16), two at 9600 baud.
    expect(plan("tcp")).toContain("8010×18");
    expect(plan("rtu")).toEqual(expect.arrayContaining(["8010×2", "8020×2"]));
  });
});

describe("gateway section", () => {
  const buses = [
    { id: "a", kind: "modbus-rtu", port: "/dev/ttyS0" },
    { id: "b", kind: "modbus-rtu", port: "/dev/ttyS1" },
  ];
  it("exposes every device at its own unit, listed units first", () => {
    const s = site({
      buses,
      devices: [
        { id: "A1", bus: "a", unit: 1, profile: "generic" },
        { id: "B1", bus: "b", unit: 1, profile: "generic" },
        { id: "B2", bus: "b", unit: 2, profile: "generic" },
      ],
      gateway: { port: 1502, mode: "cached", units: [{ unit: 101, device: "B1" }, { unit: 50, bus: "b", targetUnit: 9 }] },
    });
    // Loopback and read-only unless the site says otherwise (issue 9 item 1).
    expect(s.gateway).toMatchObject({ host: "127.0.0.1", port: 1502, maxClients: 64, exposeAll: true, writes: { enabled: false } });
    expect([...gatewayRoutes(s).values()]).toEqual([
      { unit: 101, bus: "b", target: 1, device: "B1", mode: "cached", maxAgeMs: undefined },
      { unit: 50, bus: "b", target: 9, mode: "pass", maxAgeMs: undefined },
      { unit: 1, bus: "a", target: 1, device: "A1", mode: "cached", maxAgeMs: undefined },
      { unit: 2, bus: "b", target: 2, device: "B2", mode: "cached", maxAgeMs: undefined },
    ]);
  });

  it("refuses enabled writes without a client address, and addresses that are not addresses", () => {
    const err = issues(() =>
      site({
        buses,
        devices: [{ id: "A1", bus: "a", unit: 1, profile: "generic" }],
        gateway: { writes: { enabled: true, registers: [{ unit: 1, from: 5, to: 2 }] } },
      }),
    ).map((i) => `${i.path}: ${i.message}`);
    expect(err).toContain("gateway.writes.clients: writes are enabled but no client address may write: list the BMS's address(es)");
    expect(err).toContain("gateway.writes.registers[0].to: must be ≥ from (5)");
    const bad = issues(() => site({ buses, devices: [], gateway: { writes: { enabled: true, clients: ["bms.local", "10.0.0.0/33", "10.0.0.7"] } } })).map((i) => `${i.path}: ${i.message}`);
    expect(bad).toContain('gateway.writes.clients[0]: "bms.local" is not an IP address or IPv4 CIDR');
    expect(bad).toContain('gateway.writes.clients[1]: "10.0.0.0/33" is not an IP address or IPv4 CIDR');
    expect(bad.some((m) => m.includes("clients[2]"))).toBe(false);
  });

  it("reports unit collisions and bad references with their paths", () => {
    const err = issues(() =>
      site({
        buses,
        devices: [
          { id: "A1", bus: "a", unit: 1, profile: "generic" },
          { id: "B1", bus: "b", unit: 1, profile: "generic" },
        ],
        gateway: { units: [{ unit: 7, device: "NOPE" }, { unit: 7, bus: "zz" }, { unit: 8, bus: "a", targetUnit: 3, mode: "cached" }, { unit: 9 }] },
      }),
    );
    expect(err).toEqual([
      { path: "gateway.units[0].device", message: 'no device "NOPE"' },
      { path: "gateway.units[1].bus", message: 'no bus "zz"' },
      { path: "gateway.units[1].unit", message: "unit 7 is already used by gateway.units[0]" },
      { path: "gateway.units[2].mode", message: "cached mode needs a `device` (Busbar must poll it)" },
      { path: "gateway.units[3]", message: "needs exactly one of `device` or `bus`" },
      {
        path: "devices[1].unit",
        message: "gateway.exposeAll: unit 1 of B1 is already used by device A1 (bus a); give B1 a gateway unit in gateway.units",
      },
    ]);
  });
});

describe("profile time sync", () => {
  const th40c = () => parseYaml(readFileSync(join(import.meta.dirname, "../data/profiles/th40c.yaml"), "utf8"), "th40c") as Record<string, unknown>;
  it("checks the tags it names", () => {
    const err = issues(() =>
      parseProfile({ ...th40c(), timeSync: { tag: "v_an", clock: "clock_year", maxDriftS: 300, clockParts: { year: "clock_year", month: "nope", day: "clock_day", hour: "clock_hour", minute: "clock_minute", second: "clock_second" } } }),
    );
    expect(err).toEqual([
      { path: "timeSync.tag", message: "tag v_an is not writable (no `write`)" },
      { path: "timeSync.tag", message: "tag v_an must have a date-time type (dt32 … dt96_2), not float32" },
      { path: "timeSync.clock", message: "tag clock_year must have a date-time type" },
      { path: "timeSync.clockParts.month", message: 'no tag "nope"' },
      { path: "timeSync", message: "give `clock` or `clockParts`, not both" },
    ]);
    // A clock is read before it is set (issue 9 item 17): a time sync without one is refused.
    expect(issues(() => parseProfile({ ...th40c(), timeSync: { tag: "time_set", broadcast: true } }))).toEqual([
      { path: "timeSync", message: "needs `clock` or `clockParts`: Busbar reads a device's clock before setting it" },
    ]);
    const parts = { year: "clock_year", month: "clock_month", day: "clock_day", hour: "clock_hour", minute: "clock_minute", second: "clock_second" };
    const ok = parseProfile({ ...th40c(), timeSync: { tag: "time_set", broadcast: true, clockParts: parts } });
    expect(ok.timeSync).toEqual({ tag: "time_set", periodMin: 1440, broadcast: true, minIntervalMin: 0, clockZone: "local", clockParts: parts });
  });
});
