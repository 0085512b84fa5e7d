import type { Context, Hono } from "hono";
import { atLeast } from "../../auth/roles.ts";
import { ExportPage } from "../../views/export-page.tsx";
import { pageRequest } from "../../views/page-context.ts";
import { ALARM_PRIORITIES } from "../../config/site.ts";
import { alarmsCsv, EXPORT_GROUPS, historyCsv, type ExportGroup } from "../../exports/csv.ts";
import { ENERGY_BUCKETS, ENERGY_BY, energyCsv, energyGroups, type EnergyBucket, type EnergyBy } from "../../exports/energy.ts";
import { csvFormat, type CsvFormat } from "../../exports/format.ts";
import { jobsFor, tracked, type ExportJob } from "../../exports/progress.ts";
import { t } from "../../i18n/index.ts";
import { csvPieces, piecesStream } from "../../journal/csv.ts";
import { bytesStream, zipPieces } from "../../exports/zip.ts";
import { parseTimeFilter } from "../../journal/time.ts";
import { fmtDate } from "../../views/alarms/ui.tsx";
import type { AppContext } from "../context.ts";
import { authOf } from "../middleware/security.ts";
import { servicesOf } from "../middleware/services.ts";
import { journalText } from "../../journal/i18n.ts";

/**
 * CSV downloads (maintenance and admin, policy.ts), streamed: device history, energy and cost,
 * alarm history, and several of them (and the journal, for an admin) in one zip.
 * Query: from, to (dates in the site's zone, date-times or ms), sep (; , tab), decimal (, .) —
 * default the reader's language's (fr: ; and ,; en: , and .); job (an id the page polls
 * /export/progress?job= with). History: points=A.x,B.y (1–50), group=raw|1m|15m|1h|1d|1mo. Energy:
 * by=meter|circuit|zone|total, bucket=15m|hour|day|month. Alarms: device, priority. Zip:
 * files=history,energy,alarms,journal. A bad field is a 400 naming it. Each download is journaled.
 */
const MAX_POINTS = 50;
const FILES = ["history", "energy", "alarms", "journal"] as const;
type FileKind = (typeof FILES)[number];
type Built = { name: string; pieces: (progress: (d: number) => void) => Generator<string>; log: Record<string, unknown> };

