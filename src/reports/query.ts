import type { LocalClock } from "../energy/tariffs.ts";
import { isLang, type Lang } from "../i18n/index.ts";
import { REPORT_KINDS, type ReportKind, type ReportRequest } from "./data.ts";

export const ITEM = /^(circuit|zone|meter):[A-Za-z0-9_.:-]{1,64}$/;

/**
 * The on-demand report a query asks for (`kind`, `period`, `year`, `month`, `lang`, `item`…), or
 * what is wrong with it. Outside input: bounded, never throws (fuzzed in test/reports.test.ts).
 */
export function parseReportQuery(q: (k: string) => string | undefined, qs: (k: string) => string[] | undefined, clock: LocalClock, siteLang: Lang, now = Date.now()): ReportRequest | string {
  const kind = (q("kind") ?? "general") as ReportKind;
  const period = q("period") ?? "month";
  const year = Number(q("year"));
  const month = Number(q("month") ?? 1);
  const lang = q("lang") ?? siteLang;
  const list = (qs("item") ?? []).slice(0, 200);
  if (!REPORT_KINDS.includes(kind)) return "kind: general or detailed";
  if (period !== "month" && period !== "year") return "period: month or year";
  if (!Number.isInteger(year) || year < 2000 || year > 2100) return "year: 2000–2100";
  if (!Number.isInteger(month) || month < 1 || month > 12) return "month: 1–12";
  if (!isLang(lang)) return "lang: fr or en";
  for (const i of list) if (typeof i !== "string" || !ITEM.test(i)) return `item: "${String(i).slice(0, 60)}" (circuit:ID, zone:ID or meter:ID)`;
  const from = clock.fromLocal(year, period === "year" ? 1 : month, 1);
  if (from > now) return "that period has not started yet";
  return { kind, period, year, month, lang, items: list };
}
