import type { Context, Hono } from "hono";
import { getConnInfo } from "hono/bun";
import { getCookie } from "hono/cookie";
import { matchedRoutes } from "hono/route";
import { FORM_BODY_LIMIT, policyFor, stricter, type Access } from "../../auth/policy.ts";
import { atLeast, type Role } from "../../auth/roles.ts";
import { randomToken, sameToken } from "../../auth/secrets.ts";
import type { Session } from "../../auth/sessions.ts";
import { langFromRequest, t, type Lang } from "../../i18n/index.ts";
import type { AppContext } from "../context.ts";
import { servicesOf } from "./services.ts";
import { journalText } from "../../journal/i18n.ts";

/**
 * The gate in front of every route: who is asking (session cookie, kiosk address), whether the
 * route's policy (src/auth/policy.ts) lets them, and for every state-changing request a CSRF token
 * and a same-origin check. Installed in app.tsx before any route, so routes added later by anyone
 * are covered; the role-matrix test fails for a route without a policy.
 */

export const SESSION_COOKIE = "busbar_session";
export const CSRF_COOKIE = "busbar_csrf";

export interface RequestAuth {
  ip: string;
  /** The request comes from a kiosk address (read-only pages without login). */
  kiosk: boolean;
  session: Session | null;
  user: { id: number; name: string; role: Role; kind: Session["kind"] } | null;
  /** Token every form and script must send back with a state-changing request (`_csrf` / x-csrf-token). */
  csrf: string;
}

declare module "hono" {
  interface ContextVariableMap {
    auth: RequestAuth;
    /** A new anonymous CSRF token to set as a cookie on the response. */
    newCsrf: string | undefined;
    /** `{ name, role }` of the signed-in user, for pages (views/page-context.ts reads it). */
    user: { name: string; role: Role } | undefined;
  }
}

const ANONYMOUS: RequestAuth = { ip: "", kiosk: false, session: null, user: null, csrf: "" };

/** The request's identity (set by the middleware; anonymous when it did not run). */
export function authOf(c: Context): RequestAuth {
  return (c.get("auth") as RequestAuth | undefined) ?? ANONYMOUS;
}

/** For the layout's user area: `{ name, role }` or undefined (anonymous or kiosk). */
export function currentUser(c: Context): { name: string; role: Role } | undefined {
  const u = authOf(c).user;
  return u ? { name: u.name, role: u.role } : undefined;
}

export function can(c: Context, role: Role): boolean {
  return atLeast(authOf(c).user?.role, role);
}

export function clientIp(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? "";
  } catch {
    return "";
  }
}

