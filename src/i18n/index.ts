import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { en } from "./en.ts";
import { fr } from "./fr.ts";

/**
 * Interface languages. French is the site's language (Québec); English for visitors.
 * Every string a view shows comes from a dictionary here; both dictionaries carry the same keys.
 */
export type Lang = "fr" | "en";
export const LANGS: readonly Lang[] = ["fr", "en"];

export type Dict = Record<string, string>;
export const DICTS: Record<Lang, Dict> = { fr, en };

export function isLang(x: unknown): x is Lang {
  return x === "fr" || x === "en";
}

/** `t("fr", "ats.position", { pos: "NORMAL" })`: `{name}` placeholders are replaced by params. Missing key: the key itself. */
export function t(lang: Lang, key: string, params?: Record<string, string | number>): string {
  const s = DICTS[lang][key] ?? DICTS.fr[key] ?? key;
  if (!params) return s;
  return s.replace(/\{(\w+)\}/g, (m, k: string) => (k in params ? String(params[k]) : m));
}

/** A translator bound to one language, for views. */
export type T = (key: string, params?: Record<string, string | number>) => string;
export function translator(lang: Lang): T {
  return (key, params) => t(lang, key, params);
}

/** Parses an Accept-Language header and returns the first supported language, by q order. */
export function langFromAcceptLanguage(header: string | undefined | null): Lang | undefined {
  if (!header) return undefined;
  const items = header
    .split(",")
    .map((part, i) => {
      const [tag, ...params] = part.trim().split(";");
      const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
      return { tag: (tag ?? "").trim().toLowerCase(), q: q ? Number(q.slice(2)) : 1, i };
    })
    .filter((x) => x.tag && !Number.isNaN(x.q) && x.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const it of items) {
    const primary = it.tag.split("-")[0];
    if (isLang(primary)) return primary;
  }
  return undefined;
}

/** The cookie the language toggle sets (one year). */
export const LANG_COOKIE = "lang";

let siteLanguage: Lang = "fr";
/** Set once at start from the site file (`site.site.language`); the fallback when the browser says nothing usable. */
export function setSiteLanguage(lang: Lang): void {
  siteLanguage = lang;
}

let siteNamesByLang: { fr: string; en: string } | undefined;
/** Set once at start: the site's name in each language, so every page's header shows the reader's. */
export function setSiteNames(names: { fr: string; en: string }): void {
  siteNamesByLang = names;
}

/** The site's name in `lang`, when `name` is the site's (any of its forms); else `name` unchanged. */
export function siteNameFor(name: string, lang: Lang): string {
  const n = siteNamesByLang;
  return n && (name === n.fr || name === n.en) ? n[lang] : name;
}

/** The site's language (what site labels and stored journal messages are written in). */
export function getSiteLanguage(): Lang {
  return siteLanguage;
}

/**
 * The request's language: cookie `lang` (the toggle), then the browser's Accept-Language, then the
 * site's default language (`siteDefault`, else the one given to setSiteLanguage, else French).
 */
export function langFromRequest(c: Context, siteDefault?: Lang): Lang {
  const cookie = getCookie(c, LANG_COOKIE);
  if (isLang(cookie)) return cookie;
  const accept = langFromAcceptLanguage(c.req.header("accept-language"));
  if (accept) return accept;
  return siteDefault ?? siteLanguage;
}
