/**
 * Decoding and encoding of one Modbus tag's raw value.
 *
 * Bytes are always the register bytes exactly as on the wire: each register big-endian
 * (high byte first), registers in address order, starting at the tag's first register.
 *
 * `order` (EnLogic `endian` 0..3) names the bytes of the big-endian value:
 * - ABCD: as-is (high word first, high byte first).
 * - BADC: the two bytes of every register are swapped.
 * - CDAB: the order of the registers is reversed (low word first).
 * - DCBA: both (the whole value is byte-reversed).
 * This is generalised to 3- and 4-register values (48/64/96-bit types): BADC swaps bytes inside
 * each register, CDAB reverses the register order, DCBA does both. For 16-bit types only the byte
 * swap applies (BADC and DCBA swap the two bytes; CDAB is the same as ABCD).
 *
 * What the decoder returns is the raw value before scale/offset:
 * - numbers for integer, float and fixed-point types (`mask` applied to integers: value & mask);
 * - 0/1 for `bit` with a mask (1 when any masked bit is set);
 * - epoch milliseconds for date-time types. Broken-down date/time fields (year, month, day...) are
 *   interpreted as UTC; a device clock kept in local time therefore appears shifted by the site's
 *   UTC offset, which the layer above may correct. Two-digit years are 2000..2099.
 *   Impossible field values (month 13, etc.) decode to NaN.
 * - a string for `text` (trailing NULs and spaces trimmed).
 *
 * int64/uint64 decode to a JavaScript Number: exact up to 2^53 (9.007e15), rounded to the nearest
 * representable double above that. Encoding accepts numbers (precision limited the same way).
 *
 * Hot path: numeric types are decoded with direct byte arithmetic on the caller's buffer, without
 * any allocation. Use `decodeRawView` when you already hold a DataView of the reply.
 */
import type { DataType, RawSpec, WordOrder } from "./types.ts";

// ---------------------------------------------------------------------------------------------
// Register counts

/** Number of 16-bit registers a tag occupies. */
export function registerCount(spec: RawSpec): number {
  switch (spec.type) {
    case "bit":
    case "int16":
    case "uint16":
    case "uint16_xy":
    case "int16_offset":
      return 1;
    case "int32":
    case "uint32":
    case "float32":
    case "fixed24_8":
    case "fixed16_16":
    case "dt32":
      return 2;
    case "dt48_ms":
    case "dt48_1":
    case "dt48_2":
    case "dt96":
    case "dt96_2":
      return 3;
    case "int64":
    case "uint64":
    case "float64":
    case "dt64":
    case "dt64_1":
    case "dt64_2":
    case "dt64_3":
      return 4;
    case "text":
      return Math.max(1, Math.ceil((spec.length ?? 2) / 2));
    default:
      throw new Error(`unknown Modbus data type "${(spec as RawSpec).type}"`);
  }
}

// ---------------------------------------------------------------------------------------------
// Byte addressing with word order

/**
 * Index (relative to the tag's first byte) of the i-th byte of the big-endian value,
 * for a value of `words` registers in the given order.
 */
function srcIndex(i: number, words: number, order: WordOrder): number {
  let w = i >> 1;
  let b = i & 1;
  if (order === "CDAB" || order === "DCBA") w = words - 1 - w;
  if (order === "BADC" || order === "DCBA") b ^= 1;
  return (w << 1) | b;
}

/** The big-endian 16-bit word k (0-based) of the value. */
function word(bytes: Uint8Array, base: number, k: number, words: number, order: WordOrder): number {
  const swapBytes = order === "BADC" || order === "DCBA";
  const w = order === "CDAB" || order === "DCBA" ? words - 1 - k : k;
  const p = base + 2 * w;
  return swapBytes ? (bytes[p + 1]! << 8) | bytes[p]! : (bytes[p]! << 8) | bytes[p + 1]!;
}

/** Big-endian unsigned 32-bit value from words k, k+1. */
function u32(bytes: Uint8Array, base: number, k: number, words: number, order: WordOrder): number {
  return word(bytes, base, k, words, order) * 65536 + word(bytes, base, k + 1, words, order);
}

// A small scratch buffer for float conversions (module-level: no per-call allocation).
const scratch = new DataView(new ArrayBuffer(8));

