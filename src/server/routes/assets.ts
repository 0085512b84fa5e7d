import type { Hono } from "hono";
import { ASSETS } from "../../generated/embedded.ts";

/** Browser assets embedded in the binary (public/ and the pinned htmx and uPlot builds). */
export function registerAssetRoutes(app: Hono): void {
  app.get("/assets/:file", (c) => {
    // Own keys only: "constructor" or "__proto__" are not files.
    const name = c.req.param("file");
    const a = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!a) return c.text("not found", 404);
    return c.body(a.body, 200, { "content-type": `${a.type}; charset=utf-8`, "cache-control": "no-cache" });
  });
}
