import { execFile } from "node:child_process";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ExceptionCode,
  Exceptions,
  type ModbusRequestHandler,
  type ModbusTcpServer,
  startModbusTcpServer,
} from "../src/protocols/modbus/tcp-server.ts";

/**
 * The Modbus TCP server against independent masters: mbpoll (C, libmodbus) and Debian's pymodbus
 * client (/usr/bin/python3), plus raw sockets for what those clients refuse to send (bad MBAP,
 * unknown function codes, bad quantities, pipelining, split frames, a client that stops reading).
 */

// ---- the served image ------------------------------------------------------------------------------

const N = 100; // addresses 0..99 exist in every table
const holding = new Uint8Array(N * 2);
const hv = new DataView(holding.buffer);
const input = new Uint8Array(N * 2);
const coils = new Uint8Array(N);
const discrete = new Uint8Array(N);
const FLOATS = [230.5, -1.25, 1234.5678];

function resetImage() {
  for (let i = 0; i < N; i++) hv.setUint16(i * 2, i * 3);
  FLOATS.forEach((f, i) => hv.setFloat32(i * 4, f));
  const iv = new DataView(input.buffer);
  for (let i = 0; i < N; i++) iv.setUint16(i * 2, 1000 + i);
  for (let i = 0; i < N; i++) coils[i] = i % 3 === 0 ? 1 : 0;
  for (let i = 0; i < N; i++) discrete[i] = i % 2;
}

const regAt = (a: number) => hv.getUint16(a * 2);
const outOfRange = (a: number, c: number) => a + c > N;

/**
 * Units: 1 answers synchronously; 5 the same through a Promise (a gateway); 7 throws; 8 answers
 * "gateway target failed"; 9 never answers (a dead device); others are not gated (answered as 1).
 */
const handler: ModbusRequestHandler = {
  readRegisters(unit, fc, a, c) {
    if (unit === 9) return undefined;
    if (unit === 7) throw new Error("handler bug");
    if (unit === 8) return Exceptions.gatewayTargetFailed;
    if (outOfRange(a, c)) return Exceptions.illegalDataAddress;
    const src = fc === 3 ? holding : input;
    const out = src.subarray(a * 2, (a + c) * 2);
    if (unit === 5) return new Promise((r) => setTimeout(() => r(out.slice()), 2 + ((a * 7) % 10)));
    return out;
  },
  readBits(unit, fc, a, c) {
    if (unit === 9) return undefined;
    if (outOfRange(a, c)) return Exceptions.illegalDataAddress;
    return (fc === 1 ? coils : discrete).subarray(a, a + c);
  },
  writeRegisters(unit, a, bytes) {
    if (unit === 9) return undefined;
    if (outOfRange(a, bytes.length / 2)) return Exceptions.illegalDataAddress;
    holding.set(bytes, a * 2);
    return true;
  },
  writeBits(unit, a, values) {
    if (unit === 9) return undefined;
    if (outOfRange(a, values.length)) return Exceptions.illegalDataAddress;
    coils.set(values, a);
    return true;
  },
};

let server: ModbusTcpServer;
const handlerErrors: unknown[] = [];

beforeAll(() => {
  resetImage();
  server = startModbusTcpServer({ port: 0, handler, onError: (e) => handlerErrors.push(e) });
});
afterAll(() => server?.stop());

// ---- peers ----------------------------------------------------------------------------------------

function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** mbpoll: options, then the host, then values to write (if any). */
function mbpoll(args: string[], writeValues: string[] = []) {
  return run("mbpoll", ["-m", "tcp", "-1", "-p", String(server.port), ...args, "127.0.0.1", ...writeValues]);
}

/** mbpoll's `[ref]: value` lines. */
function mbValues(out: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const line of out.split("\n")) {
    const r = /^\[(\d+)\]:\s+(-?[\d.]+(?:e[-+]?\d+)?)/.exec(line.trim());
    if (r) m.set(Number(r[1]), Number(r[2]));
  }
  return m;
}

