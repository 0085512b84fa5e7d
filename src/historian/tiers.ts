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

const WEEK = 7 * 86_400_000;

export class Calendar {
  private readonly off: OffsetFormatter;
  private readonly fixed: boolean;
  /** Per week (ms / WEEK): [offset at the week's start, ms of a change inside it or NaN, offset after]. */
  private readonly weeks = new Map<number, [number, number, number]>();

  constructor(readonly timeZone: string) {
    this.off = new OffsetFormatter(timeZone);
    this.fixed = /^(UTC|Etc\/UTC|GMT|Etc\/GMT)$/i.test(timeZone);
  }

  /**
   * The zone's offset at `ts`. A year-long trend asks for thousands of interval boundaries, and Intl
   * costs ~10 µs a call: the offset is found once per week, and a change inside a week (DST) by
   * bisection to the minute, then cached.
   */
  private offMs(ts: number): number {
    if (this.fixed) return 0;
    const w = Math.floor(ts / WEEK);
    let e = this.weeks.get(w);
    if (!e) {
      const a = w * WEEK;
      const o0 = this.off.offsetMinutes(a) * 60_000;
      const o1 = this.off.offsetMinutes(a + WEEK) * 60_000;
      let at = NaN;
      if (o0 !== o1) {
        let lo = a;
        let hi = a + WEEK;
        while (hi - lo > 60_000) {
          const mid = Math.floor((lo + hi) / 2 / 60_000) * 60_000;
          if (this.off.offsetMinutes(mid) * 60_000 === o0) lo = mid;
          else hi = mid;
        }
        at = hi;
      }
      e = [o0, at, o1];
      if (this.weeks.size > 10_000) this.weeks.clear();
      this.weeks.set(w, e);
    }
    return e[1] === e[1] && ts >= e[1] ? e[2] : e[0];
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
