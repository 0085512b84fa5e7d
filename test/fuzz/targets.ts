/**
 * Fuzz harnesses for everything Busbar parses from outside (issue 9 item 19). Each target drives a
 * parser only through its public entry point (a socket, a class's request method, an importer or a
 * loader function), so it survives refactors of the parser inside, and checks an oracle beyond
 * "did not throw": replies are well framed, decoded requests are within the protocol's ranges, an
 * imported profile loads back, a loaded site formats its times.
 *
 * A crash is an exception of a kind the entry point does not promise (or an uncaught one); a hang
 * is an input that takes longer than HANG_MS or a connection that stops answering.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseProfile, parseProfileYaml } from "../../src/config/profile.ts";
import { loadProfiles } from "../../src/config/profiles.ts";
import { NO_UNIT, parseSite } from "../../src/config/site.ts";
import { ConfigError } from "../../src/config/validation.ts";
import { parseYaml } from "../../src/config/yaml.ts";
import { importEnlogic } from "../../src/enlogic/import.ts";
import { startGateway } from "../../src/gateway/gateway.ts";
import { decodeRaw, registerCount } from "../../src/protocols/modbus/codec.ts";
import { createLink, LinkError } from "../../src/protocols/modbus/link.ts";
import { crc16, crcOk, replyLength, requestLength } from "../../src/protocols/modbus/rtu-frame.ts";
import { RtuMaster } from "../../src/protocols/modbus/rtu-master.ts";
import { ModbusException, startModbusTcpServer, type ModbusRequestHandler } from "../../src/protocols/modbus/tcp-server.ts";
import { DATA_TYPES, WORD_ORDERS } from "../../src/protocols/modbus/types.ts";
import type { ByteTransport } from "../../src/protocols/serial/tty.ts";
import type { ForwardOp, ForwardResult } from "../../src/drivers/modbus/protocol.ts";
import { mutateBytes, mutateText, mutateValue, Rng } from "./mutate.ts";

const ROOT = join(import.meta.dirname, "../..");
export const HANG_MS = 2000;
/** An asynchronous exchange that has not settled after this long never will (its timeout is 20 ms). */
const ASYNC_HANG_MS = 10_000;

export interface FuzzResult {
  target: string;
  inputs: number;
  crashes: string[];
  hangs: string[];
  ms: number;
  /** Outcome counts (accepted / refused …), to show the inputs reached deep. */
  outcomes: Record<string, number>;
}

class Tally {
  readonly crashes: string[] = [];
  readonly hangs: string[] = [];
  readonly outcomes: Record<string, number> = {};
  count(what: string) {
    this.outcomes[what] = (this.outcomes[what] ?? 0) + 1;
  }
  crash(what: string) {
    if (this.crashes.length < 20) this.crashes.push(what);
    else this.count("more crashes");
  }
  hang(what: string) {
    if (this.hangs.length < 20) this.hangs.push(what);
  }
}

const hex = (b: Uint8Array, max = 64) => Array.from(b.subarray(0, max), (x) => x.toString(16).padStart(2, "0")).join("") + (b.length > max ? "…" : "");
const errText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 2000) : String(e));

/** Runs a synchronous per-input check with timing; exceptions not promised are crashes. */
function timed(t: Tally, label: () => string, fn: () => void): void {
  const t0 = performance.now();
  try {
    fn();
  } catch (e) {
    t.crash(`${label()}: ${errText(e)}`);
  }
  const ms = performance.now() - t0;
  if (ms > HANG_MS) t.hang(`${label()}: ${ms.toFixed(0)} ms`);
}

/** Unhandled errors during an async target are crashes too. */
function catchUncaught(t: Tally): () => void {
  const onErr = (e: unknown) => t.crash(`uncaught: ${errText(e)}`);
  process.on("uncaughtException", onErr);
  process.on("unhandledRejection", onErr);
  return () => {
    process.off("uncaughtException", onErr);
    process.off("unhandledRejection", onErr);
  };
}

// ---- Modbus request frames (shared by the TCP targets) ------------------------------------------

/** A well-formed request PDU of a random function, then (mostly) mutated. */
function requestPdu(rng: Rng): Uint8Array {
  const fc = rng.pick([1, 2, 3, 4, 5, 6, 15, 16, 3, 3, 4, 16, 7, 8, 17, 43, 0x83, 0]);
  const a = rng.chance(0.2) ? rng.pick([0, 0xfff0, 0xffff, 65535 - 124]) : rng.int(65536);
  switch (fc) {
    case 1:
    case 2: {
      const n = 1 + rng.int(2000);
      return Uint8Array.of(fc, a >> 8, a & 0xff, n >> 8, n & 0xff);
    }
    case 3:
    case 4: {
      const n = 1 + rng.int(125);
      return Uint8Array.of(fc, a >> 8, a & 0xff, n >> 8, n & 0xff);
    }
    case 5:
      return Uint8Array.of(5, a >> 8, a & 0xff, rng.chance(0.5) ? 0xff : 0, 0);
    case 6:
      return Uint8Array.of(6, a >> 8, a & 0xff, rng.int(256), rng.int(256));
    case 15: {
      const n = 1 + rng.int(80);
      const bytes = (n + 7) >> 3;
      return Uint8Array.of(15, a >> 8, a & 0xff, n >> 8, n & 0xff, bytes, ...rng.bytes(bytes));
    }
    case 16: {
      const n = 1 + rng.int(20);
      return Uint8Array.of(16, a >> 8, a & 0xff, n >> 8, n & 0xff, n * 2, ...rng.bytes(n * 2));
    }
    default:
      return Uint8Array.of(fc, ...rng.bytes(rng.int(8)));
  }
}

