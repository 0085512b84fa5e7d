import type { Hono } from "hono";
import { ASSETS } from "../../embedded.ts";

/** Browser assets embedded in the binary (public/ and the pinned htmx and uPlot builds). */
export function registerAssetRoutes(app: Hono): void {
  app.get("/assets/:file", (c) => {
    let name: string;
    try {
      name = decodeURIComponent(c.req.path.slice("/assets/".length));
    } catch {
      return c.text("malformed URL encoding in the asset name (not valid UTF-8 percent-encoding)", 400);
    }
    // Own keys only: "constructor" or "__proto__" are not files.
    const a = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!a) return c.text("not found", 404);
    return c.body(a.body, 200, { "content-type": `${a.type}; charset=utf-8`, "cache-control": "no-cache" });
  });
}