function floatFromWords(bytes: Uint8Array, base: number, words: number, order: WordOrder): number {
  for (let k = 0; k < words; k++) scratch.setUint16(2 * k, word(bytes, base, k, words, order));
  return words === 2 ? scratch.getFloat32(0) : scratch.getFloat64(0);
}

// ---------------------------------------------------------------------------------------------
// Date-time helpers

/** Two-digit year → full year (2000..2099); years ≥ 100 are kept. */
const fullYear = (y: number) => (y < 100 ? 2000 + y : y);

function utc(year: number, month: number, day: number, hour: number, min: number, sec: number, ms: number): number {
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59 || ms > 999) return NaN;
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, min, sec, ms);
  return d.getTime();
}

/** Seconds between 1900-01-01 and 1970-01-01 (NTP epoch offset). */
const EPOCH_1900_S = 2208988800;

interface Fields {
  year: number;
  month: number;
  day: number;
  hour: number;
  min: number;
  sec: number;
  ms: number;
}

function fields(epochMs: number): Fields {
  if (!Number.isFinite(epochMs)) throw new RangeError(`date-time value ${epochMs} is not a finite number of milliseconds`);
  const d = new Date(epochMs);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    min: d.getUTCMinutes(),
    sec: d.getUTCSeconds(),
    ms: d.getUTCMilliseconds(),
  };
}

function twoDigitYear(f: Fields, type: DataType): number {
  if (f.year < 2000 || f.year > 2099) throw new RangeError(`${type} holds years 2000..2099 only, not ${f.year}`);
  return f.year - 2000;
}

// ---------------------------------------------------------------------------------------------
// Decode

/**
 * Decodes one tag from reply bytes (see the module comment for conventions).
 * `byteOffset` is the offset of the tag's first register in `bytes`.
 */