function adu(tid: number, unit: number, pdu: Uint8Array, lengthField = pdu.length + 1): Uint8Array {
  return Uint8Array.of(tid >> 8, tid & 0xff, 0, 0, lengthField >> 8, lengthField & 0xff, unit, ...pdu);
}

/** The request that ends each batch; the handlers always answer it (FC4, 0xFFFE ×1). */
const PROBE = Uint8Array.of(4, 0xff, 0xfe, 0, 1);
const isProbe = (fc: number, address: number, count: number) => fc === 4 && address === 0xfffe && count === 1;

/** Checks the server's reply stream: MBAP framing, and the probe's answer. Returns bytes consumed. */
function checkReplies(t: Tally, buf: Uint8Array, len: number, onProbe: (tid: number) => void): number {
  let off = 0;
  while (len - off >= 7) {
    const proto = (buf[off + 2]! << 8) | buf[off + 3]!;
    const l = (buf[off + 4]! << 8) | buf[off + 5]!;
    if (proto !== 0 || l < 3 || l > 254) {
      t.crash(`malformed reply MBAP ${hex(buf.subarray(off, off + 12))}`);
      return len;
    }
    if (len - off < 6 + l) break;
    const fc = buf[off + 7]!;
    if (fc & 0x80 && l !== 3) t.crash(`exception reply of ${l - 1} bytes: ${hex(buf.subarray(off, off + 6 + l))}`);
    if (fc === 3 || fc === 4) {
      const n = buf[off + 8]!;
      if (n !== l - 3 || n % 2) t.crash(`FC${fc} reply byte count ${n} in a ${l}-byte frame`);
    }
    onProbe((buf[off]! << 8) | buf[off + 1]!);
    off += 6 + l;
  }
  return off;
}

/**
 * Drives a Modbus TCP server (port) with batches of mutated request frames over one connection,
 * each batch ending with a probe whose answer proves the server is still serving (no hang).
 */
async function driveTcp(t: Tally, port: number, n: number, seed: number, units: number[]): Promise<number> {
  const rng = new Rng(seed);
  const seeds: Uint8Array[] = [];
  for (let i = 0; i < 32; i++) seeds.push(requestPdu(rng));
  let sent = 0;
  let batchNo = 0;
  while (sent < n) {
    let rx = new Uint8Array(1 << 16);
    let rxLen = 0;
    let waiting: { tid: number; resolve: () => void } | null = null;
    let closed = false;
    let onClosed: () => void = () => {};
    const sock = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        binaryType: "uint8array",
        data(_s, chunk: Uint8Array) {
          if (rxLen + chunk.length > rx.length) {
            const grown = new Uint8Array(Math.max(rx.length * 2, rxLen + chunk.length));
            grown.set(rx.subarray(0, rxLen));
            rx = grown;
          }
          rx.set(chunk, rxLen);
          rxLen += chunk.length;
          const used = checkReplies(t, rx, rxLen, (tid) => {
            if (waiting && tid === waiting.tid) waiting.resolve();
          });
          rx.copyWithin(0, used, rxLen);
          rxLen -= used;
        },
        close() {
          closed = true;
          onClosed();
        },
        error() {},
      },
    });
    // Batches on this connection until the server closes it (a bad header) or we are done.
    while (sent < n && !closed) {
      const parts: Uint8Array[] = [];
      const batch = Math.min(n - sent, 200 + rng.int(800));
      for (let i = 0; i < batch; i++) {
        let pdu = rng.chance(0.85) ? mutateBytes(rng, rng.chance(0.5) ? requestPdu(rng) : rng.pick(seeds), seeds, 253) : rng.bytes(rng.int(12));
        if (pdu.length === 0) pdu = Uint8Array.of(rng.int(256));
        parts.push(adu(rng.int(0xff00), rng.chance(0.7) ? rng.pick(units) : rng.int(256), pdu));
      }
      const probeTid = 0xff00 | (batchNo++ & 0xff);
      parts.push(adu(probeTid, units[0]!, PROBE));
      const badHeader = rng.chance(0.1);
      const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
      let o = 0;
      for (const p of parts) all.set(p, (o += p.length) - p.length);
      const answered = new Promise<"ok" | "closed" | "hang">((resolve) => {
        const timer = setTimeout(() => resolve("hang"), HANG_MS * 2);
        waiting = { tid: probeTid, resolve: () => (clearTimeout(timer), resolve("ok")) };
        onClosed = () => (clearTimeout(timer), resolve("closed"));
      });
      // Random chunk boundaries: the server must reassemble frames split anywhere.
      for (let at = 0; at < all.length; ) {
        const size = rng.chance(0.3) ? 1 + rng.int(16) : 1 + rng.int(4096);
        const chunk = all.subarray(at, at + size);
        let w = 0;
        while (w < chunk.length && !closed) {
          const k = sock.write(chunk.subarray(w));
          if (k < 0) break; // closed under us (-1)
          w += k;
          if (k === 0) await Bun.sleep(1); // the server stopped reading (back-pressure): let it drain
        }
        at += size;
      }
      sock.flush();
      const r = await answered;
      // FUZZ_DUMP=PREFIX keeps the bytes of a batch that was not answered, to replay it.
      if (process.env.FUZZ_DUMP && r !== "ok") await Bun.write(`${process.env.FUZZ_DUMP}-${batchNo}-${r}.bin`, all);
      if (r === "hang") {
        t.hang(`no answer to the probe after batch ${batchNo} (seed ${seed})`);
        closed = true;
      } else if (r === "closed") t.count("closed on a well-framed batch (not counted)");
      else {
        sent += batch; // the probe's answer proves every frame before it was parsed
        t.count("batches answered");
      }
      // Then, sometimes, a header the server must refuse (protocol id, length), sent once the probe
      // is answered (an asynchronous reply would be lost with the connection): it may close it, so
      // the next batch starts on a new one.
      if (badHeader && !closed) {
        const bad = mutateBytes(rng, adu(rng.int(0xffff), rng.int(256), requestPdu(rng)), [], 300);
        sock.write(bad);
        sock.flush();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 50);
          onClosed = () => (clearTimeout(timer), resolve());
        });
        sent++;
        t.count("bad headers sent");
        break;
      }
    }
    sock.end();
  }
  return sent;
}

