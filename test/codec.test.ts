/**
 * Byte-vector tests of the Modbus codec. Every expected value below was worked out by hand from
 * the type definitions (seed enlogic-modbus-map-format.ru.md Table 6, IEEE 754, the TH40C manual),
 * never by running the code under test. Date expectations use Date.UTC (UTC interpretation).
 */
import { describe, expect, it } from "vitest";
import {
  decodeBit,
  decodeRaw,
  decodeRawView,
  ENLOGIC_DATATYPE,
  encodeRaw,
  registerCount,
} from "../src/protocols/modbus/codec.ts";
import { DATA_TYPES, type DataType, type RawSpec, type WordOrder } from "../src/protocols/modbus/types.ts";

const hex = (s: string) => Uint8Array.from(s.trim().split(/\s+/).map((b) => parseInt(b, 16)));
const spec = (type: DataType, order: WordOrder = "ABCD", extra: Partial<RawSpec> = {}): RawSpec => ({ type, order, ...extra });

/** Modbus RTU CRC-16 (poly 0xA001, init 0xFFFF), written here independently of the code under test. */
function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

/** 2020-07-05 15:10:40 UTC = 1593961840 s since 1970 = 0x5F01ED70 (18448 days * 86400 + 54640). */
const T = Date.UTC(2020, 6, 5, 15, 10, 40);

describe("TH40C manual vectors (seed th40c-energy-meter-manual.it.txt, Appendix E)", () => {
  // Reading of total import active energy, registers 0x8010-0x8011.
  // The manual prints the reply as "01 03 04 3E C7 AE 14 3A 0E 49": the 0E is a stray byte (the
  // request "01 03 80 10 00 02 EC" lost its second CRC byte 0E). The real CRC of the reply is 3A 49.
  const reply = hex("01 03 04 3E C7 AE 14 3A 49");

  it("the reply's CRC is 0x493A (sent low byte first: 3A 49) and the request's is EC 0E", () => {
    expect(crc16(reply.subarray(0, 7))).toBe(0x493a);
    expect(crc16(hex("01 03 80 10 00 02"))).toBe(0x0eec);
  });

  it("data bytes 3E C7 AE 14 decode as float32 ABCD to 0.39 kWh", () => {
    // 0x3EC7AE14: sign 0, exponent 0x7D (125 → 2^-2), mantissa 1.56 → 0.39
    expect(decodeRaw(reply, 3, spec("float32"))).toBeCloseTo(0.39, 5);
    const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
    expect(decodeRawView(view, 3, spec("float32"))).toBeCloseTo(0.39, 5);
  });

  it("the same value reordered decodes identically in every word order", () => {
    expect(decodeRaw(hex("AE 14 3E C7"), 0, spec("float32", "CDAB"))).toBeCloseTo(0.39, 5);
    expect(decodeRaw(hex("C7 3E 14 AE"), 0, spec("float32", "BADC"))).toBeCloseTo(0.39, 5);
    expect(decodeRaw(hex("14 AE C7 3E"), 0, spec("float32", "DCBA"))).toBeCloseTo(0.39, 5);
  });

  it("float32 0.39 encodes to the manual's bytes", () => {
    expect(encodeRaw(0.39, spec("float32"))).toEqual(hex("3E C7 AE 14"));
    expect(encodeRaw(0.39, spec("float32", "CDAB"))).toEqual(hex("AE 14 3E C7"));
  });

  // Broadcast time set: "scrittura dell'ora 05-07-20 15:10:40" → 00 10 70 00 00 03 06 05 07 14 0f 0a 28 C8 18
  // Data bytes 05 07 14 0F 0A 28 = YY MM DD hh mm ss (the order of the date registers 0x1040..0x1045:
  // YEAR, MONTH, DATE, HOUR, MIN, SEC), i.e. 2005-07-20 15:10:40. No EnLogic type has exactly that
  // order, but RT_DT96 (sec, min, hour, day, month, year) with DCBA (all 6 bytes reversed) does.
  const frame = hex("00 10 70 00 00 03 06 05 07 14 0f 0a 28 C8 18");

  it("the time-set frame is a well-formed FC16 of 3 registers at 0x7000 with a correct CRC", () => {
    expect(frame[0]).toBe(0); // broadcast
    expect(frame[1]).toBe(0x10);
    expect((frame[2]! << 8) | frame[3]!).toBe(0x7000);
    expect((frame[4]! << 8) | frame[5]!).toBe(3);
    expect(frame[6]).toBe(6);
    expect(crc16(frame.subarray(0, 13))).toBe(0x18c8); // sent C8 18
  });

  it("dt96 DCBA decodes the time-set data to 2005-07-20 15:10:40 and encodes it back", () => {
    const t = Date.UTC(2005, 6, 20, 15, 10, 40);
    expect(registerCount(spec("dt96", "DCBA"))).toBe(3);
    expect(decodeRaw(frame, 7, spec("dt96", "DCBA"))).toBe(t);
    expect(encodeRaw(t, spec("dt96", "DCBA"))).toEqual(hex("05 07 14 0f 0a 28"));
  });
});

