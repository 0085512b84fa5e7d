import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { ASSETS } from "../generated/embedded.ts";
import { describeRead } from "../protocols/modbus/planner.ts";
import type { LiveView, PointValue } from "../points/live.ts";
import type { PointInfo } from "../points/registry.ts";
import type { Supervisor } from "../workers/supervisor.ts";
import type { Site } from "../config/site.ts";
import { PointsPage } from "../views/points-page.tsx";

export interface AppContext {
  site: Site;
  live: LiveView;
  supervisor: Supervisor;
}

const HEARTBEAT_MS = 15_000;

/** HTTP routes. Pages are server-rendered; live values come over one SSE stream per page. */
export function createApp(ctx: AppContext): Hono {
  const { live, site, supervisor } = ctx;
  const registry = live.registry;
  const app = new Hono();

  app.onError((err, c) => {
    console.error(`${c.req.method} ${c.req.path}:`, err);
    return c.json({ error: "internal error" }, 500);
  });

  app.get("/", (c) => c.redirect("/points"));

  app.get("/points", (c) => {
    const now = Date.now();
    return c.html(<PointsPage siteName={site.site.name} values={registry.points.map((p) => live.value(p, now))} />);
  });

  app.get("/api/points", (c) => {
    const now = Date.now();
    const device = c.req.query("device");
    const list = device ? (registry.byDevice.get(device) ?? []) : registry.points;
    return c.json(list.map((p) => live.value(p, now)));
  });

  app.get("/api/points/:id", (c) => {
    const p = registry.byId.get(c.req.param("id"));
    if (!p) return c.json({ error: `no point ${c.req.param("id")}` }, 404);
    return c.json(live.value(p));
  });

  app.get("/api/points/:id/history", (c) => {
    const p = registry.byId.get(c.req.param("id"));
    if (!p) return c.json({ error: `no point ${c.req.param("id")}` }, 404);
    const num = (s: string | undefined, d: number) => {
      if (s === undefined || s === "") return d;
      const n = Number(s);
      return Number.isFinite(n) ? n : NaN;
    };
    const from = num(c.req.query("from"), -Infinity);
    const to = num(c.req.query("to"), Infinity);
    if (Number.isNaN(from) || Number.isNaN(to)) return c.json({ error: "from and to must be times in ms since 1970" }, 400);
    const h = live.table.history(p.index, from, to);
    return c.json({ id: p.id, unit: p.tag.unit, source: "live-ring", slotMs: live.table.historySlotMs, t: h.t, v: h.v.map((x) => (Number.isNaN(x) ? null : x)) });
  });

  app.get("/api/buses", (c) => c.json(supervisor.stats()));

  app.get("/api/plan", (c) => {
    const out: Record<string, { fc: number; start: number; count: number; slow: boolean; tags: string[]; text: string }[]> = {};
    for (const [device, reads] of supervisor.plans)
      out[device] = reads.map((r) => ({ fc: r.fc, start: r.start, count: r.count, slow: r.slow, tags: r.items.map((i) => i.tag.id), text: describeRead(r) }));
    return c.json(out);
  });

  /**
   * Live values: `?points=A.x,B.y` (default: all). The first message is a snapshot; after that each
   * message carries only the subscribed points that changed.
   */
  app.get("/api/stream", (c) => {
    const wanted = c.req.query("points");
    let selected: PointInfo[] = registry.points;
    if (wanted) {
      selected = [];
      for (const id of wanted.split(",")) {
        const p = registry.byId.get(id);
        if (!p) return c.json({ error: `no point ${id}` }, 404);
        selected.push(p);
      }
    }
    const mask = new Uint8Array(registry.points.length);
    for (const p of selected) mask[p.index] = 1;
    return streamSSE(c, async (stream) => {
      let closed = false;
      const send = (values: PointValue[]) => {
        if (!closed && values.length) void stream.writeSSE({ event: "values", data: JSON.stringify(values) });
      };
      const now = Date.now();
      send(selected.map((p) => live.value(p, now)));
      const unsubscribe = live.subscribe((indexes) => {
        const t = Date.now();
        const out: PointValue[] = [];
        for (const i of indexes) if (mask[i]) out.push(live.value(registry.points[i]!, t));
        send(out);
      });
      const heartbeat = setInterval(() => void stream.writeSSE({ event: "ping", data: String(Date.now()) }), HEARTBEAT_MS);
      await new Promise<void>((resolve) => stream.onAbort(() => resolve()));
      closed = true;
      clearInterval(heartbeat);
      unsubscribe();
    });
  });

  app.get("/assets/:file", (c) => {
    const a = ASSETS[c.req.param("file")];
    if (!a) return c.text("not found", 404);
    return c.body(a.body, 200, { "content-type": `${a.type}; charset=utf-8`, "cache-control": "public, max-age=3600" });
  });

  app.get("/healthz", (c) => c.json({ ok: true }));

  return app;
}