/** A handler that checks what the TCP server decoded against the protocol's ranges. */
function checkingHandler(t: Tally, rng: Rng): ModbusRequestHandler {
  const check = (ok: boolean, what: string) => {
    if (!ok) t.crash(`decoded out of range: ${what}`);
  };
  const maybeAsync = <T>(v: T): T | Promise<T> => (rng.chance(0.05) ? new Promise((r) => setTimeout(() => r(v), rng.int(2))) : v);
  const answer = <T>(v: T): T | ModbusException | undefined | Promise<T | ModbusException | undefined> =>
    rng.chance(0.05) ? new ModbusException(rng.pick([1, 2, 3, 4, 6, 10, 11])) : rng.chance(0.01) ? undefined : maybeAsync(v);
  return {
    readRegisters(unit, fc, address, count) {
      check(unit >= 0 && unit <= 255 && (fc === 3 || fc === 4) && count >= 1 && count <= 125 && address + count <= 65536, `read ${unit} ${fc} ${address} ${count}`);
      if (isProbe(fc, address, count)) return new Uint8Array(2);
      return answer(new Uint8Array(count * 2)) as never;
    },
    readBits(unit, fc, address, count) {
      check(unit >= 0 && unit <= 255 && (fc === 1 || fc === 2) && count >= 1 && count <= 2000 && address + count <= 65536, `bits ${unit} ${fc} ${address} ${count}`);
      return answer(new Uint8Array(count)) as never;
    },
    writeRegisters(unit, address, bytes, fc) {
      const n = bytes.length / 2;
      check(unit >= 0 && unit <= 255 && bytes.length % 2 === 0 && (fc === 6 ? n === 1 : n >= 1 && n <= 123) && address + n <= 65536, `write ${fc} ${address} ×${n}`);
      return answer(true as const) as never;
    },
    writeBits(unit, address, values, fc) {
      check(unit >= 0 && unit <= 255 && (fc === 5 ? values.length === 1 : values.length >= 1 && values.length <= 1968) && address + values.length <= 65536, `bits write ${fc} ${address} ×${values.length}`);
      check(values.every((v) => v === 0 || v === 1), "bit values 0/1");
      return answer(true as const) as never;
    },
  };
}

/** The Modbus TCP request decoder (src/protocols/modbus/tcp-server.ts, the simulator's and the gateway's). */
export async function fuzzTcpServer(n: number, seed = 1): Promise<FuzzResult> {
  const t = new Tally();
  const stop = catchUncaught(t);
  const t0 = performance.now();
  const server = startModbusTcpServer({ port: 0, handler: checkingHandler(t, new Rng(seed ^ 0x5a5a)), onError: (e) => t.crash(`handler error: ${errText(e)}`) });
  try {
    const inputs = await driveTcp(t, server.port, n, seed, [1, 2, 255, 0]);
    return { target: "modbus-tcp-server", inputs, crashes: t.crashes, hangs: t.hangs, ms: performance.now() - t0, outcomes: t.outcomes };
  } finally {
    server.stop();
    stop();
  }
}

