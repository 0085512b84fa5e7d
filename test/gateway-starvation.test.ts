import { spawn } from "node:child_process";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import type { Gateway } from "../src/gateway/gateway.ts";
import { startModbusTcpServer, type ModbusTcpServer } from "../src/protocols/modbus/tcp-server.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { SimDevice } from "../src/sim/device.ts";
import { simDevicesHandler } from "../src/sim/serial.ts";
import { crowd } from "./fixtures/hostile-clients.ts";
import { freePort, waitFor } from "./helpers/peers.ts";

/**
 * Issue 9 item 2: the gateway could be starved (64 clients, no idle timeout): 200 idle sockets, or
 * 70 sockets sending 1 byte/s, kept a legitimate mbpoll out. Now idle and unfinished-frame timeouts,
 * per-address limits and "longest idle makes room" keep it served; refusals are counted and shown.
 */

let device: ModbusTcpServer;
let busbar: Busbar;
let gateway: Gateway;

function mbpoll(): Promise<{ code: number; out: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const p = spawn("mbpoll", ["-m", "tcp", "-p", String(gateway.port), "-a", "5", "-r", "1", "-c", "1", "-t", "4", "-1", "-o", "3", "127.0.0.1"]);
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("exit", (code) => resolve({ code: code ?? -1, out, ms: performance.now() - t0 }));
  });
}
const served = (r: { out: string }) => /^\[1\]:\s+11$/m.test(r.out);

beforeAll(async () => {
  const profiles = loadProfiles();
  const devPort = await freePort();
  const site = parseSite(
    {
      site: { name: "starvation" },
      buses: [{ id: "tcp", kind: "modbus-tcp", host: "127.0.0.1", port: devPort, timeoutMs: 500 }],
      devices: [{ id: "G5", bus: "tcp", unit: 5, profile: "generic", pollMs: 500 }],
      gateway: { host: "127.0.0.1", port: await freePort(), idleTimeoutSec: 5, frameTimeoutMs: 2000 },
    },
    profiles,
  );
  const sim = new SimDevice(site.devices[0]!, profiles.get("generic")!);
  sim.set("hr_0", 11);
  device = startModbusTcpServer({ host: "127.0.0.1", port: devPort, handler: simDevicesHandler([sim]) });
  busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", kiosk: ["127.0.0.1", "::ffff:127.0.0.1"], log: () => {} });
  gateway = busbar.gateway!;
  const first = await mbpoll();
  expect(served(first), first.out).toBe(true);
});

afterAll(async () => {
  await busbar?.stop();
  device?.stop();
});