function allows(access: Access, a: RequestAuth): boolean {
  switch (access) {
    case "public":
      return true;
    case "viewer":
      return !!a.user || a.kiosk;
    case "signed-in":
      return !!a.user;
    default:
      return atLeast(a.user?.role, access);
  }
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
/** Requests that are not a person's activity (keep-alive streams, assets, session probes). */
const PASSIVE = /^\/(assets\/|api\/stream|auth\/me)/;

function wantsHtml(c: Context): boolean {
  return (c.req.method === "GET" || c.req.method === "HEAD") && (c.req.header("accept") ?? "").includes("text/html") && !c.req.path.startsWith("/api/");
}

export function isHttps(c: Context): boolean {
  return c.req.url.startsWith("https:") || c.req.header("x-forwarded-proto") === "https";
}

export function installSecurity(app: Hono, ctx: AppContext): void {
  const services = servicesOf(ctx);
  const { auth, journal } = services;

  // Outermost: every response, including the gate's own refusals below, leaves with the headers.
  app.use("*", async (c, next) => {
    await next();
    c.res = secure(c, c.res, c.get("newCsrf"));
  });

  app.use("*", async (c, next) => {
    const ip = clientIp(c);
    const kiosk = auth.isKiosk(ip);
    let session = auth.sessions.lookup(getCookie(c, SESSION_COOKIE));
    // A PIN session is only good at the kiosk that opened it.
    if (session && session.kind === "pin" && (!kiosk || session.ip !== ip)) session = null;
    let anonCsrf = getCookie(c, CSRF_COOKIE);
    const newAnonCsrf = !session && (!anonCsrf || anonCsrf.length < 20 || anonCsrf.length > 100);
    if (newAnonCsrf) {
      anonCsrf = randomToken();
      c.set("newCsrf", anonCsrf);
    }
    const a: RequestAuth = {
      ip,
      kiosk,
      session,
      user: session ? { id: session.userId, name: session.userName, role: session.role, kind: session.kind } : null,
      csrf: session ? session.csrf : anonCsrf!,
    };
    c.set("auth", a);
    if (a.user) c.set("user", { name: a.user.name, role: a.user.role });

    const method = c.req.method === "HEAD" ? "GET" : c.req.method;
    // Every route handler this request matches (middleware is registered as ALL).
    const routes = matchedRoutes(c).filter((r) => r.method !== "ALL" || policyFor("ALL", r.path));
    let access: Access | undefined;
    let undeclared = false;
    let csrf = false;
    let bodyLimit = FORM_BODY_LIMIT;
    for (const r of routes) {
      const p = policyFor(r.method, r.path);
      let acc: Access;
      if (p) {
        acc = p.access;
        if (p.bodyLimit !== undefined && r.method !== "ALL") bodyLimit = p.bodyLimit;
        if (p.csrf !== false) csrf = true;
        if (p.publicParams && Object.entries(p.publicParams).every(([k, allowed]) => allowed.includes(paramOf(c, r.path, k)))) acc = "public";
      } else if (method === "GET") acc = "viewer";
      else {
        undeclared = true;
        continue;
      }
      access = access === undefined ? acc : stricter(access, acc);
    }
    if (access === undefined) access = method === "GET" ? "viewer" : undefined;

    const lang = langFromRequest(c, ctx.site.site.language);
    // Before anything reads the body (CSRF form token, login): an anonymous 100 MB post is refused
    // from its Content-Length, or once that many bytes have streamed in.
    if (!SAFE.has(method)) {
      const tooBig = await limitBody(c, bodyLimit);
      if (tooBig) return tooBig;
    }
    if (undeclared || access === undefined) return deny(c, a, 403, t(lang, "auth.denied.noPolicy"), lang);
    if (!allows(access, a)) {
      if (!a.user && !(a.kiosk && access === "viewer")) {
        if (wantsHtml(c)) return c.redirect(`/auth/login?next=${encodeURIComponent(c.req.path + (new URL(c.req.url).search ?? ""))}`, 302);
        return deny(c, a, 401, t(lang, "auth.denied.login"), lang);
      }
      if (!SAFE.has(method) && a.user) {
        journal.append({
          type: "auth.denied",
          source: `${c.req.method} ${c.req.path}`,
          actor: a.user.name,
          ...journalText(services.lang, "journal.auth.denied", { name: a.user.name, role: { key: `role.${a.user.role}` }, what: `${c.req.method} ${c.req.path}`, need: { key: `role.${access}` } }),
          data: { ip, role: a.user.role, need: access },
        });
      }
      return deny(c, a, 403, t(lang, "auth.denied.role", { role: t(lang, `role.${access}`) }), lang);
    }

    if (!SAFE.has(method) && csrf) {
      const problem = await csrfProblem(c, a);
      if (problem) return deny(c, a, 403, t(lang, "auth.denied.csrf") + ` (${problem})`, lang);
    }

    // Activity that keeps a session alive: a person's navigation or action, not a page's own
    // background refreshes (fetch/htmx polling say Sec-Fetch-Mode: cors/same-origin).
    if (session && !PASSIVE.test(c.req.path)) {
      const mode = c.req.header("sec-fetch-mode");
      if (!SAFE.has(method) || !mode || mode === "navigate") auth.sessions.touch(session);
    }

    await next();
  });
}

/**
 * Every page's scripts and styles are files under /assets (no inline script or style attribute;
 * JSON data islands are not scripts), so the policy can be strict. `frame-ancestors` is
 * X-Frame-Options for current browsers.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "media-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: [string, string][] = [
  ["x-content-type-options", "nosniff"],
  ["x-frame-options", "DENY"],
  ["referrer-policy", "same-origin"],
  ["content-security-policy", CONTENT_SECURITY_POLICY],
  ["cross-origin-opener-policy", "same-origin"],
];

/**
 * The security headers (and a new anonymous CSRF cookie) on a response. Set on the final Response
 * object: setting a cookie through the context after `next()` replaced that object, and the
 * headers set on the old one were lost (issue 9 item 5). Immutable headers (a proxied stream) are
 * copied into a new Response.
 */
function secure(c: Context, res: Response, newCsrf: string | undefined): Response {
  const apply = (h: Headers) => {
    if (newCsrf) h.append("set-cookie", `${CSRF_COOKIE}=${newCsrf}; Path=/; HttpOnly; SameSite=Strict${isHttps(c) ? "; Secure" : ""}`);
    for (const [k, v] of SECURITY_HEADERS) if (!h.has(k)) h.set(k, v);
  };
  try {
    apply(res.headers);
    return res;
  } catch {
    const copy = new Response(res.body, res);
    apply(copy.headers);
    return copy;
  }
}

/** A 413 response when the body is over `limit` bytes, else null (the body, if streamed, is buffered within the limit). */
async function limitBody(c: Context, limit: number): Promise<Response | null> {
  const req = c.req.raw;
  const tooBig = () => c.json({ error: `request body over ${limit} bytes`, status: 413 }, 413);
  const length = req.headers.get("content-length");
  if (length !== null && !req.headers.has("transfer-encoding")) return Number(length) > limit ? tooBig() : null;
  if (!req.body) return null;
  // A chunked body is buffered to be measured: fine for forms, not for a multi-GB upload route
  // (restore), which must say its length (browsers do for a file) and streams it to disk itself.
  const upload = limit > 16 * 1024 * 1024;
  if (upload) limit = FORM_BODY_LIMIT;
  // Chunked: read at most limit + 1 bytes, then hand the routes the buffered body.
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      void reader.cancel().catch(() => {});
      return upload ? c.json({ error: "an upload must send Content-Length", status: 411 }, 411) : tooBig();
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const ch of chunks) {
    body.set(ch, at);
    at += ch.length;
  }
  c.req.raw = new Request(req, { body });
  return null;
}