/** The gateway (src/gateway): MBAP in, routed forward operations out, replies built from the bus's answers. */
export async function fuzzGateway(n: number, seed = 1): Promise<FuzzResult> {
  const t = new Tally();
  const stop = catchUncaught(t);
  const rng = new Rng(seed ^ 0x6a6a);
  const t0 = performance.now();
  const site = parseSite(
    {
      site: { name: "fuzz" },
      buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1" }, { id: "rs", kind: "modbus-rtu", port: "/dev/null" }],
      devices: [
        { id: "M1", bus: "gw", unit: 1, profile: "th40c" },
        { id: "M2", bus: "rs", unit: 2, profile: "generic" },
        { id: "IFE", bus: "gw", unit: 255, profile: "generic" },
      ],
      gateway: { host: "127.0.0.1", port: 0, units: [{ unit: 10, bus: "rs", targetUnit: 10 }] },
    },
    loadProfiles(),
  );
  const forward = (busId: string, unit: number, _device: string | undefined, op: ForwardOp): Promise<ForwardResult> => {
    const bad = (what: string) => t.crash(`gateway forwarded out of range: ${what} ${JSON.stringify(op).slice(0, 200)}`);
    if (!["gw", "rs"].includes(busId) || unit < 0 || unit > 255) bad(`bus ${busId} unit ${unit}`);
    let data: Uint8Array | undefined;
    if ("count" in op && isProbe(op.fc, op.address, op.count)) return Promise.resolve({ ok: true, data: new Uint8Array(2), busMs: 0 });
    if ("count" in op) {
      const max = op.fc <= 2 ? 2000 : 125;
      if (!(op.count >= 1 && op.count <= max && op.address + op.count <= 65536)) bad("read");
      data = new Uint8Array(op.fc <= 2 ? op.count : op.count * 2);
    } else if ("words" in op) {
      if (!(op.words.length >= 1 && op.words.length <= 123 && op.words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) && op.address + op.words.length <= 65536)) bad("words");
    } else if (!(op.bits.length >= 1 && op.bits.length <= 1968 && op.bits.every((b) => b === 0 || b === 1))) bad("bits");
    const result: ForwardResult = rng.chance(0.05) ? { ok: false, exception: rng.pick([2, 3, 4, 6, 10, 11]), error: "fuzz", busMs: 0 } : { ok: true, data, busMs: 0.1 };
    return rng.chance(0.05) ? new Promise((r) => setTimeout(() => r(result), rng.int(2))) : Promise.resolve(result);
  };
  const gateway = startGateway({ site, backend: { replyCache: undefined, forward }, host: "127.0.0.1", port: 0, log: () => {} });
  try {
    const inputs = await driveTcp(t, gateway.port, n, seed, [1, 2, 255, 10]);
    return { target: "gateway-mbap", inputs, crashes: t.crashes, hangs: t.hangs, ms: performance.now() - t0, outcomes: t.outcomes };
  } finally {
    gateway.stop();
    stop();
  }
}

/**
 * The Modbus TCP client's reply decoder (the bus worker's link, through `createLink`): a server on
 * loopback answers each request with its correct reply, a mutated one, one with another transaction
 * id, garbage, or nothing. A read must return exactly the bytes it asked for, or refuse with a
 * LinkError (the link then reconnects), within its timeout.
 */
export async function fuzzTcpClient(n: number, seed = 1): Promise<FuzzResult> {
  const t = new Tally();
  const stop = catchUncaught(t);
  const rng = new Rng(seed);
  const t0 = performance.now();
  const seeds: Uint8Array[] = [];
  const listener = Bun.listen<{ buf: Uint8Array }>({
    hostname: "127.0.0.1",
    port: 0,
    data: { buf: new Uint8Array(0) },
    socket: {
      binaryType: "uint8array",
      open(s) {
        s.data = { buf: new Uint8Array(0) };
      },
      data(s, chunk: Uint8Array) {
        let buf = Uint8Array.of(...s.data.buf, ...chunk);
        while (buf.length >= 12) {
          const len = (buf[4]! << 8) | buf[5]!;
          if (buf.length < 6 + len) break;
          const req = buf.subarray(0, 6 + len);
          buf = buf.slice(6 + len);
          const fc = req[7]!;
          const count = (req[10]! << 8) | req[11]!;
          const bytes = fc <= 2 ? (count + 7) >> 3 : count * 2;
          const pdu = rng.chance(0.05) ? Uint8Array.of(fc | 0x80, rng.pick([1, 2, 3, 4, 10, 11])) : Uint8Array.of(fc, bytes, ...rng.bytes(bytes));
          const good = adu((req[0]! << 8) | req[1]!, req[6]!, pdu);
          if (seeds.length < 16) seeds.push(good);
          const roll = rng.next();
          const reply =
            roll < 0.45 ? good
            : roll < 0.8 ? mutateBytes(rng, good, seeds, 300)
            : roll < 0.88 ? Uint8Array.of(...good.subarray(0, 0), rng.int(256), rng.int(256), ...good.subarray(2))
            : roll < 0.95 ? rng.bytes(rng.int(40))
            : new Uint8Array(0);
          for (let at = 0; at < reply.length; ) {
            const size = 1 + rng.int(reply.length);
            s.write(reply.subarray(at, at + size));
            at += size;
          }
        }
        s.data.buf = buf;
      },
    },
  });
  const LANES = 32;
  let done = 0;
  let slowest = 0;
  const lane = async (k: number) => {
    const link = createLink({ kind: "modbus-tcp", host: "127.0.0.1", port: listener.port, timeoutMs: 20 });
    while (done < n) {
      done++;
      const fc = rng.pick([1, 2, 3, 4] as const);
      const count = 1 + rng.int(fc <= 2 ? 2000 : 125);
      const start = rng.int(65536 - count);
      const t1 = performance.now();
      let watchdog: ReturnType<typeof setTimeout> | undefined;
      try {
        const got = await Promise.race([
          link.read(1 + rng.int(255), fc, start, count, 20),
          new Promise<"hang">((r) => (watchdog = setTimeout(() => r("hang"), ASYNC_HANG_MS))),
        ]).finally(() => clearTimeout(watchdog));
        if (got === "hang") {
          t.hang(`read FC${fc} ${start} ×${count} never settled`);
          return;
        }
        const expected = fc <= 2 ? (count + 7) >> 3 : count * 2;
        if (got.length !== expected) t.crash(`read FC${fc} ×${count} returned ${got.length} bytes, not ${expected}`);
        t.count("read");
      } catch (e) {
        if (!(e instanceof LinkError)) t.crash(`read FC${fc} ${start} ×${count}: ${errText(e)}`);
        else t.count(`refused: ${e.kind}`);
      }
      slowest = Math.max(slowest, performance.now() - t1);
    }
    await link.close();
  };
  try {
    await Promise.all(Array.from({ length: LANES }, (_, k) => lane(k)));
  } finally {
    listener.stop(true);
    stop();
  }
  return { target: "modbus-tcp-client", inputs: done, crashes: t.crashes, hangs: t.hangs, ms: performance.now() - t0, outcomes: { ...t.outcomes, "slowest read ms": Math.round(slowest) } };
}

