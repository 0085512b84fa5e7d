/**
 * Tariffs and cost rules (vendor manual §7.15.3), per commodity, plus a demand charge.
 *
 * Evaluation order (documented, as the vendor's): rules are read top to bottom and the FIRST rule
 * that is true at an interval's start prices that whole 15-minute interval. So exceptions (Christmas,
 * March 2020) go first, the weekly bands after. An interval no rule covers has no cost (shown "no
 * tariff", never 0). A tariff's price is the one of its dated prices in force on that local day.
 *
 * Validation runs the same for the site file and the admin page: errors (with their path) block;
 * warnings (overlaps, shadowed rules, uncovered week time — the vendor's own example leaves weekends
 * uncovered) are shown before saving and must be confirmed.
 */
import * as z from "zod";
import { OffsetFormatter } from "../journal/time.ts";
import type { ConfigIssue } from "../config/validation.ts";
import { INTERVAL_MS } from "./counters.ts";

export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
const CURRENCIES = new Set(Intl.supportedValuesOf("currency"));

const date = z.string().regex(/^(\d{4}-)?\d{2}-\d{2}$/, "a date YYYY-MM-DD (or MM-DD with repeatYearly)");
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "a time HH:MM");
const price = z.object({ from: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "a date YYYY-MM-DD").optional(), price: z.number().nonnegative() }).strict();

export const tariffSchema = z.object({ id: z.string().min(1), name: z.string().min(1), color: z.string().optional(), prices: z.array(price).min(1) }).strict();

export const ruleSchema = z
  .object({
    tariff: z.string().min(1),
    /** A date or the first day of a period (inclusive); absent: every day. */
    from: date.optional(),
    /** Last day of the period (inclusive); absent: the `from` day only. */
    to: date.optional(),
    /** The date/period holds every year (holidays): only month and day count. */
    repeatYearly: z.boolean().default(false),
    /** Time band, both ends inclusive to the minute as on the vendor's pages (00:00–18:59). */
    time: z.object({ from: hhmm, to: hhmm }).strict().default({ from: "00:00", to: "23:59" }),
    days: z.array(z.enum(WEEKDAYS)).min(1).default([...WEEKDAYS]),
    label: z.string().optional(),
  })
  .strict();

export const COMMODITIES = ["electricity", "gas", "water"] as const;

export const costSchema = z
  .object({
    commodity: z.enum(COMMODITIES),
    currency: z.string(),
    tariffs: z.array(tariffSchema).default([]),
    rules: z.array(ruleSchema).default([]),
    /** Per kW of the highest 15-minute demand of the billing period (electricity only). */
    demand: z
      .object({ prices: z.array(price).min(1), billingStartDay: z.number().int().min(1).max(28).default(1) })
      .strict()
      .optional(),
  })
  .strict();

export type TariffConfig = z.output<typeof costSchema>;
export type Rule = z.output<typeof ruleSchema>;

export interface TariffIssues {
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

const WEEK_MIN = 7 * 1440;

function minutes(t: string): number {
  return Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));
}

/** Minutes of the week (Monday 00:00 = 0) when the rule's band and days hold. */
function weekMask(r: Rule): Uint8Array {
  const m = new Uint8Array(WEEK_MIN);
  const a = minutes(r.time.from);
  const b = minutes(r.time.to);
  for (const d of r.days) {
    const day = WEEKDAYS.indexOf(d);
    // A band that ends before it starts (21:00–06:59) is the night's two ends OF THE SAME DAY: the
    // weekdays always name the day the minute falls on, so "mon–fri 21:00–06:59" holds on Monday
    // 00:00 but not on Saturday 00:00. One reading, no guessing which night a minute belongs to.
    if (a <= b) for (let x = a; x <= b; x++) m[day * 1440 + x] = 1;
    else {
      for (let x = a; x < 1440; x++) m[day * 1440 + x] = 1;
      for (let x = 0; x <= b; x++) m[day * 1440 + x] = 1;
    }
  }
  return m;
}

