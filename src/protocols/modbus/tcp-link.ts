import type { Socket } from "bun";
import { exceptionError, LinkError, type ModbusLink } from "./link-error.ts";
import { readPdu, writeBitsPdu, writeRegistersPdu } from "./rtu-frame.ts";

/** What a Modbus TCP link needs (a site's modbus-tcp bus has these fields). */
export interface TcpLinkOptions {
  kind: "modbus-tcp";
  host: string;
  port: number;
  timeoutMs: number;
}

/** Unit 0 is the broadcast address: a write to it is executed by every device and answered by none. */
export const BROADCAST_UNIT = 0;
/** Quiet time after a broadcast on a TCP bus, so the devices behind a gateway can execute it. */
const TCP_BROADCAST_QUIET_MS = 100;
const MBAP_HEADER = 7;
/** The longest ADU Modbus allows (MBAP length counts the unit byte and a PDU of at most 253 bytes). */
const MAX_MBAP_LENGTH = 254;

interface Pending {
  tid: number;
  unit: number;
  pdu: Uint8Array;
  resolve(reply: Uint8Array): void;
  reject(e: LinkError): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Modbus TCP (MBAP) over one Bun socket, one transaction at a time in the worker's order.
 *
 * Our own framing rather than modbus-serial's: that library frames TCP replies as RTU ones (a CRC
 * computed on every frame, buffers copied twice, debug formatting per frame), which cost a bus worker
 * about a quarter of its CPU on the 20,000-point scale bench, and its module graph ~4 MB per worker.
 *
 * A reply must carry our transaction id, protocol 0, a length within Modbus's 260-byte ADU, our unit
 * and our function code (or its exception); a read's byte count must be exactly what was asked. After
 * a timeout or anything else the stream can no longer be trusted (a late answer, a length field that
 * swallows what follows, bytes nobody asked for), so the link drops the connection and the next
 * request reconnects: a clean resync costs one TCP handshake.
 */
export class TcpLink implements ModbusLink {
  private socket: Socket<undefined> | null = null;
  private opening: Promise<void> | undefined;
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private tid = 0;
  private rx = new Uint8Array(512);
  private rxLen = 0;
  /** Bytes not yet accepted by the kernel (a full send buffer; rare for frames this small). */
  private unsent: Uint8Array | null = null;

  constructor(private readonly bus: TcpLinkOptions) {}

  get isOpen(): boolean {
    return this.socket !== null;
  }

