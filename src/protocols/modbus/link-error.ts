/**
 * A link is one bus's master side: one request at a time, in the worker's order.
 * Errors are classified so a worker can tell a dead device from a confused one.
 */

export type LinkErrorKind = "timeout" | "exception" | "bad-reply" | "disconnected";

export class LinkError extends Error {
  constructor(
    readonly kind: LinkErrorKind,
    message: string,
    readonly exceptionCode?: number,
  ) {
    super(message);
  }
}

export interface ModbusLink {
  readonly isOpen: boolean;
  connect(): Promise<void>;
  close(): Promise<void>;
  /** Register bytes (FC3/4, big-endian per register) or packed bits (FC1/2, LSB first). */
  read(unit: number, fc: 1 | 2 | 3 | 4, start: number, count: number, timeoutMs: number): Promise<Uint8Array>;
  writeRegisters(unit: number, fc: 6 | 16, address: number, words: number[], timeoutMs: number): Promise<void>;
  writeBits(unit: number, fc: 5 | 15, address: number, bits: boolean[], timeoutMs: number): Promise<void>;
  /** RTU links: line counters (CRC errors, short frames, echoes...), for the bus statistics. */
  counters?(): Record<string, number>;
}

/** Modbus exception codes, as every link reports them. */
export const MODBUS_EXCEPTIONS: Record<number, string> = {
  1: "illegal function",
  2: "illegal data address",
  3: "illegal data value",
  4: "server device failure",
  5: "acknowledge",
  6: "server device busy",
  10: "gateway path unavailable",
  11: "gateway target device failed to respond",
};

export function exceptionError(code: number): LinkError {
  return new LinkError("exception", `exception ${code} (${MODBUS_EXCEPTIONS[code] ?? "unknown"})`, code);
}