// ---- Modbus RTU --------------------------------------------------------------------------------

/** A correct reply frame (unit … CRC) to `pdu`. */
function replyFrame(rng: Rng, unit: number, pdu: Uint8Array): Uint8Array {
  const fc = pdu[0]!;
  let body: number[];
  if (rng.chance(0.05)) body = [fc | 0x80, rng.pick([1, 2, 3, 4, 6, 11])];
  else if (fc <= 4) {
    const count = (pdu[3]! << 8) | pdu[4]!;
    const bytes = fc <= 2 ? (count + 7) >> 3 : count * 2;
    body = [fc, bytes, ...rng.bytes(bytes)];
  } else body = Array.from(pdu.subarray(0, 5));
  const f = Uint8Array.of(unit, ...body, 0, 0);
  const crc = crc16(f, 0, f.length - 2);
  f[f.length - 2] = crc & 0xff;
  f[f.length - 1] = crc >> 8;
  return f;
}

function rtuRequest(rng: Rng): Uint8Array {
  const fc = rng.pick([1, 2, 3, 3, 4, 5, 6, 15, 16]);
  const a = rng.int(65536);
  if (fc <= 4) {
    const n = 1 + rng.int(fc <= 2 ? 2000 : 125);
    return Uint8Array.of(fc, a >> 8, a & 0xff, n >> 8, n & 0xff);
  }
  if (fc === 5 || fc === 6) return Uint8Array.of(fc, a >> 8, a & 0xff, rng.int(256), rng.int(256));
  const n = 1 + rng.int(10);
  return fc === 15 ? Uint8Array.of(15, a >> 8, a & 0xff, 0, n, 2, 0xff, 0x03) : Uint8Array.of(16, a >> 8, a & 0xff, 0, n, 2 * n, ...rng.bytes(2 * n));
}

/**
 * The RTU master's reply decoder (src/protocols/modbus/rtu-master.ts) over an in-memory line: each
 * request gets mutated bytes (noise, a corrupted reply, a late answer), usually followed by the
 * correct reply, in random chunks. The master must return a reply of the request's own shape, or
 * refuse with a LinkError, within its timeout. Plus the pure frame functions on random buffers.
 */
