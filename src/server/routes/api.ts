import type { Hono } from "hono";
import { describeRead } from "../../protocols/modbus/planner.ts";
import type { LearnedPlanView } from "../../protocols/modbus/learned-plan.ts";
import type { AppContext } from "../context.ts";
import { parseRange } from "./history.tsx";

/** JSON API: points, their live history, buses' statistics and request plans. */
export function registerApiRoutes(app: Hono, ctx: AppContext): void {
  const { live, supervisor, modbus } = ctx;
  const registry = live.registry;

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

  /**
   * History between `from` and `to` (ms since 1970), at most `max` points: from the historian (its
   * finest tier that fits, says which), or the live ring alone when the site turns history off.
   */
  app.get("/api/points/:id/history", (c) => {
    const p = registry.byId.get(c.req.param("id"));
    if (!p) return c.json({ error: `no point ${c.req.param("id")}` }, 404);
    if (ctx.history) {
      const r = parseRange(c);
      if (typeof r === "string") return c.json({ error: r }, 400);
      return c.json(ctx.history.query([p.id], r.from, r.to, r.max)[0]);
    }
    const num = (s: string | undefined, fallback: number) => (s === undefined || s === "" ? fallback : Number(s));
    const from = num(c.req.query("from"), -Infinity);
    const to = num(c.req.query("to"), Infinity);
    if (Number.isNaN(from) || Number.isNaN(to)) return c.json({ error: "from and to must be times in ms since 1970" }, 400);
    const h = live.table.history(p.index, from, to);
    return c.json({
      id: p.id,
      unit: p.unit,
      tier: "live-ring",
      intervalMs: live.table.historySlotMs,
      t: h.t,
      v: h.v.map((x) => (Number.isNaN(x) ? null : x)),
    });
  });

  app.get("/api/buses", (c) => c.json(supervisor.stats()));

  /**
   * Per device: the plan in force (`reads`: learned from the device's refusals when `learned`, each
   * read "ok" or "refused" with its re-probe time), the registers it refuses, and the configured plan.
   */
  app.get("/api/plan", (c) => {
    const out: Record<string, LearnedPlanView & { configured: { fc: number; start: number; count: number; slow: boolean; tags: string[]; text: string }[] }> = {};
    for (const [device, reads] of modbus.plans)
      out[device] = {
        ...modbus.plan(device)!,
        configured: reads.map((r) => ({ fc: r.fc, start: r.start, count: r.count, slow: r.slow, tags: r.items.map((i) => i.tag.id), text: describeRead(r) })),
      };
    return c.json(out);
  });

  app.get("/healthz", (c) => c.json({ ok: true }));
}
