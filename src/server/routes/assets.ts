import type { Hono } from "hono";
import { ASSETS } from "../../embedded.ts";

/** Browser assets embedded in the binary (public/ and the pinned htmx and uPlot builds). */
export function registerAssetRoutes(app: Hono): void {
  app.get("/assets/:file", (c) => {
    const a = ASSETS[c.req.param("file")];
    if (!a) return c.text("not found", 404);
    return c.body(a.body, 200, { "content-type": `${a.type}; charset=utf-8`, "cache-control": "no-cache" });
  });
}