export async function fuzzRtu(n: number, seed = 1): Promise<FuzzResult> {
  const t = new Tally();
  const stop = catchUncaught(t);
  const rng = new Rng(seed);
  const t0 = performance.now();
  const LANES = 16;
  let done = 0;
  const lane = async (k: number) => {
    let respond: (frame: Uint8Array) => void = () => {};
    const transport: ByteTransport = {
      isOpen: true,
      write: (frame) => respond(frame),
      onData: () => {},
      onClose: () => {},
      close: async () => {},
    };
    const master = new RtuMaster(transport, { charMs: 0, t35Ms: 0, silenceMs: 2, broadcastDelayMs: 0 }, k % 8 === 0);
    const others: Uint8Array[] = [];
    while (done < n) {
      done++;
      const unit = rng.chance(0.01) ? 0 : 1 + rng.int(247);
      const pdu = rtuRequest(rng);
      const good = replyFrame(rng, unit, pdu);
      if (others.length < 16) others.push(good);
      const noise = rng.chance(0.9) ? mutateBytes(rng, rng.chance(0.5) ? good : rng.pick(others), others, 600) : new Uint8Array(0);
      const withGood = rng.chance(0.997);
      respond = (frame) => {
        const echo = k % 8 === 0 ? frame : new Uint8Array(0);
        const stream = Uint8Array.of(...echo, ...noise, ...(withGood ? good : []));
        queueMicrotask(() => {
          for (let at = 0; at < stream.length; ) {
            const size = 1 + rng.int(stream.length);
            transport.onData(stream.slice(at, at + size));
            at += size;
          }
        });
      };
      const t1 = performance.now();
      try {
        // A request that never settles is a hang; a slow one only means a loaded machine (the
        // lanes share one event loop, and the master blocks it for sub-millisecond waits).
        let watchdog: ReturnType<typeof setTimeout> | undefined;
        const reply = await Promise.race([
          master.request(unit, pdu, 20),
          new Promise<"hang">((r) => (watchdog = setTimeout(() => r("hang"), ASYNC_HANG_MS))),
        ]).finally(() => clearTimeout(watchdog));
        if (reply === "hang") {
          t.hang(`request ${hex(pdu)} after ${hex(noise)} never settled`);
          return;
        }
        slowest = Math.max(slowest, performance.now() - t1);
        if (unit === 0) {
          if (reply !== null) t.crash(`broadcast answered`);
          t.count("broadcast");
        } else if (!reply) t.crash("null reply to a unicast");
        else {
          const fc = pdu[0]!;
          const shapeOk = reply[0] === (fc | 0x80) ? reply.length === 2 : reply[0] === fc && (fc > 4 ? reply.length === 5 : reply.length === 2 + (fc <= 2 ? ((((pdu[3]! << 8) | pdu[4]!) + 7) >> 3) : ((pdu[3]! << 8) | pdu[4]!) * 2));
          if (!shapeOk) t.crash(`reply of the wrong shape to ${hex(pdu)}: ${hex(reply)}`);
          t.count(reply[0]! & 0x80 ? "exception reply" : "reply");
        }
      } catch (e) {
        if (!(e instanceof LinkError)) t.crash(`request ${hex(pdu)} after ${hex(noise)}: ${errText(e)}`);
        else t.count(`refused: ${e.kind}`);
      }
    }
  };
  let slowest = 0;
  await Promise.all(Array.from({ length: LANES }, (_, k) => lane(k)));
  stop();
  // The frame functions on their own: any buffer, any offset.
  const frames = Math.max(1, Math.floor(n / 4));
  for (let i = 0; i < frames; i++) {
    const buf = rng.chance(0.5) ? rng.bytes(rng.int(300)) : mutateBytes(rng, replyFrame(rng, 1 + rng.int(247), rtuRequest(rng)));
    const off = rng.int(buf.length + 1);
    timed(t, () => `frame fns ${hex(buf)}@${off}`, () => {
      const avail = buf.length - off;
      const r = requestLength(buf, off, avail);
      if (typeof r === "number" && !(r >= 4 && r <= 256)) throw new Error(`requestLength ${r}`);
      const q = replyLength(rtuRequest(rng), buf, off, avail);
      if (typeof q === "number" && !(q >= 5 && q <= 260)) throw new Error(`replyLength ${q}`);
      crcOk(buf, off, Math.min(avail, rng.int(260)));
    });
  }
  return { target: "modbus-rtu", inputs: done + frames, crashes: t.crashes, hangs: t.hangs, ms: performance.now() - t0, outcomes: { ...t.outcomes, "frame-function inputs": frames, "slowest request ms": Math.round(slowest) } };
}

/** Register data decoding (src/protocols/modbus/codec.ts) for every type and order, any bytes. */
export function fuzzCodec(n: number, seed = 1): FuzzResult {
  const t = new Tally();
  const rng = new Rng(seed);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const type = rng.pick(DATA_TYPES);
    const spec = { type, order: rng.pick(WORD_ORDERS), length: type === "text" ? 1 + rng.int(250) : undefined, mask: rng.chance(0.2) ? 1 + rng.int(0xffff) : undefined } as Parameters<typeof decodeRaw>[2];
    const bytes = rng.chance(0.3) ? Uint8Array.from({ length: registerCount(spec) * 2 }, () => rng.pick([0, 0xff, 0x7f, 0x80])) : rng.bytes(registerCount(spec) * 2);
    timed(t, () => `${type}/${spec.order} ${hex(bytes)}`, () => {
      const v = decodeRaw(bytes, 0, spec);
      if (typeof v !== "number" && typeof v !== "string") throw new Error(`decoded ${typeof v}`);
      t.count(typeof v === "number" && Number.isNaN(v) ? "NaN" : "value");
    });
  }
  return { target: "modbus-codec", inputs: n, crashes: t.crashes, hangs: t.hangs, ms: performance.now() - t0, outcomes: t.outcomes };
}

// ---- EnLogic importer ----------------------------------------------------------------------------

const XML_TOKENS = [
  "<Tag ", "/>", ">", "<", "</Tag>", '<Group Name="g">', "</Group>", "<TagTree>", "</TagTree>", "<Module Id=\"1\">", "</Module>", "<!--", "-->", "<![CDATA[", "]]>",
  "&amp;", "&lt;", "&#x41;", "&#65;", "&#99999999;", "&#xD800;", "&bogus;", "&", '"', "'", "=", " Adr=\"0x10\"", ' DataType="44"', ' DataType="42" msk="250"', ' Func="0x10"', ' Func="0"',
  ' endian="3"', ' mn="3"', ' K="0"', ' K="NaN"', ' msk="0"', ' Type="DTO"', ' Type="SI"', '<Prop Id="6" Init="60"/>', '<Prop Id="7" Init="-1"/>', '<Prop Id="1" Init="999"/>', '<Prop Id="4" Init="255"/>',
  '<Prop IdStr="endian" Init="2"/>', "<?xml version=\"1.0\"?>", "<?", "?>", "<!DOCTYPE x [<!ENTITY a \"b\">]>", "\u0000", "\uFFFD", "Ё", " Name=\"\"", ' Name="Связь"', ' Adr="70000"', ' Adr="-1"',
];

