import { STATE_WORDS_FR } from "./state-words.ts";
import type { PointValue } from "../points/live.ts";
import type { Lang } from "../i18n/index.ts";

/**
 * How values look on every screen. public/live.js holds the same rules for live updates
 * (`fmtNumber`, `fmtValue`); keep both in step.
 */

export const LOCALE: Record<Lang, string> = { fr: "fr-CA", en: "en-CA" };

/** Digits by magnitude: 1234 → "1 234", 56.78 → "56,8" (fr) — steady enough to read while it moves. */
export function fmtNumber(value: number, lang: Lang): string {
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : abs === 0 ? 0 : 3;
  return value.toLocaleString(LOCALE[lang], { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/**
 * A tag's state texts in the reader's language: French from the profile's `statesFr`, else the
 * built-in words (src/hmi/state-words.ts), else the profile's text as it is.
 */
const frCache = new WeakMap<object, Record<string, string>>();
export function statesFor(tag: { states?: Record<string, string>; statesFr?: Record<string, string> }, lang: Lang): Record<string, string> | undefined {
  const st = tag.states;
  if (!st || lang !== "fr") return st;
  let fr = frCache.get(tag);
  if (!fr) {
    fr = {};
    for (const [k, v] of Object.entries(st)) fr[k] = tag.statesFr?.[k] ?? STATE_WORDS_FR[v] ?? v;
    frCache.set(tag, fr);
  }
  return fr;
}

/** A point's value as text: a state name for discrete points with `states`, a number otherwise, "—" when none. */
export function fmtValue(v: Pick<PointValue, "value">, lang: Lang, states?: Record<string, string>): string {
  if (v.value === null) return "—";
  if (typeof v.value === "string") return v.value;
  if (states) {
    const s = states[String(v.value)];
    if (s !== undefined) return s;
  }
  return fmtNumber(v.value, lang);
}

/** Time of a sample, HH:MM:SS on the site's wall clock (24 h, the same in both languages). */
const timeFormats = new Map<string, Intl.DateTimeFormat>();
export function fmtTime(ts: number | null, _lang: Lang, timeZone?: string): string {
  if (!ts) return "—";
  const key = timeZone ?? "";
  let f = timeFormats.get(key);
  if (!f) timeFormats.set(key, (f = new Intl.DateTimeFormat("en-GB", { hourCycle: "h23", timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit" })));
  return f.format(new Date(ts));
}
