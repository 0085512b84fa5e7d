/**
 * ISO 8601 timestamps with the site's UTC offset (`2026-01-05T09:30:00.123-05:00`), fast enough for a
 * million-row export: the offset is looked up once per 15-minute slot (time-zone transitions fall on
 * quarter hours everywhere) and the rest is integer arithmetic.
 */

const SLOT_MS = 15 * 60_000;
/** 9999-12-31T23:59:59.999Z: the last instant a filter may name. */
const MAX_FILTER_MS = 253_402_300_799_999;

export class OffsetFormatter {
  private readonly fmt: Intl.DateTimeFormat;
  private slot = NaN;
  private offsetMin = 0;
  private offsetText = "Z";

  constructor(readonly timeZone: string) {
    this.fmt = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" });
  }

  /** Minutes east of UTC at `ts`. */
  offsetMinutes(ts: number): number {
    this.lookup(ts);
    return this.offsetMin;
  }

  private lookup(ts: number): void {
    const slot = Math.floor(ts / SLOT_MS);
    if (slot === this.slot) return;
    this.slot = slot;
    const name = this.fmt.formatToParts(ts).find((p) => p.type === "timeZoneName")?.value ?? "GMT";
    const m = /GMT([+-])(\d{1,2})(?::?(\d{2}))?/.exec(name);
    if (!m) {
      this.offsetMin = 0;
      this.offsetText = "+00:00";
      return;
    }
    const sign = m[1] === "-" ? -1 : 1;
    this.offsetMin = sign * (Number(m[2]) * 60 + Number(m[3] ?? 0));
    const abs = Math.abs(this.offsetMin);
    this.offsetText = `${sign < 0 ? "-" : "+"}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
  }

  format(ts: number): string {
    this.lookup(ts);
    const d = new Date(ts + this.offsetMin * 60_000);
    return (
      `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T` +
      `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${String(d.getUTCMilliseconds()).padStart(3, "0")}` +
      this.offsetText
    );
  }
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * Parses a date filter: ms since 1970, an ISO date-time (with or without offset), or a plain date
 * `2026-01-05` (midnight in the site's zone; `endOfDay` = the next midnight, for an inclusive "to").
 */
export function parseTimeFilter(s: string | undefined | null, timeZone: string, endOfDay = false): number | undefined {
  if (s === undefined || s === null || s.trim() === "") return undefined;
  const v = s.trim();
  // Beyond ±8.64e15 ms (year 275760) a Date is invalid; a filter past year 9999 is no date anyone means.
  if (/^\d+$/.test(v)) return v.length <= 15 && Number(v) <= MAX_FILTER_MS ? Number(v) : NaN;
  const dateOnly = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (dateOnly) {
    const utcMidnight = Date.UTC(Number(dateOnly[1]), Number(dateOnly[2]) - 1, Number(dateOnly[3]) + (endOfDay ? 1 : 0));
    const f = new OffsetFormatter(timeZone);
    // Local midnight = UTC midnight − offset; the offset is taken near that instant (twice, across a DST change).
    let t = utcMidnight - f.offsetMinutes(utcMidnight) * 60_000;
    t = utcMidnight - f.offsetMinutes(t) * 60_000;
    return endOfDay ? t - 1 : t;
  }
  const local = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(v);
  if (local) {
    const utc = Date.UTC(Number(local[1]), Number(local[2]) - 1, Number(local[3]), Number(local[4]), Number(local[5]), Number(local[6] ?? 0));
    const f = new OffsetFormatter(timeZone);
    let t = utc - f.offsetMinutes(utc) * 60_000;
    t = utc - f.offsetMinutes(t) * 60_000;
    return t;
  }
  const t = Date.parse(v);
  return Number.isNaN(t) || Math.abs(t) > MAX_FILTER_MS ? NaN : t;
}
