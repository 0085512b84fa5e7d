import type { Context, Hono } from "hono";
import { isRole, type Role } from "../../auth/roles.ts";
import { generatePassword, generatePin } from "../../auth/secrets.ts";
import { UserError, type User } from "../../auth/users.ts";
import { t } from "../../i18n/index.ts";
import { UsersPage } from "../../views/auth/users-page.tsx";
import { pageRequest } from "../../views/page-context.ts";
import type { AppContext } from "../context.ts";
import { authOf } from "../middleware/security.ts";
import { servicesOf } from "../middleware/services.ts";
import { journalText, type JournalParams } from "../../journal/i18n.ts";

/**
 * Users (admin): create, change role, set or generate password and PIN, disable, delete. The last
 * active admin can be neither removed, disabled nor demoted. Every change is journaled; a password
 * reset, a disable or a delete ends that user's sessions.
 */
export function registerUserRoutes(app: Hono, ctx: AppContext): void {
  const { journal, auth, lang: siteLang } = servicesOf(ctx);
  const { site } = ctx;
  const str = (v: unknown) => (typeof v === "string" ? v.trim() : "");

  const page = (c: Context, extra: { error?: string; shown?: { name: string; password?: string; pin?: string } } = {}, status: 200 | 400 = 200) =>
    c.html(
      <UsersPage
        req={pageRequest(c, site.site.language)}
        siteName={site.site.name}
        tz={site.site.timezone}
        users={auth.users.list()}
        csrf={authOf(c).csrf}
        me={authOf(c).user!.name}
        ok={c.req.query("ok")}
        err={c.req.query("err")}
        {...extra}
      />,
      status,
    );

  const log = (c: Context, u: { name: string }, key: string, data: Record<string, unknown>, params: JournalParams = {}) =>
    journal.append({
      type: "config.user",
      source: u.name,
      actor: authOf(c).user!.name,
      ...journalText(siteLang, key, { admin: authOf(c).user!.name, name: u.name, ...params }),
      data: { name: u.name, ...data },
    });

  const target = (c: Context): User | undefined => {
    const id = Number(c.req.param("id"));
    return Number.isInteger(id) ? auth.users.byId(id) : undefined;
  };
  /** Would this leave no active admin? */
  const lastAdmin = (u: User) => u.role === "admin" && !u.disabled && auth.users.activeAdmins() <= 1;

  app.get("/users", (c) => page(c));

  app.post("/users", async (c) => {
    const b = await c.req.parseBody();
    const name = str(b.name);
    const role = str(b.role);
    if (!isRole(role)) return page(c, { error: "role" }, 400);
    const typed = typeof b.password === "string" ? b.password : "";
    const password = typed || generatePassword();
    const pin = b.withPin ? generatePin() : null;
    try {
      const u = await auth.users.create(name, role, password, pin);
      log(c, u, "journal.user.created", { action: "create", role, pin: !!pin }, { role: { key: `role.${role}` } });
      return page(c, { shown: { name: u.name, password: typed ? undefined : password, pin: pin ?? undefined } });
    } catch (e) {
      if (e instanceof UserError) return page(c, { error: e.message }, 400);
      throw e;
    }
  });

  app.post("/users/:id/role", async (c) => {
    const u = target(c);
    if (!u) return c.redirect("/users?err=notFound", 303);
    const role = str((await c.req.parseBody()).role);
    if (!isRole(role)) return c.redirect("/users?err=invalid", 303);
    if (role !== "admin" && lastAdmin(u)) return c.redirect("/users?err=lastAdmin", 303);
    if (role === u.role) return c.redirect("/users", 303);
    auth.users.setRole(u.id, role as Role);
    log(c, u, "journal.user.role", { action: "role", from: u.role, to: role }, { from: { key: `role.${u.role}` }, to: { key: `role.${role}` } });
    return c.redirect("/users?ok=saved", 303);
  });

  app.post("/users/:id/password", async (c) => {
    const u = target(c);
    if (!u) return c.redirect("/users?err=notFound", 303);
    const b = await c.req.parseBody();
    const typed = typeof b.password === "string" ? b.password : "";
    const password = typed || generatePassword();
    try {
      await auth.users.setPassword(u.id, password);
    } catch (e) {
      if (e instanceof UserError) return page(c, { error: e.message }, 400);
      throw e;
    }
    auth.sessions.destroyForUser(u.id);
    log(c, u, "journal.user.password", { action: "password", generated: !typed });
    return typed ? c.redirect("/users?ok=saved", 303) : page(c, { shown: { name: u.name, password } });
  });

  app.post("/users/:id/pin", async (c) => {
    const u = target(c);
    if (!u) return c.redirect("/users?err=notFound", 303);
    const b = await c.req.parseBody();
    if (b.remove) {
      await auth.users.setPin(u.id, null);
      log(c, u, "journal.user.pinRemoved", { action: "pin-remove" });
      return c.redirect("/users?ok=saved", 303);
    }
    const typed = str(b.pin);
    const pin = typed || generatePin();
    try {
      await auth.users.setPin(u.id, pin);
    } catch (e) {
      if (e instanceof UserError) return page(c, { error: e.message }, 400);
      throw e;
    }
    log(c, u, "journal.user.pin", { action: "pin", generated: !typed });
    return typed ? c.redirect("/users?ok=saved", 303) : page(c, { shown: { name: u.name, pin } });
  });

  app.post("/users/:id/disable", (c) => {
    const u = target(c);
    if (!u) return c.redirect("/users?err=notFound", 303);
    if (lastAdmin(u)) return c.redirect("/users?err=lastAdmin", 303);
    auth.users.setDisabled(u.id, true);
    auth.sessions.destroyForUser(u.id);
    log(c, u, "journal.user.disabled", { action: "disable" });
    return c.redirect("/users?ok=saved", 303);
  });

  app.post("/users/:id/enable", (c) => {
    const u = target(c);
    if (!u) return c.redirect("/users?err=notFound", 303);
    auth.users.setDisabled(u.id, false);
    log(c, u, "journal.user.enabled", { action: "enable" });
    return c.redirect("/users?ok=saved", 303);
  });

  app.post("/users/:id/delete", (c) => {
    const u = target(c);
    if (!u) return c.redirect("/users?err=notFound", 303);
    if (lastAdmin(u)) return c.redirect("/users?err=lastAdmin", 303);
    auth.sessions.destroyForUser(u.id);
    auth.users.remove(u.id);
    log(c, u, "journal.user.deleted", { action: "delete", role: u.role });
    return c.redirect("/users?ok=deleted", 303);
  });
}
