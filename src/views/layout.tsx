import type { Child } from "hono/jsx";
import { raw } from "hono/html";
import { policyFor, type Access } from "../auth/policy.ts";
import { atLeast, isRole } from "../auth/roles.ts";
import { DICTS, getSiteLanguage, siteNameFor, translator, type Lang, type T } from "../i18n/index.ts";

/**
 * The page shell every screen shares: grey ISA-101 background, no colour unless something is
 * abnormal. Header: navigation (by role), the live-link state, the user area and the language toggle,
 * then the one-line alarm banner (public/alarms.js fills the banner and redraws the user area, issue 4).
 * Every page loads public/live.js, the one SSE client.
 */

export type NavKey = "oneline" | "trends" | "alarms" | "comm" | "points" | "journal" | "operate" | "admin" | string;

export interface LayoutProps {
  title: string;
  siteName: string;
  children: Child;
  /** Extra scripts (deferred, after htmx and live.js). */
  scripts?: string[];
  styles?: string[];
  lang?: Lang;
  /** The signed-in user, when there is one (issue 4), with the session's CSRF token for the logout form. */
  user?: { name: string; role: string; csrf?: string };
  /** Which navigation entry is this page. */
  active?: NavKey;
  /** Current path + query, where the language toggle comes back to. */
  path?: string;
  /** Extra class on <body> (page-specific layout). */
  bodyClass?: string;
  /** IANA time zone of the site: times on screen are the site's wall clock. */
  timeZone?: string;
}

/** Dictionary entries the browser needs (states, qualities, link and trend texts; the alarm line and user area). */
const CLIENT_PREFIXES = ["brk.", "ats.", "src.", "quality.", "qs.", "link.", "trends.", "hmi.", "comm.dev.", "detail.", "banner.", "priority.", "role.", "auth.pin.link", "system.restore", "export.progress.", "export.sameMarks"];
const clientDicts = new Map<Lang, string>();
function clientDict(lang: Lang): string {
  let s = clientDicts.get(lang);
  if (!s) {
    const d = DICTS[lang];
    const out: Record<string, string> = {};
    for (const k of Object.keys(d)) if (CLIENT_PREFIXES.some((p) => k.startsWith(p))) out[k] = d[k]!;
    // Escape "<" so the JSON cannot close its <script>.
    s = JSON.stringify(out).replace(/</g, "\\u003c");
    clientDicts.set(lang, s);
  }
  return s;
}

/** Who may open a page, as src/auth/policy.ts says (`viewer` pages: everyone who sees a page at all). */
function mayOpen(access: Access | undefined, user: LayoutProps["user"]): boolean {
  if (!access || access === "public" || access === "viewer") return true;
  if (!user) return false;
  if (access === "signed-in") return true;
  return isRole(user.role) && atLeast(user.role, access);
}

/**
 * The main navigation, every page in one place, filtered by role through the policy table: Journal
 * for signed-in users, Operate for whoever may execute a command (viewers only see its screens),
 * Admin for administrators.
 */
const NAV: { key: NavKey; href: string; label: string; access: Access | undefined }[] = [
  { key: "oneline", href: "/", label: "nav.oneline", access: policyFor("GET", "/")?.access },
  { key: "trends", href: "/trends", label: "nav.trends", access: policyFor("GET", "/trends")?.access },
  { key: "energy", href: "/energy", label: "nav.energy", access: policyFor("GET", "/energy")?.access },
  { key: "alarms", href: "/alarms", label: "nav.alarms", access: policyFor("GET", "/alarms")?.access },
  { key: "comm", href: "/comm", label: "nav.comm", access: policyFor("GET", "/comm")?.access },
  { key: "microgrid", href: "/microgrid", label: "nav.microgrid", access: policyFor("GET", "/microgrid")?.access },
  { key: "points", href: "/points", label: "nav.points", access: policyFor("GET", "/points")?.access },
  { key: "journal", href: "/journal", label: "nav.journal", access: policyFor("GET", "/journal")?.access },
  { key: "operate", href: "/operate", label: "nav.operate", access: policyFor("POST", "/operate/:point")?.access },
  { key: "admin", href: "/admin", label: "nav.admin", access: policyFor("GET", "/admin")?.access },
];

/**
 * The user area as public/alarms.js draws it (same markup), so the header does not jump when the
 * script takes over. Without a user, a Layout page is only served to a kiosk address (policy
 * `viewer`): PIN unlock and login. The logout form carries the session's CSRF token as served.
 */