export function decodeRaw(bytes: Uint8Array, byteOffset: number, spec: RawSpec): number | string {
  const { type, order } = spec;
  const need = registerCount(spec) * 2;
  if (byteOffset < 0 || byteOffset + need > bytes.length)
    throw new RangeError(`${type} at byte ${byteOffset} needs ${need} bytes, reply has ${bytes.length}`);
  const swap16 = order === "BADC" || order === "DCBA";
  switch (type) {
    case "bit":
    case "int16":
    case "uint16":
    case "uint16_xy":
    case "int16_offset": {
      const v = swap16 ? (bytes[byteOffset + 1]! << 8) | bytes[byteOffset]! : (bytes[byteOffset]! << 8) | bytes[byteOffset + 1]!;
      const mask = spec.mask;
      if (type === "bit") return ((mask === undefined ? v : v & mask) !== 0 ? 1 : 0);
      if (type === "uint16") return mask === undefined ? v : v & mask;
      if (type === "int16") return mask === undefined ? (v << 16) >> 16 : (((v & mask) << 16) >> 16);
      if (type === "int16_offset") return v - 0x8000;
      // uint16_xy: each byte read as its decimal digits pair: 0x1406 → 20, 06 → 2006
      return (v >> 8) * 100 + (v & 0xff);
    }
    case "int32":
    case "uint32": {
      let v = u32(bytes, byteOffset, 0, 2, order);
      if (spec.mask !== undefined) v = (v & spec.mask) >>> 0;
      return type === "int32" ? v | 0 : v;
    }
    case "float32": {
      if (order === "ABCD") {
        // Fast path: the common case on the hot path.
        const b = bytes[byteOffset]!;
        scratch.setUint32(0, ((b << 24) | (bytes[byteOffset + 1]! << 16) | (bytes[byteOffset + 2]! << 8) | bytes[byteOffset + 3]!) >>> 0);
        return scratch.getFloat32(0);
      }
      return floatFromWords(bytes, byteOffset, 2, order);
    }
    case "float64":
      return floatFromWords(bytes, byteOffset, 4, order);
    case "fixed24_8": {
      // 24-bit integer part (two's complement) + 8-bit fraction: value = III + F/256
      const v = u32(bytes, byteOffset, 0, 2, order) | 0;
      return v / 256;
    }
    case "fixed16_16": {
      // signed 16-bit integer part + 16-bit fraction
      const v = u32(bytes, byteOffset, 0, 2, order) | 0;
      return v / 65536;
    }
    case "int64":
    case "uint64": {
      const hi = u32(bytes, byteOffset, 0, 4, order);
      const lo = u32(bytes, byteOffset, 2, 4, order);
      if (type === "int64" && hi >= 0x80000000) return (hi - 0x100000000) * 0x100000000 + lo;
      return hi * 0x100000000 + lo;
    }
    case "dt32":
      // seconds since 1970-01-01 UTC
      return u32(bytes, byteOffset, 0, 2, order) * 1000;
    case "dt48_ms":
      // milliseconds since 1970-01-01 UTC, 48 bits
      return word(bytes, byteOffset, 0, 3, order) * 0x100000000 + u32(bytes, byteOffset, 1, 3, order);
    case "dt48_1": {
      // MM YY | HH DD | SS mm
      const w0 = word(bytes, byteOffset, 0, 3, order);
      const w1 = word(bytes, byteOffset, 1, 3, order);
      const w2 = word(bytes, byteOffset, 2, 3, order);
      return utc(fullYear(w0 & 0xff), w0 >> 8, w1 & 0xff, w1 >> 8, w2 & 0xff, w2 >> 8, 0);
    }
    case "dt48_2": {
      // seconds since 1900-01-01 (32 bits) + milliseconds (16 bits)
      const s = u32(bytes, byteOffset, 0, 3, order);
      const ms = word(bytes, byteOffset, 2, 3, order);
      return (s - EPOCH_1900_S) * 1000 + ms;
    }
    case "dt64": {
      // year (0..99) | month, day | hour, min | milliseconds within the minute (0..59999)
      const y = word(bytes, byteOffset, 0, 4, order);
      const md = word(bytes, byteOffset, 1, 4, order);
      const hm = word(bytes, byteOffset, 2, 4, order);
      const ms = word(bytes, byteOffset, 3, 4, order);
      if (ms > 59999) return NaN;
      return utc(fullYear(y), md >> 8, md & 0xff, hm >> 8, hm & 0xff, Math.floor(ms / 1000), ms % 1000);
    }
    case "dt64_2": {
      // year (full, 16 bits) | month, day | hour, min | milliseconds within the minute
      const y = word(bytes, byteOffset, 0, 4, order);
      const md = word(bytes, byteOffset, 1, 4, order);
      const hm = word(bytes, byteOffset, 2, 4, order);
      const ms = word(bytes, byteOffset, 3, 4, order);
      if (ms > 59999) return NaN;
      return utc(y, md >> 8, md & 0xff, hm >> 8, hm & 0xff, Math.floor(ms / 1000), ms % 1000);
    }
    case "dt64_1": {
      // centiseconds (16 bits) | SS MM(minutes) | HH DD | MM(month) YY   (IEC 60870-5 style)
      const cs = word(bytes, byteOffset, 0, 4, order);
      const sm = word(bytes, byteOffset, 1, 4, order);
      const hd = word(bytes, byteOffset, 2, 4, order);
      const my = word(bytes, byteOffset, 3, 4, order);
      if (cs > 99) return NaN;
      return utc(fullYear(my & 0xff), my >> 8, hd & 0xff, hd >> 8, sm & 0xff, sm >> 8, cs * 10);
    }
    case "dt64_3": {
      // YY MM | DD HH | mm SS | milliseconds. The table gives the ms field range 0..59999: when it is
      // ≥ 1000 it carries the seconds too (ms within the minute) and the SS byte is ignored;
      // otherwise it is the ms within SS. encodeRaw writes SS and SS*1000+ms, consistent with both.
      const ym = word(bytes, byteOffset, 0, 4, order);
      const dh = word(bytes, byteOffset, 1, 4, order);
      const ms_ = word(bytes, byteOffset, 2, 4, order);
      const ms = word(bytes, byteOffset, 3, 4, order);
      if (ms > 59999) return NaN;
      const sec = ms >= 1000 ? Math.floor(ms / 1000) : ms_ & 0xff;
      return utc(fullYear(ym >> 8), ym & 0xff, dh >> 8, dh & 0xff, ms_ >> 8, sec, ms % 1000);
    }
    case "dt96":
    case "dt96_2": {
      // 6 bytes, one field per byte. dt96: sec, min, hour, day, month, year; dt96_2: min, hour, sec, day, month, year
      const f0 = bytes[byteOffset + srcIndex(0, 3, order)]!;
      const f1 = bytes[byteOffset + srcIndex(1, 3, order)]!;
      const f2 = bytes[byteOffset + srcIndex(2, 3, order)]!;
      const day = bytes[byteOffset + srcIndex(3, 3, order)]!;
      const month = bytes[byteOffset + srcIndex(4, 3, order)]!;
      const year = bytes[byteOffset + srcIndex(5, 3, order)]!;
      return type === "dt96"
        ? utc(fullYear(year), month, day, f2, f1, f0, 0)
        : utc(fullYear(year), month, day, f1, f0, f2, 0);
    }
    case "text": {
      const n = spec.length ?? need;
      let s = "";
      const words = need / 2;
      for (let i = 0; i < n; i++) {
        const c = bytes[byteOffset + srcIndex(i, words, order)]!;
        s += String.fromCharCode(c);
      }
      return s.replace(/[\0 ]+$/, "");
    }
    default:
      throw new Error(`unknown Modbus data type "${type as string}"`);
  }
}

