import { Quality } from "../../points/quality.ts";
import type { BacnetPoint } from "./profile.ts";
import { errorText } from "./objects.ts";

/**
 * Turns a property value as the client library decodes it (a list of application-tagged values)
 * into a point's number and quality. Pure: the same function serves RPM, RP and COV notifications.
 */

/** ApplicationTag numbers (clause 20.2.1.4) plus the library's ERROR marker. */
const TAG = { NULL: 0, BOOLEAN: 1, UNSIGNED: 2, SIGNED: 3, REAL: 4, DOUBLE: 5, CHARSTRING: 7, BITSTRING: 8, ENUMERATED: 9, ERROR: 105 } as const;

export interface AppValue {
  type: number;
  value: unknown;
}

export interface Decoded {
  value: number;
  quality: number;
  /** For text points, and the device's Error for one property. */
  text?: string;
}

/**
 * `factor` is the device-wide factor (Socomec Profile_Name); undefined when the device's answer
 * named no known factor, which leaves the points that need it bad-data rather than wrongly scaled.
 */
export function decodePoint(p: BacnetPoint, values: readonly AppValue[] | undefined, factor: number | undefined): Decoded {
  const v = values?.[0];
  if (!v) return { value: NaN, quality: Quality.BAD_DATA, text: "empty value" };
  if (v.type === TAG.ERROR) {
    const e = v.value as { errorClass?: number; errorCode?: number };
    return { value: NaN, quality: Quality.DEVICE_EXCEPTION, text: errorText(e?.errorClass ?? -1, e?.errorCode ?? -1) };
  }
  if (p.bit !== undefined) {
    if (v.type !== TAG.BITSTRING) return { value: NaN, quality: Quality.BAD_DATA, text: `expected a bit string, got tag ${v.type}` };
    const bs = v.value as { bitsUsed?: number; value?: number[] };
    if (!bs || !Array.isArray(bs.value)) return { value: NaN, quality: Quality.BAD_DATA, text: "bit string without bits" };
    // A bit beyond the bits the device sends is not "off": the device does not report it.
    if (typeof bs.bitsUsed === "number" && p.bit >= bs.bitsUsed) return { value: NaN, quality: Quality.NOT_AVAILABLE };
    const byte = bs.value[p.bit >> 3] ?? 0;
    return { value: (byte >> (p.bit & 7)) & 1, quality: Quality.GOOD };
  }
  if (p.kind === "text") {
    if (v.type !== TAG.CHARSTRING || typeof v.value !== "string") return { value: NaN, quality: Quality.BAD_DATA, text: `expected text, got tag ${v.type}` };
    return { value: 0, quality: Quality.GOOD, text: v.value };
  }
  let raw: number;
  switch (v.type) {
    case TAG.NULL:
      return { value: NaN, quality: Quality.NOT_AVAILABLE };
    case TAG.BOOLEAN:
      raw = v.value ? 1 : 0;
      break;
    case TAG.UNSIGNED:
    case TAG.SIGNED:
    case TAG.REAL:
    case TAG.DOUBLE:
    case TAG.ENUMERATED:
      raw = Number(v.value);
      break;
    default:
      return { value: NaN, quality: Quality.BAD_DATA, text: `unexpected datatype (tag ${v.type})` };
  }
  if (!Number.isFinite(raw)) return { value: NaN, quality: Quality.BAD_DATA, text: "not a finite number" };
  if (p.notAvailable.includes(raw)) return { value: NaN, quality: Quality.NOT_AVAILABLE };
  let value = raw * p.multiplier;
  if (p.useFactor) {
    if (factor === undefined) return { value: NaN, quality: Quality.BAD_DATA, text: "device factor unknown" };
    value *= factor;
  }
  // ÷10^n in binary floating point leaves 50.00000001-style tails; round to the format's digits.
  if (p.multiplier !== 1 || p.useFactor) value = Number(value.toFixed(8));
  if (p.kind === "multistate" && p.states && !(String(raw) in p.states)) return { value, quality: Quality.OUT_OF_RANGE, text: `state ${raw} is not in the profile` };
  if (p.range && ((p.range.min !== undefined && value < p.range.min) || (p.range.max !== undefined && value > p.range.max))) return { value, quality: Quality.OUT_OF_RANGE };
  return { value, quality: Quality.GOOD };
}

/** The device factor from its announced text (e.g. Profile_Name "factor_10"), or undefined. */
export function deviceFactorOf(spec: { values: Record<string, number>; default?: number }, announced: unknown): number | undefined {
  if (typeof announced !== "string") return spec.default;
  return spec.values[announced.trim()] ?? spec.default;
}

/** The raw value to write for an engineering value: the inverse of decodePoint's scaling. */
export function encodeWriteValue(p: BacnetPoint, value: number, factor: number | undefined): { type: number; value: number } {
  let raw = value / p.multiplier;
  if (p.useFactor) raw /= factor ?? 1;
  if (p.kind === "digital") return { type: TAG.ENUMERATED, value: raw ? 1 : 0 };
  if (p.kind === "multistate") return { type: TAG.UNSIGNED, value: Math.round(raw) };
  return { type: TAG.REAL, value: raw };
}
