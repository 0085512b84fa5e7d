import type { Context, Hono } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { isLoopback, type LoginResult } from "../../auth/service.ts";
import { verifySecret } from "../../auth/secrets.ts";
import { UserError } from "../../auth/users.ts";
import { langFromRequest, t, type Lang } from "../../i18n/index.ts";
import { safeNext } from "../../views/alarms/ui.tsx";
import { AccountPage, LoginPage, PinPage, SetupPage } from "../../views/auth/auth-pages.tsx";
import { pageRequest } from "../../views/page-context.ts";
import type { AppContext } from "../context.ts";
import { authOf, isHttps, SESSION_COOKIE } from "../middleware/security.ts";
import { servicesOf } from "../middleware/services.ts";
import { redirectTarget } from "../redirect.ts";
import { journalText } from "../../journal/i18n.ts";

/** Log in and out, kiosk PIN unlock, first-admin setup (loopback only, while no user exists), own account. */
export function registerAuthRoutes(app: Hono, ctx: AppContext): void {
  const { auth, journal, lang: siteLang } = servicesOf(ctx);
  const { site } = ctx;
  const langOf = (c: Context): Lang => langFromRequest(c, site.site.language);
  const wantsJson = (c: Context) => (c.req.header("accept") ?? "").includes("application/json");
  const str = (v: unknown) => (typeof v === "string" ? v : "");

  const setSession = (c: Context, token: string) =>
    setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/", secure: isHttps(c) });

  /** A successful password login or PIN unlock: the session cookie, then JSON or a redirect to `next`. */
  const signedIn = (c: Context, r: Extract<LoginResult, { ok: true }>, next: string) => {
    setSession(c, r.token);
    if (wantsJson(c)) return c.json({ ok: true, user: { name: r.session.userName, role: r.session.role }, csrf: r.session.csrf });
    return c.redirect(next, 303);
  };

  const failureText = (lang: Lang, r: { reason: string; retryAfterMs?: number }) =>
    r.reason === "locked"
      ? t(lang, "auth.locked", { minutes: Math.max(1, Math.ceil((r.retryAfterMs ?? 0) / 60_000)) })
      : r.reason === "throttled"
        ? t(lang, "auth.throttled", { minutes: Math.max(1, Math.ceil((r.retryAfterMs ?? 0) / 60_000)) })
        : r.reason === "not-kiosk"
          ? t(lang, "auth.pin.notKiosk")
          : t(lang, "auth.bad");

  /** `next` checked before anything happens (a session is never created for a request refused later). */
  const badNext = (c: Context, raw: unknown) => {
    const r = redirectTarget(raw);
    return r.ok ? null : wantsJson(c) ? c.json({ ok: false, error: `next: ${r.error}` }, 400) : c.text(`next: ${r.error}`, 400);
  };

  app.get("/auth/login", (c) => {
    const a = authOf(c);
    const bad = badNext(c, c.req.query("next"));
    if (bad) return bad;
    const next = safeNext(c.req.query("next"));
    if (a.user) return c.redirect(next, 302);
    const lang = langOf(c);
    const noUsers = auth.users.count() === 0;
    return c.html(
      <LoginPage lang={lang} path={c.req.path + (new URL(c.req.url).search ?? "")} csrf={a.csrf} next={next} kiosk={a.kiosk} noUsers={noUsers} setupHere={noUsers && isLoopback(a.ip)} />,
    );
  });

  app.post("/auth/login", async (c) => {
    const a = authOf(c);
    const lang = langOf(c);
    const body = await c.req.parseBody();
    const bad = badNext(c, body.next);
    if (bad) return bad;
    const name = str(body.name);
    const next = safeNext(str(body.next));
    const r = await auth.login(name, str(body.password), a.ip);
    if (r.ok) return signedIn(c, r, next);
    const status = r.reason === "locked" || r.reason === "throttled" ? 429 : 401;
    if (r.retryAfterMs) c.header("retry-after", String(Math.ceil(r.retryAfterMs / 1000)));
    if (wantsJson(c)) return c.json({ ok: false, error: failureText(lang, r), reason: r.reason }, status);
    return c.html(
      <LoginPage lang={lang} path="/auth/login" csrf={a.csrf} next={next} kiosk={a.kiosk} error={failureText(lang, r)} name={name} noUsers={false} setupHere={false} />,
      status,
    );
  });

  app.post("/auth/logout", (c) => {
    const a = authOf(c);
    if (a.session) auth.logout(a.session, a.ip);
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    if (wantsJson(c)) return c.json({ ok: true });
    return c.redirect(a.kiosk ? "/" : "/auth/login", 303);
  });

  app.get("/auth/me", (c) => {
    const a = authOf(c);
    return c.json({
      user: a.user ? { name: a.user.name, role: a.user.role, kind: a.user.kind } : null,
      kiosk: a.kiosk,
      csrf: a.user || a.kiosk ? a.csrf : null,
      idleMs: a.session?.idleMs ?? null,
      expiresAt: a.session?.expiresAt ?? null,
    });
  });

  const pinUsers = () =>
    auth.users
      .list()
      .filter((u) => u.hasPin && !u.disabled)
      .map((u) => ({ name: u.name, role: u.role === "admin" ? "maintenance" : u.role }));

  app.get("/auth/pin", (c) => {
    const bad = badNext(c, c.req.query("next"));
    if (bad) return bad;
    const a = authOf(c);
    return c.html(
      <PinPage
        req={pageRequest(c, site.site.language)}
        siteName={site.site.name}
        csrf={a.csrf}
        users={pinUsers()}
        next={safeNext(c.req.query("next"))}
        kiosk={a.kiosk}
        minutes={site.security.pinSessionMinutes}
      />,
      a.kiosk ? 200 : 403,
    );
  });

  app.post("/auth/pin", async (c) => {
    const a = authOf(c);
    const lang = langOf(c);
    const body = await c.req.parseBody();
    const bad = badNext(c, body.next);
    if (bad) return bad;
    const name = str(body.name);
    const next = safeNext(str(body.next));
    const r = await auth.pinUnlock(name, str(body.pin), a.ip);
    if (r.ok) return signedIn(c, r, next);
    const status = r.reason === "not-kiosk" ? 403 : r.reason === "locked" || r.reason === "throttled" ? 429 : 401;
    if (wantsJson(c)) return c.json({ ok: false, error: failureText(lang, r), reason: r.reason }, status);
    return c.html(
      <PinPage
        req={pageRequest(c, site.site.language)}
        siteName={site.site.name}
        csrf={a.csrf}
        users={pinUsers()}
        next={next}
        kiosk={a.kiosk}
        error={failureText(lang, r)}
        selected={name}
        minutes={site.security.pinSessionMinutes}
      />,
      status,
    );
  });

  // --- First admin: only while there is no user, only from this machine.
  const setupAllowed = (c: Context) => auth.users.count() === 0 && isLoopback(authOf(c).ip);

  app.get("/setup", (c) => {
    if (!setupAllowed(c)) return c.text(t(langOf(c), "auth.setup.closed"), 404);
    return c.html(<SetupPage lang={langOf(c)} path="/setup" csrf={authOf(c).csrf} />);
  });

  app.post("/setup", async (c) => {
    if (!setupAllowed(c)) return c.text(t(langOf(c), "auth.setup.closed"), 404);
    const lang = langOf(c);
    const body = await c.req.parseBody();
    const name = str(body.name).trim();
    const password = str(body.password);
    const pin = str(body.pin).trim();
    const again = (error: string) => c.html(<SetupPage lang={lang} path="/setup" csrf={authOf(c).csrf} error={error} name={name} />, 400);
    if (password !== str(body.password2)) return again(t(lang, "auth.password.mismatch"));
    try {
      const u = await auth.users.create(name, "admin", password, pin || null);
      journal.append({
        type: "config.user",
        source: u.name,
        actor: u.name,
        ...journalText(siteLang, "journal.user.setup", { name: u.name, ip: authOf(c).ip }),
        data: { action: "setup", name: u.name, role: "admin", pin: !!pin, ip: authOf(c).ip },
      });
    } catch (e) {
      if (e instanceof UserError) return again(e.message);
      throw e;
    }
    return c.redirect("/auth/login", 303);
  });

  // --- One's own account: password and PIN (password sessions only; the current password is asked again).
  app.get("/account", (c) => {
    const a = authOf(c);
    const u = auth.users.byId(a.user!.id);
    if (!u) return c.redirect("/auth/login", 302);
    return c.html(
      <AccountPage
        req={pageRequest(c, site.site.language)}
        siteName={site.site.name}
        csrf={a.csrf}
        user={{ name: u.name, role: a.user!.role, kind: a.user!.kind, hasPin: u.hasPin }}
        ok={c.req.query("ok")}
        err={c.req.query("err")}
      />,
    );
  });

  const ownChange = async (c: Context, what: "password" | "pin") => {
    const a = authOf(c);
    const lang = langOf(c);
    if (a.user!.kind !== "password") return c.redirect("/account?err=pinSession", 303);
    const row = auth.users.row(a.user!.id);
    const body = await c.req.parseBody();
    if (!row || !(await verifySecret(str(body.current), row.passwordHash))) {
      journal.append({
        type: "auth.fail",
        source: a.user!.name,
        actor: a.user!.name,
        ...journalText(siteLang, "journal.auth.fail", { name: a.user!.name, ip: a.ip, reason: { key: "journal.reason.password" } }),
        data: { name: a.user!.name, ip: a.ip, reason: "password", during: `account.${what}` },
      });
      return c.redirect("/account?err=current", 303);
    }
    try {
      if (what === "password") {
        const p = str(body.password);
        if (p !== str(body.password2)) return c.redirect("/account?err=mismatch", 303);
        await auth.users.setPassword(row.id, p);
      } else {
        const pin = str(body.pin).trim();
        await auth.users.setPin(row.id, pin || null);
      }
    } catch (e) {
      if (e instanceof UserError) {
        const u = auth.users.byId(row.id)!;
        return c.html(
          <AccountPage
            req={pageRequest(c, site.site.language)}
            siteName={site.site.name}
            csrf={a.csrf}
            user={{ name: u.name, role: a.user!.role, kind: a.user!.kind, hasPin: u.hasPin }}
            error={e.message}
          />,
          400,
        );
      }
      throw e;
    }
    journal.append({
      type: "config.user",
      source: row.name,
      actor: row.name,
      ...journalText(siteLang, what === "password" ? "journal.user.ownPassword" : "journal.user.ownPin", { name: row.name }),
      data: { action: `own-${what}`, name: row.name },
    });
    void lang;
    return c.redirect(`/account?ok=${what}`, 303);
  };
  app.post("/account/password", (c) => ownChange(c, "password"));
  app.post("/account/pin", (c) => ownChange(c, "pin"));
}
