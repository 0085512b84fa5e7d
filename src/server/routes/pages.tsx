import type { Hono } from "hono";
import { PointsPage } from "../../views/points-page.tsx";
import type { AppContext } from "../context.ts";

/** Server-rendered pages. */
export function registerPageRoutes(app: Hono, ctx: AppContext): void {
  const { live, site } = ctx;
  app.get("/", (c) => c.redirect("/points"));
  app.get("/points", (c) => {
    const now = Date.now();
    return c.html(<PointsPage siteName={site.site.name} values={live.registry.points.map((p) => live.value(p, now))} />);
  });
}
