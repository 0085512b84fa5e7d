import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import type { ScanResult } from "../src/protocols/modbus/rtu-scan.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { putFloats, waitFor } from "./helpers/peers.ts";
import { startPtyPair, startPyModbusRtu, type PtyPair, type PyModbusRtu } from "./fixtures/rtu-peers.ts";

/**
 * Bus scanner for commissioning, against Debian's pymodbus on a socat pty pair:
 * unit 1 = a TH40C register image (identified by its profile), unit 3 = a device with a holding
 * register 0 (answers, unknown kind), unit 7 = a device with no register 0 (answers with exception 2).
 * First from the command line over the whole range 1..247, then through a running Busbar's bus
 * worker (POST /api/buses/:id/scan, admin only) while it keeps polling.
 */

let pair: PtyPair;
let py: PyModbusRtu;

function th40c(): Record<number, number> {
  const regs: Record<number, number> = {};
  for (const [from, to] of [[0x1040, 0x1046], [0x8000, 0x8140], [0xa600, 0xa680]] as const) for (let a = from; a < to; a++) regs[a] = 0;
  return putFloats(regs, { 0xa612: 230.5, 0xa614: 231, 0xa616: 229, 0xa622: 10, 0xa650: 0.95 });
}

beforeAll(async () => {
  pair = await startPtyPair();
  py = await startPyModbusRtu(pair.b, { 1: { hr: th40c() }, 3: { hr: { 0: 42, 1: 7 } }, 7: { hr: { 100: 1 } } }, { baud: 9600, parity: "none", stopBits: 1 });
});

afterAll(async () => {
  await py?.stop();
  await pair?.stop();
});

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(import.meta.dirname, "../src/cli.ts"), "scan", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), 50_000);
    p.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
  });
}

describe("busbar scan (command line)", () => {
  it("finds who answers on units 1..247 and identifies the TH40C", async () => {
    const t0 = Date.now();
    const r = await cli(["--port", pair.a, "--baud", "115200", "--parity", "none", "--timeout", "60", "--json"]);
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out) as ScanResult;
    expect(res.probes).toBe(247);
    expect(res.hits.map((h) => [h.unit, h.answer, h.exception ?? null])).toEqual([
      [1, "exception", 2], // the TH40C has no register 0: an exception still proves it is there
      [3, "reply", null],
      [7, "exception", 2],
    ]);
    expect(res.hits[0]!.identified.map((i) => i.profile)).toEqual(["th40c"]);
    expect(res.hits[1]!.identified).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(50_000);
    // Eight units only: a longer timeout costs little and keeps a slow (loaded) pymodbus in the scan.
    const text = await cli(["--port", pair.a, "--baud", "115200", "--parity", "none", "--timeout", "300", "--from", "1", "--to", "8"]);
    expect(text.out).toMatch(/unit\s+1: answered with exception 2 in [\d.]+ ms; looks like th40c/);
    expect(text.out).toMatch(/unit\s+3: answered in/);
  });

  it("explains a bad command line", async () => {
    const r = await cli(["--from", "300"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--from: must be 1..247/);
  });
});

