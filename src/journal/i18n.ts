import { DICTS, t, type Lang } from "../i18n/index.ts";

/**
 * Journal messages in the reader's language. The row's `message` is written once, in the site's
 * language, and is part of the hash chain; rows that also carry `data.i18n = { key, params }` can
 * be shown in any language: a parameter that is a dictionary key is translated, one given as
 * `{ fr, en }` is picked. Rows without it (older ones, or producers not converted) show as stored.
 */

export interface JournalI18n {
  key: string;
  params: Record<string, string | number | { fr: string; en: string }>;
}

export function journalI18n(key: string, params: JournalI18n["params"]): JournalI18n {
  return { key, params };
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
  const params: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(i18n.params ?? {})) {
    if (v && typeof v === "object") params[k] = (v as Record<string, string>)[lang] ?? (v as Record<string, string>).fr ?? "";
    else if (typeof v === "string" && v in DICTS[lang] && /^[a-z]+\.[\w.-]+$/.test(v)) params[k] = t(lang, v);
    else params[k] = v as string | number;
  }
  return t(lang, i18n.key, params);
}
