/**
 * Deterministic pseudo-random helpers: every value is a pure function of (seed, key, time), so a
 * simulator started with the same seed shows the same loads at the same wall-clock time.
 */

/** FNV-1a hash of a string (a stable key for a device or tag). */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Integer mix (a murmur3 finaliser) of three 32-bit integers. */
function mix(a: number, b: number, c: number): number {
  let h = (a ^ Math.imul(b, 0x9e3779b1) ^ Math.imul(c, 0x85ebca77)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Uniform in [0, 1) for (seed, key, i); i may be any integer (e.g. a time bucket). */
export function rand01(seed: number, key: number, i: number): number {
  // Split i so buckets beyond 2^32 (ms timestamps) still hash well.
  const lo = i >>> 0;
  const hi = Math.floor(i / 4294967296) >>> 0;
  return mix(mix(seed, key, lo), hi, 0x2545f491) / 4294967296;
}

/** Uniform in [-1, 1). */
export function randSigned(seed: number, key: number, i: number): number {
  return rand01(seed, key, i) * 2 - 1;
}

/**
 * Smooth value noise in [-1, 1]: random values at every `periodMs` boundary, cosine-interpolated
 * in between. Deterministic in (seed, key, tMs).
 */
export function smoothNoise(seed: number, key: number, tMs: number, periodMs: number): number {
  const x = tMs / periodMs;
  const i = Math.floor(x);
  const f = x - i;
  const a = randSigned(seed, key, i);
  const b = randSigned(seed, key, i + 1);
  const w = (1 - Math.cos(Math.PI * f)) / 2;
  return a + (b - a) * w;
}

/**
 * A commercial building's daily load shape (fraction of the feeder's peak) by local hour 0..24:
 * night base, morning ramp, working-day plateau with a lunch dip, evening decline.
 */
const DAY_SHAPE = [
  0.42, 0.4, 0.39, 0.39, 0.4, 0.45, 0.58, 0.75, 0.9, 0.96, 0.99, 1.0, 0.95, 0.97, 1.0, 0.98, 0.94, 0.86, 0.74, 0.64, 0.57, 0.51,
  0.47, 0.44, 0.42,
];

export function dailyShape(localHour: number, weekend: boolean): number {
  const h = ((localHour % 24) + 24) % 24;
  const i = Math.floor(h);
  const f = h - i;
  const v = DAY_SHAPE[i]! + (DAY_SHAPE[i + 1]! - DAY_SHAPE[i]!) * f;
  // Weekends: the night base all day with a little daytime activity.
  return weekend ? 0.4 + (v - 0.4) * 0.25 : v;
}

/** Local time of a timezone, cached per minute (Intl is too slow to call on every tick). */
export class LocalClock {
  private fmt: Intl.DateTimeFormat;
  private cacheMinute = NaN;
  private offsetMs = 0;

  constructor(timeZone: string) {
    try {
      this.fmt = new Intl.DateTimeFormat("en-US", {
        timeZone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
    } catch {
      this.fmt = new Intl.DateTimeFormat("en-US", {
        timeZone: "UTC",
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
    }
  }

  /** Local wall-clock time as if it were UTC (read it with getUTC*). */
  local(tMs: number): Date {
    const minute = Math.floor(tMs / 60000);
    if (minute !== this.cacheMinute) {
      const parts: Record<string, number> = {};
      for (const p of this.fmt.formatToParts(new Date(minute * 60000))) if (p.type !== "literal") parts[p.type] = Number(p.value);
      const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
      this.offsetMs = asUtc - minute * 60000;
      this.cacheMinute = minute;
    }
    return new Date(tMs + this.offsetMs);
  }
}