/** The value of `:name` in `pattern` for this request's path. */
function paramOf(c: Context, pattern: string, name: string): string {
  const parts = pattern.split("/");
  const actual = c.req.path.split("/");
  const i = parts.indexOf(`:${name}`);
  if (i < 0 || parts.length !== actual.length) return "";
  try {
    return decodeURIComponent(actual[i] ?? "");
  } catch {
    return ""; // malformed: never one of the public names
  }
}

async function csrfProblem(c: Context, a: RequestAuth): Promise<string | null> {
  const origin = c.req.header("origin");
  if (origin && origin !== "null") {
    let host = "";
    try {
      host = new URL(origin).host;
    } catch {
      return "bad origin";
    }
    if (host !== c.req.header("host")) return "cross-origin";
  }
  if (c.req.header("sec-fetch-site") === "cross-site") return "cross-site";
  let token = c.req.header("x-csrf-token");
  if (!token) {
    const type = c.req.header("content-type") ?? "";
    if (type.startsWith("application/x-www-form-urlencoded") || type.startsWith("multipart/form-data")) {
      try {
        const body = await c.req.parseBody();
        const v = body["_csrf"];
        token = typeof v === "string" ? v : undefined;
      } catch {
        return "unreadable form";
      }
    }
  }
  if (!token) return "missing token";
  if (!sameToken(token, a.csrf)) return "wrong token";
  return null;
}

function deny(c: Context, a: RequestAuth, status: 401 | 403, message: string, lang: Lang): Response {
  if (wantsHtml(c)) {
    const next = encodeURIComponent(c.req.path);
    const login = a.user
      ? ""
      : `<p><a class="btn" href="/auth/login?next=${next}">${escapeHtml(t(lang, "auth.login.submit"))}</a>${a.kiosk ? ` <a class="btn" href="/auth/pin?next=${next}">${escapeHtml(t(lang, "auth.pin.link"))}</a>` : ""}</p>`;
    return c.html(
      `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/assets/busbar.css"><link rel="stylesheet" href="/assets/alarms.css"><title>${status}</title></head><body class="auth-page"><main class="auth-box"><h1>${status}</h1><p>${escapeHtml(message)}</p>${login}<p><a href="/">←</a></p></main></body></html>`,
      status,
    );
  }
  return c.json({ error: message, status }, status);
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (m) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[m]!);
}
