/**
 * GDP event times as people type them: a local date-time in the site's time zone
 * (`2026-01-15T06:00`, what a datetime-local field sends), or ISO 8601 with an offset or Z
 * (API clients). Hydro-Québec announces events in local time.
 */
function offsetMs(ms: number, tz: string): number {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(ms)
      .map((x) => [x.type, x.value]),
  );
  return Date.UTC(+p.year!, +p.month! - 1, +p.day!, +p.hour!, +p.minute!, +p.second!) - Math.floor(ms / 1000) * 1000;
}

/** Epoch ms, or NaN when the text is not a date-time. */
export function parseEventTime(text: string, tz: string): number {
  const s = text.trim();
  if (/[zZ]$|[+-]\d{2}:?\d{2}$/.test(s)) return Date.parse(s);
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(s);
  if (!m) return NaN;
  const wall = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +(m[6] ?? 0));
  let utc = wall - offsetMs(wall, tz);
  utc = wall - offsetMs(utc, tz); // the offset at the instant itself (DST edges)
  return utc;
}

/** The datetime-local field's value for an instant, in the site's time zone. */
export function localInputValue(ms: number, tz: string): string {
  if (!(ms > 0)) return "";
  return new Date(ms + offsetMs(ms, tz)).toISOString().slice(0, 16);
}