describe("registerCount", () => {
  it.each([
    ["bit", 1],
    ["int16", 1],
    ["uint16", 1],
    ["uint16_xy", 1],
    ["int16_offset", 1],
    ["int32", 2],
    ["uint32", 2],
    ["float32", 2],
    ["fixed24_8", 2],
    ["fixed16_16", 2],
    ["dt32", 2],
    ["dt48_ms", 3],
    ["dt48_1", 3],
    ["dt48_2", 3],
    ["dt96", 3],
    ["dt96_2", 3],
    ["int64", 4],
    ["uint64", 4],
    ["float64", 4],
    ["dt64", 4],
    ["dt64_1", 4],
    ["dt64_2", 4],
    ["dt64_3", 4],
  ] as const)("%s → %i", (type, n) => {
    expect(registerCount(spec(type))).toBe(n);
  });

  it("bit with a mask is one register; text is ceil(length / 2)", () => {
    expect(registerCount(spec("bit", "ABCD", { mask: 0x0004 }))).toBe(1);
    expect(registerCount(spec("text", "ABCD", { length: 5 }))).toBe(3);
    expect(registerCount(spec("text", "ABCD", { length: 8 }))).toBe(4);
  });

  it("covers every data type", () => {
    for (const t of DATA_TYPES) expect(registerCount(spec(t, "ABCD", { length: 2 }))).toBeGreaterThan(0);
  });
});

