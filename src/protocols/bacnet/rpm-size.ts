/**
 * How many objects one ReadPropertyMultiple may ask a device for. Pure: sized from the device's
 * I-Am (max APDU, segmentation), then shrunk and remembered when the device answers a chunk with
 * Abort/Reject/segmentation errors, down to 1; a device that refuses even one is read with
 * ReadProperty.
 */

/** Bytes of one object with one property in an RPM answer: object id (5), open/close (2), property id (2), open/close (2), a REAL (5). */
const ANSWER_BYTES_PER_ITEM = 16;
/** Bytes of one object in an RPM request: object id (5), open/close (2), property id (2). */
const REQUEST_BYTES_PER_ITEM = 9;
/** Complex-ACK header (3) and margin for longer values (enumerated, bit strings of 4 bytes). */
const HEADER_BYTES = 8;
/** A segmented answer may span this many of the device's APDUs (we accept up to 16 segments). */
const SEGMENTS = 4;
/** Never more per request: one lost datagram costs a whole chunk. */
export const MAX_ITEMS = 100;

export function initialRpmSize(maxApdu: number, segmentedReplies: boolean): number {
  const apdu = Math.max(50, maxApdu);
  const perAnswer = Math.floor(((segmentedReplies ? SEGMENTS * apdu : apdu) - HEADER_BYTES) / ANSWER_BYTES_PER_ITEM);
  const perRequest = Math.floor((apdu - HEADER_BYTES) / REQUEST_BYTES_PER_ITEM);
  return Math.max(1, Math.min(MAX_ITEMS, perAnswer, perRequest));
}

export class RpmSizer {
  /** Objects per request; 0 once RPM is known not to work (use ReadProperty). */
  size: number;
  /** Why the size was last cut, for the communication page. */
  reason: string | null = null;

  constructor(maxApdu: number, segmentedReplies: boolean) {
    this.size = initialRpmSize(maxApdu, segmentedReplies);
  }

  get useRpm(): boolean {
    return this.size > 0;
  }

  /**
   * A chunk of `tried` objects failed with a size-related answer: halve and remember. Returns true
   * when there is still a smaller RPM to try, false when RPM is given up for ReadProperty.
   */
  shrink(tried: number, why: string): boolean {
    this.reason = why;
    if (tried <= 1) {
      this.size = 0;
      return false;
    }
    this.size = Math.max(1, Math.min(this.size, Math.floor(tried / 2)));
    return true;
  }

  /** The device said it does not know the service at all. */
  giveUp(why: string): void {
    this.reason = why;
    this.size = 0;
  }
}

/** Splits items into chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