/** Byte views of DataViews already seen, so decodeRawView allocates once per reply buffer, not per tag. */
const bytesOfView = new WeakMap<DataView, Uint8Array>();

/**
 * Same as decodeRaw, from a DataView over the reply (the view's own byteOffset is honoured).
 * Create the view once per reply: float32 ABCD is read straight from it, other types through a byte
 * view that is created on first use and cached for that DataView.
 */
export function decodeRawView(view: DataView, byteOffset: number, spec: RawSpec): number | string {
  if (spec.type === "float32" && spec.order === "ABCD") {
    if (byteOffset < 0 || byteOffset + 4 > view.byteLength)
      throw new RangeError(`float32 at byte ${byteOffset} needs 4 bytes, reply has ${view.byteLength}`);
    return view.getFloat32(byteOffset);
  }
  let bytes = bytesOfView.get(view);
  if (bytes === undefined) {
    bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    bytesOfView.set(view, bytes);
  }
  return decodeRaw(bytes, byteOffset, spec);
}

/** One bit of an FC1/FC2 reply's data bytes: the LSB of the first byte is the first coil/input. */
export function decodeBit(bytes: Uint8Array, bitIndex: number): 0 | 1 {
  const b = bytes[bitIndex >> 3];
  if (b === undefined || bitIndex < 0) throw new RangeError(`bit ${bitIndex} is outside a ${bytes.length}-byte reply`);
  return ((b >> (bitIndex & 7)) & 1) as 0 | 1;
}

// ---------------------------------------------------------------------------------------------
// Encode

function checkInt(value: number, min: number, max: number, type: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new RangeError(`${type}: ${String(value)} is not a finite number`);
  const v = Math.round(value);
  if (v < min || v > max) throw new RangeError(`${type}: ${value} is out of range ${min}..${max}`);
  return v;
}

/** Writes the big-endian value bytes `be` into wire order. */
function placeBytes(be: Uint8Array, words: number, order: WordOrder): Uint8Array {
  if (order === "ABCD") return be;
  const out = new Uint8Array(words * 2);
  for (let i = 0; i < words * 2; i++) out[srcIndex(i, words, order)] = be[i]!;
  return out;
}

function wordsBE(ws: number[]): Uint8Array {
  const out = new Uint8Array(ws.length * 2);
  ws.forEach((w, k) => {
    out[2 * k] = (w >> 8) & 0xff;
    out[2 * k + 1] = w & 0xff;
  });
  return out;
}

/** 64-bit integer (as a Number) to 4 big-endian words. */
function int64Words(v: number): number[] {
  const hi = Math.floor(v / 0x100000000);
  const lo = v - hi * 0x100000000;
  const hiU = hi < 0 ? hi + 0x100000000 : hi;
  return [hiU >>> 16, hiU & 0xffff, lo >>> 16, lo & 0xffff];
}

/**
 * Encodes a raw value (before scale/offset: the caller has already inverted those) into the bytes
 * as they appear on the wire for the tag's registers. Out-of-range values throw a RangeError.
 * Date-time types take epoch milliseconds (written as UTC fields, see the module comment).
 */
