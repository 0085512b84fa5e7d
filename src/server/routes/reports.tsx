import type { Context, Hono } from "hono";
import { journalText } from "../../journal/i18n.ts";
import { circuitsOf } from "../../energy/structure.ts";
import { LocalClock } from "../../energy/tariffs.ts";
import type { ReportKind } from "../../reports/data.ts";
import { parseReportQuery } from "../../reports/query.ts";
import { runReport, warmReportPool } from "../../reports/pool.ts";
import { reportFileName, ReportScheduler, FREQUENCIES, type Frequency, type ScheduleInput } from "../../reports/schedules.ts";
import { reportJobSource } from "../../reports/source.ts";
import { ReportsPage } from "../../views/reports-page.tsx";
import { pageRequest } from "../../views/page-context.ts";
import type { AppContext } from "../context.ts";
import { authOf, can } from "../middleware/security.ts";
import { servicesOf } from "../middleware/services.ts";

/**
 * PDF reports on demand (maintenance and admin, policy.ts) and the scheduled reports (admin).
 * GET /reports/report.pdf?kind=general|detailed&period=month|year&year=2026&month=10&lang=fr&item=circuit:hvac…
 * (also /api/reports/report.pdf, same query). Generated in the piscina pool; each download journaled.
 */
export function registerReportRoutes(app: Hono, ctx: AppContext): void {
  const { journal, lang: siteLang } = servicesOf(ctx);
  const tz = ctx.site.site.timezone;
  const clock = new LocalClock(tz);
  const scheduler = (): ReportScheduler | undefined => ctx.reports;
  const str = (v: unknown) => (typeof v === "string" ? v.trim() : "");
  const all = (b: Record<string, unknown>, k: string): string[] => {
    const v = b[k] ?? b[`${k}[]`];
    return (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(String);
  };
  const items = (lang: "fr" | "en") => {
    const e = ctx.energy;
    if (!e) return [];
    const counted = e.service.meters.filter((m) => m.commodity === "electricity" && !m.head && !m.excluded);
    return [
      ...circuitsOf(ctx.site.energy).filter((c) => counted.some((m) => m.circuit === c.id)).map((c) => ({ id: `circuit:${c.id}`, label: lang === "fr" ? (c.labelFr ?? c.label) : c.label })),
      ...ctx.site.energy.zones.map((z) => ({ id: `zone:${z.id}`, label: lang === "fr" ? (z.labelFr ?? z.label) : z.label })),
      ...e.service.meters.filter((m) => m.commodity === "electricity").map((m) => ({ id: `meter:${m.id}`, label: m.label ?? m.id })),
    ];
  };

  const page = (c: Context, extra: { ok?: string; error?: string } = {}, status: 200 | 400 = 200) => {
    const req = pageRequest(c, ctx.site.site.language);
    const p = clock.parts(Date.now());
    const lastMonth = p.month === 1 ? { year: p.year - 1, month: 12 } : { year: p.year, month: p.month - 1 };
    return c.html(
      <ReportsPage
        req={req}
        siteName={ctx.site.site.name}
        csrf={authOf(c).csrf}
        isAdmin={can(c, "admin")}
        thisYear={p.year}
        lastMonth={lastMonth}
        items={items(req.lang)}
        schedules={scheduler()?.list() ?? []}
        editing={c.req.query("edit") ? scheduler()?.get(Number(c.req.query("edit"))) : undefined}
        channels={(ctx.notify?.channels() ?? []).filter((ch) => ch.type === "email").map((ch) => ({ id: ch.id, name: ch.name }))}
        ok={extra.ok ?? c.req.query("ok")}
        error={extra.error}
      />,
      status,
    );
  };

  const request = (q: (k: string) => string | undefined, qs: (k: string) => string[] | undefined) => parseReportQuery(q, qs, clock, siteLang);

  const download = async (c: Context) => {
    const src = reportJobSource(ctx);
    if (!src) return c.text("this site has no energy meters: nothing to report", 404);
    const r = request((k) => c.req.query(k), (k) => c.req.queries(k));
    if (typeof r === "string") return c.text(r, 400);
    let bytes: Uint8Array;
    try {
      bytes = await runReport({ ...src, site: ctx.site.site.name, timezone: tz, req: r, format: "pdf" });
    } catch (e) {
      // The pool's queue is full (20 waiting) or the job failed: say so, the server keeps serving.
      return c.text(`report not generated: ${(e as Error).message}`, 503);
    }
    const name = reportFileName(ctx.site.site.name, r.kind, r, "pdf");
    const user = authOf(c).user?.name ?? "";
    journal.append({ type: "report.download", source: name, actor: user, ...journalText(siteLang, "journal.report.download", { user, name }), data: { ...r, bytes: bytes.length } });
    return new Response(bytes as unknown as BodyInit, { headers: { "content-type": "application/pdf", "content-disposition": `attachment; filename="${name}"`, "cache-control": "no-store" } });
  };
  app.get("/reports", (c) => {
    if (ctx.energy) warmReportPool();
    return page(c);
  });
  app.get("/reports/report.pdf", download);
  app.get("/api/reports/report.pdf", download);
  app.get("/api/reports/schedules", (c) => c.json(scheduler()?.list() ?? []));

  const id = (c: Context) => {
    const n = Number(c.req.param("id"));
    return Number.isInteger(n) && n > 0 ? n : undefined;
  };
  app.post("/reports/schedules", async (c) => {
    const s = scheduler();
    if (!s) return page(c, { error: "scheduled reports need notifications and energy meters on this site" }, 400);
    const b = (await c.req.parseBody({ all: true })) as Record<string, unknown>;
    const input: ScheduleInput = {
      name: str(b.name).slice(0, 100),
      frequency: str(b.frequency) as Frequency,
      kind: str(b.kind) as ReportKind,
      format: str(b.format) as "pdf" | "csv",
      lang: (str(b.lang) || siteLang) as "fr" | "en",
      items: all(b, "item").slice(0, 200),
      channelId: Number(str(b.channel)),
      recipients: str(b.recipients).split(/[,;\s]+/).filter(Boolean),
      enabled: str(b.enabled) === "yes",
    };
    if (!FREQUENCIES.includes(input.frequency)) return page(c, { error: `frequency: ${FREQUENCIES.join(", ")}` }, 400);
    const errors = s.validate(input);
    if (errors.length) return page(c, { error: errors.join("; ") }, 400);
    const editId = str(b.id) ? Number(str(b.id)) : undefined;
    if (editId !== undefined && !s.get(editId)) return page(c, { error: "no such schedule" }, 400);
    s.save(editId, input, authOf(c).user!.name);
    return c.redirect("/reports?ok=1", 303);
  });
  app.post("/reports/schedules/:id/delete", (c) => {
    const n = id(c);
    if (!n || !scheduler()?.delete(n, authOf(c).user!.name)) return page(c, { error: "no such schedule" }, 400);
    return c.redirect("/reports?ok=1", 303);
  });
  app.post("/reports/schedules/:id/run", async (c) => {
    const n = id(c);
    const s = scheduler();
    if (!n || !s?.get(n)) return page(c, { error: "no such schedule" }, 400);
    try {
      await s.runNow(n, authOf(c).user!.name);
    } catch (e) {
      return page(c, { error: (e as Error).message }, 400);
    }
    return c.redirect("/reports?ok=1", 303);
  });
}