/** Debian's pymodbus client (a separate implementation), one connection, a list of operations. */
const PY_CLIENT = `
import json, sys, logging
logging.disable(logging.CRITICAL)
from pymodbus.client import ModbusTcpClient
port = int(sys.argv[1]); ops = json.loads(sys.argv[2])
c = ModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0, retry_on_empty=False)
c.connect()
out = []
for op in ops:
    kind, unit, addr = op[0], op[1], op[2]
    try:
        f = {"rh": c.read_holding_registers, "ri": c.read_input_registers, "rc": c.read_coils, "rd": c.read_discrete_inputs,
             "wr": c.write_register, "wrs": c.write_registers, "wc": c.write_coil, "wcs": c.write_coils}[kind]
        r = f(addr, op[3], slave=unit)
        if r.isError():
            code = getattr(r, "exception_code", None)
            out.append({"exc": code} if code is not None else {"err": str(r)})
        elif kind in ("rh", "ri"): out.append({"ok": list(r.registers)})
        elif kind in ("rc", "rd"): out.append({"ok": [1 if b else 0 for b in r.bits[:op[3]]]})
        else: out.append({"ok": True})
    except Exception as e:
        out.append({"err": type(e).__name__ + ": " + str(e)})
c.close()
print(json.dumps(out))
`;

type PyResult = { ok?: unknown; exc?: number; err?: string };
async function pymodbus(ops: unknown[][]): Promise<PyResult[]> {
  const r = await run("/usr/bin/python3", ["-c", PY_CLIENT, String(server.port), JSON.stringify(ops)], 20_000);
  const line = r.out.trim().split("\n").pop()!;
  try {
    return JSON.parse(line) as PyResult[];
  } catch {
    throw new Error(`pymodbus peer failed: ${r.out}`);
  }
}

// ---- raw socket client ------------------------------------------------------------------------------

interface Frame {
  tid: number;
  unit: number;
  pdu: Uint8Array;
}

class RawClient {
  private buf = new Uint8Array(0);
  private waiters: (() => void)[] = [];
  frames: Frame[] = [];
  closed = false;
  readonly ready: Promise<void>;
  constructor(
    port: number,
    readonly sock: Socket = connect({ host: "127.0.0.1", port }),
  ) {
    this.ready = new Promise((r, j) => {
      sock.once("connect", () => r());
      sock.once("error", j);
    });
    sock.on("data", (d: Buffer) => {
      let b: Uint8Array = d;
      if (this.buf.length) {
        b = new Uint8Array(this.buf.length + d.length);
        b.set(this.buf);
        b.set(d, this.buf.length);
      }
      let off = 0;
      while (b.length - off >= 7) {
        const len = (b[off + 4]! << 8) | b[off + 5]!;
        if (b.length - off < 6 + len) break;
        this.frames.push({ tid: (b[off]! << 8) | b[off + 1]!, unit: b[off + 6]!, pdu: b.slice(off + 7, off + 6 + len) });
        off += 6 + len;
      }
      this.buf = b.slice(off);
      this.wake();
    });
    sock.on("close", () => {
      this.closed = true;
      this.wake();
    });
    sock.on("error", () => {});
  }
  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  send(bytes: Uint8Array | number[]) {
    this.sock.write(Uint8Array.from(bytes));
  }
  /** Waits until `n` frames arrived (or the socket closed, or the timeout). */
  async waitFrames(n: number, timeoutMs = 2000): Promise<Frame[]> {
    const until = Date.now() + timeoutMs;
    while (this.frames.length < n && !this.closed && Date.now() < until) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, until - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.frames;
  }
  async waitClosed(timeoutMs = 2000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    return this.closed;
  }
  end() {
    this.sock.destroy();
  }
}

/** A request ADU: MBAP (protocol 0, right length) + unit + PDU. */
function adu(tid: number, unit: number, pdu: number[]): number[] {
  const len = pdu.length + 1;
  return [tid >> 8, tid & 0xff, 0, 0, len >> 8, len & 0xff, unit, ...pdu];
}
const u16 = (v: number) => [v >> 8, v & 0xff];
const read = (tid: number, unit: number, fc: number, addr: number, count: number) => adu(tid, unit, [fc, ...u16(addr), ...u16(count)]);
/** Register values of an FC3/FC4 answer. */
function regsOf(pdu: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < pdu[1]! / 2; i++) out.push((pdu[2 + 2 * i]! << 8) | pdu[3 + 2 * i]!);
  return out;
}

// ---- tests ---------------------------------------------------------------------------------------------

