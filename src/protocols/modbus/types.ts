/**
 * Modbus data types a tag can have. The set covers the EnLogic table (seed
 * enlogic-modbus-map-format.ru.md, Table 6); the EnLogic code of each is in ENLOGIC_DATATYPE.
 */
export const DATA_TYPES = [
  "bit", // RT_BIT: a coil / discrete input, or one bit of a register selected by `mask`
  "int16", // RT_INT16, RT_16S
  "uint16", // RT_UINT16, RT_UINT16_1, RT_HEX16 (RT_UINT16_LE is uint16 with order BA)
  "uint16_xy", // RT_UINT16_XY: each byte a decimal pair, 0x1406 → 2006
  "int16_offset", // RT_160: signed with 0x8000 offset (0 → -32768, 0x8000 → 0)
  "int32", // RT_INT32, RT_32S
  "uint32", // RT_UINT32, RT_HEX32
  "float32", // RT_FLOAT32 (RT_F32 is float32 with another order)
  "fixed24_8", // RT_IIIF: 24-bit integer part + 8-bit fraction, value = III + F/256
  "fixed16_16", // RT_F1616
  "int64", // RT_INT64
  "uint64", // RT_UINT64
  "float64",
  "dt32", // RT_DT32: seconds since 1970
  "dt48_ms", // RT_DT48: milliseconds since 1970 in 48 bits
  "dt48_1", // RT_DT48_1: MM YY | HH DD | SS mm
  "dt48_2", // RT_DT48_2: seconds since 1900 (32 bits) + milliseconds (16 bits)
  "dt64", // RT_DT64: year(0..99) | month,day | hour,min | milliseconds
  "dt64_1", // RT_DT64_1: cs | SS MM | HH DD | MM YY  (IEC 60870 style)
  "dt64_2", // RT_DT32_1 in the table (8 bytes): year(16) | month,day | hour,min | milliseconds
  "dt64_3", // RT_DT64_3: YY MM | DD HH | mm SS | milliseconds
  "dt96", // RT_DT96: 6 bytes: sec, min, hour, day, month, year
  "dt96_2", // RT_DT96_2: 6 bytes: min, hour, sec, day, month, year
  "text", // RT_TXT / RT_TXT_DIR: `length` characters
] as const;
export type DataType = (typeof DATA_TYPES)[number];

/**
 * Byte order of multi-register values, letters naming the bytes of a big-endian value.
 * ABCD: as-is (Modbus default, high word first); BADC: bytes swapped in each word;
 * CDAB: words swapped (low word first); DCBA: both. EnLogic `endian` 0,1,2,3 in that order.
 */
export const WORD_ORDERS = ["ABCD", "BADC", "CDAB", "DCBA"] as const;
export type WordOrder = (typeof WORD_ORDERS)[number];

export const READ_FUNCTIONS = [1, 2, 3, 4] as const;
export const WRITE_FUNCTIONS = [5, 6, 15, 16] as const;
export type ReadFunction = (typeof READ_FUNCTIONS)[number];
export type WriteFunction = (typeof WRITE_FUNCTIONS)[number];

export const TAG_KINDS = ["analog", "digital", "text", "datetime"] as const;
export type TagKind = (typeof TAG_KINDS)[number];

/** What the decoder needs to know about one tag's raw encoding. */
export interface RawSpec {
  type: DataType;
  order: WordOrder;
  /** For `bit` read from a register: which bits; value is 1 when any masked bit is set. For integers: applied before scaling. */
  mask?: number;
  /** Characters for `text` (two per register). */
  length?: number;
}
