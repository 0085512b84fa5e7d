/**
 * Quality of a point's value. Stored as an i32 in the shared point table.
 * Only GOOD may be shown as a plain trustworthy value; every other code must be visible on screen.
 */
export const Quality = {
  /** No value read yet since start. */
  INIT: 0,
  GOOD: 1,
  /** The poll is overdue (worker restarting, bus saturated): the value shown is old. */
  STALE: 2,
  /** The device did not answer (timeout, connection refused, CRC...). */
  COMM_FAIL: 3,
  /** The device answered with a Modbus exception (illegal address, busy...). */
  DEVICE_EXCEPTION: 4,
  /** The device says it has no value (a "not available" sentinel such as -1 or 0xFFFF). */
  NOT_AVAILABLE: 5,
  /** Decoded, but outside the tag's plausible range. */
  OUT_OF_RANGE: 6,
  /** Set by a person, not read from the device. */
  MANUAL: 7,
  /** Answer could not be decoded (wrong byte count, NaN where a number was expected). */
  BAD_DATA: 8,
  /** Computed from data that is partly estimated (an energy total across a communication gap). */
  ESTIMATED: 9,
} as const;

export type QualityCode = (typeof Quality)[keyof typeof Quality];

export const QUALITY_NAMES: Record<number, string> = {
  [Quality.INIT]: "init",
  [Quality.GOOD]: "good",
  [Quality.STALE]: "stale",
  [Quality.COMM_FAIL]: "comm-fail",
  [Quality.DEVICE_EXCEPTION]: "device-exception",
  [Quality.NOT_AVAILABLE]: "not-available",
  [Quality.OUT_OF_RANGE]: "out-of-range",
  [Quality.MANUAL]: "manual",
  [Quality.BAD_DATA]: "bad-data",
  [Quality.ESTIMATED]: "estimated",
};

export function qualityName(q: number): string {
  return QUALITY_NAMES[q] ?? `unknown-${q}`;
}

export function isGood(q: number): boolean {
  return q === Quality.GOOD;
}
