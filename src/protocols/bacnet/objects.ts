/**
 * BACnet object types, properties and error texts Busbar names in profiles and statuses
 * (ASHRAE 135 clause 21). Only the numbers are the standard's; the short names are the usual
 * EDE/EPICS abbreviations.
 */

export const OBJECT_TYPES = {
  AI: 0,
  AO: 1,
  AV: 2,
  BI: 3,
  BO: 4,
  BV: 5,
  DEV: 8,
  MSI: 13,
  MSO: 14,
  MSV: 19,
  BSV: 39,
  CSV: 40,
  IV: 45,
  PIV: 48,
} as const;
export type ObjectTypeName = keyof typeof OBJECT_TYPES;

const TYPE_NAME = new Map<number, string>(Object.entries(OBJECT_TYPES).map(([k, v]) => [v, k]));
export const objectTypeName = (type: number): string => TYPE_NAME.get(type) ?? `type${type}`;
export const objectRef = (o: { type: number; instance: number }): string => `${objectTypeName(o.type)}:${o.instance}`;

export const PROP = {
  OBJECT_LIST: 76,
  OBJECT_NAME: 77,
  MAX_APDU_LENGTH_ACCEPTED: 62,
  MODEL_NAME: 70,
  PRESENT_VALUE: 85,
  PRIORITY_ARRAY: 87,
  SEGMENTATION_SUPPORTED: 107,
  STATUS_FLAGS: 111,
  SYSTEM_STATUS: 112,
  VENDOR_IDENTIFIER: 120,
  PROFILE_NAME: 168,
} as const;

/** Property names a profile may use instead of the number. */
export const PROPERTY_NAMES: Record<string, number> = {
  "present-value": PROP.PRESENT_VALUE,
  "object-name": PROP.OBJECT_NAME,
  "model-name": PROP.MODEL_NAME,
  "profile-name": PROP.PROFILE_NAME,
  "vendor-identifier": PROP.VENDOR_IDENTIFIER,
  "status-flags": PROP.STATUS_FLAGS,
};

/** BACnetSegmentation (I-Am, Segmentation_Supported). */
export const SEGMENTATION = ["both", "transmit", "receive", "none"] as const;
/** Can the device send us a segmented answer? */
export const segmentsReplies = (seg: number): boolean => seg === 0 || seg === 1;

/** Error classes and the codes a client meets (clause 18). */
const ERROR_CLASS = ["device", "object", "property", "resources", "security", "services", "vt", "communication"];
const ERROR_CODE: Record<number, string> = {
  0: "other",
  2: "configuration-in-progress",
  3: "device-busy",
  9: "invalid-data-type",
  25: "operational-problem",
  27: "read-access-denied",
  29: "service-request-denied",
  30: "timeout",
  31: "unknown-object",
  32: "unknown-property",
  37: "value-out-of-range",
  40: "write-access-denied",
  42: "invalid-array-index",
  44: "not-cov-property",
  45: "optional-functionality-not-supported",
  47: "datatype-not-supported",
  50: "property-is-not-an-array",
};
export const errorText = (cls: number, code: number): string => `${ERROR_CLASS[cls] ?? `class${cls}`}/${ERROR_CODE[code] ?? `code${code}`}`;

/** Abort (clause 20.1.9) and Reject (20.1.8) reasons; the client library reports both as "BacnetAbort - Reason:N". */
const ABORT_REASON = ["other", "buffer-overflow", "invalid-apdu-in-this-state", "preempted-by-higher-priority-task", "segmentation-not-supported", "security-error", "insufficient-security", "window-size-out-of-range", "application-exceeded-reply-time", "out-of-resources", "tsm-timeout", "apdu-too-long"];
const REJECT_REASON = ["other", "buffer-overflow", "inconsistent-parameters", "invalid-parameter-data-type", "invalid-tag", "missing-required-parameter", "parameter-out-of-range", "too-many-arguments", "undefined-enumeration", "unrecognized-service"];

/** What went wrong with one confirmed request, from the client library's error. */
export type RequestFailure =
  | { kind: "timeout"; text: string }
  | { kind: "error"; cls: number; code: number; text: string }
  | { kind: "abort-or-reject"; reason: number; text: string }
  | { kind: "bad-reply"; text: string };

export function classifyFailure(e: unknown): RequestFailure {
  const msg = e instanceof Error ? e.message : String(e);
  let m = /BacnetError - Class:(\d+) - Code:(\d+)/.exec(msg);
  if (m) {
    const cls = Number(m[1]);
    const code = Number(m[2]);
    return { kind: "error", cls, code, text: errorText(cls, code) };
  }
  m = /BacnetAbort - Reason:(\d+)/.exec(msg);
  if (m) {
    const reason = Number(m[1]);
    const a = ABORT_REASON[reason] ?? `reason ${reason}`;
    const r = REJECT_REASON[reason] ?? `reason ${reason}`;
    return { kind: "abort-or-reject", reason, text: a === r ? `abort/reject ${a}` : `abort ${a} / reject ${r}` };
  }
  if (msg.includes("ERR_TIMEOUT")) return { kind: "timeout", text: "no answer (timeout)" };
  return { kind: "bad-reply", text: `bad reply (${msg})` };
}