/** [type, order, wire bytes, expected raw value] — all derived by hand. */
const vectors: [DataType, WordOrder, string, number][] = [
  // int16 -200 = 0xFF38; CDAB is a no-op for one register, BADC/DCBA swap its bytes
  ["int16", "ABCD", "FF 38", -200],
  ["int16", "CDAB", "FF 38", -200],
  ["int16", "BADC", "38 FF", -200],
  ["int16", "DCBA", "38 FF", -200],
  ["int16", "ABCD", "80 00", -32768],
  ["uint16", "ABCD", "12 34", 0x1234],
  ["uint16", "BADC", "34 12", 0x1234], // RT_UINT16_LE
  ["uint16", "ABCD", "FF FF", 65535],
  // RT_UINT16_XY: each byte is a decimal pair
  ["uint16_xy", "ABCD", "14 06", 2006],
  ["uint16_xy", "ABCD", "00 07", 7],
  ["uint16_xy", "BADC", "06 14", 2006],
  // RT_160: offset by 8000h
  ["int16_offset", "ABCD", "00 00", -32768],
  ["int16_offset", "ABCD", "80 00", 0],
  ["int16_offset", "ABCD", "FF FF", 32767],
  ["int16_offset", "ABCD", "80 64", 100],
  // int32 -2 = FF FF FF FE
  ["int32", "ABCD", "FF FF FF FE", -2],
  ["int32", "BADC", "FF FF FE FF", -2],
  ["int32", "CDAB", "FF FE FF FF", -2],
  ["int32", "DCBA", "FE FF FF FF", -2],
  ["int32", "ABCD", "80 00 00 00", -2147483648],
  // uint32 0x12345678 = 305419896
  ["uint32", "ABCD", "12 34 56 78", 305419896],
  ["uint32", "BADC", "34 12 78 56", 305419896],
  ["uint32", "CDAB", "56 78 12 34", 305419896],
  ["uint32", "DCBA", "78 56 34 12", 305419896],
  ["uint32", "ABCD", "FF FF FF FF", 4294967295],
  // fixed24_8 (RT_IIIF): III + F/256
  ["fixed24_8", "ABCD", "00 00 01 80", 1.5],
  ["fixed24_8", "ABCD", "00 12 34 40", 0x1234 + 0.25],
  ["fixed24_8", "CDAB", "34 40 00 12", 0x1234 + 0.25],
  ["fixed24_8", "ABCD", "FF FF FF 80", -0.5], // III = -1, F = 0.5
  // fixed16_16 (RT_F1616)
  ["fixed16_16", "ABCD", "00 01 80 00", 1.5],
  ["fixed16_16", "ABCD", "00 32 40 00", 50.25],
  ["fixed16_16", "DCBA", "00 40 32 00", 50.25],
  ["fixed16_16", "ABCD", "FF FF 80 00", -0.5],
  // float32 -1.0 = BF 80 00 00; 230.5 = 0x43668000
  ["float32", "ABCD", "BF 80 00 00", -1],
  ["float32", "ABCD", "43 66 80 00", 230.5],
  ["float32", "CDAB", "80 00 43 66", 230.5],
  ["float32", "BADC", "66 43 00 80", 230.5],
  ["float32", "DCBA", "00 80 66 43", 230.5],
  // float64 1.5 = 3FF8 0000 0000 0000
  ["float64", "ABCD", "3F F8 00 00 00 00 00 00", 1.5],
  ["float64", "CDAB", "00 00 00 00 00 00 3F F8", 1.5],
  ["float64", "BADC", "F8 3F 00 00 00 00 00 00", 1.5],
  ["float64", "DCBA", "00 00 00 00 00 00 F8 3F", 1.5],
  // int64: -2, 2^32, and 0x0001000200030004 = 2^48 + 2*2^32 + 3*2^16 + 4 = 281483566841860
  ["int64", "ABCD", "FF FF FF FF FF FF FF FE", -2],
  ["int64", "ABCD", "00 00 00 01 00 00 00 00", 4294967296],
  ["int64", "ABCD", "00 01 00 02 00 03 00 04", 281483566841860],
  ["int64", "BADC", "01 00 02 00 03 00 04 00", 281483566841860],
  ["int64", "CDAB", "00 04 00 03 00 02 00 01", 281483566841860],
  ["int64", "DCBA", "04 00 03 00 02 00 01 00", 281483566841860],
  ["int64", "ABCD", "80 00 00 00 00 00 00 00", -(2 ** 63)],
  ["uint64", "ABCD", "00 01 00 02 00 03 00 04", 281483566841860],
  ["uint64", "ABCD", "FF FF FF FF FF FF FF FE", 2 ** 64], // 2^64 - 2 rounds to 2^64 as a double
  // dt32: seconds since 1970
  ["dt32", "ABCD", "5F 01 ED 70", T],
  ["dt32", "CDAB", "ED 70 5F 01", T],
  // dt48_ms: 1593961840123 ms = 0x0173_1F87_7DFB
  ["dt48_ms", "ABCD", "01 73 1F 87 7D FB", T + 123],
  ["dt48_ms", "CDAB", "7D FB 1F 87 01 73", T + 123],
  ["dt48_ms", "BADC", "73 01 87 1F FB 7D", T + 123],
  ["dt48_ms", "DCBA", "FB 7D 87 1F 73 01", T + 123],
  // dt48_1: MM YY | HH DD | SS mm
  ["dt48_1", "ABCD", "07 14 0F 05 28 0A", T],
  ["dt48_1", "BADC", "14 07 05 0F 0A 28", T],
  // dt48_2: seconds since 1900 (1593961840 + 2208988800 = 0xE2AC6BF0) + ms (250 = 0x00FA)
  ["dt48_2", "ABCD", "E2 AC 6B F0 00 FA", T + 250],
  ["dt48_2", "CDAB", "00 FA 6B F0 E2 AC", T + 250],
  // dt64 (RT_DT64): year 20 | month 7, day 5 | hour 15, min 10 | ms in minute 40250 = 0x9D3A
  ["dt64", "ABCD", "00 14 07 05 0F 0A 9D 3A", T + 250],
  ["dt64", "CDAB", "9D 3A 0F 0A 07 05 00 14", T + 250],
  // dt64_1 (RT_DT64_1): centiseconds 25 | SS 40, MM 10 | HH 15, DD 5 | month 7, YY 20
  ["dt64_1", "ABCD", "00 19 28 0A 0F 05 07 14", T + 250],
  ["dt64_1", "DCBA", "14 07 05 0F 0A 28 19 00", T + 250],
  // dt64_2 (RT_DT32_1): year 2020 = 0x07E4 | 7, 5 | 15, 10 | 40250
  ["dt64_2", "ABCD", "07 E4 07 05 0F 0A 9D 3A", T + 250],
  ["dt64_2", "BADC", "E4 07 05 07 0A 0F 3A 9D", T + 250],
  // dt64_3 (RT_DT64_3): YY 20, MM 7 | DD 5, HH 15 | mm 10, SS 40 | ms
  ["dt64_3", "ABCD", "14 07 05 0F 0A 28 9D 3A", T + 250], // ms field within the minute
  ["dt64_3", "ABCD", "14 07 05 0F 0A 28 00 FA", T + 250], // ms field within the second
  // dt96 (RT_DT96): sec, min, hour, day, month, year
  ["dt96", "ABCD", "28 0A 0F 05 07 14", T],
  ["dt96", "CDAB", "07 14 0F 05 28 0A", T],
  // dt96_2 (RT_DT96_2): min, hour, sec, day, month, year
  ["dt96_2", "ABCD", "0A 0F 28 05 07 14", T],
  ["dt96_2", "BADC", "0F 0A 05 28 14 07", T],
];