function enlogicSeeds(): Uint8Array[] {
  const dir = join(ROOT, "test/fixtures/enlogic");
  return readdirSync(dir).filter((f) => f.endsWith(".io")).map((f) => readFileSync(join(dir, f)));
}

/** Small maps (fast to import) in the shape of the seed's, for most mutations. */
const SMALL_MAPS = [
  `<IO><Module Id="1"><Name>M</Name><Protocol>Modbus</Protocol><Properties><Prop Id="1" Init="3"/><Prop Id="4" Init="3"/><Prop Id="6" Init="10"/><Prop Id="7" Init="100"/><Prop Id="8" Init="5"/></Properties><TagProperties><Prop IdStr="Adr" Init="1"/><Prop IdStr="Func" Init="3"/><Prop IdStr="DataType" Init="21"/><Prop IdStr="K" Init="1"/><Prop IdStr="msk" Init="0xFFFF"/><Prop IdStr="mn" Init="0"/><Prop IdStr="endian" Init="2"/><Prop IdStr="tuid" Init="0"/></TagProperties><TagTree><Tag Name="DT" Type="DTI" Adr="0x1100" DataType="44"/><Tag Name="wDT" Type="DTO" Adr="0x1100" DataType="44" Func="0x10"/><Tag Name="S" Type="SI" Adr="0x100" DataType="42" msk="8"/><Tag Name="P" Type="AIF" Adr="0x3800" DataType="20" mn="3" K="0.001" Measure="кВт" tuid="10"/><Group Name="G"><Tag Name="In" Type="DI" Adr="0x33" msk="0x4"/><Tag Name="Svc" Type="DI" Adr="1" Func="0"/></Group></TagTree></Module></IO>`,
  `<Properties><Prop Id="3" Init="1"/></Properties><TagProperties><Prop IdStr="Adr"/><Prop IdStr="DataType" Init="23"/></TagProperties><TagTree><Tag Name="U" Type="AIF" Adr="1" endian="1"/><Tag Name="T" Type="SI" Adr="9" DataType="41" msk="4"/><Tag Name="O" Type="AOF" Adr="20" Func="16"/></TagTree>`,
];

/**
 * importEnlogic on mutated maps: it never throws (a bad map is reported by line), and every module
 * it returns is a valid Busbar profile whose YAML loads back with the same tags.
 */
export function fuzzEnlogic(n: number, seed = 1): FuzzResult {
  const t = new Tally();
  const rng = new Rng(seed);
  const t0 = performance.now();
  const big = enlogicSeeds();
  const texts = [...SMALL_MAPS, ...big.map((b) => new TextDecoder("windows-1251").decode(b))];
  const enc = new TextEncoder();
  for (let i = 0; i < n; i++) {
    let bytes: Uint8Array;
    if (rng.chance(0.01)) bytes = mutateBytes(rng, rng.pick(big), big, 1 << 16);
    else {
      const base = rng.chance(0.97) ? rng.pick(SMALL_MAPS) : rng.pick(texts);
      const text = mutateText(rng, base, XML_TOKENS, texts);
      bytes = enc.encode((rng.chance(0.5) ? '<?xml version="1.0" encoding="UTF-8"?>\n' : "") + text);
    }
    timed(t, () => `seed ${seed} input ${i}: ${new TextDecoder().decode(bytes).slice(0, 300)}`, () => {
      const r = importEnlogic(bytes, "fuzz.io");
      for (const m of r.modules) {
        parseProfile(m.profile, "imported");
        let back;
        try {
          back = parseProfileYaml(m.yaml, "imported.yaml");
        } catch (e) {
          throw new Error(`the imported YAML does not load (${errText(e)}):\n${m.yaml.slice(0, 1500)}`);
        }
        if (back.tags.length !== m.profile.tags.length) throw new Error(`YAML has ${back.tags.length} tags, the import ${m.profile.tags.length}`);
      }
      t.count(r.modules.length ? "imported" : "nothing imported");
    });
  }
  return { target: "enlogic-import", inputs: n, crashes: t.crashes, hangs: t.hangs, ms: performance.now() - t0, outcomes: t.outcomes };
}

// ---- Site and profile loaders ----------------------------------------------------------------------

const YAML_TOKENS = [
  "&a ", "*a", "<<: *a", "!!str ", "!!binary ", "!!js/function ", "? ", ": ", "- ", "[", "]", "{", "}", ",", "#", "'", '"', "|", ">", "---\n", "...\n", "\n", "\n  ", "\t", "%YAML 1.2\n", "~", "null",
  "0x10", "0o17", ".inf", ".nan", "1e309", "-0", "2001-12-14", "yes", "on", "timezone: Mars/Olympus_Mons", "unit: 255", "unit: 0", "kind: modbus-rtu", "kind: modbus-tcp", "profile: th40c", "__proto__: x",
  "label: " + "x".repeat(2100), "[".repeat(70), "{a: ".repeat(40), "\\u0000", "\\x41",
];

