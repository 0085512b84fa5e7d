import { Socket } from "node:net";
import { SerialPort, type ByteTransport } from "../serial/tty.ts";
import { exceptionError, LinkError, type ModbusLink } from "./link-error.ts";
import { charMs, readPdu, t35Ms, writeBitsPdu, writeRegistersPdu, type LineSettings } from "./rtu-frame.ts";
import { RtuMaster, type RtuCounters, type RtuTiming } from "./rtu-master.ts";

/**
 * Modbus RTU links: a local serial port (`modbus-rtu`) or raw RTU frames over TCP to a serial
 * device server (`modbus-rtu-tcp`). Same master, same framing; only the byte pipe differs.
 */

/** Serial line settings and timing every RTU link has (a site's serial bus carries these fields). */
interface RtuLine {
  baud: number;
  parity: "none" | "even" | "odd";
  stopBits: 1 | 2;
  timeoutMs: number;
  /** Quiet time after a broadcast (unit 0) before the next request. */
  broadcastDelayMs: number;
}

/** What an RTU link needs: a local serial port, or a serial device server's TCP address. */
export type RtuLinkOptions =
  | (RtuLine & { kind: "modbus-rtu"; port: string; interFrameMs?: number; echo: boolean })
  | (RtuLine & { kind: "modbus-rtu-tcp"; host: string; port: number });

/** Line timing for a bus: t3.5 (or the bus's own inter-frame silence), short-frame silence. */
export function rtuTiming(bus: RtuLinkOptions): RtuTiming {
  const line: LineSettings = { baud: bus.baud, parity: bus.parity, stopBits: bus.stopBits };
  const c = charMs(line);
  const t35 = bus.kind === "modbus-rtu" && bus.interFrameMs !== undefined ? bus.interFrameMs : t35Ms(line);
  return {
    charMs: c,
    t35Ms: bus.kind === "modbus-rtu" ? t35 : 0, // the device server keeps its own line's silences
    // USB adapters deliver bytes in bursts (FTDI: every 16 ms); a reply pausing longer is cut short.
    silenceMs: Math.max(bus.kind === "modbus-rtu" ? 20 : 50, 4 * t35),
    broadcastDelayMs: bus.broadcastDelayMs,
  };
}

/** Raw bytes over a TCP connection. */
export class TcpTransport implements ByteTransport {
  private socket: Socket | null = null;
  onData: (chunk: Uint8Array) => void = () => {};
  onClose: (error?: Error) => void = () => {};

  static connect(host: string, port: number, timeoutMs: number): Promise<TcpTransport> {
    const t = new TcpTransport();
    return new Promise((resolve, reject) => {
      const s = new Socket();
      s.setNoDelay(true);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      s.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      s.connect(port, host, () => {
        clearTimeout(timer);
        s.removeAllListeners("error");
        t.socket = s;
        s.on("data", (d: Buffer) => t.onData(new Uint8Array(d.buffer, d.byteOffset, d.length)));
        s.on("error", () => {});
        s.on("close", () => {
          if (t.socket === s) {
            t.socket = null;
            t.onClose(new Error("connection closed"));
          }
        });
        resolve(t);
      });
    });
  }

  get isOpen(): boolean {
    return this.socket !== null && !this.socket.destroyed;
  }

  write(data: Uint8Array): void {
    if (!this.socket) throw new Error("not connected");
    this.socket.write(data);
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    s?.destroy();
  }
}

export class RtuLink implements ModbusLink {
  private transport: ByteTransport | null = null;
  private master: RtuMaster | null = null;
  private opening: Promise<void> | undefined;
  readonly timing: RtuTiming;
  /** Totals over every connection of this link. */
  private readonly totals: RtuCounters;

  constructor(readonly bus: RtuLinkOptions) {
    this.timing = rtuTiming(bus);
    this.totals = { requests: 0, replies: 0, timeouts: 0, crcErrors: 0, shortFrames: 0, echoes: 0, garbageBytes: 0, broadcasts: 0 };
  }

