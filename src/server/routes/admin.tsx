import type { Context, Hono } from "hono";
import { ALARM_CONFIG_KEY, effectiveAlarms, parseAlarmsYaml } from "../../alarms/config-store.ts";
import { t } from "../../i18n/index.ts";
import { AlarmConfigPage } from "../../views/alarms/alarm-config-page.tsx";
import { AdminPage, VerifyPage } from "../../views/auth/users-page.tsx";
import { pageRequest } from "../../views/page-context.ts";
import type { AppContext } from "../context.ts";
import { authOf } from "../middleware/security.ts";
import { servicesOf } from "../middleware/services.ts";
import { journalText } from "../../journal/i18n.ts";

/** Administration: landing page, alarm configuration (YAML, validated like the site file), journal verification. */
export function registerAdminRoutes(app: Hono, ctx: AppContext): void {
  const { journal, alarms, auth, lang: siteLang } = servicesOf(ctx);
  const { site } = ctx;

  app.get("/admin", (c) => {
    const rows = (journal.sqlite.query("SELECT COUNT(*) AS n FROM events").get() as { n: number }).n;
    const head = (journal.sqlite.query("SELECT value FROM settings WHERE key = 'journal.head'").get() as { value: string } | null)?.value ?? "";
    return c.html(
      <AdminPage
        req={pageRequest(c, site.site.language)}
        siteName={site.site.name}
        facts={{
          users: auth.users.count(),
          alarms: alarms.definitions.length,
          alarmSource: alarms.store.getSetting(ALARM_CONFIG_KEY) !== undefined ? "admin" : "site",
          kiosk: auth.kioskAddresses,
          journalRows: rows,
          head,
          simulator: !!ctx.sim,
        }}
        throttled={auth.throttledAddresses().map((x) => ({ ...x, until: new Date(x.until).toLocaleTimeString(siteLang === "fr" ? "fr-CA" : "en-CA", { timeZone: site.site.timezone, hour12: false }) }))}
        ok={c.req.query("ok")}
      />,
    );
  });

  app.get("/api/auth/throttle", (c) => c.json(auth.throttledAddresses()));

  app.post("/admin/throttle/clear", async (c) => {
    const body = await c.req.parseBody();
    const ip = typeof body.ip === "string" ? body.ip.trim() : "";
    if (!ip || ip.length > 64) return c.text("ip: the throttled address to clear", 400);
    const cleared = auth.clearThrottle(ip, authOf(c).user!.name);
    if ((c.req.header("accept") ?? "").includes("application/json")) return c.json({ ok: cleared }, cleared ? 200 : 404);
    return c.redirect(cleared ? "/admin?ok=throttleCleared" : "/admin", 303);
  });

  const configPage = (c: Context, extra: { yaml?: string; issues?: { path: string; message: string }[] } = {}, status: 200 | 400 = 200) => {
    const eff = effectiveAlarms(site, alarms.store);
    return c.html(
      <AlarmConfigPage
        req={pageRequest(c, site.site.language)}
        siteName={site.site.name}
        csrf={authOf(c).csrf}
        yaml={extra.yaml ?? eff.yaml}
        source={eff.source}
        issues={extra.issues}
        alarms={alarms.list({ show: "all", sort: "device" })}
        ok={c.req.query("ok")}
        err={c.req.query("err")}
      />,
      status,
    );
  };

  app.get("/admin/alarms", (c) => configPage(c));

  app.post("/admin/alarms", async (c) => {
    const a = authOf(c);
    const body = await c.req.parseBody();
    const action = body.action === "revert" ? "revert" : "save";
    const before = effectiveAlarms(site, alarms.store);
    if (action === "revert") {
      journal.transaction(() => {
        alarms.store.deleteSetting(ALARM_CONFIG_KEY);
        journal.append({
          type: "config.alarms",
          source: "alarms",
          actor: a.user!.name,
          ...journalText(siteLang, "journal.config.alarmsRevert", { user: a.user!.name }),
          data: { action: "revert", before: before.yaml },
        });
      });
      alarms.reload(site.alarms);
      return c.redirect("/admin/alarms?ok=alarmsSaved", 303);
    }
    const yaml = typeof body.yaml === "string" ? body.yaml : "";
    const parsed = parseAlarmsYaml(yaml, site);
    if (!parsed.ok) return configPage(c, { yaml, issues: parsed.issues }, 400);
    journal.transaction(() => {
      alarms.store.setSetting(ALARM_CONFIG_KEY, yaml);
      journal.append({
        type: "config.alarms",
        source: "alarms",
        actor: a.user!.name,
        ...journalText(siteLang, "journal.config.alarms", { user: a.user!.name, n: parsed.config.points.length }),
        data: { action: "save", before: before.yaml, after: yaml },
      });
    });
    alarms.reload(parsed.config);
    return c.redirect("/admin/alarms?ok=alarmsSaved", 303);
  });

  app.get("/admin/journal/verify", async (c) => {
    const t0 = performance.now();
    const result = await journal.verifyAsync();
    return c.html(<VerifyPage req={pageRequest(c, site.site.language)} siteName={site.site.name} result={result} ms={performance.now() - t0} />, result.ok ? 200 : 409);
  });
}
