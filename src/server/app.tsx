import { Hono } from "hono";
import type { AppContext } from "./context.ts";
import { registerApiRoutes } from "./routes/api.ts";
import { registerAssetRoutes } from "./routes/assets.ts";
import { registerLiveRoutes } from "./routes/live.ts";
import { registerPageRoutes } from "./routes/pages.tsx";

export type { AppContext } from "./context.ts";

/** HTTP routes, one module per area under routes/. */
export function createApp(ctx: AppContext): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    console.error(`${c.req.method} ${c.req.path}:`, err);
    return c.json({ error: "internal error" }, 500);
  });
  registerAssetRoutes(app);
  registerApiRoutes(app, ctx);
  registerLiveRoutes(app, ctx);
  registerPageRoutes(app, ctx);
  return app;
}
