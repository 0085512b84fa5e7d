/**
 * The simulator's Modbus RTU slave: serves devices on a serial line (in tests and the demo, one end
 * of a socat pty pair) through the same request handler interface as the TCP server.
 *
 * Wire-time honest mode: a pty carries bytes instantly, so on request the slave waits what a real
 * line would take: the request's transmission at the configured speed, the t3.5 silence a device
 * needs to see the frame end, the device's turnaround, and the reply's own transmission; only then
 * is the reply written. A master polling it therefore sees the physical timing of the wire.
 *
 * Input framing: by length (every function the handler interface knows) and CRC; bytes that do not
 * start a valid frame are skipped one at a time, frames for other units are ignored, unit 0 is a
 * broadcast (executed, never answered). Faults per unit come from `faults` (serial-faults.ts).
 */
import { crcOk, buildFrame, requestLength, t35Ms, waitUntil, wireMs, type LineSettings } from "../protocols/modbus/rtu-frame.ts";
import { ExceptionCode, ModbusException, RawReply, type ModbusConnectionInfo, type ModbusRequestHandler } from "../protocols/modbus/tcp-server.ts";
import { SerialPort } from "../protocols/serial/tty.ts";
import { corrupt, FaultTable } from "./serial-faults.ts";
import type { SimDevice } from "./device.ts";

export interface RtuSlaveOptions {
  path: string;
  line: LineSettings;
  handler: ModbusRequestHandler;
  /** Delay replies by their real wire time plus `turnaroundMs`. */
  wireTime?: boolean;
  /** Device processing time between the end of the request and the start of the reply. Default 5 ms. */
  turnaroundMs?: number;
  /**
   * One-way latency of the test rig (socat's pty relay), measured by `calibratePtyPair`: the request
   * reached us this much after the master sent it, and the reply will reach the master this much
   * after we write it, so wire-time mode writes it 2 × this earlier. Use the smallest latency seen,
   * so replies are never earlier than the wire would allow.
   */
  rigLatencyMs?: number;
}

export interface RtuSlaveStats {
  requests: number;
  replies: number;
  broadcasts: number;
  /** Frames dropped for a bad CRC, bytes skipped while resynchronising. */
  badFrames: number;
  skippedBytes: number;
  /** How late replies were written compared with the wire-time target (ms), wire-time mode only. */
  lateSum: number;
  lateMax: number;
}

const CONN: ModbusConnectionInfo = { id: 0, remoteAddress: "serial" };

export class RtuSlave {
  readonly faults = new FaultTable();
  readonly stats: RtuSlaveStats = { requests: 0, replies: 0, broadcasts: 0, badFrames: 0, skippedBytes: 0, lateSum: 0, lateMax: 0 };
  private readonly port: SerialPort;
  private buf = new Uint8Array(1024);
  private len = 0;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly turnaround: number;

  constructor(private readonly opts: RtuSlaveOptions) {
    this.turnaround = opts.turnaroundMs ?? 5;
    this.port = SerialPort.open(opts.path, { baud: opts.line.baud, parity: opts.line.parity, stopBits: opts.line.stopBits });
    this.port.onData = (chunk) => this.onData(chunk, performance.now());
  }

  private onData(chunk: Uint8Array, at: number): void {
    if (this.len + chunk.length > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, this.len + chunk.length));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
    let off = 0;
    while (this.len - off >= 4) {
      const n = requestLength(this.buf, off, this.len - off);
      if (n === undefined) break;
      if (n === null || n > 256) {
        off++;
        this.stats.skippedBytes++;
        continue;
      }
      if (this.len - off < n) break;
      if (!crcOk(this.buf, off, n)) {
        this.stats.badFrames++;
        off++;
        this.stats.skippedBytes++;
        continue;
      }
      const frame = this.buf.slice(off, off + n);
      off += n;
      this.chain = this.chain.then(() => this.serve(frame, at)).catch(() => {});
    }
    if (off > 0) {
      this.buf.copyWithin(0, off, this.len);
      this.len -= off;
    }
  }

  private async serve(frame: Uint8Array, receivedAt: number): Promise<void> {
    if (this.closed) return;
    const unit = frame[0]!;
    const h = this.opts.handler;
    if (unit !== 0 && h.acceptsUnit && !h.acceptsUnit(unit)) return;
    this.stats.requests++;
    const pdu = frame.subarray(1, frame.length - 2);
    let reply: Uint8Array | undefined;
    try {
      reply = await answer(h, unit, pdu);
    } catch {
      reply = Uint8Array.of(pdu[0]! | 0x80, ExceptionCode.SERVER_DEVICE_FAILURE);
    }
    if (unit === 0) {
      this.stats.broadcasts++;
      return;
    }
    if (!reply) return;
    const f = this.faults.take(unit);
    let out = corrupt(buildFrame(unit, reply), f);
    if (!out) return;
    if (f?.echo) {
      const e = new Uint8Array(frame.length + out.length);
      e.set(frame);
      e.set(out, frame.length);
      out = e;
    }
    let delay = f?.lateMs ?? 0;
    let target = 0;
    if (this.opts.wireTime) {
      const line = this.opts.line;
      // Request on the wire, the silence that ends it, turnaround, the reply on the wire.
      const wire = wireMs(line, frame.length) + t35Ms(line) + this.turnaround + wireMs(line, out.length);
      target = receivedAt + wire + delay - 2 * (this.opts.rigLatencyMs ?? 0);
      delay = target - performance.now();
    }
    if (delay > 0) await waitUntil(performance.now() + delay);
    if (this.closed) return;
    if (target) {
      const late = performance.now() - target;
      this.stats.lateSum += Math.max(0, late);
      if (late > this.stats.lateMax) this.stats.lateMax = late;
    }
    try {
      this.port.write(out);
      this.stats.replies++;
    } catch {
      /* closing */
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.port.close();
  }
}


