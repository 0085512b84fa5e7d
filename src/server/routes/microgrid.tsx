import type { Hono } from "hono";
import { t } from "../../i18n/index.ts";
import { journalText } from "../../journal/i18n.ts";
import { MG } from "../../microgrid/points.ts";
import { parseEventTime } from "../../microgrid/schedule.ts";
import { pageRequest } from "../../views/page-context.ts";
import { MicrogridPage, WhyPanel, type TrendSeries } from "../../views/microgrid-page.tsx";
import type { AppContext } from "../context.ts";
import { authOf, can } from "../middleware/security.ts";
import { servicesOf } from "../middleware/services.ts";

/** The microgrid page, its "why" fragment, the GDP banner fragment and the GDP schedule form. */
export function registerMicrogridRoutes(app: Hono, ctx: AppContext): void {
  const { site, live } = ctx;
  const tz = site.site.timezone;

  const trend = (): TrendSeries => {
    const reg = live.registry.byId;
    const h = (id: string) => (reg.get(id) ? live.table.history(reg.get(id)!.index, Date.now() - 600_000) : { t: [], v: [] });
    const kw = h(`${MG}.kw_instant`);
    const sp = h(`${MG}.setpoint_active`);
    const sig = h(`${MG}.shed_signal`);
    const n = Math.min(kw.t.length, sp.t.length, sig.t.length);
    return { t: kw.t.slice(-n), kw: kw.v.slice(-n), setpoint: sp.v.slice(-n), signal: sig.v.slice(-n) };
  };

  app.get("/microgrid", (c) => {
    const req = pageRequest(c, site.site.language);
    if (!ctx.microgrid) return c.text(t(req.lang, "mg.title") + ": not configured (site file `microgrid:`)", 404);
    return c.html(<MicrogridPage siteName={site.site.name} timeZone={tz} st={ctx.microgrid.status()} trend={trend()} canOperate={can(c, "maintenance")} csrf={authOf(c).csrf} {...req} />);
  });

  app.get("/microgrid/why", (c) => {
    const req = pageRequest(c, site.site.language);
    if (!ctx.microgrid) return c.text("", 404);
    return c.html(<WhyPanel st={ctx.microgrid.status()} trend={trend()} lang={req.lang} tz={tz} />);
  });

  /** The banner line every page polls: the GDP event, when one is in progress. */
  app.get("/microgrid/banner", (c) => {
    const req = pageRequest(c, site.site.language);
    const st = ctx.microgrid?.status();
    if (!st || !st.gdp.active) return c.html("");
    return c.html(
      <a href="/microgrid" class="gdp-on" role="status">
        {t(req.lang, "banner.gdp")} — {t(req.lang, st.gdp.active === 2 ? "mg.by.schedule" : "mg.by.request")} — {st.gdp.setpointKw} kW
      </a>,
    );
  });

  /** Status for scripts and the BMS integrator. */
  app.get("/api/microgrid", (c) => {
    if (!ctx.microgrid) return c.json({ error: "no microgrid control on this site" }, 404);
    return c.json(ctx.microgrid.status());
  });

  /** A GDP event set ahead (start/end), or cleared: kept in the persisted computed points, journaled. */
  app.post("/microgrid/gdp-schedule", async (c) => {
    const req = pageRequest(c, site.site.language);
    const a = authOf(c);
    if (!ctx.microgrid) return c.text("no microgrid", 404);
    const body = (c.req.header("content-type") ?? "").includes("json") ? ((await c.req.json().catch(() => ({}))) as Record<string, unknown>) : await c.req.parseBody();
    const clear = body.clear === "1" || body.clear === true;
    const start = clear ? 0 : parseEventTime(String(body.start ?? ""), tz);
    const end = clear ? 0 : parseEventTime(String(body.end ?? ""), tz);
    const json = (c.req.header("accept") ?? "").includes("json") || (c.req.header("content-type") ?? "").includes("json");
    if (!clear && !(Number.isFinite(start) && Number.isFinite(end) && end > start)) {
      const error = t(req.lang, "mg.err.schedule");
      if (json) return c.json({ ok: false, error }, 400);
      return c.html(<MicrogridPage siteName={site.site.name} timeZone={tz} st={ctx.microgrid.status()} trend={trend()} canOperate csrf={a.csrf} error={error} {...req} />, 400);
    }
    const reg = live.registry.byId;
    // End first when clearing and start first when setting: the window is never briefly wrong-way round.
    const w1 = await ctx.computed.write(reg.get(`${MG}.gdp_sched_start`)!.index, Math.round(start / 1000));
    const w2 = await ctx.computed.write(reg.get(`${MG}.gdp_sched_end`)!.index, Math.round(end / 1000));
    const ok = w1.ok && w2.ok;
    const lang = site.site.language;
    servicesOf(ctx).journal.append({
      type: "microgrid.gdp",
      source: `${MG}.gdp_sched_start`,
      actor: a.user!.name,
      // Key + parameters: the journal shows it in each reader's language.
      ...(clear ? journalText(lang, "journal.mg.gdpScheduleClear", { user: a.user!.name }) : journalText(lang, "journal.mg.gdpSchedule", { user: a.user!.name, from: new Date(start).toISOString(), to: new Date(end).toISOString() })),
      data: { start, end, ok, error: w1.error ?? w2.error ?? null, ip: a.ip },
    });
    ctx.microgrid.tick();
    if (json) return c.json({ ok, start, end });
    return c.redirect("/microgrid", 303);
  });
}
