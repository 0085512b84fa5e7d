import type { Hono } from "hono";
import { ExportPage } from "../../views/export-page.tsx";
import { pageRequest } from "../../views/page-context.ts";
import { ALARM_PRIORITIES } from "../../config/site.ts";
import { alarmsCsv, csvFormat, EXPORT_GROUPS, historyCsv, type ExportGroup } from "../../exports/csv.ts";
import { t } from "../../i18n/index.ts";
import { piecesStream } from "../../journal/csv.ts";
import { bytesStream, zipPieces } from "../../exports/zip.ts";
import { parseTimeFilter } from "../../journal/time.ts";
import type { AppContext } from "../context.ts";
import { authOf } from "../middleware/security.ts";
import { servicesOf } from "../middleware/services.ts";
import { journalText } from "../../journal/i18n.ts";

/**
 * CSV downloads (maintenance and admin, policy.ts): device history and alarm history, streamed.
 * Query: from, to (dates in the site's zone, date-times or ms), sep (; , tab), decimal (, .);
 * history also points=A.x,B.y (at most 50) and group=raw|1m|15m|1h|1d|1mo. Each download is journaled.
 */
const MAX_POINTS = 50;

export function registerExportRoutes(app: Hono, ctx: AppContext): void {
  const { journal, lang: siteLang } = servicesOf(ctx);
  const tz = ctx.site.site.timezone;

  const range = (q: (k: string) => string | undefined, defaultDays: number): { from: number; to: number } | string => {
    const now = Date.now();
    const from = q("from") ? parseTimeFilter(q("from"), tz) : now - defaultDays * 86_400_000;
    const to = q("to") ? parseTimeFilter(q("to"), tz, true) : now;
    if (from === undefined) return "from: not a date (YYYY-MM-DD), date-time or ms since 1970";
    if (to === undefined) return "to: not a date (YYYY-MM-DD), date-time or ms since 1970";
    if (to <= from) return "to must be after from";
    return { from, to };
  };
  const download = (body: Generator<string>, name: string) =>
    new Response(piecesStream(body), {
      headers: { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="${name}"`, "cache-control": "no-store" },
    });
  const log = (who: string, what: string, data: Record<string, unknown>) =>
    journal.append({ type: "export.csv", source: what, actor: who, ...journalText(siteLang, "journal.export.data", { user: who, what: { key: `export.what.${what}` } }), data });

  app.get("/export", (c) => {
    const stored = ctx.history ? ctx.live.registry.points.filter((p) => ctx.history!.historian.points[p.index]?.store) : [];
    const day = (ts: number) => new Intl.DateTimeFormat("en-CA", { timeZone: tz }).format(ts);
    return c.html(
      <ExportPage
        req={pageRequest(c, ctx.site.site.language)}
        siteName={ctx.site.site.name}
        points={stored.map((p) => ({ id: p.id, label: ctx.site.site.language === "fr" ? p.labelFr : p.label, unit: ctx.history!.historian.points[p.index]!.unit }))}
        devices={ctx.site.devices.map((d) => d.id)}
        today={day(Date.now())}
        monthAgo={day(Date.now() - 30 * 86_400_000)}
      />,
    );
  });

  /** The history export a request asks for, or the reason it cannot be made. */
  const historyRequest = (c: { req: { query(k: string): string | undefined; queries(k: string): string[] | undefined } }) => {
    const h = ctx.history;
    if (!h) return { status: 404 as const, error: "history is turned off on this site" };
    const format = csvFormat({ sep: c.req.query("sep"), decimal: c.req.query("decimal") }, tz);
    if (typeof format === "string") return { status: 400 as const, error: format };
    const r = range((k) => c.req.query(k), 1);
    if (typeof r === "string") return { status: 400 as const, error: r };
    const group = (c.req.query("group") ?? "raw") as ExportGroup;
    if (!EXPORT_GROUPS.includes(group)) return { status: 400 as const, error: `group: ${EXPORT_GROUPS.join(", ")}` };
    // points=A,B or points=A&points=B (the page's multiple select).
    const ids = (c.req.queries("points") ?? []).join(",").split(",").map((s) => s.trim()).filter(Boolean);
    if (!ids.length || ids.length > MAX_POINTS) return { status: 400 as const, error: `points: 1 to ${MAX_POINTS} point ids, comma-separated` };
    const indexes: number[] = [];
    for (const id of ids) {
      const p = ctx.live.registry.byId.get(id);
      const hp = p && h.historian.points[p.index];
      if (!p || !hp || !hp.store) return { status: 400 as const, error: `points: ${id} is not a point with history` };
      indexes.push(p.index);
    }
    return { h, format, r, group, ids, indexes };
  };

  app.get("/export/bundle.zip", (c) => {
    const x = historyRequest(c);
    if ("error" in x) return c.json({ error: x.error }, x.status);
    const who = authOf(c).user!.name;
    log(who, "history", { points: x.ids, from: x.r.from, to: x.r.to, group: x.group, sep: x.format.sep, decimal: x.format.decimal, zip: true });
    log(who, "alarms", { from: x.r.from, to: x.r.to, sep: x.format.sep, decimal: x.format.decimal, zip: true });
    const stamp = new Date(x.r.from).toISOString().slice(0, 10);
    const zip = zipPieces([
      { name: `history-${x.group}-${stamp}.csv`, pieces: historyCsv({ historian: x.h.historian, indexes: x.indexes, from: x.r.from, to: x.r.to, group: x.group, format: x.format }) },
      { name: `alarms-${stamp}.csv`, pieces: alarmsCsv({ sqlite: ctx.db.sqlite, from: x.r.from, to: x.r.to, format: x.format }) },
    ]);
    return new Response(bytesStream(zip), {
      headers: { "content-type": "application/zip", "content-disposition": `attachment; filename="busbar-export-${stamp}.zip"`, "cache-control": "no-store" },
    });
  });

  app.get("/export/history.csv", (c) => {
    const x = historyRequest(c);
    if ("error" in x) return c.json({ error: x.error }, x.status);
    log(authOf(c).user!.name, "history", { points: x.ids, from: x.r.from, to: x.r.to, group: x.group, sep: x.format.sep, decimal: x.format.decimal });
    const stamp = new Date(x.r.from).toISOString().slice(0, 10);
    return download(historyCsv({ historian: x.h.historian, indexes: x.indexes, from: x.r.from, to: x.r.to, group: x.group, format: x.format }), `busbar-history-${x.group}-${stamp}.csv`);
  });

  app.get("/export/alarms.csv", (c) => {
    const format = csvFormat({ sep: c.req.query("sep"), decimal: c.req.query("decimal") }, tz);
    if (typeof format === "string") return c.json({ error: format }, 400);
    const r = range((k) => c.req.query(k), 31);
    if (typeof r === "string") return c.json({ error: r }, 400);
    const priority = c.req.query("priority") || undefined;
    if (priority && !(ALARM_PRIORITIES as readonly string[]).includes(priority)) return c.json({ error: `priority: ${ALARM_PRIORITIES.join(", ")}` }, 400);
    const device = c.req.query("device") || undefined;
    log(authOf(c).user!.name, "alarms", { from: r.from, to: r.to, device, priority, sep: format.sep, decimal: format.decimal });
    const stamp = new Date(r.from).toISOString().slice(0, 10);
    return download(alarmsCsv({ sqlite: ctx.db.sqlite, from: r.from, to: r.to, device, priority, format }), `busbar-alarms-${stamp}.csv`);
  });
}