/** Runs one request PDU through the handler and builds the reply PDU (undefined: no answer). */
export async function answer(h: ModbusRequestHandler, unit: number, pdu: Uint8Array): Promise<Uint8Array | undefined> {
  const fc = pdu[0]!;
  const a = (pdu[1]! << 8) | pdu[2]!;
  const b = (pdu[3]! << 8) | pdu[4]!;
  const exc = (code: number) => Uint8Array.of(fc | 0x80, code);
  const result = (r: Uint8Array | ModbusException | true | undefined): Uint8Array | ModbusException | true | undefined => r;
  let r: Uint8Array | ModbusException | true | undefined;
  switch (fc) {
    case 1:
    case 2: {
      if (b < 1 || b > 2000) return exc(ExceptionCode.ILLEGAL_DATA_VALUE);
      if (a + b > 65536) return exc(ExceptionCode.ILLEGAL_DATA_ADDRESS);
      const bits = await h.readBits(unit, fc, a, b, CONN);
      if (bits instanceof RawReply) return bits.pdu; // the simulator's garbage, as it is
      r = result(bits);
      if (r instanceof Uint8Array) {
        const n = (b + 7) >> 3;
        const out = new Uint8Array(2 + n);
        out[0] = fc;
        out[1] = n;
        for (let i = 0; i < b; i++) if (r[i]) out[2 + (i >> 3)]! |= 1 << (i & 7);
        return out;
      }
      break;
    }
    case 3:
    case 4: {
      if (b < 1 || b > 125) return exc(ExceptionCode.ILLEGAL_DATA_VALUE);
      if (a + b > 65536) return exc(ExceptionCode.ILLEGAL_DATA_ADDRESS);
      const regs = await h.readRegisters(unit, fc, a, b, CONN);
      if (regs instanceof RawReply) return regs.pdu;
      r = result(regs);
      if (r instanceof Uint8Array) {
        if (r.length !== 2 * b) return exc(ExceptionCode.SERVER_DEVICE_FAILURE);
        const out = new Uint8Array(2 + r.length);
        out[0] = fc;
        out[1] = r.length;
        out.set(r, 2);
        return out;
      }
      break;
    }
    case 5:
      if (b !== 0xff00 && b !== 0) return exc(ExceptionCode.ILLEGAL_DATA_VALUE);
      r = result(await h.writeBits(unit, a, Uint8Array.of(b ? 1 : 0), 5, CONN));
      break;
    case 6:
      r = result(await h.writeRegisters(unit, a, pdu.slice(3, 5), 6, CONN));
      break;
    case 15: {
      const n = pdu[5]!;
      if (b < 1 || b > 1968 || n !== (b + 7) >> 3 || pdu.length !== 6 + n) return exc(ExceptionCode.ILLEGAL_DATA_VALUE);
      const bits = new Uint8Array(b);
      for (let i = 0; i < b; i++) bits[i] = (pdu[6 + (i >> 3)]! >> (i & 7)) & 1;
      r = result(await h.writeBits(unit, a, bits, 15, CONN));
      break;
    }
    case 16: {
      const n = pdu[5]!;
      if (b < 1 || b > 123 || n !== 2 * b || pdu.length !== 6 + n) return exc(ExceptionCode.ILLEGAL_DATA_VALUE);
      r = result(await h.writeRegisters(unit, a, pdu.slice(6, 6 + n), 16, CONN));
      break;
    }
    default:
      return exc(ExceptionCode.ILLEGAL_FUNCTION);
  }
  if (r === undefined) return undefined;
  if (r instanceof ModbusException) return exc(r.code);
  if (r === true) return pdu.slice(0, 5);
  return exc(ExceptionCode.SERVER_DEVICE_FAILURE);
}

/** A request handler over simulated devices (by unit); a device marked `offline` never answers. */
export function simDevicesHandler(devices: Iterable<SimDevice>): ModbusRequestHandler {
  const byUnit = new Map<number, SimDevice>();
  for (const d of devices) byUnit.set(d.unit, d);
  const dev = (unit: number) => {
    const d = byUnit.get(unit);
    return d && !d.offline ? d : undefined;
  };
  return {
    acceptsUnit: (unit) => byUnit.has(unit),
    readRegisters: (unit, fc, address, count) => dev(unit)?.readRegisters(fc, address, count),
    readBits: (unit, fc, address, count) => dev(unit)?.readBits(fc, address, count),
    writeRegisters(unit, address, bytes) {
      if (unit === 0) {
        for (const d of byUnit.values()) if (!d.offline) d.writeRegisters(address, bytes);
        return true;
      }
      return dev(unit)?.writeRegisters(address, bytes);
    },
    writeBits(unit, address, values) {
      if (unit === 0) {
        for (const d of byUnit.values()) if (!d.offline) d.writeBits(address, values);
        return true;
      }
      return dev(unit)?.writeBits(address, values);
    },
  };
}