describe("Modbus TCP server against mbpoll", () => {
  it("reads big-endian float32 holding registers (FC3)", async () => {
    const r = await mbpoll(["-a", "1", "-r", "1", "-c", "3", "-t", "4:float", "-B"]);
    const v = mbValues(r.out);
    expect(r.code, r.out).toBe(0);
    expect(v.get(1)).toBe(230.5);
    expect(v.get(3)).toBe(-1.25);
    expect(v.get(5)).toBeCloseTo(1234.57, 2); // mbpoll prints 2 decimals
  });

  it("reads input registers, coils and discrete inputs (FC4, FC1, FC2)", async () => {
    const ir = mbValues((await mbpoll(["-a", "1", "-r", "11", "-c", "3", "-t", "3"])).out);
    expect([ir.get(11), ir.get(12), ir.get(13)]).toEqual([1010, 1011, 1012]);
    const co = mbValues((await mbpoll(["-a", "1", "-r", "1", "-c", "7", "-t", "0"])).out);
    expect([...co.values()]).toEqual([1, 0, 0, 1, 0, 0, 1]);
    const di = mbValues((await mbpoll(["-a", "1", "-r", "1", "-c", "4", "-t", "1"])).out);
    expect([...di.values()]).toEqual([0, 1, 0, 1]);
  });

  it("takes FC6 and FC16 writes into the image", async () => {
    let r = await mbpoll(["-a", "1", "-r", "61", "-t", "4"], ["4321"]); // one value: FC6
    expect(r.code, r.out).toBe(0);
    expect(regAt(60)).toBe(4321);
    r = await mbpoll(["-a", "1", "-r", "71", "-t", "4"], ["11", "22", "33"]); // several: FC16
    expect(r.code, r.out).toBe(0);
    expect([regAt(70), regAt(71), regAt(72)]).toEqual([11, 22, 33]);
  });

  it("reports an illegal data address for unknown registers", async () => {
    const r = await mbpoll(["-a", "1", "-r", "99", "-c", "5", "-t", "4"]);
    expect(r.out).toMatch(/Illegal data address/i);
  });

  it("lets a request to a dead unit time out", async () => {
    const t0 = Date.now();
    const r = await mbpoll(["-a", "9", "-r", "1", "-c", "2", "-t", "4", "-o", "0.3"]);
    expect(r.out).toMatch(/timed out/i);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });
});

describe("Modbus TCP server against pymodbus", () => {
  it("reads, writes every function code and gets the exceptions", async () => {
    const res = await pymodbus([
      ["rh", 1, 0, 4],
      ["wr", 1, 40, 0xbeef],
      ["wrs", 1, 41, [1, 2, 3]],
      ["rh", 1, 40, 4],
      ["wc", 1, 50, false], // coil 50 was 0 (50 % 3 ≠ 0): set it
      ["wc", 1, 50, true],
      ["wcs", 1, 51, [true, true, false]],
      ["rc", 1, 50, 4],
      ["ri", 5, 98, 2], // asynchronous unit
      ["rh", 1, 98, 5], // beyond the table
      ["wrs", 1, 99, [1, 2]], // beyond the table
      ["rh", 7, 0, 1], // handler throws
      ["rh", 8, 0, 1], // gateway exception from the handler
    ]);
    const fw = (f: number) => {
      const d = new DataView(new ArrayBuffer(4));
      d.setFloat32(0, f);
      return [d.getUint16(0), d.getUint16(2)];
    };
    expect(res[0]).toEqual({ ok: [...fw(230.5), ...fw(-1.25)] });
    expect(res[3]).toEqual({ ok: [0xbeef, 1, 2, 3] });
    expect(res[7]).toEqual({ ok: [1, 1, 1, 0] });
    expect(res[8]).toEqual({ ok: [1098, 1099] });
    expect(res[9]).toEqual({ exc: ExceptionCode.ILLEGAL_DATA_ADDRESS });
    expect(res[10]).toEqual({ exc: ExceptionCode.ILLEGAL_DATA_ADDRESS });
    expect(res[11]).toEqual({ exc: ExceptionCode.SERVER_DEVICE_FAILURE });
    expect(res[12]).toEqual({ exc: ExceptionCode.GATEWAY_TARGET_FAILED });
    expect([regAt(40), regAt(41), regAt(43)]).toEqual([0xbeef, 1, 3]);
    expect([...coils.subarray(50, 54)]).toEqual([1, 1, 1, 0]);
    expect(handlerErrors.length).toBeGreaterThan(0); // unit 7's throw was reported
  });
});