const SMALL_SITE = `site: { name: Fuzz, timezone: America/Toronto, language: fr }
buses:
  - { id: gw, kind: modbus-tcp, host: 127.0.0.1, port: 502, timeoutMs: 500 }
  - { id: rs, kind: modbus-rtu, port: /dev/ttyUSB0, baud: 9600 }
devices:
  - &d { id: M1, bus: gw, unit: 1, profile: th40c, label: "Main", pollMs: 1000 }
  - { id: M2, bus: rs, unit: 2, profile: micrologic-e, ku: 100, ki: 5 }
topology:
  sources: [{ id: utility, kind: utility }]
  busbars: [{ id: mdp }]
  breakers: [{ id: Q1, from: utility, to: mdp, device: M2 }, { id: Q2, from: mdp, load: L, power: M1.p_total }]
  meters: [{ id: TH, device: M1, at: Q1 }]
alarms: { points: [{ point: M1.v_an, hh: 300, h: 260, l: 200, deadband: 2 }] }
gateway: { host: 127.0.0.1, port: 1502, units: [{ unit: 9, bus: gw, targetUnit: 255 }] }
`;

/**
 * The site and profile loaders: parseYaml then parseSite / parseProfile, on mutated YAML text and on
 * mutated documents. Only ConfigError may come out; a site that loads has a usable time zone and
 * units within its buses' ranges.
 */
export function fuzzSiteLoader(n: number, seed = 1): FuzzResult {
  const t = new Tally();
  const rng = new Rng(seed);
  const t0 = performance.now();
  const profiles = loadProfiles();
  const profileTexts = readdirSync(join(ROOT, "data/profiles")).map((f) => readFileSync(join(ROOT, "data/profiles", f), "utf8"));
  const demo = readFileSync(join(ROOT, "data/demo-site.yaml"), "utf8");
  const texts = [SMALL_SITE, demo, ...profileTexts];
  const siteDoc = parseYaml(SMALL_SITE, "small");
  const demoDoc = parseYaml(demo, "demo");
  const profileDocs = profileTexts.map((x) => parseYaml(x, "p"));
  const smallProfiles = profileTexts.filter((p) => p.length < 4000);
  const zonesSeen = new Set<string>();
  const accept = (e: unknown) => {
    if (!(e instanceof ConfigError)) throw e;
    if (!e.issues.length || e.issues.some((i) => !i.path || !i.message)) throw new Error(`ConfigError without path or message: ${e.message.slice(0, 200)}`);
  };
  const checkSite = (doc: unknown) => {
    try {
      const site = parseSite(doc, profiles, "fuzz.yaml");
      if (!zonesSeen.has(site.site.timezone)) {
        new Intl.DateTimeFormat("en", { timeZone: site.site.timezone }).format(0); // what the pages do with it
        zonesSeen.add(site.site.timezone);
      }
      const kinds = new Map(site.buses.map((b) => [b.id, b.kind]));
      for (const d of site.devices) {
        const kind = kinds.get(d.bus);
        // A BACnet device has an instance, never a Modbus unit; serial buses take 1..247, modbus-tcp 0..255.
        const unitOk = kind === "bacnet-ip" ? d.unit === NO_UNIT && d.instance !== undefined : kind === "modbus-tcp" ? d.unit >= 0 && d.unit <= 255 : d.unit >= 1 && d.unit <= 247;
        if (!unitOk) throw new Error(`unit ${d.unit} accepted on ${kind}`);
      }
      t.count("site loaded");
    } catch (e) {
      accept(e);
      t.count("site refused");
    }
  };
  const checkProfile = (doc: unknown) => {
    try {
      parseProfile(doc, "fuzz-profile");
      t.count("profile loaded");
    } catch (e) {
      accept(e);
      t.count("profile refused");
    }
  };
  for (let i = 0; i < n; i++) {
    const mode = rng.int(20);
    if (mode < 5) {
      // YAML text: small site or a profile, mutated by tokens.
      const base = rng.chance(0.6) ? SMALL_SITE : rng.chance(0.005) ? demo : rng.pick(smallProfiles);
      const text = mutateText(rng, base, YAML_TOKENS, texts, 64_000);
      timed(t, () => `seed ${seed} input ${i}: ${JSON.stringify(text.slice(0, 400))}`, () => {
        let doc: unknown;
        try {
          doc = parseYaml(text, "fuzz.yaml");
        } catch (e) {
          accept(e);
          t.count("yaml refused");
          return;
        }
        if (base === SMALL_SITE || base === demo) checkSite(doc);
        else checkProfile(doc);
      });
    } else if (mode < 15) {
      const doc = mutateValue(rng, rng.chance(0.97) ? siteDoc : demoDoc);
      timed(t, () => `seed ${seed} input ${i}: site ${JSON.stringify(doc).slice(0, 400)}`, () => checkSite(doc));
    } else {
      const doc = mutateValue(rng, rng.pick(profileDocs));
      timed(t, () => `seed ${seed} input ${i}: profile ${JSON.stringify(doc).slice(0, 400)}`, () => checkProfile(doc));
    }
  }
  return { target: "site-profile-loaders", inputs: n, crashes: t.crashes, hangs: t.hangs, ms: performance.now() - t0, outcomes: t.outcomes };
}

export const TARGETS: Record<string, (n: number, seed?: number) => FuzzResult | Promise<FuzzResult>> = {
  "modbus-tcp-server": fuzzTcpServer,
  "gateway-mbap": fuzzGateway,
  "modbus-tcp-client": fuzzTcpClient,
  "modbus-rtu": fuzzRtu,
  "modbus-codec": fuzzCodec,
  "enlogic-import": fuzzEnlogic,
  "site-profile-loaders": fuzzSiteLoader,
};
