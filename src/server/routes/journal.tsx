import type { Context, Hono } from "hono";
import { atLeast } from "../../auth/roles.ts";
import { t } from "../../i18n/index.ts";
import { csvPieces, piecesStream } from "../../journal/csv.ts";
import { csvFormat } from "../../exports/format.ts";
import { jobsFor, tracked } from "../../exports/progress.ts";
import type { JournalFilter } from "../../journal/journal.ts";
import { parseTimeFilter } from "../../journal/time.ts";
import { JournalPage } from "../../views/alarms/journal-page.tsx";
import { fmtDate } from "../../views/alarms/ui.tsx";
import { pageRequest } from "../../views/page-context.ts";
import type { AppContext } from "../context.ts";
import { authOf } from "../middleware/security.ts";
import { servicesOf } from "../middleware/services.ts";
import { journalText } from "../../journal/i18n.ts";

/**
 * The journal page (signed-in users) and its CSV download (admin): UTF-8 with BOM, ISO 8601 times
 * with the site's offset, filters by date range, type, device and user; streamed chunk by chunk.
 */
export function registerJournalRoutes(app: Hono, ctx: AppContext): void {
  const { journal, lang: siteLang } = servicesOf(ctx);
  const { site } = ctx;
  const tz = site.site.timezone;

  const filterOf = (c: Context): { filter: JournalFilter; raw: Record<string, string | undefined>; bad?: string } => {
    const raw = { from: c.req.query("from"), to: c.req.query("to"), type: c.req.query("type"), device: c.req.query("device"), user: c.req.query("user") };
    const from = parseTimeFilter(raw.from, tz);
    const to = parseTimeFilter(raw.to, tz, true);
    const bad = Number.isNaN(from) ? "from" : Number.isNaN(to) ? "to" : undefined;
    return {
      filter: {
        from: Number.isNaN(from) ? undefined : from,
        to: Number.isNaN(to) ? undefined : to,
        type: raw.type || undefined,
        device: raw.device || undefined,
        actor: raw.user || undefined,
      },
      raw,
      bad,
    };
  };

  app.get("/journal", (c) => {
    const { filter, raw } = filterOf(c);
    const before = Number(c.req.query("before"));
    const pageSize = 200;
    const rows = journal.list(filter, pageSize, Number.isFinite(before) && before > 0 ? before : undefined);
    let olderUrl: string | null = null;
    if (rows.length === pageSize) {
      const u = new URLSearchParams();
      for (const [k, v] of Object.entries(raw)) if (v) u.set(k, v);
      u.set("before", String(rows[rows.length - 1]!.id));
      olderUrl = `/journal?${u}`;
    }
    return c.html(
      <JournalPage
        req={pageRequest(c, site.site.language)}
        siteName={site.site.name}
        tz={tz}
        rows={rows}
        filter={{ from: raw.from, to: raw.to, type: raw.type, device: raw.device, user: raw.user }}
        types={journal.types()}
        devices={site.devices.map((d) => d.id)}
        canExport={atLeast(authOf(c).user?.role, "admin")}
        olderUrl={olderUrl}
      />,
    );
  });

  app.get("/journal/export.csv", (c) => {
    const { filter, bad } = filterOf(c);
    if (bad) return c.json({ error: `${bad}: not a date (YYYY-MM-DD), date-time or ms since 1970` }, 400);
    // The shared CSV format: as asked, else the reader's language's (fr: ; en: ,); a bad one is a 400.
    const lang = pageRequest(c, site.site.language).lang;
    const format = csvFormat({ sep: c.req.query("sep"), decimal: c.req.query("decimal") }, tz, lang);
    if (typeof format === "string") return c.json({ error: format }, 400);
    const sep = format.sep;
    const who = authOf(c).user!.name;
    const described = Object.entries(filter)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === "number" ? new Date(v).toISOString() : v}`)
      .join(", ");
    journal.append({
      type: "journal.export",
      source: "journal",
      actor: who,
      ...journalText(siteLang, "journal.export.csv", { user: who, filter: described || "*" }),
      data: { ...filter, sep },
    });
    // Named by the site's local date (an export at 20:00 in Montréal is still today's).
    const stamp = fmtDate(Date.now(), tz);
    const job = jobsFor(ctx).start(c.req.query("job"), who, "journal");
    // The journal is read by id, not by time: its share is unknown (the page shows lines and MB).
    if (job) job.done = null;
    return new Response(piecesStream(tracked(jobsFor(ctx), job, csvPieces(journal, filter, { timeZone: tz, sep, lang }))), {
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="busbar-journal-${stamp}.csv"`,
        "cache-control": "no-store",
      },
    });
  });
}