function spans(mask: (i: number) => boolean): string[] {
  const out: string[] = [];
  const name = (i: number) => `${WEEKDAYS[Math.floor(i / 1440)]} ${String(Math.floor((i % 1440) / 60)).padStart(2, "0")}:${String(i % 60).padStart(2, "0")}`;
  let i = 0;
  while (i < WEEK_MIN) {
    if (!mask(i)) {
      i++;
      continue;
    }
    const s = i;
    while (i < WEEK_MIN && mask(i)) i++;
    out.push(`${name(s)}–${name(i - 1)}`);
  }
  return out;
}

/** A dated rule's days as comparable keys: [from, to] in YYYYMMDD, or MMDD when yearly. */
function dateRange(r: Rule): [number, number] | undefined {
  if (!r.from) return undefined;
  const key = (d: string) => (r.repeatYearly ? Number(d.slice(-5).replace("-", "")) : Number(d.replace(/-/g, "")));
  return [key(r.from), key(r.to ?? r.from)];
}

function datesOverlap(a: Rule, b: Rule): boolean {
  const ra = dateRange(a)!;
  const rb = dateRange(b)!;
  if (a.repeatYearly !== b.repeatYearly) {
    // One yearly, one dated: compare on month-day of the dated one's span (a year or less is exact enough).
    const md = (r: Rule) => [Number(r.from!.slice(-5).replace("-", "")), Number((r.to ?? r.from)!.slice(-5).replace("-", ""))] as const;
    const [x0, x1] = md(a);
    const [y0, y1] = md(b);
    return inYear(x0, x1, y0, y1);
  }
  if (a.repeatYearly) return inYear(ra[0], ra[1], rb[0], rb[1]);
  return ra[0] <= rb[1] && rb[0] <= ra[1];
}

/** Overlap of two month-day ranges, either of which may wrap over New Year (12-24..01-02). */
function inYear(a0: number, a1: number, b0: number, b1: number): boolean {
  const parts = (s: number, e: number): [number, number][] => (s <= e ? [[s, e]] : [[s, 1231], [101, e]]);
  return parts(a0, a1).some(([s, e]) => parts(b0, b1).some(([t, u]) => s <= u && t <= e));
}

/** Checks a cost configuration. `path` prefixes every issue (`energy.costs[0]`). */
export function validateTariffs(c: TariffConfig, path = ""): TariffIssues {
  const p = (s: string) => (path ? `${path}.${s}` : s);
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  if (!/^[A-Z]{3}$/.test(c.currency) || !CURRENCIES.has(c.currency)) errors.push({ path: p("currency"), message: `"${c.currency}" is not an ISO 4217 currency code (e.g. CAD, EUR, USD)` });
  const ids = new Set<string>();
  c.tariffs.forEach((t, i) => {
    if (ids.has(t.id)) errors.push({ path: p(`tariffs[${i}].id`), message: `duplicate tariff id "${t.id}"` });
    ids.add(t.id);
    checkPrices(t.prices, p(`tariffs[${i}].prices`), errors);
  });
  if (c.demand) {
    checkPrices(c.demand.prices, p("demand.prices"), errors);
    if (c.commodity !== "electricity") errors.push({ path: p("demand"), message: "a demand charge applies to electricity only" });
  }
  c.rules.forEach((r, i) => {
    const rp = p(`rules[${i}]`);
    if (!ids.has(r.tariff)) errors.push({ path: `${rp}.tariff`, message: `no tariff "${r.tariff}" (tariffs: ${[...ids].join(", ") || "none"})` });
    if (r.to && !r.from) errors.push({ path: `${rp}.to`, message: "`to` needs `from`" });
    for (const k of ["from", "to"] as const) {
      const d = r[k];
      if (!d) continue;
      if (!r.repeatYearly && d.length === 5) errors.push({ path: `${rp}.${k}`, message: "a month-day without a year needs repeatYearly: true" });
      const md = d.slice(-5);
      const [mm, dd] = [Number(md.slice(0, 2)), Number(md.slice(3))];
      if (mm < 1 || mm > 12 || dd < 1 || dd > 31) errors.push({ path: `${rp}.${k}`, message: `"${d}" is not a date` });
    }
    if (r.from && r.to && !r.repeatYearly && r.to.length === 10 && r.from.length === 10 && r.to < r.from) errors.push({ path: `${rp}.to`, message: `ends (${r.to}) before it starts (${r.from})` });
  });
  if (errors.length) return { errors, warnings };

  // Overlaps, read in evaluation order: the earlier rule wins, the later one is partly or wholly unused.
  const masks = c.rules.map(weekMask);
  c.rules.forEach((r, j) => {
    for (let i = 0; i < j; i++) {
      const e = c.rules[i]!;
      const dated = [!!e.from, !!r.from];
      // An exception (dated) placed before a weekly rule is the intended pattern, not an overlap.
      if (dated[0] && !dated[1]) continue;
      if (dated[0] && dated[1] && !datesOverlap(e, r)) continue;
      const both = spans((m) => masks[i]![m] === 1 && masks[j]![m] === 1);
      if (!both.length) continue;
      if (!dated[0] && dated[1])
        warnings.push({ path: p(`rules[${j}]`), message: `this exception comes after the weekly rule rules[${i}], which already covers ${both.join(", ")}: it never applies there (move exceptions to the top)` });
      else warnings.push({ path: p(`rules[${j}]`), message: `overlaps rules[${i}] on ${both.join(", ")}${dated[0] ? ` (dates ${e.from}…${e.to ?? e.from})` : ""}: rules[${i}] wins, being first` });
    }
  });
  const weekly = masks.filter((_, i) => !c.rules[i]!.from);
  const uncovered = spans((m) => !weekly.some((w) => w[m] === 1));
  if (uncovered.length) warnings.push({ path: p("rules"), message: `no rule covers ${uncovered.join(", ")} in an ordinary week: consumption then has no cost` });
  return { errors, warnings };
}