function UserArea(props: { t: T; user: LayoutProps["user"]; path: string }) {
  const { t, user } = props;
  const here = encodeURIComponent(props.path);
  if (user) {
    return (
      <div id="user-area" class="user-area" data-role={user.role}>
        <a href="/account" class="user" title={t("banner.account")}>
          <span class="user-name">{user.name}</span> <span class="user-role">{t(`role.${user.role}`)}</span>
        </a>
        <form method="post" action="/auth/logout" class="inline user-logout">
          <input type="hidden" name="_csrf" value={user.csrf ?? ""} />
          <button type="submit" class="btn">
            {t("banner.logout")}
          </button>
        </form>
      </div>
    );
  }
  return (
    <div id="user-area" class="user-area" data-role="kiosk">
      <span class="user kiosk">{t("banner.kiosk")}</span>
      <a class="btn user-pin" href={`/auth/pin?next=${here}`} title={t("auth.pin.link")}>
        {t("banner.pin")}
      </a>
      <a class="btn user-login" href={`/auth/login?next=${here}`}>
        {t("banner.login")}
      </a>
    </div>
  );
}

export function Layout(props: LayoutProps) {
  const lang = props.lang ?? "fr";
  const t = translator(lang);
  const other: Lang = lang === "fr" ? "en" : "fr";
  const path = props.path ?? "/";
  const back = encodeURIComponent(path);
  const nav = NAV.filter((n) => mayOpen(n.access, props.user));
  const siteName = siteNameFor(props.siteName, lang);
  // The name is in the site's language unless the site file gives it in the reader's (nameEn/nameFr).
  const siteNameLang = siteName === siteNameFor(props.siteName, getSiteLanguage()) && getSiteLanguage() !== lang ? getSiteLanguage() : undefined;
  return (
    // data-server-now: the pages keep their times on the server's clock, not the kiosk's (public/live.js).
    <html lang={lang} data-tz={props.timeZone} data-server-now={String(Date.now())}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} — ${siteName} — Busbar`}</title>
        <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/assets/busbar.css" />
        {(props.styles ?? []).map((s) => (
          <link rel="stylesheet" href={s} />
        ))}
        <script type="application/json" id="busbar-i18n">
          {raw(clientDict(lang))}
        </script>
        <script src="/assets/htmx.min.js" defer></script>
        <script src="/assets/live.js" defer></script>
        <script src="/assets/alarms.js" defer></script>
        {(props.scripts ?? []).map((s) => (
          <script src={s} defer></script>
        ))}
      </head>
      <body class={props.bodyClass} data-link="connecting">
        {/* Row 1: where (brand, site, pages), the link, who (user area), the language.
            Row 2: the alarm line (public/alarms.js). On a phone the pages get a row of their own. */}
        <header class="topbar">
          <div class="tb-main">
            <a class="brand" href="/">
              <img class="brand-ico" src="/assets/favicon.svg" alt="" width="28" height="28" />
              <span class="brand-name">{t("app.name")}</span>
            </a>
            {/* The site's name in the reader's language when the site file gives it, else marked as the site's (screen readers). */}
            <span class="site" title={siteName} lang={siteNameLang}>
              {siteName}
            </span>
            <nav class="nav" aria-label={t("nav.label")}>
              {nav.map((n) => (
                <a href={n.href} class={props.active === n.key ? "active" : undefined} aria-current={props.active === n.key ? "page" : undefined}>
                  {t(n.label)}
                </a>
              ))}
            </nav>
            <span class="link-cell">
              <span id="link-state" class="link-state" aria-live="polite">
                {t("link.connecting")}
              </span>
            </span>
            <UserArea t={t} user={props.user} path={path} />
            <a class="lang-toggle" href={`/lang/${other}?back=${back}`} title={t("lang.switchTitle")} aria-label={t("lang.switchTitle")} hreflang={other} lang={other}>
              <span class="lt-long">{t("lang.switch")}</span>
              <span class="lt-short" aria-hidden="true">
                {t("lang.short")}
              </span>
            </a>
          </div>
          <div id="alarm-banner" class="alarm-banner"></div>
          {/* A GDP event in progress (src/microgrid), polled: empty when there is none. */}
          <div id="gdp-banner" class="gdp-banner" hx-get="/microgrid/banner" hx-trigger="load, every 5s" hx-swap="innerHTML"></div>
        </header>
        <div id="link-banner" class="link-banner" role="alert" hidden>
          {t("link.lostBanner")}
        </div>
        <main>{props.children}</main>
      </body>
    </html>
  );
}