  get isOpen(): boolean {
    return this.transport?.isOpen ?? false;
  }

  /** Line counters: requests, replies, timeouts, CRC errors, short frames, echoes, garbage bytes. */
  counters(): RtuCounters {
    const c = { ...this.totals };
    const m = this.master?.counters;
    if (m) for (const k of Object.keys(c) as (keyof RtuCounters)[]) c[k] += m[k];
    return c;
  }

  async connect(): Promise<void> {
    if (this.isOpen) return;
    this.opening ??= (async () => {
      await this.drop();
      const bus = this.bus;
      let t: ByteTransport;
      try {
        t =
          bus.kind === "modbus-rtu"
            ? SerialPort.open(bus.port, { baud: bus.baud, parity: bus.parity, stopBits: bus.stopBits })
            : await TcpTransport.connect(bus.host, bus.port, Math.max(bus.timeoutMs, 1000));
      } catch (e) {
        const where = bus.kind === "modbus-rtu" ? bus.port : `${bus.host}:${bus.port}`;
        throw new LinkError("disconnected", `cannot open ${where}: ${(e as Error).message.replace(/^cannot (open|configure) \S+: /, "")}`);
      }
      const master = new RtuMaster(t, this.timing, bus.kind === "modbus-rtu" && bus.echo);
      t.onClose = (e) => master.abort(new LinkError("disconnected", e?.message ?? "line closed"));
      this.transport = t;
      this.master = master;
    })().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async drop(): Promise<void> {
    const m = this.master;
    if (m) for (const k of Object.keys(this.totals) as (keyof RtuCounters)[]) this.totals[k] += m.counters[k];
    this.master = null;
    const t = this.transport;
    this.transport = null;
    if (t) await t.close().catch(() => {});
  }

  async close(): Promise<void> {
    this.master?.abort(new LinkError("disconnected", "closed"));
    await this.drop();
  }

  /**
   * One raw exchange: request PDU → reply PDU (an exception reply has fc | 0x80). Unit 0 is a
   * broadcast and resolves with null once the line may carry the next request.
   */
  async transact(unit: number, pdu: Uint8Array, timeoutMs: number): Promise<Uint8Array | null> {
    const m = this.master;
    if (!m || !this.isOpen) throw new LinkError("disconnected", "not connected");
    return m.request(unit, pdu, timeoutMs);
  }

  /** transact() for the functions Busbar sends: exceptions become LinkErrors. */
  private async exchange(unit: number, pdu: Uint8Array, timeoutMs: number): Promise<Uint8Array | null> {
    const reply = await this.transact(unit, pdu, timeoutMs);
    if (reply && reply[0]! & 0x80) throw exceptionError(reply[1]!);
    return reply;
  }

  async read(unit: number, fc: 1 | 2 | 3 | 4, start: number, count: number, timeoutMs: number): Promise<Uint8Array> {
    const reply = await this.exchange(unit, readPdu(fc, start, count), timeoutMs);
    if (!reply) throw new LinkError("bad-reply", "a read cannot be broadcast");
    return reply.subarray(2);
  }

  async writeRegisters(unit: number, fc: 6 | 16, address: number, words: number[], timeoutMs: number): Promise<void> {
    const pdu = writeRegistersPdu(fc, address, words);
    const reply = await this.exchange(unit, pdu, timeoutMs);
    if (reply) checkWriteEcho(pdu, reply);
  }

  async writeBits(unit: number, fc: 5 | 15, address: number, bits: boolean[], timeoutMs: number): Promise<void> {
    const pdu = writeBitsPdu(fc, address, bits);
    const reply = await this.exchange(unit, pdu, timeoutMs);
    if (reply) checkWriteEcho(pdu, reply);
  }
}

/** A write's reply repeats the address and the value (FC5/6) or the quantity (FC15/16). */
function checkWriteEcho(pdu: Uint8Array, reply: Uint8Array): void {
  for (let i = 0; i < 5; i++)
    if (reply[i] !== pdu[i]) throw new LinkError("bad-reply", "malformed reply: the write's answer does not repeat its address and value");
}