function checkPrices(prices: { from?: string; price: number }[], path: string, errors: ConfigIssue[]): void {
  if (prices.length > 1)
    prices.forEach((x, k) => {
      if (!x.from) errors.push({ path: `${path}[${k}].from`, message: "with several prices, each needs the date it is valid from" });
    });
  const seen = new Set<string>();
  prices.forEach((x, k) => {
    if (x.from && seen.has(x.from)) errors.push({ path: `${path}[${k}].from`, message: `two prices from ${x.from}` });
    if (x.from) seen.add(x.from);
  });
}

/** Wall-clock facts of an instant in the site's zone; cached per 15-min slot (offsets are whole quarters). */
export class LocalClock {
  private readonly off: OffsetFormatter;
  private readonly cache = new Map<number, number>();
  constructor(readonly timeZone: string) {
    this.off = new OffsetFormatter(timeZone);
  }
  offsetMs(ts: number): number {
    const slot = Math.floor(ts / INTERVAL_MS);
    let o = this.cache.get(slot);
    if (o === undefined) {
      o = this.off.offsetMinutes(slot * INTERVAL_MS) * 60_000;
      if (this.cache.size > 200_000) this.cache.clear();
      this.cache.set(slot, o);
    }
    return o;
  }
  /** Local date key YYYYMMDD, weekday (0 = Monday), minute of the day. */
  parts(ts: number): { ymd: number; md: number; weekday: number; minute: number; year: number; month: number; day: number } {
    const l = new Date(ts + this.offsetMs(ts));
    const year = l.getUTCFullYear();
    const month = l.getUTCMonth() + 1;
    const day = l.getUTCDate();
    return { ymd: year * 10_000 + month * 100 + day, md: month * 100 + day, weekday: (l.getUTCDay() + 6) % 7, minute: l.getUTCHours() * 60 + l.getUTCMinutes(), year, month, day };
  }
  /** UTC ms of a local wall-clock time. */
  fromLocal(year: number, month: number, day: number, minute = 0): number {
    const local = Date.UTC(year, month - 1, day) + minute * 60_000;
    let t = local - this.offsetMs(local);
    t = local - this.offsetMs(t);
    return t;
  }
}