describe("Modbus TCP server: request validation (raw frames)", () => {
  it("answers exceptions 01 / 02 / 03 for bad function codes, addresses and quantities", async () => {
    const c = new RawClient(server.port);
    await c.ready;
    const cases: [number[], number, number][] = [
      // [request, expected function byte, expected exception code]
      [adu(1, 1, [0x2b, 0x0e, 0x01, 0x00]), 0xab, 1], // read device identification: not supported
      [adu(2, 1, [0x07]), 0x87, 1], // read exception status (serial line only)
      [read(3, 1, 3, 0, 0), 0x83, 3], // quantity 0
      [read(4, 1, 3, 0, 126), 0x83, 3], // quantity > 125
      [read(5, 1, 1, 0, 2001), 0x81, 3], // bits > 2000
      [read(6, 1, 4, 65535, 2), 0x84, 2], // address + quantity beyond 65536
      [adu(7, 1, [16, ...u16(0), ...u16(124), 2, 0, 0]), 0x90, 3], // > 123 registers
      [adu(8, 1, [16, ...u16(0), ...u16(2), 3, 0, 1, 0]), 0x90, 3], // byte count ≠ 2 × quantity
      [adu(9, 1, [15, ...u16(0), ...u16(10), 1, 0xff]), 0x8f, 3], // 10 coils need 2 bytes
      [adu(10, 1, [5, ...u16(0), 0x12, 0x34]), 0x85, 3], // coil value must be FF00 or 0000
      [adu(11, 1, [3, 0, 0]), 0x83, 3], // truncated PDU
    ];
    for (const [req] of cases) c.send(req);
    const frames = await c.waitFrames(cases.length);
    expect(frames.length).toBe(cases.length);
    cases.forEach(([req, fcByte, code], i) => {
      const f = frames.find((x) => x.tid === (req[0]! << 8) + req[1]!);
      expect(f, `reply to case ${i}`).toBeDefined();
      expect([...f!.pdu], `case ${i}`).toEqual([fcByte, code]);
    });
    // The connection is still fine after all those.
    c.send(read(99, 1, 3, 10, 2));
    const ok = await c.waitFrames(cases.length + 1);
    expect(regsOf(ok[ok.length - 1]!.pdu)).toEqual([30, 33]);
    c.end();
  });

  it("serves several frames per chunk and frames split across chunks", async () => {
    const c = new RawClient(server.port);
    await c.ready;
    c.send([...read(1, 1, 3, 10, 1), ...read(2, 5, 3, 11, 2), ...read(3, 1, 4, 0, 1)]);
    const split = read(4, 1, 3, 20, 3);
    for (const part of [split.slice(0, 1), split.slice(1, 7), split.slice(7, 9), split.slice(9)]) {
      c.send(part);
      await new Promise((r) => setTimeout(r, 15));
    }
    const frames = await c.waitFrames(4);
    const byTid = new Map(frames.map((f) => [f.tid, f]));
    expect(regsOf(byTid.get(1)!.pdu)).toEqual([30]);
    expect(regsOf(byTid.get(2)!.pdu)).toEqual([33, 36]);
    expect(byTid.get(2)!.unit).toBe(5);
    expect(regsOf(byTid.get(3)!.pdu)).toEqual([1000]);
    expect(regsOf(byTid.get(4)!.pdu)).toEqual([60, 63, 66]);
    c.end();
  });

  it("closes a connection with a malformed MBAP header, and only that one", async () => {
    const healthy = new RawClient(server.port);
    const badProto = new RawClient(server.port);
    const shortLen = new RawClient(server.port);
    const longLen = new RawClient(server.port);
    await Promise.all([healthy.ready, badProto.ready, shortLen.ready, longLen.ready]);
    // A good request, then in the same chunk a header with protocol id 1: the first is answered.
    badProto.send([...read(1, 1, 3, 10, 1), 0, 2, 0, 1, 0, 6, 1, 3, 0, 0, 0, 1]);
    shortLen.send([0, 3, 0, 0, 0, 1, 1, 3]); // length 1
    longLen.send([0, 4, 0, 0, 0, 255, 1, 3, 0, 0, 0, 1]); // length 255
    expect(await badProto.waitClosed()).toBe(true);
    expect(await shortLen.waitClosed()).toBe(true);
    expect(await longLen.waitClosed()).toBe(true);
    expect(badProto.frames.map((f) => f.tid)).toEqual([1]);
    expect(shortLen.frames.length + longLen.frames.length).toBe(0);
    healthy.send(read(7, 1, 3, 12, 1));
    const f = await healthy.waitFrames(1);
    expect(healthy.closed).toBe(false);
    expect(regsOf(f[0]!.pdu)).toEqual([36]);
    healthy.end();
  });

  it("does not answer a dead unit, and the connection keeps serving others", async () => {
    const c = new RawClient(server.port);
    await c.ready;
    c.send(read(1, 9, 3, 0, 1));
    await new Promise((r) => setTimeout(r, 300));
    expect(c.frames.length).toBe(0);
    c.send(read(2, 1, 3, 13, 1));
    const f = await c.waitFrames(1);
    expect(f.map((x) => x.tid)).toEqual([2]);
    expect(regsOf(f[0]!.pdu)).toEqual([39]);
    c.end();
  });
});