describe("decodeRaw: every type and order", () => {
  it.each(vectors)("%s %s [%s] → %d", (type, order, bytes, expected) => {
    expect(decodeRaw(hex(bytes), 0, spec(type, order))).toBe(expected);
  });

  it("honours byteOffset inside a larger reply", () => {
    const reply = hex("01 03 08 00 00 FF FF FF FE 12 34");
    expect(decodeRaw(reply, 5, spec("int32"))).toBe(-2);
    expect(decodeRaw(reply, 9, spec("uint16"))).toBe(0x1234);
  });

  it("decodeRawView agrees with decodeRaw, also on a view with its own byteOffset", () => {
    const buf = hex("AA BB 43 66 80 00 80 00 43 66");
    const view = new DataView(buf.buffer, 2, 8);
    expect(decodeRawView(view, 0, spec("float32"))).toBe(230.5);
    expect(decodeRawView(view, 4, spec("float32", "CDAB"))).toBe(230.5);
  });

  it("impossible date fields decode to NaN", () => {
    expect(decodeRaw(hex("0D 14 0F 05 28 0A"), 0, spec("dt48_1"))).toBeNaN(); // month 13
  });

  it("throws a RangeError when the reply is too short", () => {
    expect(() => decodeRaw(hex("00 01 02"), 0, spec("float32"))).toThrow(RangeError);
  });
});