function priceOn(prices: readonly { from?: string; price: number }[], ymd: number): number | undefined {
  let best: { key: number; price: number } | undefined;
  for (const x of prices) {
    const key = x.from ? Number(x.from.replace(/-/g, "")) : 0;
    if (key <= ymd && (!best || key >= best.key)) best = { key, price: x.price };
  }
  return best?.price;
}

function ruleHolds(r: Rule, mask: Uint8Array, p: ReturnType<LocalClock["parts"]>): boolean {
  if (!mask[p.weekday * 1440 + p.minute]) return false;
  const range = dateRange(r);
  if (!range) return true;
  const k = r.repeatYearly ? p.md : p.ymd;
  return range[0] <= range[1] ? k >= range[0] && k <= range[1] : k >= range[0] || k <= range[1];
}

/** Prices intervals under one commodity's rules. */
export class TariffEvaluator {
  private readonly masks: Uint8Array[];
  private readonly tariffs: Map<string, TariffConfig["tariffs"][number]>;
  constructor(
    readonly config: TariffConfig,
    readonly clock: LocalClock,
  ) {
    this.masks = config.rules.map(weekMask);
    this.tariffs = new Map(config.tariffs.map((t) => [t.id, t]));
  }
  /** The tariff and unit price in force at `ts` (the first true rule), or undefined: no tariff. */
  at(ts: number): { tariff: string; price: number; rule: number } | undefined {
    const p = this.clock.parts(ts);
    for (let i = 0; i < this.config.rules.length; i++) {
      const r = this.config.rules[i]!;
      if (!ruleHolds(r, this.masks[i]!, p)) continue;
      const t = this.tariffs.get(r.tariff);
      const price = t && priceOn(t.prices, p.ymd);
      return price === undefined ? undefined : { tariff: r.tariff, price, rule: i };
    }
    return undefined;
  }
  /** Demand price per kW in force on the day of `ts`. */
  demandPrice(ts: number): number | undefined {
    return this.config.demand && priceOn(this.config.demand.prices, this.clock.parts(ts).ymd);
  }
  /** The billing period holding `ts`: from the configured start day's local midnight. */
  billingPeriod(ts: number): { from: number; to: number } {
    const sd = this.config.demand?.billingStartDay ?? 1;
    const p = this.clock.parts(ts);
    let y = p.year;
    let m = p.month;
    if (p.day < sd) {
      m -= 1;
      if (m === 0) {
        m = 12;
        y -= 1;
      }
    }
    const from = this.clock.fromLocal(y, m, sd);
    const to = this.clock.fromLocal(m === 12 ? y + 1 : y, m === 12 ? 1 : m + 1, sd);
    return { from, to };
  }
}

/** Average demand (kW) of an interval: an estimated one spreads its energy over the gap it covers. */
export function demandKw(value: number, ts: number, spanFrom?: number): number {
  const ms = spanFrom !== undefined ? ts + INTERVAL_MS - spanFrom : INTERVAL_MS;
  return value / (ms / 3_600_000);
}

/** Demand charge for a billing period from the head meter's intervals (bad ones never count). */
export function demandCharge(
  ev: TariffEvaluator,
  intervals: Iterable<{ ts: number; value: number; flags: number; spanFrom?: number }>,
  period: { from: number; to: number },
): { peakKw: number; peakAt: number | undefined; price: number | undefined; charge: number | undefined } {
  let peakKw = 0;
  let peakAt: number | undefined;
  for (const iv of intervals) {
    if (iv.ts < period.from || iv.ts >= period.to) continue;
    const kw = demandKw(iv.value, iv.ts, iv.spanFrom);
    if (kw > peakKw) {
      peakKw = kw;
      peakAt = iv.ts;
    }
  }
  const price = ev.demandPrice(period.from);
  return { peakKw, peakAt, price, charge: price === undefined ? undefined : peakKw * price };
}

/** Cost of one interval's counted consumption; null when no rule prices it (never shown as 0). */
export function intervalCost(ev: TariffEvaluator, ts: number, value: number): number | null {
  const t = ev.at(ts);
  return t ? value * t.price : null;
}