describe("gateway starvation (issue 9 item 2)", () => {
  it("has the timeouts and limits on by default", () => {
    const g = parseSite({ site: { name: "x" }, buses: [{ id: "b", kind: "modbus-tcp", host: "127.0.0.1", port: 1 }], gateway: {} }, loadProfiles()).gateway!;
    expect(g).toMatchObject({ host: "127.0.0.1", maxClients: 64, maxClientsPerAddress: 16, idleTimeoutSec: 60, frameTimeoutMs: 2000 });
  });

  it("serves mbpoll while 200 idle sockets from its own address are open", async () => {
    const before = gateway.stats();
    const c = await crowd(gateway.port, 200);
    try {
      // The address's 16 slots are taken, the other 184 refused at once.
      await waitFor("refusals counted", () => gateway.stats().rejectedConnections - before.rejectedConnections >= 184, 5000);
      expect(gateway.stats().clients).toBeLessThanOrEqual(16);
      await new Promise((r) => setTimeout(r, 1100)); // idle long enough to make room
      const r = await mbpoll();
      expect(served(r), r.out).toBe(true);
      expect(gateway.stats().evictedConnections).toBeGreaterThan(before.evictedConnections);
      console.log(`200 idle sockets (one address): mbpoll served in ${r.ms.toFixed(0)} ms; ${gateway.stats().rejectedConnections - before.rejectedConnections} refused`);
    } finally {
      c.stop();
    }
  });

  it("serves mbpoll while 200 idle sockets from 20 addresses fill the server", async () => {
    const before = gateway.stats();
    const from = Array.from({ length: 20 }, (_, i) => `127.0.0.${10 + i}`);
    const c = await crowd(gateway.port, 200, { from });
    try {
      await waitFor("server full", () => gateway.stats().clients === 64, 5000);
      await new Promise((r) => setTimeout(r, 1100));
      const r = await mbpoll();
      expect(served(r), r.out).toBe(true);
      expect(gateway.stats().rejectedConnections - before.rejectedConnections).toBeGreaterThanOrEqual(136);
      console.log(`200 idle sockets (20 addresses): mbpoll served in ${r.ms.toFixed(0)} ms`);
    } finally {
      c.stop();
    }
  });

  it("keeps a polling master's connection: silent sockets make room first", async () => {
    const bms = connect({ port: gateway.port, host: "127.0.0.1", localAddress: "127.0.0.99" });
    bms.on("error", () => {});
    let replies = 0;
    bms.on("data", () => replies++);
    let closed = false;
    bms.once("close", () => (closed = true));
    const poll = () => bms.write(Uint8Array.of(0, replies & 0xff, 0, 0, 0, 6, 5, 3, 0, 0, 0, 1));
    await new Promise<void>((r) => bms.once("connect", () => r()));
    poll();
    await waitFor("first reply", () => replies === 1, 5000);
    const c = await crowd(gateway.port, 200, { from: Array.from({ length: 20 }, (_, i) => `127.0.0.${60 + i}`) });
    try {
      await new Promise((r) => setTimeout(r, 1200)); // the master is idle ≥ 1 s too (idle timeout 5 s)
      for (let i = 0; i < 3; i++) expect(served(await mbpoll())).toBe(true);
      expect(closed).toBe(false);
      poll();
      await waitFor("reply after the crowd", () => replies === 2, 5000);
    } finally {
      c.stop();
      bms.destroy();
    }
  });

  it("closes 70 sockets sending 1 byte/s at the frame timeout, and serves mbpoll meanwhile", async () => {
    const before = gateway.stats();
    const from = Array.from({ length: 5 }, (_, i) => `127.0.0.${40 + i}`);
    const c = await crowd(gateway.port, 70, { from, dribble: true });
    try {
      await new Promise((r) => setTimeout(r, 1100));
      const r = await mbpoll();
      expect(served(r), r.out).toBe(true);
      console.log(`70 sockets at 1 byte/s: mbpoll served in ${r.ms.toFixed(0)} ms`);
      // 2 s after their first byte (+ sweep period and load margin) every dribbler is gone.
      await waitFor("dribblers closed", () => c.open() === 0, 8000);
      expect(gateway.stats().frameTimeouts - before.frameTimeouts).toBeGreaterThanOrEqual(50);
    } finally {
      c.stop();
    }
  });

  it("closes a connection that sends nothing for idleTimeoutSec", async () => {
    const before = gateway.stats().idleClosed;
    const s = connect(gateway.port, "127.0.0.1");
    s.on("error", () => {});
    const t0 = performance.now();
    const closed = await new Promise<number>((r) => s.once("close", () => r(performance.now() - t0)));
    expect(closed).toBeGreaterThan(4500);
    expect(closed).toBeLessThan(10_000);
    expect(gateway.stats().idleClosed).toBeGreaterThan(before);
  });

  it("shows the connection counters on /api/gateway and the communication page", async () => {
    const api = (await (await fetch(`${busbar.url}api/gateway`)).json()) as Record<string, number> & { writes: unknown };
    expect(api.writes).toEqual({ enabled: false }); // a kiosk viewer is not told who may write
    expect(api.rejectedConnections).toBeGreaterThanOrEqual(184);
    const html = await (await fetch(`${busbar.url}comm`, { headers: { accept: "text/html" } })).text();
    expect(html).toContain('id="gateway"');
    expect(html).toMatch(new RegExp(`data-rejected="${api.rejectedConnections}"`));
  });
});