export function encodeRaw(value: number | string, spec: RawSpec): Uint8Array {
  const { type, order } = spec;
  if (type === "text") {
    const n = registerCount(spec) * 2;
    const s = String(value);
    const be = new Uint8Array(n);
    if (s.length > (spec.length ?? n)) throw new RangeError(`text: "${s}" is longer than ${spec.length ?? n} characters`);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) throw new RangeError(`text: character "${s[i]}" is not a single byte`);
      be[i] = c;
    }
    return placeBytes(be, n / 2, order);
  }
  if (typeof value !== "number") throw new RangeError(`${type}: expected a number, got ${JSON.stringify(value)}`);
  const words = registerCount(spec);
  let ws: number[];
  switch (type) {
    case "bit": {
      const mask = spec.mask ?? 1;
      ws = [value ? mask : 0];
      break;
    }
    case "int16": {
      const v = checkInt(value, -32768, 32767, type);
      ws = [v & 0xffff];
      break;
    }
    case "uint16": {
      const v = checkInt(value, 0, 0xffff, type);
      ws = [v];
      break;
    }
    case "uint16_xy": {
      const v = checkInt(value, 0, 9999, type);
      ws = [(Math.floor(v / 100) << 8) | v % 100];
      break;
    }
    case "int16_offset": {
      const v = checkInt(value, -32768, 32767, type);
      ws = [v + 0x8000];
      break;
    }
    case "int32":
    case "uint32": {
      const v = type === "int32" ? checkInt(value, -0x80000000, 0x7fffffff, type) : checkInt(value, 0, 0xffffffff, type);
      const u = v >>> 0;
      ws = [u >>> 16, u & 0xffff];
      break;
    }
    case "float32": {
      // NaN and ±Infinity are encodable; finite values beyond the float32 range are not.
      if (Number.isFinite(value) && Math.abs(value) > 3.4028235677973366e38)
        throw new RangeError(`float32: ${value} is out of range ±3.4028235e38`);
      scratch.setFloat32(0, value);
      ws = [scratch.getUint16(0), scratch.getUint16(2)];
      break;
    }
    case "float64": {
      scratch.setFloat64(0, value);
      ws = [scratch.getUint16(0), scratch.getUint16(2), scratch.getUint16(4), scratch.getUint16(6)];
      break;
    }
    case "fixed24_8":
    case "fixed16_16": {
      const k = type === "fixed24_8" ? 256 : 65536;
      const min = -0x80000000 / k;
      const max = 0x7fffffff / k;
      if (!Number.isFinite(value) || value < min || value > max)
        throw new RangeError(`${type}: ${value} is out of range ${min}..${max}`);
      const u = Math.round(value * k) >>> 0;
      ws = [u >>> 16, u & 0xffff];
      break;
    }
    case "int64":
    case "uint64": {
      const v =
        type === "int64"
          ? checkInt(value, -(2 ** 63), 2 ** 63 - 1, type)
          : checkInt(value, 0, 2 ** 64 - 1, type);
      if (v === 2 ** 63 && type === "int64") throw new RangeError(`int64: ${value} is out of range`);
      if (v === 2 ** 64) throw new RangeError(`uint64: ${value} is out of range`);
      ws = int64Words(v);
      break;
    }
    case "dt32": {
      const s = checkInt(Math.floor(value / 1000), 0, 0xffffffff, type);
      ws = [s >>> 16, s & 0xffff];
      break;
    }
    case "dt48_ms": {
      const v = checkInt(value, 0, 2 ** 48 - 1, type);
      const hi = Math.floor(v / 0x100000000);
      const lo = v - hi * 0x100000000;
      ws = [hi, lo >>> 16, lo & 0xffff];
      break;
    }
    case "dt48_2": {
      const s = checkInt(Math.floor(value / 1000) + EPOCH_1900_S, 0, 0xffffffff, type);
      const ms = Math.round(value - Math.floor(value / 1000) * 1000);
      ws = [s >>> 16, s & 0xffff, ms];
      break;
    }
    default: {
      const f = fields(value);
      switch (type) {
        case "dt48_1": {
          const y = twoDigitYear(f, type);
          ws = [(f.month << 8) | y, (f.hour << 8) | f.day, (f.sec << 8) | f.min];
          break;
        }
        case "dt64": {
          const y = twoDigitYear(f, type);
          ws = [y, (f.month << 8) | f.day, (f.hour << 8) | f.min, f.sec * 1000 + f.ms];
          break;
        }
        case "dt64_2": {
          if (f.year > 0xffff || f.year < 0) throw new RangeError(`dt64_2: year ${f.year} is out of range`);
          ws = [f.year, (f.month << 8) | f.day, (f.hour << 8) | f.min, f.sec * 1000 + f.ms];
          break;
        }
        case "dt64_1": {
          const y = twoDigitYear(f, type);
          ws = [Math.floor(f.ms / 10), (f.sec << 8) | f.min, (f.hour << 8) | f.day, (f.month << 8) | y];
          break;
        }
        case "dt64_3": {
          const y = twoDigitYear(f, type);
          ws = [(y << 8) | f.month, (f.day << 8) | f.hour, (f.min << 8) | f.sec, f.sec * 1000 + f.ms];
          break;
        }
        case "dt96":
        case "dt96_2": {
          const y = twoDigitYear(f, type);
          const be =
            type === "dt96"
              ? Uint8Array.of(f.sec, f.min, f.hour, f.day, f.month, y)
              : Uint8Array.of(f.min, f.hour, f.sec, f.day, f.month, y);
          return placeBytes(be, 3, order);
        }
        default:
          throw new Error(`unknown Modbus data type "${type as string}"`);
      }
    }
  }
  // 16-bit types: only the byte swap applies (CDAB == ABCD for one word)
  return placeBytes(wordsBE(ws), words, order);
}