describe("Modbus TCP server under load", () => {
  it("serves 32 concurrent clients correctly (sync and async units)", async () => {
    const clients = Array.from({ length: 32 }, () => new RawClient(server.port));
    await Promise.all(clients.map((c) => c.ready));
    const REQUESTS = 40;
    const expected = (fc: number, a: number, c: number) =>
      Array.from({ length: c }, (_, i) => (fc === 4 ? 1000 + a + i : new DataView(holding.buffer).getUint16((a + i) * 2)));
    const results = await Promise.all(
      clients.map(async (cl, k) => {
        let good = 0;
        for (let i = 0; i < REQUESTS; i++) {
          const unit = (i + k) % 2 === 0 ? 1 : 5;
          const fc = i % 3 === 0 ? 4 : 3;
          const a = 10 + ((k * 13 + i * 7) % 50);
          const cnt = 1 + ((k + i) % 40);
          cl.send(read(i + 1, unit, fc, a, cnt));
          const frames = await cl.waitFrames(i + 1, 3000);
          const f = frames[i];
          if (f && f.tid === i + 1 && f.unit === unit && JSON.stringify(regsOf(f.pdu)) === JSON.stringify(expected(fc, a, cnt))) good++;
        }
        cl.end();
        return good;
      }),
    );
    expect(results).toEqual(new Array(32).fill(REQUESTS));
  });

  /** A client pipelines `count` reads without reading replies, then reads them all. */
  async function slowReader(port: number, count: number, asyncFrom: number) {
    const slow = new RawClient(port);
    await slow.ready;
    slow.sock.pause();
    const reqs: number[] = [];
    // Unit 5 answers asynchronously: the in-flight cap applies to those.
    for (let i = 0; i < count; i++) reqs.push(...read(i, i < asyncFrom || i % 2 === 0 ? 1 : 5, 3, 0, N));
    slow.send(reqs);
    await new Promise((r) => setTimeout(r, 300));
    // Another client is served meanwhile.
    const other = new RawClient(port);
    await other.ready;
    const t0 = Date.now();
    other.send(read(1, 1, 3, 14, 1));
    const f = await other.waitFrames(1);
    expect(regsOf(f[0]!.pdu)).toEqual([42]);
    expect(Date.now() - t0).toBeLessThan(500);
    other.end();
    slow.sock.resume();
    const frames = await slow.waitFrames(count, 20_000);
    expect(frames.length).toBe(count);
    expect(new Set(frames.map((x) => x.tid)).size).toBe(count);
    const want = holding.slice(0, 2 * N);
    const intact = frames.filter((x) => x.pdu.length === 2 + 2 * N && x.pdu[1] === 2 * N && want.every((b, i) => x.pdu[2 + i] === b));
    expect(intact.length).toBe(count);
    slow.end();
  }

  it("keeps every reply for a client that stops reading, without starving others", async () => {
    // 40,000 × 209-byte replies ≈ 8.4 MB: well beyond what the loopback socket buffers hold
    // (~4 MB here), so the server must queue, stop reading this client, and drain later.
    await slowReader(server.port, 40_000, 30_000);
  });

  it("drains a large reply queue exactly (partial writes on drain)", async () => {
    // With a large queue limit the server keeps reading: the queue outgrows the socket buffers and
    // `drain` itself writes partially.
    const s = startModbusTcpServer({ port: 0, handler, maxQueuedBytes: 64 << 20 });
    try {
      await slowReader(s.port, 60_000, 60_000);
    } finally {
      s.stop();
    }
  });

  it("stop() closes the connections and frees the port", async () => {
    const s = startModbusTcpServer({ port: 0, handler });
    const c = new RawClient(s.port);
    await c.ready;
    c.send(read(1, 1, 3, 0, 1));
    await c.waitFrames(1);
    expect(s.connectionCount()).toBe(1);
    s.stop();
    expect(await c.waitClosed()).toBe(true);
    const again = startModbusTcpServer({ port: s.port, handler });
    expect(again.port).toBe(s.port);
    again.stop();
  });
});