describe("text", () => {
  it("RT_TXT_DIR: characters in register order, trailing NULs trimmed", () => {
    expect(decodeRaw(hex("41 42 43 00"), 0, spec("text", "ABCD", { length: 4 }))).toBe("ABC");
  });
  it("RT_TXT (bytes swapped in each register)", () => {
    expect(decodeRaw(hex("42 41 00 43"), 0, spec("text", "BADC", { length: 4 }))).toBe("ABC");
  });
  it("trailing spaces trimmed, odd length", () => {
    expect(decodeRaw(hex("41 42 20 20 20 00"), 0, spec("text", "ABCD", { length: 5 }))).toBe("AB");
  });
  it("encodes padded with NULs", () => {
    expect(encodeRaw("ABC", spec("text", "ABCD", { length: 4 }))).toEqual(hex("41 42 43 00"));
    expect(encodeRaw("ABC", spec("text", "BADC", { length: 4 }))).toEqual(hex("42 41 00 43"));
  });
  it("too long a string is a RangeError", () => {
    expect(() => encodeRaw("ABCDE", spec("text", "ABCD", { length: 4 }))).toThrow(RangeError);
  });
});

describe("masks and bits", () => {
  it("bit with a mask is 1 when any masked bit is set", () => {
    const s = spec("bit", "ABCD", { mask: 0x0006 });
    expect(decodeRaw(hex("00 04"), 0, s)).toBe(1);
    expect(decodeRaw(hex("00 02"), 0, s)).toBe(1);
    expect(decodeRaw(hex("FF F9"), 0, s)).toBe(0);
  });
  it("bit 15 of a register (mask 0x8000)", () => {
    expect(decodeRaw(hex("80 00"), 0, spec("bit", "ABCD", { mask: 0x8000 }))).toBe(1);
    expect(decodeRaw(hex("7F FF"), 0, spec("bit", "ABCD", { mask: 0x8000 }))).toBe(0);
  });
  it("masked integers: value & mask", () => {
    expect(decodeRaw(hex("12 34"), 0, spec("uint16", "ABCD", { mask: 0x00f0 }))).toBe(0x30);
    expect(decodeRaw(hex("34 12"), 0, spec("uint16", "BADC", { mask: 0x0f00 }))).toBe(0x0200);
  });
  it("encodes a masked bit as the mask or 0", () => {
    expect(encodeRaw(1, spec("bit", "ABCD", { mask: 0x0004 }))).toEqual(hex("00 04"));
    expect(encodeRaw(0, spec("bit", "ABCD", { mask: 0x0004 }))).toEqual(hex("00 00"));
    expect(encodeRaw(1, spec("bit", "BADC", { mask: 0x0100 }))).toEqual(hex("00 01"));
  });
  it("decodeBit: the LSB of the first byte is the first coil", () => {
    const data = hex("05 80"); // 0000 0101, 1000 0000
    expect(decodeBit(data, 0)).toBe(1);
    expect(decodeBit(data, 1)).toBe(0);
    expect(decodeBit(data, 2)).toBe(1);
    expect(decodeBit(data, 7)).toBe(0);
    expect(decodeBit(data, 8)).toBe(0);
    expect(decodeBit(data, 15)).toBe(1);
    expect(() => decodeBit(data, 16)).toThrow(RangeError);
  });
});

