import { OffsetFormatter } from "../journal/time.ts";

/**
 * Rollup tiers. 1 min and 15 min (the utility's billing interval) are aligned on UTC, which is also
 * local alignment in every time zone (offsets are whole quarter hours). Hours, days and months
 * follow the site's wall clock, so a day is the site's day (23 or 25 hours across DST changes).
 */
export const TIER_IDS = ["1m", "15m", "1h", "1d", "1mo"] as const;
export type TierId = (typeof TIER_IDS)[number];

export interface Tier {
  id: TierId;
  table: string;
  /** Nominal length (months: 30.44 days), used to pick a tier for a range. */
  ms: number;
}

export const TIERS: readonly Tier[] = [
  { id: "1m", table: "h_1m", ms: 60_000 },
  { id: "15m", table: "h_15m", ms: 900_000 },
  { id: "1h", table: "h_1h", ms: 3_600_000 },
  { id: "1d", table: "h_1d", ms: 86_400_000 },
  { id: "1mo", table: "h_1mo", ms: 2_629_746_000 },
];

export class Calendar {
  private readonly off: OffsetFormatter;
  constructor(readonly timeZone: string) {
    this.off = new OffsetFormatter(timeZone);
  }

  private offMs(ts: number): number {
    return this.off.offsetMinutes(ts) * 60_000;
  }

  /** Start of the tier's interval holding `ts`. */
  start(tier: number, ts: number): number {
    switch (tier) {
      case 0:
        return Math.floor(ts / 60_000) * 60_000;
      case 1:
        return Math.floor(ts / 900_000) * 900_000;
      case 2: {
        const o = this.offMs(ts);
        return Math.floor((ts + o) / 3_600_000) * 3_600_000 - o;
      }
      case 3:
        return this.localMidnight(ts);
      default: {
        const local = new Date(ts + this.offMs(ts));
        return this.fromLocal(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), 1));
      }
    }
  }

  /** Start of the interval after the one starting at `start`. */
  next(tier: number, start: number): number {
    switch (tier) {
      case 0:
        return start + 60_000;
      case 1:
        return start + 900_000;
      case 2:
        return this.start(2, start + 3_600_000 + 1);
      case 3:
        return this.localMidnight(start + 26 * 3_600_000);
      default: {
        const local = new Date(start + this.offMs(start) + 3 * 86_400_000);
        return this.fromLocal(Date.UTC(local.getUTCFullYear(), local.getUTCMonth() + 1, 1));
      }
    }
  }

  private localMidnight(ts: number): number {
    const o = this.offMs(ts);
    return this.fromLocal(Math.floor((ts + o) / 86_400_000) * 86_400_000);
  }

  /** UTC ms of a wall-clock time given as if it were UTC (the offset is looked up at the result). */
  private fromLocal(localMs: number): number {
    let t = localMs - this.offMs(localMs);
    t = localMs - this.offMs(t);
    return t;
  }
}