export function registerExportRoutes(app: Hono, ctx: AppContext): void {
  const { journal, lang: siteLang } = servicesOf(ctx);
  const tz = ctx.site.site.timezone;
  const jobs = jobsFor(ctx);
  const q = (c: Context) => (k: string) => c.req.query(k) || undefined;

  const range = (get: (k: string) => string | undefined, defaultDays: number): { from: number; to: number } | string => {
    const now = Date.now();
    const from = get("from") ? parseTimeFilter(get("from"), tz) : now - defaultDays * 86_400_000;
    const to = get("to") ? parseTimeFilter(get("to"), tz, true) : now;
    if (from === undefined || Number.isNaN(from)) return "from: not a date (YYYY-MM-DD), date-time or ms since 1970";
    if (to === undefined || Number.isNaN(to)) return "to: not a date (YYYY-MM-DD), date-time or ms since 1970";
    if (to <= from) return "to must be after from";
    return { from, to };
  };
  const formatOf = (c: Context): CsvFormat | string => csvFormat({ sep: c.req.query("sep"), decimal: c.req.query("decimal") }, tz, pageRequest(c, ctx.site.site.language).lang);
  const headers = (type: string, name: string) => ({ "content-type": type, "content-disposition": `attachment; filename="${name}"`, "cache-control": "no-store" });
  const log = (who: string, what: string, data: Record<string, unknown>) =>
    journal.append({ type: "export.csv", source: what, actor: who, ...journalText(siteLang, "journal.export.data", { user: who, what: { key: `export.what.${what}` } }), data });
  /** Named by the site's local date (an export at 20:00 in Montréal is still that day's). */
  const stamp = (ts: number) => fmtDate(ts, tz);

  app.get("/export", (c) => {
    const stored = ctx.history ? ctx.live.registry.points.filter((p) => ctx.history!.historian.points[p.index]?.store) : [];
    const req = pageRequest(c, ctx.site.site.language);
    return c.html(
      <ExportPage
        req={req}
        siteName={ctx.site.site.name}
        points={stored.map((p) => ({ id: p.id, label: req.lang === "fr" ? p.labelFr : p.label, unit: ctx.history!.historian.points[p.index]!.unit }))}
        devices={ctx.site.devices.map((d) => d.id)}
        today={stamp(Date.now())}
        monthAgo={stamp(Date.now() - 30 * 86_400_000)}
        energy={!!ctx.energy}
        canJournal={atLeast(authOf(c).user?.role, "admin")}
      />,
    );
  });

  /** Each file a request asks for, or the reason it cannot be made (status and message). */
  const history = (c: Context, f: CsvFormat, r: { from: number; to: number }): Built | { status: 400 | 404; error: string } => {
    const h = ctx.history;
    if (!h) return { status: 404, error: "history is turned off on this site" };
    const group = (c.req.query("group") || "raw") as ExportGroup;
    if (!EXPORT_GROUPS.includes(group)) return { status: 400, error: `group: ${EXPORT_GROUPS.join(", ")}` };
    // points=A,B or points=A&points=B (the page's multiple select).
    const ids = (c.req.queries("points") ?? []).join(",").split(",").map((s) => s.trim()).filter(Boolean);
    if (!ids.length || ids.length > MAX_POINTS) return { status: 400, error: `points: 1 to ${MAX_POINTS} point ids, comma-separated` };
    const indexes: number[] = [];
    for (const id of ids) {
      const p = ctx.live.registry.byId.get(id);
      const hp = p && h.historian.points[p.index];
      if (!p || !hp || !hp.store) return { status: 400, error: `points: ${id.slice(0, 80)} is not a point with history` };
      indexes.push(p.index);
    }
    return {
      name: `busbar-history-${group}-${stamp(r.from)}.csv`,
      pieces: (progress) => historyCsv({ historian: h.historian, indexes, from: r.from, to: r.to, group, format: f, progress }),
      log: { points: ids, group },
    };
  };
  const energy = (c: Context, f: CsvFormat, r: { from: number; to: number }): Built | { status: 400 | 404; error: string } => {
    const e = ctx.energy;
    if (!e) return { status: 404, error: "no energy meters configured" };
    const by = (c.req.query("by") || "circuit") as EnergyBy;
    if (!ENERGY_BY.includes(by)) return { status: 400, error: `by: ${ENERGY_BY.join(", ")}` };
    const bucket = (c.req.query("bucket") || "day") as EnergyBucket;
    if (!ENERGY_BUCKETS.includes(bucket)) return { status: 400, error: `bucket: ${ENERGY_BUCKETS.join(", ")}` };
    const lang = pageRequest(c, ctx.site.site.language).lang;
    // A file of timestamps only says nothing: no zone (or circuit) with meters is a refusal.
    if (!energyGroups({ config: ctx.site.energy, meters: e.service.meters, by, lang }).length) return { status: 400, error: `by: this site has no ${by} with meters` };
    return {
      name: `busbar-energy-${by}-${bucket}-${stamp(r.from)}.csv`,
      pieces: (progress) => energyCsv({ store: e.store, config: ctx.site.energy, meters: e.service.meters, by, bucket, from: r.from, to: r.to, format: f, lang, progress }),
      log: { by, bucket },
    };
  };
  const alarms = (c: Context, f: CsvFormat, r: { from: number; to: number }): Built | { status: 400; error: string } => {
    const priority = c.req.query("priority") || undefined;
    if (priority && !(ALARM_PRIORITIES as readonly string[]).includes(priority)) return { status: 400, error: `priority: ${ALARM_PRIORITIES.join(", ")}` };
    const device = c.req.query("device") || undefined;
    return {
      name: `busbar-alarms-${stamp(r.from)}.csv`,
      pieces: (progress) => alarmsCsv({ sqlite: ctx.db.sqlite, from: r.from, to: r.to, device, priority, format: f, progress }),
      log: { device, priority },
    };
  };
  const journalFile = (c: Context, f: CsvFormat, r: { from: number; to: number }): Built | { status: 403; error: string } => {
    if (!atLeast(authOf(c).user?.role, "admin")) return { status: 403, error: "the journal is for an admin" };
    const device = c.req.query("device") || undefined;
    const lang = pageRequest(c, ctx.site.site.language).lang;
    return { name: `busbar-journal-${stamp(r.from)}.csv`, pieces: () => csvPieces(journal, { from: r.from, to: r.to, device }, { timeZone: tz, sep: f.sep, lang }), log: { device } };
  };
  const builders: Record<FileKind, (c: Context, f: CsvFormat, r: { from: number; to: number }) => Built | { status: 400 | 403 | 404; error: string }> = { history, energy, alarms, journal: journalFile };

  /** One CSV file, streamed; its job (if the page gave one) follows it. */
  const single = (kind: Exclude<FileKind, "journal">, defaultDays: number) => (c: Context) => {
    const f = formatOf(c);
    if (typeof f === "string") return c.json({ error: f }, 400);
    const r = range(q(c), defaultDays);
    if (typeof r === "string") return c.json({ error: r }, 400);
    const b = builders[kind](c, f, r);
    if ("error" in b) return c.json({ error: b.error }, b.status);
    const who = authOf(c).user!.name;
    log(who, kind, { from: r.from, to: r.to, sep: f.sep, decimal: f.decimal, ...b.log });
    const job = jobs.start(c.req.query("job"), who, kind);
    const pieces = b.pieces((d) => job && (job.done = d));
    return new Response(piecesStream(tracked(jobs, job, pieces)), { headers: headers("text/csv; charset=utf-8", b.name) });
  };
  app.get("/export/history.csv", single("history", 1));
  app.get("/export/energy.csv", single("energy", 31));
  app.get("/export/alarms.csv", single("alarms", 31));

  // Several files of the same range and format in one zip (files=…; default history and alarms).
  app.get("/export/bundle.zip", (c) => {
    const f = formatOf(c);
    if (typeof f === "string") return c.json({ error: f }, 400);
    const r = range(q(c), 1);
    if (typeof r === "string") return c.json({ error: r }, 400);
    const asked = (c.req.queries("files") ?? ["history,alarms"]).join(",").split(",").map((s) => s.trim()).filter(Boolean);
    const kinds = [...new Set(asked)] as FileKind[];
    if (!kinds.length || kinds.some((k) => !FILES.includes(k))) return c.json({ error: `files: one or more of ${FILES.join(", ")}` }, 400);
    const built: (Built & { kind: FileKind })[] = [];
    for (const k of kinds) {
      const b = builders[k](c, f, r);
      if ("error" in b) return c.json({ error: `${k}: ${b.error}` }, b.status);
      built.push({ ...b, kind: k });
    }
    const who = authOf(c).user!.name;
    for (const b of built) log(who, b.kind, { from: r.from, to: r.to, sep: f.sep, decimal: f.decimal, ...b.log, zip: true });
    const job = jobs.start(c.req.query("job"), who, "zip");
    // The job's share: files done plus the current file's share, each file weighing the same.
    const share = (k: number) => (d: number) => job && (job.done = (k + d) / built.length);
    const zip = zipPieces(built.map((b, k) => ({ name: b.name.replace(/^busbar-/, ""), pieces: tracked(jobs, job, b.pieces(share(k)), false) })));
    return new Response(bytesStream(tracked(jobs, job, zip)), { headers: headers("application/zip", `busbar-export-${stamp(r.from)}.zip`) });
  });

  // The page's progress bar: share done (null: unknown), rows and bytes so far, the state.
  app.get("/export/progress", (c) => {
    const id = c.req.query("job") ?? "";
    const job: ExportJob | undefined = jobs.get(id, authOf(c).user!.name);
    if (!job) return c.json({ error: "job: no such export in progress for you" }, 404);
    const { user: _user, ...shown } = job;
    return c.json(shown, 200, { "cache-control": "no-store" });
  });
}

