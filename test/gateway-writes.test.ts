import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSite } from "../src/config/site.ts";
import { describeGateway, startGateway, type Gateway } from "../src/gateway/gateway.ts";
import { freePort } from "./helpers/peers.ts";
import { startDemo, until, type Demo } from "./helpers/browser.ts";
import { loadProfiles } from "../src/config/profiles.ts";

/**
 * Issue 9 item 1: the gateway's write door, driven by Debian's mbpoll and pymodbus against the
 * demo building. Before the fix, `mbpoll -a 1 -r 65281 -t 4 … 0` opened the main breaker 5B1 with
 * nothing journaled.
 */

let demo: Demo;
const extra: Gateway[] = [];

function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out });
    });
  });
}
const mbpollWrite = (port: number, unit: number, ref: number, value: number) =>
  run("mbpoll", ["-m", "tcp", "-p", String(port), "-a", String(unit), "-r", String(ref), "-t", "4", "-1", "-o", "3", "127.0.0.1", String(value)]);

async function py(port: number, spec: unknown): Promise<{ ok: number; exceptions: Record<string, number>; errors: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "busbar-gww-"));
  writeFileSync(join(dir, "spec.json"), JSON.stringify(spec));
  const r = await run("/usr/bin/python3", [join(import.meta.dirname, "fixtures/pymodbus_tcp_clients.py"), "127.0.0.1", String(port), join(dir, "spec.json")], 40_000);
  return JSON.parse(r.out.trim().split("\n").pop()!);
}

const closed = () => demo.busbar.live.value(demo.busbar.registry.byId.get("5B1.closed")!);
const rows = (type: string) => demo.busbar.journal.list({ type }, 1000);

/** Another gateway on the same running Busbar with a different `gateway:` section. */
async function gatewayWith(gateway: Record<string, unknown>): Promise<Gateway> {
  const raw = { ...structuredClone(demoRaw), gateway: { ...demoRaw.gateway, port: await freePort(), ...gateway } };
  const site = parseSite(raw, loadProfiles());
  const g = startGateway({ site, backend: demo.busbar.modbus, journal: demo.busbar.journal, lang: "en" });
  extra.push(g);
  return g;
}
let demoRaw: Record<string, unknown> & { gateway: Record<string, unknown> };

beforeAll(async () => {
  const gwPort = await freePort();
  demo = await startDemo({
    mutate: (raw) => {
      (raw.gateway as Record<string, unknown>).port = gwPort;
      demoRaw = structuredClone(raw) as typeof demoRaw;
    },
  });
  // The simulated buses' addresses, as Busbar polls them (for the extra gateways' sites).
  demoRaw.buses = demo.site.buses.map((b) => ({ ...(demoRaw.buses as Record<string, unknown>[]).find((x) => x.id === b.id), ...("host" in b ? { host: b.host, port: b.port } : {}) }));
  await until("5B1 polled closed", () => closed().quality === "good" && closed().value === 1, 20_000);
});

afterAll(async () => {
  for (const g of extra) g.stop();
  await demo?.stop();
});