  async connect(): Promise<void> {
    if (this.socket) return;
    this.opening ??= this.open().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async open(): Promise<void> {
    const { host, port } = this.bus;
    // An unreachable host may never answer the SYN: bound the attempt ourselves.
    const limit = Math.max(1000, this.bus.timeoutMs);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    const link = this;
    const attempt = Bun.connect({
      hostname: host,
      port,
      socket: {
        binaryType: "uint8array",
        data(s, chunk: Uint8Array) {
          if (link.socket === s) link.receive(chunk);
        },
        drain(s) {
          if (link.socket === s) link.flush();
        },
        close(s) {
          if (link.socket === s) link.lost("connection closed");
        },
        error(s, e) {
          if (link.socket === s) link.lost(e.message);
        },
      },
    });
    try {
      const socket = await Promise.race([
        attempt,
        new Promise<never>((_, reject) => (timer = setTimeout(() => ((timedOut = true), reject(new Error(`no connection within ${limit} ms`))), limit))),
      ]);
      socket.setNoDelay(true);
      this.rxLen = 0;
      this.unsent = null;
      this.socket = socket;
    } catch (e) {
      if (timedOut) void attempt.then((s) => s.end(), () => {});
      throw new LinkError("disconnected", `cannot connect to ${host}:${port}: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.drop(new LinkError("disconnected", "closed"));
  }

  /** Drops the connection (its stream is suspect or gone) and fails the request in flight. */
  private drop(error: LinkError): void {
    const s = this.socket;
    this.socket = null;
    this.rxLen = 0;
    this.unsent = null;
    s?.end();
    const p = this.pending;
    if (p) {
      this.pending = null;
      clearTimeout(p.timer);
      p.reject(error);
    }
  }

  private lost(reason: string): void {
    this.drop(new LinkError("disconnected", reason || "connection lost"));
  }

  private send(frame: Uint8Array): void {
    const s = this.socket;
    if (!s) throw new LinkError("disconnected", "not connected");
    const n = s.write(frame);
    if (n < frame.length) this.unsent = frame.subarray(Math.max(0, n));
  }

  private flush(): void {
    const rest = this.unsent;
    if (!rest || !this.socket) return;
    this.unsent = null;
    const n = this.socket.write(rest);
    if (n < rest.length) this.unsent = rest.subarray(Math.max(0, n));
  }

  private frame(tid: number, unit: number, pdu: Uint8Array): Uint8Array {
    const f = new Uint8Array(MBAP_HEADER + pdu.length);
    f[0] = tid >> 8;
    f[1] = tid & 0xff;
    // f[2..3]: protocol 0
    f[4] = (pdu.length + 1) >> 8;
    f[5] = (pdu.length + 1) & 0xff;
    f[6] = unit;
    f.set(pdu, MBAP_HEADER);
    return f;
  }

  private receive(chunk: Uint8Array): void {
    const p = this.pending;
    if (!p) {
      // Nobody asked: a confused server or a desynchronised stream.
      this.drop(new LinkError("bad-reply", "malformed reply: unsolicited bytes"));
      return;
    }
    if (this.rxLen + chunk.length > this.rx.length) {
      // More than one ADU can hold: whatever it is, it is not our answer.
      this.fail(p, `malformed reply: more than ${MAX_MBAP_LENGTH + 6} bytes`);
      return;
    }
    this.rx.set(chunk, this.rxLen);
    this.rxLen += chunk.length;
    const rx = this.rx;
    if (this.rxLen < 6) return;
    const length = (rx[4]! << 8) | rx[5]!;
    if (((rx[0]! << 8) | rx[1]!) !== p.tid) return this.fail(p, "malformed reply: another transaction id");
    if (rx[2] !== 0 || rx[3] !== 0) return this.fail(p, "malformed reply: not Modbus (protocol id)");
    if (length < 2 || length > MAX_MBAP_LENGTH) return this.fail(p, `malformed reply: MBAP length ${length}`);
    if (this.rxLen < 6 + length) return;
    if (this.rxLen > 6 + length) return this.fail(p, "malformed reply: bytes after the frame");
    if (rx[6] !== p.unit) return this.fail(p, `malformed reply: from unit ${rx[6]}, asked ${p.unit}`);
    const reply = rx.slice(MBAP_HEADER, 6 + length);
    this.rxLen = 0;
    this.pending = null;
    clearTimeout(p.timer);
    p.resolve(reply);
  }

  private fail(p: Pending, message: string): void {
    if (this.pending !== p) return;
    this.drop(new LinkError("bad-reply", message));
  }

  /**
   * One request → its reply PDU, serialised behind any request in flight. A write to unit 0 is a
   * broadcast: sent, never awaited. (A read at unit 0 is an ordinary request on Modbus TCP: many
   * devices answer any unit id, and unit 0 is a valid address there.)
   */
  private transact(unit: number, pdu: Uint8Array, timeoutMs: number, broadcast = false): Promise<Uint8Array | null> {
    const run = async (): Promise<Uint8Array | null> => {
      if (!this.socket) await this.connect();
      this.tid = (this.tid + 1) & 0xffff;
      const frame = this.frame(this.tid, unit, pdu);
      if (broadcast) {
        // No device answers a broadcast: waiting would end in a timeout and a reset connection.
        this.send(frame);
        await Bun.sleep(TCP_BROADCAST_QUIET_MS);
        return null;
      }
      return new Promise<Uint8Array>((resolve, reject) => {
        const p: Pending = {
          tid: this.tid,
          unit,
          pdu,
          resolve,
          reject,
          timer: setTimeout(() => {
            if (this.pending === p) this.drop(new LinkError("timeout", "no answer (timeout)"));
          }, timeoutMs),
        };
        this.pending = p;
        this.rxLen = 0;
        try {
          this.send(frame);
        } catch (e) {
          this.pending = null;
          clearTimeout(p.timer);
          reject(e);
        }
      });
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => {});
    return result;
  }

  /** transact() with the reply's function code checked: an exception becomes its LinkError. */
  private async exchange(unit: number, pdu: Uint8Array, timeoutMs: number, broadcast = false): Promise<Uint8Array | null> {
    const reply = await this.transact(unit, pdu, timeoutMs, broadcast);
    if (!reply) return null;
    if (reply[0] === (pdu[0]! | 0x80)) {
      if (reply.length !== 2) throw this.resync("malformed reply: exception of the wrong length");
      throw exceptionError(reply[1]!);
    }
    if (reply[0] !== pdu[0]) throw this.resync(`malformed reply: function ${reply[0]} answers function ${pdu[0]}`);
    return reply;
  }

  /** A reply that framed right but says nonsense: the server is confused; start the next request afresh. */
  private resync(message: string): LinkError {
    this.drop(new LinkError("bad-reply", message));
    return new LinkError("bad-reply", message);
  }

  async read(unit: number, fc: 1 | 2 | 3 | 4, start: number, count: number, timeoutMs: number): Promise<Uint8Array> {
    const reply = (await this.exchange(unit, readPdu(fc, start, count), timeoutMs))!;
    const expected = fc >= 3 ? count * 2 : Math.ceil(count / 8);
    // More bytes than asked for is as malformed as fewer: which of them would be ours?
    if (reply.length !== 2 + expected || reply[1] !== expected)
      throw this.resync(`malformed reply: ${reply.length >= 2 ? reply[1] : 0} data bytes, expected ${expected}`);
    return reply.subarray(2);
  }

  async writeRegisters(unit: number, fc: 6 | 16, address: number, words: number[], timeoutMs: number): Promise<void> {
    const pdu = writeRegistersPdu(fc, address, words);
    const reply = await this.exchange(unit, pdu, timeoutMs, unit === BROADCAST_UNIT);
    if (reply) this.checkWriteEcho(pdu, reply);
  }

  async writeBits(unit: number, fc: 5 | 15, address: number, bits: boolean[], timeoutMs: number): Promise<void> {
    const pdu = writeBitsPdu(fc, address, bits);
    const reply = await this.exchange(unit, pdu, timeoutMs, unit === BROADCAST_UNIT);
    if (reply) this.checkWriteEcho(pdu, reply);
  }

  /** A write's reply repeats the address and the value (FC5/6) or the quantity (FC15/16). */
  private checkWriteEcho(pdu: Uint8Array, reply: Uint8Array): void {
    if (reply.length !== 5) throw this.resync(`malformed reply: a write answered with ${reply.length} bytes`);
    for (let i = 0; i < 5; i++)
      if (reply[i] !== pdu[i]) throw this.resync("malformed reply: the write's answer does not repeat its address and value");
  }
}
