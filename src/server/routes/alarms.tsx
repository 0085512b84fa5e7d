import type { Context, Hono } from "hono";
import type { ActionResult, AlarmListFilter } from "../../alarms/engine.ts";
import { atLeast } from "../../auth/roles.ts";
import { ALARM_PRIORITIES } from "../../config/site.ts";
import { parseTimeFilter } from "../../journal/time.ts";
import { AlarmHistoryPage, AlarmList, AlarmsPage, type AlarmListProps } from "../../views/alarms/alarms-page.tsx";
import { safeNext } from "../../views/alarms/ui.tsx";
import { pageRequest } from "../../views/page-context.ts";
import type { AppContext } from "../context.ts";
import { authOf } from "../middleware/security.ts";
import { servicesOf } from "../middleware/services.ts";
import { redirectTarget } from "../redirect.ts";

/**
 * Alarm summary and history pages, the JSON API, and the actions: silence (operator), acknowledge
 * and shelve (maintenance), out of service (admin). Roles are enforced by the security middleware
 * (src/auth/policy.ts); an action returns only after its journal row is committed.
 */
export function registerAlarmRoutes(app: Hono, ctx: AppContext): void {
  const { alarms } = servicesOf(ctx);
  const { site } = ctx;
  const tz = site.site.timezone;

  const filterOf = (c: Context): AlarmListFilter => {
    const priority = c.req.query("priority");
    const sort = c.req.query("sort");
    return {
      priority: priority && (ALARM_PRIORITIES as readonly string[]).includes(priority) ? priority : undefined,
      device: c.req.query("device") || undefined,
      sort: sort === "time" || sort === "device" ? sort : "priority",
    };
  };
  const queryOf = (f: AlarmListFilter) => {
    const u = new URLSearchParams();
    if (f.priority) u.set("priority", f.priority);
    if (f.device) u.set("device", f.device);
    if (f.sort && f.sort !== "priority") u.set("sort", f.sort);
    const s = u.toString();
    return s ? "?" + s : "";
  };

  const listProps = (c: Context, f: AlarmListFilter): AlarmListProps => {
    const a = authOf(c);
    const role = a.user?.role;
    return {
      lang: pageRequest(c, site.site.language).lang,
      tz,
      active: alarms.list({ ...f, show: "active" }),
      shelved: alarms.list({ ...f, show: "shelved" }),
      oos: alarms.list({ ...f, show: "out-of-service" }),
      rights: {
        silence: atLeast(role, "operator"),
        ack: atLeast(role, "maintenance"),
        shelve: atLeast(role, "maintenance"),
        admin: atLeast(role, "admin"),
        kioskLocked: !a.user && a.kiosk,
      },
      csrf: a.csrf,
      back: `/alarms${queryOf(f)}`,
      maxShelve: alarms.config.maxShelveMinutes,
      rev: alarms.summary().rev,
    };
  };

  app.get("/alarms", (c) => {
    const f = filterOf(c);
    return c.html(
      <AlarmsPage
        req={pageRequest(c, site.site.language)}
        siteName={site.site.name}
        list={listProps(c, f)}
        filter={f}
        devices={alarms.devices()}
        summary={alarms.summary()}
        listUrl={`/alarms/list${queryOf(f)}`}
        ok={c.req.query("ok")}
        err={c.req.query("err")}
      />,
    );
  });

  app.get("/alarms/list", (c) => c.html(<AlarmList {...listProps(c, filterOf(c))} />));

  app.get("/alarms/history", (c) => {
    const pageSize = 100;
    const rawPage = c.req.query("page");
    if (rawPage !== undefined && rawPage !== "" && !/^\d{1,6}$/.test(rawPage)) return c.text("page: must be a whole number from 0 to 999999", 400);
    const page = Number(rawPage ?? 0) || 0;
    const raw = { from: c.req.query("from"), to: c.req.query("to"), device: c.req.query("device"), priority: c.req.query("priority") };
    const from = parseTimeFilter(raw.from, tz);
    const to = parseTimeFilter(raw.to, tz, true);
    const hf = {
      from: Number.isNaN(from) ? undefined : from,
      to: Number.isNaN(to) ? undefined : to,
      device: raw.device || undefined,
      priority: raw.priority && (ALARM_PRIORITIES as readonly string[]).includes(raw.priority) ? raw.priority : undefined,
    };
    return c.html(
      <AlarmHistoryPage
        req={pageRequest(c, site.site.language)}
        siteName={site.site.name}
        tz={tz}
        rows={alarms.store.history(hf, pageSize, page * pageSize)}
        total={alarms.store.countHistory(hf)}
        page={page}
        pageSize={pageSize}
        filter={{ from: raw.from || undefined, to: raw.to || undefined, device: hf.device, priority: hf.priority }}
        devices={alarms.devices()}
      />,
    );
  });

  app.get("/api/alarms", (c) => {
    const show = c.req.query("show");
    return c.json(
      alarms.list({ ...filterOf(c), show: show === "shelved" || show === "out-of-service" || show === "all" ? show : "active" }),
    );
  });
  app.get("/api/alarms/summary", (c) => c.json(alarms.summary()));

  // --- Actions. Forms post back with `back`; scripts ask for JSON.
  const wantsJson = (c: Context) => (c.req.header("accept") ?? "").includes("application/json") || (c.req.header("content-type") ?? "").includes("json");
  const body = async (c: Context): Promise<Record<string, string>> => {
    if ((c.req.header("content-type") ?? "").includes("json")) {
      try {
        const j = (await c.req.json()) as unknown;
        if (!j || typeof j !== "object" || Array.isArray(j)) return {};
        return Object.fromEntries(Object.entries(j).map(([k, v]) => [k, v === null || v === undefined ? "" : String(v)]));
      } catch {
        return {};
      }
    }
    const b = await c.req.parseBody();
    return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, typeof v === "string" ? v : ""]));
  };
  const reply = (c: Context, b: Record<string, string>, r: ActionResult, okKey: string) => {
    if (wantsJson(c)) return r.ok ? c.json({ ok: true, alarm: r.alarm, summary: alarms.summary() }) : c.json({ ok: false, error: r.error }, r.status);
    const back = safeNext(b.back, "/alarms");
    const sep = back.includes("?") ? "&" : "?";
    return c.redirect(`${back}${sep}${r.ok ? `ok=${okKey}` : `err=${r.status === 404 ? "notFound" : r.status === 400 ? "invalid" : "conflict"}`}`, 303);
  };
  const user = (c: Context) => authOf(c).user!.name;
  /** An action's form: read and checked (its `back`) before the action runs. */
  const actionBody = async (c: Context): Promise<{ b: Record<string, string> } | { bad: Response }> => {
    const b = await body(c);
    const back = redirectTarget(b.back, "/alarms");
    if (!back.ok) return { bad: wantsJson(c) ? c.json({ ok: false, error: `back: ${back.error}` }, 400) : c.text(`back: ${back.error}`, 400) };
    return { b };
  };

  app.post("/alarms/silence", async (c) => {
    const r = await actionBody(c);
    if ("bad" in r) return r.bad;
    const b = r.b;
    const s = alarms.silence(user(c));
    if (wantsJson(c)) return c.json({ ok: true, summary: s });
    return c.redirect(safeNext(b.back, "/alarms"), 303);
  });

  app.post("/alarms/:id/ack", async (c) => {
    const r = await actionBody(c);
    if ("bad" in r) return r.bad;
    const b = r.b;
    const comment = [b.preset, b.comment].map((x) => (x ?? "").trim()).filter(Boolean).join(" — ");
    return reply(c, b, alarms.ack(c.req.param("id"), user(c), comment), "ack");
  });

  app.post("/alarms/:id/shelve", async (c) => {
    const r = await actionBody(c);
    if ("bad" in r) return r.bad;
    const b = r.b;
    return reply(c, b, alarms.shelve(c.req.param("id"), user(c), Number(b.minutes), b.comment), "shelve");
  });

  app.post("/alarms/:id/unshelve", async (c) => {
    const r = await actionBody(c);
    if ("bad" in r) return r.bad;
    const b = r.b;
    return reply(c, b, alarms.unshelve(c.req.param("id"), user(c)), "unshelve");
  });

  app.post("/alarms/:id/out-of-service", async (c) => {
    const r = await actionBody(c);
    if ("bad" in r) return r.bad;
    const b = r.b;
    return reply(c, b, alarms.setOutOfService(c.req.param("id"), user(c), true, b.comment), "oos");
  });

  app.post("/alarms/:id/in-service", async (c) => {
    const r = await actionBody(c);
    if ("bad" in r) return r.bad;
    const b = r.b;
    return reply(c, b, alarms.setOutOfService(c.req.param("id"), user(c), false, b.comment), "inService");
  });
}
