import type { Hono } from "hono";
import { pageRequest } from "../../views/page-context.ts";
import { TrendsPage } from "../../views/trends-page.tsx";
import type { AppContext } from "../context.ts";

/** The trends page. Data comes from GET /api/points/:id/history (routes/api.ts) and the live stream. */
export function registerTrendsRoutes(app: Hono, ctx: AppContext): void {
  const { live, site } = ctx;
  app.get("/trends", (c) => {
    const selected = (c.req.query("p") ?? "")
      .split(",")
      .filter((id) => id && live.registry.byId.has(id))
      .slice(0, 8);
    const windowMinutes = Math.max(1, Math.round((live.table.historySlots * live.table.historySlotMs) / 60_000));
    return c.html(<TrendsPage site={site} registry={live.registry} selected={selected} windowMinutes={windowMinutes} {...pageRequest(c, site.site.language)} />);
  });
}
