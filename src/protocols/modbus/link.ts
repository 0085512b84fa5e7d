import ModbusRTU from "modbus-serial";
import { exceptionError, LinkError, type ModbusLink } from "./link-error.ts";
import { RtuLink, type RtuLinkOptions } from "./rtu-link.ts";
import { writeBitsPdu, writeRegistersPdu } from "./rtu-frame.ts";

// The link contract lives in link-error.ts, so the RTU link and master need not import this file
// (which imports them): no import cycle.
export { exceptionError, LinkError, MODBUS_EXCEPTIONS, type LinkErrorKind, type ModbusLink } from "./link-error.ts";

/** What a Modbus TCP link needs (a site's modbus-tcp bus has these fields). */
export interface TcpLinkOptions {
  kind: "modbus-tcp";
  host: string;
  port: number;
  timeoutMs: number;
}

/** Options of any Modbus link: TCP, or RTU on a serial port or over TCP. */
export type LinkOptions = TcpLinkOptions | RtuLinkOptions;


export function classify(e: unknown): LinkError {
  if (e instanceof LinkError) return e;
  const err = e as { message?: string; errno?: string; code?: string; modbusCode?: number };
  const message = err?.message ?? String(e);
  if (typeof err?.modbusCode === "number") return exceptionError(err.modbusCode);
  if (err?.errno === "ETIMEDOUT" || /timed out/i.test(message)) return new LinkError("timeout", "no answer (timeout)");
  if (/length|CRC|Unexpected data|byte count/i.test(message)) return new LinkError("bad-reply", `malformed reply: ${message}`);
  return new LinkError("disconnected", message || "connection error");
}

/** Unit 0 is the broadcast address: a write to it is executed by every device and answered by none. */
export const BROADCAST_UNIT = 0;
/** Quiet time after a broadcast on a TCP bus, so the devices behind a gateway can execute it. */
const TCP_BROADCAST_QUIET_MS = 100;

/**
 * Modbus TCP through modbus-serial. After a timeout or a malformed reply the byte stream can no
 * longer be trusted (a late answer, or a length field that swallows what follows), so the link
 * drops the connection and the next request reconnects: a clean resync costs one TCP handshake.
 */
export class TcpLink implements ModbusLink {
  private client = new ModbusRTU();
  private opening: Promise<void> | undefined;

  constructor(private readonly bus: TcpLinkOptions) {}

  get isOpen(): boolean {
    return this.client.isOpen;
  }

  async connect(): Promise<void> {
    if (this.client.isOpen) return;
    this.opening ??= (async () => {
      // A fresh client per connection: modbus-serial keeps per-socket transaction state.
      const client = new ModbusRTU();
      client.on("error", () => {}); // surfaced through the failing request instead
      // An unreachable host may never answer the SYN: bound the attempt ourselves.
      const limit = Math.max(1000, this.bus.timeoutMs);
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          client.connectTCP(this.bus.host, { port: this.bus.port }),
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no connection within ${limit} ms`)), limit))),
        ]);
      } catch (e) {
        client.close(() => {});
        throw new LinkError("disconnected", `cannot connect to ${this.bus.host}:${this.bus.port}: ${(e as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
      this.client = client;
    })().finally(() => (this.opening = undefined));
    return this.opening;
  }

  async close(): Promise<void> {
    const c = this.client;
    if (!c.isOpen) return;
    await new Promise<void>((resolve) => c.close(() => resolve()));
  }

  /** Drops a connection whose stream is suspect; `isOpen` turns false at once so nothing more is sent on it. */
  private reset(c: ModbusRTU): void {
    if (this.client === c) this.client = new ModbusRTU();
    c.close(() => {});
  }

  /** Runs one transaction on a connected client; resyncs the stream when the answer cannot be trusted. */
  private async transact<T>(unit: number, timeoutMs: number, fn: (c: ModbusRTU) => Promise<T>): Promise<T> {
    if (!this.client.isOpen) await this.connect();
    const c = this.client;
    c.setID(unit);
    c.setTimeout(timeoutMs);
    try {
      return await fn(c);
    } catch (e) {
      const err = classify(e);
      if (err.kind === "timeout" || err.kind === "bad-reply") this.reset(c);
      throw err;
    }
  }

  read(unit: number, fc: 1 | 2 | 3 | 4, start: number, count: number, timeoutMs: number): Promise<Uint8Array> {
    return this.transact(unit, timeoutMs, async (c) => {
      const res =
        fc === 3
          ? await c.readHoldingRegisters(start, count)
          : fc === 4
            ? await c.readInputRegisters(start, count)
            : fc === 1
              ? await c.readCoils(start, count)
              : await c.readDiscreteInputs(start, count);
      const expected = fc >= 3 ? count * 2 : Math.ceil(count / 8);
      // More bytes than asked for is as malformed as fewer: which of them would be ours?
      if (res.buffer.length !== expected) throw new LinkError("bad-reply", `malformed reply: ${res.buffer.length} data bytes, expected ${expected}`);
      return res.buffer;
    });
  }

  /**
   * A broadcast write: sent, never awaited (no device answers unit 0, so waiting would only end in a
   * timeout and a reset connection). The frame goes straight to modbus-serial's port with a fresh
   * transaction id and no pending transaction, so anything a gateway might still send back is ignored.
   */
  private async broadcast(pdu: Uint8Array): Promise<void> {
    if (!this.client.isOpen) await this.connect();
    const port = (this.client as unknown as { _port?: { write(b: Buffer): void; _writeCompleted?: Promise<void> } })._port;
    if (!port) throw new LinkError("disconnected", "not connected");
    // TcpPort.write takes an RTU-style frame (unit, PDU, 2 CRC bytes it strips) and adds the MBAP header.
    const frame = Buffer.alloc(pdu.length + 3);
    frame[0] = BROADCAST_UNIT;
    frame.set(pdu, 1);
    port.write(frame);
    await port._writeCompleted;
    await new Promise((r) => setTimeout(r, TCP_BROADCAST_QUIET_MS));
  }

  async writeRegisters(unit: number, fc: 6 | 16, address: number, words: number[], timeoutMs: number): Promise<void> {
    if (unit === BROADCAST_UNIT) return this.broadcast(writeRegistersPdu(fc, address, words));
    await this.transact<unknown>(unit, timeoutMs, (c) => (fc === 6 ? c.writeRegister(address, words[0]!) : c.writeRegisters(address, words)));
  }

  async writeBits(unit: number, fc: 5 | 15, address: number, bits: boolean[], timeoutMs: number): Promise<void> {
    if (unit === BROADCAST_UNIT) return this.broadcast(writeBitsPdu(fc, address, bits));
    await this.transact<unknown>(unit, timeoutMs, (c) => (fc === 5 ? c.writeCoil(address, bits[0]!) : c.writeCoils(address, bits)));
  }
}

export function createLink(bus: LinkOptions): ModbusLink {
  if (bus.kind === "modbus-tcp") return new TcpLink(bus);
  // RTU on a serial port, or RTU frames over TCP to a serial device server (rtu-link.ts).
  return new RtuLink(bus);
}
