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
        silence: atLeast(role, "operator") || (a.kiosk && (alarms.config.silence ?? "anyone") === "anyone"),
        ack: atLeast(role, "maintenance"),
        shelve: atLeast(role, "maintenance"),
        admin: atLeast(role, "admin"),
        kioskLocked: !a.user && a.kiosk,
      },
      csrf: a.csrf,
      back: `/alarms${queryOf(f)}`,
      maxShelve: alarms.config.maxShelveMinutes,
      notesRequired: alarms.config.notesRequired ?? [],
      filter: { priority: f.priority, device: f.device },
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

  // Silencing is not acknowledging: by default anyone at the screen may stop the horn (a kiosk
  // without PIN too); a site may keep it for signed-in operators (alarms.silence: operator).
  app.post("/alarms/silence", async (c) => {
    const r = await actionBody(c);
    if ("bad" in r) return r.bad;
    const b = r.b;
    const a = authOf(c);
    if (!a.user && (alarms.config.silence === "operator" || !a.kiosk)) {
      if (wantsJson(c)) return c.json({ ok: false, error: "silencing needs a signed-in operator at this site" }, 403);
      return c.redirect(`/auth/pin?next=${encodeURIComponent(safeNext(b.back, "/alarms"))}`, 303);
    }
    const s = alarms.silence(a.user ? a.user.name : `kiosk@${a.ip || "?"}`);
    if (wantsJson(c)) return c.json({ ok: true, summary: s });
    return c.redirect(safeNext(b.back, "/alarms"), 303);
  });

  const commentOf = (b: Record<string, string>) => [b.preset, b.comment].map((x) => (x ?? "").trim()).filter(Boolean).join(" — ");

  // Several at once: the ticked alarms (ids, comma-separated or repeated), or every alarm the
  // list shows with its filters (all=1); one comment, one journal row per alarm.
  app.post("/alarms/ack", async (c) => {
    let ids: string[];
    let b: Record<string, string>;
    if ((c.req.header("content-type") ?? "").includes("json")) {
      const j = (await c.req.json().catch(() => ({}))) as Record<string, unknown>;
      b = Object.fromEntries(Object.entries(j).filter(([k]) => k !== "ids").map(([k, v]) => [k, v === null || v === undefined ? "" : String(v)]));
      ids = Array.isArray(j.ids) ? j.ids.map(String) : typeof j.ids === "string" ? j.ids.split(",") : [];
    } else {
      const form = await c.req.parseBody({ all: true });
      b = Object.fromEntries(Object.entries(form).map(([k, v]) => [k, typeof v === "string" ? v : Array.isArray(v) ? String(v[0] ?? "") : ""]));
      const raw = form.ids;
      ids = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).flatMap((x) => (typeof x === "string" ? x.split(",") : []));
    }
    const target = redirectTarget(b.back, "/alarms");
    if (!target.ok) return wantsJson(c) ? c.json({ ok: false, error: `back: ${target.error}` }, 400) : c.text(`back: ${target.error}`, 400);
    if (b.all === "1") {
      const f: AlarmListFilter = { priority: b.priority || undefined, device: b.device || undefined, show: "active" };
      ids = alarms.list(f).filter((a) => a.state === "unack_active" || a.state === "unack_rtn").map((a) => a.id);
    }
    ids = ids.map((x) => x.trim()).filter(Boolean);
    if (!ids.length) {
      if (wantsJson(c)) return c.json({ ok: false, error: "no alarm chosen" }, 400);
      return c.redirect(`${safeNext(b.back, "/alarms")}${(b.back ?? "").includes("?") ? "&" : "?"}err=noneChosen`, 303);
    }
    const r = alarms.ackMany(ids, user(c), commentOf(b));
    const needNote = r.skipped.some((x) => x.status === 400);
    if (wantsJson(c)) return c.json({ ok: r.acked.length > 0, acked: r.acked, skipped: r.skipped, summary: alarms.summary() }, r.acked.length || !needNote ? 200 : 400);
    const back = safeNext(b.back, "/alarms");
    const sep = back.includes("?") ? "&" : "?";
    return c.redirect(`${back}${sep}${needNote ? "err=noteRequired" : `ok=ackMany&n=${r.acked.length}`}`, 303);
  });

  app.post("/alarms/:id/ack", async (c) => {
    const parsed = await actionBody(c);
    if ("bad" in parsed) return parsed.bad;
    const b = parsed.b;
    const r = alarms.ack(c.req.param("id"), user(c), commentOf(b));
    if (!r.ok && r.status === 400 && !wantsJson(c)) {
      const back = safeNext(b.back, "/alarms");
      return c.redirect(`${back}${back.includes("?") ? "&" : "?"}err=noteRequired`, 303);
    }
    return reply(c, b, r, "ack");
  });

  // Shelving hides an alarm: the reason is required (a preset or free text).
  app.post("/alarms/:id/shelve", async (c) => {
    const r = await actionBody(c);
    if ("bad" in r) return r.bad;
    const b = r.b;
    const reason = commentOf(b);
    if (!reason) {
      if (wantsJson(c)) return c.json({ ok: false, error: "shelving needs a reason" }, 400);
      const back = safeNext(b.back, "/alarms");
      return c.redirect(`${back}${back.includes("?") ? "&" : "?"}err=reasonRequired`, 303);
    }
    return reply(c, b, alarms.shelve(c.req.param("id"), user(c), Number(b.minutes), reason), "shelve");
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