// ---------------------------------------------------------------------------------------------
// EnLogic DataType codes (seed enlogic-modbus-map-format.ru.md, Table 6)

/**
 * EnLogic `.io` DataType code → Busbar type (and a forced order where the EnLogic type implies one).
 * Codes without a decodable meaning are absent so an importer can report them:
 * 19 RT_DS18x20_mod, 27 RT_CMD, 40 RT_EV1, 43 RT_TXT_DIR2, 50 RT_DS18x20, 60 RT_TRANZ_BMRZ, 61 RT_TRANZ.
 */
export const ENLOGIC_DATATYPE: Record<number, { type: DataType; order?: WordOrder }> = {
  0: { type: "bit" }, // RT_BIT
  10: { type: "int16" }, // RT_INT16
  11: { type: "uint16" }, // RT_UINT16
  12: { type: "uint16" }, // RT_HEX16 (shown in hex by EnLogic; same bits)
  14: { type: "uint16", order: "BADC" }, // RT_UINT16_LE: "reversed" 16-bit unsigned → bytes swapped
  15: { type: "uint16_xy" }, // RT_UINT16_XY: 0x1406 = 2006
  16: { type: "uint16" }, // RT_UINT16_1
  17: { type: "int16" }, // RT_16S: 16-bit two's complement
  18: { type: "int16_offset" }, // RT_160: signed with 8000h offset
  20: { type: "int32" }, // RT_INT32
  21: { type: "uint32" }, // RT_UINT32
  22: { type: "uint32" }, // RT_HEX32
  23: { type: "float32" }, // RT_FLOAT32
  24: { type: "fixed24_8" }, // RT_IIIF: III + F/256
  25: { type: "int32" }, // RT_32S: 32-bit two's complement
  // RT_F32 "32-bit standard float with another byte order": the table does not say which order;
  // we take word-swapped (CDAB), the usual "other" float order of meters. Override per tag if not.
  26: { type: "float32", order: "CDAB" },
  28: { type: "fixed16_16" }, // RT_F1616
  30: { type: "dt48_ms" }, // RT_DT48: milliseconds in 48 bits
  32: { type: "dt48_1" }, // RT_DT48_1: MM YY | HH DD | SS mm
  33: { type: "dt64" }, // RT_DT64: year(0..99) | month+day | hour+min | ms
  34: { type: "dt64_1" }, // RT_DT64_1: cs | SS MM | HH DD | MM YY
  35: { type: "dt32" }, // RT_DT32: seconds since 1970 (EnLogic: gmtime if K=2 else localtime; Busbar: UTC)
  36: { type: "int64" }, // RT_INT64
  37: { type: "uint64" }, // RT_UINT64
  38: { type: "dt64_2" }, // RT_DT32_1 (despite the name, 8 bytes): year | month day | hour min | ms
  39: { type: "dt64_3" }, // RT_DT64_3: YY MM | DD HH | mm SS | ms
  // RT_TXT: "string with LE character sequence" → bytes swapped in each register
  41: { type: "text", order: "BADC" },
  42: { type: "text" }, // RT_TXT_DIR: direct sequence
  44: { type: "dt96" }, // RT_DT96: sec, min, hour, day, month, year
  45: { type: "dt96_2" }, // RT_DT96_2: min, hour, sec, day, month, year
  46: { type: "dt48_2" }, // RT_DT48_2: seconds since 1900 (4 bytes) + ms (2 bytes)
};