describe("gateway writes (issue 9 item 1)", () => {
  it("is read-only by default: the report's mbpoll write is refused and journaled, 5B1 stays closed", async () => {
    const gw = demo.busbar.gateway!;
    expect(gw.host).toBe("127.0.0.1");
    expect(gw.writes.enabled).toBe(false);
    const before = rows("gateway.refused").length;
    const r = await mbpollWrite(gw.port, 1, 65281, 0);
    expect(r.out).toMatch(/illegal function/i);
    // Several poll cycles later the breaker is still closed, in the simulator and on screen.
    await new Promise((res) => setTimeout(res, 1500));
    expect(demo.sim.getValue("5B1", "closed")).toBe(1);
    expect(closed().value).toBe(1);
    const refused = rows("gateway.refused");
    expect(refused.length).toBe(before + 1);
    const row = refused[0]!;
    expect(row.actor).toBe("gateway:127.0.0.1");
    expect(JSON.parse(row.data!)).toMatchObject({ client: "127.0.0.1", unit: 1, fc: 6, address: 65280, values: [0], reason: "read-only" });
    expect(row.message).toMatch(/127\.0\.0\.1.*FC6 @65280 \[0\]/);
    expect(rows("gateway.write")).toEqual([]);
    // Reads still work.
    const read = await py(gw.port, { clients: 1, rounds: 1, ops: [{ fn: "read_holding_registers", unit: 1, address: 32000, count: 1 }] });
    expect(read).toMatchObject({ ok: 1, exceptions: {}, errors: [] });
  });

  it("refuses writes from an address that is not listed", async () => {
    const gw = await gatewayWith({ writes: { enabled: true, clients: ["127.0.0.2"] } });
    const r = await mbpollWrite(gw.port, 1, 65281, 0);
    expect(r.out).toMatch(/illegal function/i);
    expect(demo.sim.getValue("5B1", "closed")).toBe(1);
    expect(JSON.parse(rows("gateway.refused")[0]!.data!)).toMatchObject({ client: "127.0.0.1", reason: "client" });
  });

  it("forwards a listed client's write to a writable point and journals it; other registers answer 02", async () => {
    const gw = await gatewayWith({ writes: { enabled: true, clients: ["127.0.0.2/32", "127.0.0.1"] } });
    // pymodbus from 127.0.0.2 (listed): a register no profile marks writable is refused (02).
    const bad = await py(gw.port, { clients: 1, rounds: 1, source: "127.0.0.2", ops: [{ fn: "write_register", unit: 1, address: 32000, value: 5 }] });
    expect(bad.exceptions).toEqual({ "2": 1 });
    expect(JSON.parse(rows("gateway.refused")[0]!.data!)).toMatchObject({ client: "127.0.0.2", unit: 1, fc: 6, address: 32000, values: [5], reason: "address" });
    // The command register of 5B1 (cmd_open_close, `write: 6` in the profile): opens the breaker.
    const ok = await py(gw.port, { clients: 1, rounds: 1, source: "127.0.0.2", ops: [{ fn: "write_register", unit: 1, address: 65280, value: 0 }] });
    expect(ok).toMatchObject({ ok: 1, exceptions: {}, errors: [] });
    await until("5B1 open", () => demo.sim.getValue("5B1", "closed") === 0, 5000);
    const w = rows("gateway.write");
    expect(w.length).toBe(1);
    expect(w[0]!.actor).toBe("gateway:127.0.0.2");
    expect(w[0]!.device).toBe("5B1");
    expect(JSON.parse(w[0]!.data!)).toMatchObject({ client: "127.0.0.2", unit: 1, fc: 6, address: 65280, values: [0], ok: true, points: ["5B1.cmd_open_close"] });
    expect(w[0]!.message).toContain("5B1.cmd_open_close");
    // And mbpoll closes it again (from 127.0.0.1, also listed).
    const m = await mbpollWrite(gw.port, 1, 65281, 1);
    expect(m.code, m.out).toBe(0);
    await until("5B1 closed", () => demo.sim.getValue("5B1", "closed") === 1, 5000);
    expect(rows("gateway.write").length).toBe(2);
    expect(gw.stats()).toMatchObject({ writesForwarded: 2 });
  });

  it("allows listed extra ranges, and a write must lie wholly inside allowed registers", async () => {
    // BESS at gateway unit 130: p_setpoint (float32 at 32, write 16) is writable by its profile.
    const gw = await gatewayWith({ writes: { enabled: true, clients: ["127.0.0.1"], points: false, registers: [{ unit: 130, from: 32, to: 33 }] } });
    const r = await py(gw.port, {
      clients: 1,
      rounds: 1,
      ops: [
        { fn: "write_registers", unit: 130, address: 32, values: [0, 0] },
        { fn: "write_registers", unit: 130, address: 32, values: [0, 0, 0] },
        { fn: "write_register", unit: 1, address: 65280, value: 0 },
      ],
    });
    expect(r).toMatchObject({ ok: 1, exceptions: { "2": 2 } });
    expect(demo.sim.getValue("5B1", "closed")).toBe(1);
  });

  it("check-site says who may write what", () => {
    const ro = describeGateway(parseSite(demoRaw, loadProfiles()));
    expect(ro.join("\n")).toMatch(/^gateway 127\.0\.0\.1:\d+, 22 unit\(s\).*\n  read-only/);
    const rw = describeGateway(parseSite({ ...demoRaw, gateway: { ...demoRaw.gateway, writes: { enabled: true, clients: ["10.20.0.15"] } } }, loadProfiles()));
    expect(rw).toContain("  writes from 10.20.0.15 to:");
    expect(rw).toContain("    unit 1 holding 65280  5B1.cmd_open_close");
    expect(rw).toContain("    unit 130 holding 32..33  BESS.p_setpoint");
  });

  it("bounds the journal under a flood of refused writes: at most 10 rows a minute per client, the rest counted", async () => {
    const gw = await gatewayWith({});
    const before = rows("gateway.refused").length;
    const r = await py(gw.port, { clients: 1, rounds: 50, ops: [{ fn: "write_register", unit: 1, address: 65280, value: 0 }] });
    expect(r.exceptions).toEqual({ "1": 50 });
    expect(gw.stats().writesRefused).toBe(50);
    const added = rows("gateway.refused").length - before;
    // Rows already written this minute by the tests above count too (same client): ≤ 10 in all.
    expect(added).toBeGreaterThanOrEqual(1);
    expect(added).toBeLessThanOrEqual(10);
    expect(demo.sim.getValue("5B1", "closed")).toBe(1);
  });
});
