import type { Hono } from "hono";
import { setCookie } from "hono/cookie";
import { siteNames } from "../../config/site.ts";
import { isLang, LANG_COOKIE, setSiteLanguage, setSiteNames } from "../../i18n/index.ts";
import { pageRequest } from "../../views/page-context.ts";
import { PointsPage } from "../../views/points-page.tsx";
import type { AppContext } from "../context.ts";
import { redirectTarget } from "../redirect.ts";

/** Server-rendered pages: the points list and the language toggle (the one-line, trends and comm pages have their own modules). */
export function registerPageRoutes(app: Hono, ctx: AppContext): void {
  const { live, site } = ctx;
  setSiteLanguage(site.site.language);
  setSiteNames(siteNames(site.site));

  app.get("/points", (c) => {
    const now = Date.now();
    const points = live.registry.points;
    return c.html(
      <PointsPage
        siteName={site.site.name}
        timeZone={site.site.timezone}
        points={points}
        values={points.map((p) => live.value(p, now))}
        {...pageRequest(c, site.site.language)}
      />,
    );
  });

  /** The language toggle: remembered for a year in the `lang` cookie, then back to the page. */
  app.get("/lang/:lang", (c) => {
    const lang = c.req.param("lang");
    if (!isLang(lang)) return c.text("language must be fr or en", 400);
    // Only a path on this site, as the browser will read it: never an open redirect.
    const back = redirectTarget(c.req.query("back"));
    if (!back.ok) return c.text(`back: ${back.error}`, 400);
    setCookie(c, LANG_COOKIE, lang, { path: "/", maxAge: 365 * 24 * 3600, sameSite: "Lax" });
    return c.redirect(back.path);
  });
}