describe("encodeRaw", () => {
  it.each(vectors)("%s %s → [%s]", (type, order, bytes, value) => {
    if (type === "uint64" && value === 2 ** 64) return; // not representable exactly, tested below
    expect(encodeRaw(value, spec(type, order))).toEqual(
      // the two dt64_3 vectors decode alike; the encoder writes SS and the ms within the minute
      type === "dt64_3" ? hex("14 07 05 0F 0A 28 9D 3A") : hex(bytes),
    );
  });

  it("round-trips through decodeRaw for every type", () => {
    const samples: [DataType, number][] = [
      ["int16", -12345],
      ["uint16", 54321],
      ["uint16_xy", 1999],
      ["int16_offset", -1],
      ["int32", -123456789],
      ["uint32", 4000000000],
      ["float32", 50.0],
      ["fixed24_8", -1234.75],
      ["fixed16_16", 12.5],
      ["int64", -9007199254740991],
      ["uint64", 9007199254740991],
      ["float64", Math.PI],
      ["dt32", Date.UTC(2031, 11, 31, 23, 59, 59)],
      ["dt48_ms", Date.UTC(2024, 1, 29, 12, 0, 0, 999)],
      ["dt48_1", Date.UTC(2024, 1, 29, 12, 34, 56)],
      ["dt48_2", Date.UTC(2024, 1, 29, 12, 34, 56, 789)],
      ["dt64", Date.UTC(2024, 1, 29, 12, 34, 56, 789)],
      ["dt64_1", Date.UTC(2024, 1, 29, 12, 34, 56, 780)],
      ["dt64_2", Date.UTC(1994, 0, 1, 0, 0, 0, 1)],
      ["dt64_3", Date.UTC(2024, 1, 29, 12, 34, 0, 5)],
      ["dt96", Date.UTC(2099, 11, 31, 23, 59, 59)],
      ["dt96_2", Date.UTC(2000, 0, 1, 0, 0, 0)],
    ];
    for (const [type, v] of samples)
      for (const order of ["ABCD", "BADC", "CDAB", "DCBA"] as const) {
        const s = spec(type, order);
        expect(decodeRaw(encodeRaw(v, s), 0, s), `${type} ${order}`).toBe(v);
      }
  });

  it("out-of-range values throw a RangeError with a clear message", () => {
    expect(() => encodeRaw(70000, spec("uint16"))).toThrow(RangeError);
    expect(() => encodeRaw(70000, spec("uint16"))).toThrow(/uint16.*70000.*0\.\.65535/);
    expect(() => encodeRaw(-1, spec("uint16"))).toThrow(RangeError);
    expect(() => encodeRaw(40000, spec("int16"))).toThrow(RangeError);
    expect(() => encodeRaw(-40000, spec("int16"))).toThrow(RangeError);
    expect(() => encodeRaw(10000, spec("uint16_xy"))).toThrow(RangeError);
    expect(() => encodeRaw(-1, spec("uint32"))).toThrow(RangeError);
    expect(() => encodeRaw(2 ** 31, spec("int32"))).toThrow(RangeError);
    expect(() => encodeRaw(2 ** 64, spec("uint64"))).toThrow(RangeError);
    expect(() => encodeRaw(1e39, spec("float32"))).toThrow(RangeError);
    expect(() => encodeRaw(8388608, spec("fixed24_8"))).toThrow(RangeError);
    expect(() => encodeRaw(Date.UTC(1999, 0, 1), spec("dt48_1"))).toThrow(RangeError);
    expect(() => encodeRaw(NaN, spec("int16"))).toThrow(RangeError);
    expect(() => encodeRaw("12", spec("int16"))).toThrow(RangeError);
  });

  it("NaN is encodable as a float (a device's 'no value')", () => {
    const b = encodeRaw(NaN, spec("float32"));
    expect(decodeRaw(b, 0, spec("float32"))).toBeNaN();
  });
});

describe("ENLOGIC_DATATYPE", () => {
  it("maps every code with a value meaning and omits the rest", () => {
    const codes = [0, 10, 11, 12, 14, 15, 16, 17, 18, 20, 21, 22, 23, 24, 25, 26, 28, 30, 32, 33, 34, 35, 36, 37, 38, 39, 41, 42, 44, 45, 46];
    expect(Object.keys(ENLOGIC_DATATYPE).map(Number).sort((a, b) => a - b)).toEqual(codes);
    for (const omitted of [19, 27, 40, 43, 50, 60, 61]) expect(ENLOGIC_DATATYPE[omitted]).toBeUndefined();
  });
  it("special orders", () => {
    expect(ENLOGIC_DATATYPE[14]).toEqual({ type: "uint16", order: "BADC" }); // RT_UINT16_LE
    expect(ENLOGIC_DATATYPE[26]).toEqual({ type: "float32", order: "CDAB" }); // RT_F32
    expect(ENLOGIC_DATATYPE[18]!.type).toBe("int16_offset"); // RT_160
    expect(ENLOGIC_DATATYPE[38]!.type).toBe("dt64_2"); // RT_DT32_1
    expect(ENLOGIC_DATATYPE[44]!.type).toBe("dt96"); // RT_DT96
  });
});
