/**
 * Modbus RTU framing: CRC-16/MODBUS, frame building, expected reply lengths and wire timing.
 * Shared by the RTU master (rtu-master.ts), the simulator's RTU slave and the fault injector.
 */

const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

/** CRC-16/MODBUS of bytes[from, to). Sent low byte first. */
export function crc16(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let crc = 0xffff;
  for (let i = from; i < to; i++) crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ bytes[i]!) & 0xff]!;
  return crc;
}

/** True when the `len`-byte frame at `off` ends with its correct CRC. */
export function crcOk(bytes: Uint8Array, off: number, len: number): boolean {
  if (len < 4 || off + len > bytes.length) return false;
  const c = crc16(bytes, off, off + len - 2);
  return bytes[off + len - 2] === (c & 0xff) && bytes[off + len - 1] === c >> 8;
}

/** unit + pdu + CRC. */
export function buildFrame(unit: number, pdu: Uint8Array): Uint8Array {
  const f = new Uint8Array(pdu.length + 3);
  f[0] = unit;
  f.set(pdu, 1);
  const c = crc16(f, 0, f.length - 2);
  f[f.length - 2] = c & 0xff;
  f[f.length - 1] = c >> 8;
  return f;
}

// ---------------------------------------------------------------------------------------------
// PDUs of the functions Busbar speaks

export function readPdu(fc: 1 | 2 | 3 | 4, start: number, count: number): Uint8Array {
  return Uint8Array.of(fc, start >> 8, start & 0xff, count >> 8, count & 0xff);
}

export function writeRegistersPdu(fc: 6 | 16, address: number, words: number[]): Uint8Array {
  if (fc === 6) return Uint8Array.of(6, address >> 8, address & 0xff, (words[0]! >> 8) & 0xff, words[0]! & 0xff);
  const p = new Uint8Array(6 + words.length * 2);
  p.set([16, address >> 8, address & 0xff, words.length >> 8, words.length & 0xff, words.length * 2]);
  words.forEach((w, i) => {
    p[6 + 2 * i] = (w >> 8) & 0xff;
    p[7 + 2 * i] = w & 0xff;
  });
  return p;
}

export function writeBitsPdu(fc: 5 | 15, address: number, bits: boolean[]): Uint8Array {
  if (fc === 5) return Uint8Array.of(5, address >> 8, address & 0xff, bits[0] ? 0xff : 0, 0);
  const n = (bits.length + 7) >> 3;
  const p = new Uint8Array(6 + n);
  p.set([15, address >> 8, address & 0xff, bits.length >> 8, bits.length & 0xff, n]);
  bits.forEach((b, i) => {
    if (b) p[6 + (i >> 3)]! |= 1 << (i & 7);
  });
  return p;
}

/**
 * Length of the whole reply frame (unit ... CRC) to request `pdu`, as far as `head` (the reply's
 * first bytes, unit first) tells: a number, `undefined` when more bytes are needed to tell, or
 * `null` when head cannot be a reply to that request (wrong function code, wrong byte count).
 */
export function replyLength(pdu: Uint8Array, head: Uint8Array, off: number, avail: number): number | null | undefined {
  if (avail < 2) return undefined;
  const fc = pdu[0]!;
  const rfc = head[off + 1]!;
  if (rfc === (fc | 0x80)) return 5;
  if (rfc !== fc) return null;
  switch (fc) {
    case 1:
    case 2:
    case 3:
    case 4: {
      if (avail < 3) return undefined;
      const count = (pdu[3]! << 8) | pdu[4]!;
      const expect = fc <= 2 ? (count + 7) >> 3 : count * 2;
      return head[off + 2] === expect ? 5 + expect : null;
    }
    case 5:
    case 6:
    case 15:
    case 16:
      return 8;
    default:
      // Functions of unknown reply shape: byte count in the third byte (FC 17, 20, 21, 23, 24 style).
      if (avail < 3) return undefined;
      return 5 + head[off + 2]!;
  }
}

/**
 * Length of a request frame (unit ... CRC) starting at `off`, for a slave parsing its input:
 * a number, `undefined` when more bytes are needed, `null` for a function it cannot frame.
 */
export function requestLength(buf: Uint8Array, off: number, avail: number): number | null | undefined {
  if (avail < 2) return undefined;
  const fc = buf[off + 1]!;
  switch (fc) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
      return 8;
    case 15:
    case 16: {
      if (avail < 7) return undefined;
      // At most 246 data bytes (123 registers, 1968 coils): an RTU frame is 256 bytes at most.
      const n = buf[off + 6]!;
      return n <= 246 ? 9 + n : null;
    }
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Wire timing

export interface LineSettings {
  baud: number;
  parity: "none" | "even" | "odd";
  stopBits: 1 | 2;
}

/** Bits per character on the wire: start + 8 data + parity + stop. */
export function bitsPerChar(s: LineSettings): number {
  return 1 + 8 + (s.parity === "none" ? 0 : 1) + s.stopBits;
}

/** Milliseconds one character takes on the wire. */
export function charMs(s: LineSettings): number {
  return (bitsPerChar(s) * 1000) / s.baud;
}

/** Transmission time of `bytes` characters (ms). */
export function wireMs(s: LineSettings, bytes: number): number {
  return bytes * charMs(s);
}

/**
 * Inter-frame silence t3.5 (ms): 3.5 character times, fixed at 1.75 ms above 19200 baud
 * (Modbus over serial line, §2.5.1.1). The spec counts 11-bit characters; we count the line's real
 * character length (10 bits for 8N1), the physical silence a receiver sees.
 */
export function t35Ms(s: LineSettings): number {
  return s.baud > 19200 ? 1.75 : 3.5 * charMs(s);
}

/**
 * Widest hole in a register map worth reading through on this line. Reading through costs 2
 * characters per register; a second request costs its own 8 bytes, the reply's 5 bytes of header
 * and CRC, two t3.5 silences and the device's turnaround (`turnaroundMs`, nominal 5 ms). At
 * 9600 8N1 that is 12 registers; at 115200, 55.
 */
export function breakEvenGap(s: LineSettings, turnaroundMs = 5): number {
  const c = charMs(s);
  return Math.floor((13 * c + 2 * t35Ms(s) + turnaroundMs) / (2 * c));
}

/** Bytes of the reply frame to a request PDU when it succeeds (for timing budgets). */
export function expectedReplyBytes(pdu: Uint8Array): number {
  const fc = pdu[0]!;
  if (fc >= 1 && fc <= 4) {
    const count = (pdu[3]! << 8) | pdu[4]!;
    return 5 + (fc <= 2 ? (count + 7) >> 3 : count * 2);
  }
  return 8;
}

export const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");

// ---------------------------------------------------------------------------------------------
// Precise waits

const gate = new Int32Array(new SharedArrayBuffer(4));

/**
 * Resolves at `until` (performance.now() time) to within about 0.1 ms. Timers only have whole
 * milliseconds (Bun truncates 3.65 ms to 3 ms, which would cut the t3.5 silence short), so the
 * last stretch (≤ 1.5 ms) is waited with Atomics.wait: blocking, but precise and without spinning.
 */
export async function waitUntil(until: number): Promise<void> {
  let left = until - performance.now();
  if (left > 2.5) {
    await new Promise((r) => setTimeout(r, Math.floor(left - 1.5)));
    left = until - performance.now();
  }
  if (left > 0.08) Atomics.wait(gate, 0, 0, left - 0.07);
}
