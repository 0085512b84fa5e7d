import type { Context } from "hono";
import { langFromRequest, type Lang } from "../i18n/index.ts";

/**
 * What every page route reads from its request: language (cookie, browser, site default), the
 * signed-in user (set as `c.set("user", {name, role})` by the authentication middleware of issue 4,
 * absent until then) and the path the language toggle returns to.
 */
export interface PageRequest {
  lang: Lang;
  /** With the session's CSRF token, so the layout's logout form works before any script runs. */
  user?: { name: string; role: string; csrf?: string };
  path: string;
  /** Token a page's state-changing requests send back (x-csrf-token), from the security middleware. */
  csrf?: string;
}

export function pageRequest(c: Context, siteLanguage?: Lang): PageRequest {
  const u = (c.get as (key: string) => unknown)("user") as { name?: unknown; role?: unknown } | undefined;
  const user = u && typeof u.name === "string" && typeof u.role === "string" ? { name: u.name, role: u.role } : undefined;
  const url = new URL(c.req.url);
  const auth = (c.get as (key: string) => unknown)("auth") as { csrf?: unknown } | undefined;
  const csrf = typeof auth?.csrf === "string" && auth.csrf ? auth.csrf : undefined;
  return { lang: langFromRequest(c, siteLanguage), user: user && csrf ? { ...user, csrf } : user, path: url.pathname + url.search, csrf };
}
