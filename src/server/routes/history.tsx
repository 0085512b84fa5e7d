import type { Context, Hono } from "hono";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { RESTORE_BODY_LIMIT } from "../../auth/policy.ts";
import { RestoreRefused } from "../../historian/backup.ts";
import { DEFAULT_MAX } from "../../historian/query.ts";
import { SystemPage } from "../../views/system-page.tsx";
import { pageRequest } from "../../views/page-context.ts";
import type { AppContext } from "../context.ts";
import { authOf } from "../middleware/security.ts";

/**
 * History API, the system page (database size per tier), backup download and restore upload.
 *
 *   GET /api/history?points=A.x,B.y&from=&to=&max=   several pens over one range, one tier for all
 *   GET /api/points/:id/history?from=&to=&max=        one point (routes/api.ts delegates here)
 */

/** The restore upload is a whole database: its own limit (policy.ts), far above the pages' form limits. */
export const RESTORE_MAX_BYTES = RESTORE_BODY_LIMIT;

const HOUR = 3_600_000;

export function parseRange(c: Context): { from: number; to: number; max: number } | string {
  const num = (s: string | undefined, fallback: number) => (s === undefined || s === "" ? fallback : Number(s));
  const now = Date.now();
  const to = num(c.req.query("to"), now);
  const from = num(c.req.query("from"), to - HOUR);
  const max = num(c.req.query("max"), DEFAULT_MAX);
  if (!Number.isFinite(from) || !Number.isFinite(to)) return "from and to must be times in ms since 1970";
  if (to <= from) return "to must be after from";
  if (!Number.isInteger(max) || max < 10 || max > 100_000) return "max must be a whole number 10..100000";
  return { from, to, max };
}

export function registerHistoryRoutes(app: Hono, ctx: AppContext): void {
  const registry = ctx.live.registry;

  app.get("/api/history", (c) => {
    const h = ctx.history;
    if (!h) return c.json({ error: "history is off on this site" }, 404);
    const ids = (c.req.query("points") ?? "").split(",").filter(Boolean);
    if (!ids.length || ids.length > 16) return c.json({ error: "points: 1 to 16 point ids, comma-separated" }, 400);
    for (const id of ids) if (!registry.byId.has(id)) return c.json({ error: `no point ${id}` }, 404);
    const r = parseRange(c);
    if (typeof r === "string") return c.json({ error: r }, 400);
    const series = h.query(ids, r.from, r.to, r.max);
    return c.json({ from: r.from, to: r.to, tier: series[0]!.tier, intervalMs: series[0]!.intervalMs, series });
  });

  app.get("/admin/system", (c) => {
    const h = ctx.history;
    const folder = ctx.site.backup?.folder;
    const files = folder && existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith(".busbar.tar")).sort().reverse() : [];
    return c.html(
      <SystemPage
        req={pageRequest(c, ctx.site.site.language)}
        siteName={ctx.site.site.name}
        csrf={authOf(c).csrf}
        sizes={h?.sizes()}
        stats={h?.historian.stats}
        queue={h?.historian.queueLength ?? 0}
        retention={ctx.site.historian.retention}
        schedule={ctx.site.backup}
        files={files.map((f) => ({ name: f, bytes: statSync(join(folder!, f)).size }))}
        restored={c.req.query("restored") === "1"}
      />,
    );
  });

  app.get("/admin/system/backup", async (c) => {
    const h = ctx.history;
    if (!h) return c.json({ error: "history is off on this site" }, 404);
    const { file } = await h.backup(authOf(c).user?.name ?? "");
    const body = Bun.file(file);
    const size = body.size;
    const stream = body.stream();
    // The temporary file goes once the download has been read.
    const reader = stream.getReader();
    const out = new ReadableStream({
      async pull(ctl) {
        const { value, done } = await reader.read();
        if (done) {
          ctl.close();
          rmSync(file, { force: true });
        } else ctl.enqueue(value);
      },
      cancel() {
        void reader.cancel();
        rmSync(file, { force: true });
      },
    });
    return new Response(out, {
      headers: {
        "content-type": "application/x-tar",
        "content-length": String(size),
        "content-disposition": `attachment; filename="${file.split("/").pop()}"`,
      },
    });
  });

  app.post("/admin/system/restore", async (c) => {
    const h = ctx.history;
    if (!h) return c.json({ error: "history is off on this site" }, 404);
    const declared = Number(c.req.header("content-length") ?? NaN);
    if (declared > RESTORE_MAX_BYTES) return c.json({ error: `a backup is at most ${RESTORE_MAX_BYTES} bytes` }, 413);
    const body = c.req.raw.body;
    if (!body) return c.json({ error: "send the backup file as the request body" }, 400);
    const base = ctx.db.sqlite.filename;
    const dir = base && base !== ":memory:" ? join(dirname(base), "restore-upload") : join(tmpdir(), `busbar-restore-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `upload-${Date.now()}.tar`);
    const sink = Bun.file(tmp).writer();
    let total = 0;
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        total += chunk.length;
        if (total > RESTORE_MAX_BYTES) {
          await sink.end();
          rmSync(tmp, { force: true });
          return c.json({ error: `a backup is at most ${RESTORE_MAX_BYTES} bytes` }, 413);
        }
        sink.write(chunk);
      }
      await sink.end();
      const staged = await h.restore(authOf(c).user?.name ?? "", tmp);
      return c.json({ ok: true, manifest: staged.manifest, migrated: staged.migrated, journalRows: staged.journalRows, restarting: true });
    } catch (e) {
      if (e instanceof RestoreRefused) return c.json({ error: e.message, refused: true }, 422);
      throw e;
    } finally {
      rmSync(tmp, { force: true });
    }
  });
}
