import { DICTS, t, type Lang } from "../i18n/index.ts";

/**
 * Journal messages in the reader's language. The row's `message` is written once, in the site's
 * language, and is part of the hash chain; rows that also carry `data.i18n = { key, params }` can
 * be shown in any language: a parameter that is a dictionary key is translated, one given as
 * `{ fr, en }` is picked. Rows without it (older ones, or producers not converted) show as stored.
 */

export type JournalParams = Record<string, string | number | { fr: string; en: string } | { key: string }>;

export interface JournalI18n {
  key: string;
  params: JournalParams;
  /**
   * Set by journalText: plain string parameters are literal (a user name typed at login that
   * happens to look like a dictionary key stays as typed); only `{ key }` ones are translated.
   * Older rows (alarm, operate, sim) translate plain strings that are dictionary keys.
   */
  lit?: 1;
}

export function journalI18n(key: string, params: JournalParams): JournalI18n {
  return { key, params };
}

/**
 * What a producer puts in a row: `message` in the site's language (what the chain seals, and what
 * older readers show) and `i18n` (folded into `data` by Journal.append) for every other language.
 * Parameters to translate are given as `{ key }` (`{ key: "journal.reason.password" }`).
 */
export function journalText(lang: Lang, key: string, params: JournalParams = {}): { message: string; i18n: JournalI18n } {
  const i18n: JournalI18n = { key, params, lit: 1 };
  return { message: renderI18n(i18n, lang), i18n };
}

/** Whether the row can be shown in any language (else it reads as stored, in the site's language). */
export function journalTranslatable(row: { data: string | null }): boolean {
  return !!row.data && row.data.includes('"i18n"');
}

export function journalMessage(row: { message: string; data: string | null }, lang: Lang): string {
  if (!row.data || !row.data.includes('"i18n"')) return row.message;
  let i18n: JournalI18n | undefined;
  try {
    i18n = (JSON.parse(row.data) as { i18n?: JournalI18n }).i18n;
  } catch {
    return row.message;
  }
  if (!i18n || typeof i18n.key !== "string" || !(i18n.key in DICTS[lang])) return row.message;
  return renderI18n(i18n, lang);
}

function renderI18n(i18n: JournalI18n, lang: Lang): string {
  const params: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(i18n.params ?? {})) {
    if (v && typeof v === "object" && "key" in v) params[k] = typeof v.key === "string" && v.key in DICTS[lang] ? t(lang, v.key) : String(v.key);
    else if (v && typeof v === "object") params[k] = (v as Record<string, string>)[lang] ?? (v as Record<string, string>).fr ?? "";
    else if (typeof v === "string" && !i18n.lit && v in DICTS[lang] && /^[a-z]+\.[\w.-]+$/.test(v)) params[k] = t(lang, v);
    else params[k] = v as string | number;
  }
  return t(lang, i18n.key, params);
}
