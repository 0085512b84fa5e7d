import { registerMicrogridRoutes } from "./routes/microgrid.tsx";
import { Hono } from "hono";
import type { AppContext } from "./context.ts";
import { registerApiRoutes } from "./routes/api.ts";
import { registerAssetRoutes } from "./routes/assets.ts";
import { registerLiveRoutes } from "./routes/live.ts";
import { registerPageRoutes } from "./routes/pages.tsx";
import { registerHmiRoutes } from "./routes/hmi.tsx";
import { registerTrendsRoutes } from "./routes/trends.tsx";
import { registerCommRoutes } from "./routes/comm.tsx";
import { installSecurity } from "./middleware/security.ts";
import { registerAuthRoutes } from "./routes/auth.tsx";
import { registerAlarmRoutes } from "./routes/alarms.tsx";
import { registerJournalRoutes } from "./routes/journal.tsx";
import { registerOperateRoutes } from "./routes/operate.tsx";
import { registerAdminRoutes } from "./routes/admin.tsx";
import { registerBacnetRoutes } from "./routes/bacnet.tsx";
import { registerUserRoutes } from "./routes/users.tsx";
import { registerScanRoutes } from "./routes/scan.ts";
import { registerSimRoutes } from "./routes/sim.tsx";
import { registerHistoryRoutes } from "./routes/history.tsx";
import { registerEnergyRoutes } from "./routes/energy.tsx";
import { registerNotifyRoutes } from "./routes/notify.tsx";
import { registerReportRoutes } from "./routes/reports.tsx";
import { registerExportRoutes } from "./routes/exports.tsx";

export type { AppContext } from "./context.ts";

/** HTTP routes, one module per area under routes/. */
export function createApp(ctx: AppContext): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    // A malformed percent-encoding in the path or query (`/assets/..%c0%af..`) is the client's error.
    if (err instanceof URIError) return c.json({ error: "malformed URL encoding (not valid UTF-8 percent-encoding)" }, 400);
    console.error(`${c.req.method} ${c.req.path}:`, err);
    return c.json({ error: "internal error" }, 500);
  });
  // Sessions, kiosk, roles and CSRF for every route below, whoever adds it (src/auth/policy.ts).
  installSecurity(app, ctx);
  registerAssetRoutes(app);
  registerApiRoutes(app, ctx);
  registerLiveRoutes(app, ctx);
  registerPageRoutes(app, ctx);
  registerHmiRoutes(app, ctx);
  registerTrendsRoutes(app, ctx);
  registerCommRoutes(app, ctx);
  registerAuthRoutes(app, ctx);
  registerAlarmRoutes(app, ctx);
  registerJournalRoutes(app, ctx);
  registerOperateRoutes(app, ctx);
  registerAdminRoutes(app, ctx);
  registerBacnetRoutes(app, ctx);
  registerUserRoutes(app, ctx);
  registerScanRoutes(app, ctx);
  registerMicrogridRoutes(app, ctx);
  registerSimRoutes(app, ctx);
  registerHistoryRoutes(app, ctx);
  registerEnergyRoutes(app, ctx);
  registerNotifyRoutes(app, ctx);
  registerReportRoutes(app, ctx);
  registerExportRoutes(app, ctx);
  return app;
}