describe("scan through a running Busbar", () => {
  let busbar: Busbar;
  const jar = { csrf: "scan-test-csrf-token-0123456789abcdef" };
  const call = (path: string, o: { cookie?: string; csrf?: string; htmx?: boolean; json?: unknown } = {}) =>
    busbar.app.fetch(
      new Request(`http://busbar.test${path}`, {
        method: "POST",
        headers: {
          host: "busbar.test",
          accept: "application/json",
          cookie: [o.cookie, `busbar_csrf=${jar.csrf}`].filter(Boolean).join("; "),
          "x-csrf-token": o.csrf ?? jar.csrf,
          ...(o.htmx ? { "hx-request": "true" } : {}),
          ...(o.json ? { "content-type": "application/json" } : {}),
        },
        body: o.json ? JSON.stringify(o.json) : undefined,
      }),
      { requestIP: () => ({ address: "10.1.1.2", family: "IPv4", port: 50000 }) },
    );
  async function login(name: string, role: "admin" | "operator"): Promise<{ cookie: string; csrf: string }> {
    await busbar.auth.users.create(name, role, `${name}-password-123`);
    const res = await busbar.app.fetch(
      new Request("http://busbar.test/auth/login", {
        method: "POST",
        headers: { host: "busbar.test", accept: "application/json", cookie: `busbar_csrf=${jar.csrf}`, "x-csrf-token": jar.csrf, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ name, password: `${name}-password-123` }),
      }),
      { requestIP: () => ({ address: "10.1.1.2", family: "IPv4", port: 50000 }) },
    );
    const cookie = res.headers.getSetCookie().find((x) => x.startsWith("busbar_session="))!.split(";")[0]!;
    return { cookie, csrf: ((await res.json()) as { csrf: string }).csrf };
  }

  beforeAll(async () => {
    const site = parseSite(
      {
        site: { name: "scan", language: "en" },
        buses: [{ id: "rs485", kind: "modbus-rtu", port: pair.a, baud: 9600, parity: "none", timeoutMs: 500, backoffMs: 5000 }],
        devices: [
          { id: "M1", bus: "rs485", unit: 1, profile: "th40c", pollMs: 300, slowPollMs: 300 },
          { id: "GHOST", bus: "rs485", unit: 9, profile: "generic", pollMs: 1000 },
        ],
      },
      loadProfiles(),
    );
    busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
    await waitFor("M1 polled", () => busbar.live.value(busbar.registry.byId.get("M1.v_an")!).quality === "good", 10_000);
  });

  afterAll(async () => {
    await busbar?.stop();
  });

  it("is refused to an operator", async () => {
    const op = await login("olga", "operator");
    const r = await call("/api/buses/rs485/scan", op);
    expect(r.status).toBe(403);
  });

  it("scans between polls and reports hits, identities and configured devices that did not answer", async () => {
    const adm = await login("ada", "admin");
    const polls = () => (busbar.supervisor.stats()[0] as { devices?: { id: string; requests: number }[] }).devices?.find((d) => d.id === "M1")?.requests ?? 0;
    const before = polls();
    const r = await call("/api/buses/rs485/scan?wait=1", { ...adm, json: { from: 1, to: 12, timeoutMs: 150 } });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { running: boolean; result: ScanResult };
    expect(body.running).toBe(false);
    expect(body.result.hits.map((h) => h.unit)).toEqual([1, 3, 7]);
    expect(body.result.hits[0]).toMatchObject({ configured: { device: "M1", profile: "th40c" } });
    expect(body.result.hits[0]!.identified[0]!.profile).toBe("th40c");
    expect(body.result.missing).toEqual([{ unit: 9, device: "GHOST" }]);
    // Busbar kept polling M1 during the scan, and M1 stayed good.
    await waitFor("stats", () => polls() > before, 3000);
    expect(busbar.live.value(busbar.registry.byId.get("M1.v_an")!).quality).toBe("good");
  });

  it("gives the communication page a fragment that follows the scan to its result", async () => {
    const adm = await login("adele", "admin");
    const first = await call("/api/buses/rs485/scan", { ...adm, htmx: true, json: { from: 1, to: 8, timeoutMs: 150 } });
    expect(first.status).toBe(200);
    let html = await first.text();
    expect(html).toMatch(/hx-post="\/api\/buses\/rs485\/scan\?scan=\d+"/);
    const id = /scan=(\d+)/.exec(html)![1];
    // The page asks again (same scan, never a new one) until it is over.
    await waitFor("scan over", async () => {
      html = await (await call(`/api/buses/rs485/scan?scan=${id}`, { ...adm, htmx: true })).text();
      return html.includes("data-scan-done");
    }, 20_000, 300);
    expect(html).toMatch(/3 device\(s\) answered/);
    expect(html).toMatch(/<td>1<\/td><td>exception 2<\/td>/);
    expect(html).toMatch(/TH40C energy meter \(th40c\)/);
  });
});
