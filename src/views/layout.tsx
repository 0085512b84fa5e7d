import type { Child } from "hono/jsx";
import { raw } from "hono/html";
import { DICTS, translator, type Lang } from "../i18n/index.ts";

/**
 * The page shell every screen shares: grey ISA-101 background, no colour unless something is
 * abnormal. Header: navigation, the alarm banner and user area (filled by public/alarms.js, issue 4),
 * the live-link state and the language toggle. Every page loads public/live.js, the one SSE client.
 */

export type NavKey = "oneline" | "trends" | "comm" | "points" | string;

export interface LayoutProps {
  title: string;
  siteName: string;
  children: Child;
  /** Extra scripts (deferred, after htmx and live.js). */
  scripts?: string[];
  styles?: string[];
  lang?: Lang;
  /** The signed-in user, when there is one (issue 4). */
  user?: { name: string; role: string };
  /** Which navigation entry is this page. */
  active?: NavKey;
  /** Current path + query, where the language toggle comes back to. */
  path?: string;
  /** Extra class on <body> (page-specific layout). */
  bodyClass?: string;
  /** IANA time zone of the site: times on screen are the site's wall clock. */
  timeZone?: string;
}

/** Dictionary entries the browser needs (states, qualities, link and trend texts). */
const CLIENT_PREFIXES = ["brk.", "ats.", "src.", "quality.", "qs.", "link.", "trends.", "hmi.", "comm.dev.", "detail."];
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

export function Layout(props: LayoutProps) {
  const lang = props.lang ?? "fr";
  const t = translator(lang);
  const other: Lang = lang === "fr" ? "en" : "fr";
  const back = encodeURIComponent(props.path ?? "/");
  const nav: [NavKey, string, string][] = [
    ["oneline", "/", t("nav.oneline")],
    ["trends", "/trends", t("nav.trends")],
    ["comm", "/comm", t("nav.comm")],
    ["points", "/points", t("nav.points")],
  ];
  return (
    <html lang={lang} data-tz={props.timeZone}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} — ${props.siteName} — Busbar`}</title>
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
        <header class="topbar">
          <a class="brand" href="/">
            Busbar
          </a>
          <span class="site">{props.siteName}</span>
          <nav class="nav">
            {nav.map(([key, href, label]) => (
              <a href={href} class={props.active === key ? "active" : undefined} aria-current={props.active === key ? "page" : undefined}>
                {label}
              </a>
            ))}
          </nav>
          <div id="alarm-banner" class="alarm-banner"></div>
          <span id="link-state" class="link-state" aria-live="polite">
            {t("link.connecting")}
          </span>
          <div id="user-area">
            {props.user ? (
              <span class="user">
                <span class="user-name">{props.user.name}</span> <span class="user-role">{props.user.role}</span>
              </span>
            ) : null}
          </div>
          <a class="lang-toggle" href={`/lang/${other}?back=${back}`} title={t("lang.switchTitle")} hreflang={other}>
            {t("lang.switch")}
          </a>
        </header>
        <div id="link-banner" class="link-banner" role="alert" hidden>
          {t("link.lostBanner")}
        </div>
        <main>{props.children}</main>
      </body>
    </html>
  );
}
