import type { Context, Hono } from "hono";
import * as z from "zod";
import { zodIssues } from "../../config/validation.ts";
import { costSchema, validateTariffs } from "../../energy/tariffs.ts";
import { buildView, PERIODS, viewCsv, VIEWS, type EnergyView, type ViewRequest } from "../../energy/views.ts";
import { langFromRequest } from "../../i18n/index.ts";
import { csvFormat } from "../../exports/format.ts";
import { EnergyPage } from "../../views/energy/energy-page.tsx";
import { EnergyAdminPage } from "../../views/energy/energy-admin-page.tsx";
import { stringify } from "yaml";
import { parseYaml } from "../../config/profile.ts";
import { siteUnits } from "../../config/site.ts";
import { energySchema, validateEnergy } from "../../energy/structure.ts";
import { pageRequest } from "../../views/page-context.ts";
import type { AppContext } from "../context.ts";
import { authOf } from "../middleware/security.ts";
import { journalText } from "../../journal/i18n.ts";

/**
 * Energy pages and API (src/energy):
 *   GET  /energy?view=&period=&at=YYYY-MM-DD&group=&a=&b=&lobby=1   the page
 *   GET  /api/energy/view?…  the same view as JSON;  GET /api/energy/view.csv?…  as CSV
 *   POST /api/energy/costs        admin: validate (and, confirmed, apply) tariffs; reprice from a date
 *   POST /api/energy/correct      admin: accept or set a held (bad) interval
 *   POST /api/energy/replacement  admin: a meter swap (old final reading, new first reading, when)
 */
export function registerEnergyRoutes(app: Hono, ctx: AppContext): void {
  const site = ctx.site;
  const viewOf = (c: Context): EnergyView | undefined => {
    const e = ctx.energy;
    if (!e) return undefined;
    const q = (k: string) => c.req.query(k) ?? "";
    const view = (VIEWS as readonly string[]).includes(q("view")) ? (q("view") as ViewRequest["view"]) : "total";
    const period = (PERIODS as readonly string[]).includes(q("period")) ? (q("period") as ViewRequest["period"]) : "month";
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(q("at"));
    // Noon of the day asked: inside that day in any zone, whatever DST does.
    const at = m ? e.service.clock.fromLocal(Number(m[1]), Number(m[2]), Number(m[3]), 720) : Date.now();
    const group = q("group") === "zones" ? "zones" : "circuits";
    const req: ViewRequest = { view, period, at, group, a: q("a") || undefined, b: q("b") || undefined, lang: langFromRequest(c, site.site.language) };
    return buildView(e.store, e.service.clock, site.energy, e.service.meters, e.service.evaluators.get("electricity"), req);
  };

  app.get("/energy", (c) => c.html(<EnergyPage site={site} view={viewOf(c)} lobby={c.req.query("lobby") === "1"} {...pageRequest(c, site.site.language)} />));

  app.get("/api/energy/view", (c) => {
    const v = viewOf(c);
    return v ? c.json(v) : c.json({ error: "no energy meters configured" }, 404);
  });

  app.get("/api/energy/view.csv", (c) => {
    const v = viewOf(c);
    if (!v) return c.text("no energy meters configured", 404);
    // The shared CSV format: sep/decimal as asked, else the reader's language's (fr: ; and ,).
    const format = csvFormat({ sep: c.req.query("sep"), decimal: c.req.query("decimal") }, site.site.timezone, v.req.lang);
    if (typeof format === "string") return c.json({ error: format }, 400);
    const name = `energy-${v.req.view}-${v.req.period}-${new Date(v.from + 43_200_000).toISOString().slice(0, 10)}.csv`;
    return c.body(viewCsv(v, format), 200, { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="${name}"` });
  });

  const costsBody = z.object({ costs: z.array(costSchema), confirm: z.boolean().default(false), recomputeFrom: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).optional() }).strict();
  app.post("/api/energy/costs", async (c) => {
    const e = ctx.energy;
    if (!e) return c.json({ error: "no energy meters configured" }, 404);
    const parsed = costsBody.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json({ errors: zodIssues(parsed.error), warnings: [] }, 400);
    const errors = [];
    const warnings = [];
    for (const [i, cost] of parsed.data.costs.entries()) {
      const r = validateTariffs(cost, `costs[${i}]`);
      errors.push(...r.errors);
      warnings.push(...r.warnings);
    }
    if (errors.length) return c.json({ errors, warnings }, 400);
    // Warnings (overlaps, uncovered week time) are shown before saving: the admin confirms them.
    if (warnings.length && !parsed.data.confirm) return c.json({ errors, warnings, saved: false }, 409);
    const actor = authOf(c).user?.name ?? "";
    e.service.setTariffs(parsed.data.costs);
    site.energy.costs = parsed.data.costs;
    ctx.db.sqlite.query("INSERT INTO settings (key, value) VALUES ('energy.costs', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(JSON.stringify(parsed.data.costs));
    let repriced = 0;
    if (parsed.data.recomputeFrom) {
      const [y, m, d] = parsed.data.recomputeFrom.split("-").map(Number);
      repriced = e.service.reprice(e.service.clock.fromLocal(y!, m!, d!), actor);
    }
    return c.json({ errors, warnings, saved: true, repriced });
  });

  const correctBody = z.object({ meter: z.string(), ts: z.number().int(), action: z.enum(["accept", "set"]), value: z.number().optional() }).strict();
  app.post("/api/energy/correct", async (c) => {
    const e = ctx.energy;
    if (!e) return c.json({ error: "no energy meters configured" }, 404);
    const parsed = correctBody.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json({ errors: zodIssues(parsed.error) }, 400);
    if (parsed.data.action === "set" && parsed.data.value === undefined) return c.json({ errors: [{ path: "value", message: "set needs a value" }] }, 400);
    const ok = e.service.correct(parsed.data.meter, parsed.data, authOf(c).user?.name ?? "");
    return ok ? c.json({ ok: true }) : c.json({ error: "no held (bad) interval there" }, 404);
  });

  const replBody = z.object({ meter: z.string(), at: z.string().datetime({ offset: true }), oldFinal: z.number(), newFirst: z.number() }).strict();
  app.post("/api/energy/replacement", async (c) => {
    const e = ctx.energy;
    if (!e) return c.json({ error: "no energy meters configured" }, 404);
    const parsed = replBody.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json({ errors: zodIssues(parsed.error) }, 400);
    const { meter, at, oldFinal, newFirst } = parsed.data;
    const ok = e.service.recordReplacement(meter, { ts: Date.parse(at), oldFinal, newFirst }, authOf(c).user?.name ?? "");
    return ok ? c.json({ ok: true }) : c.json({ error: "unknown meter, or readings after that time are already counted (record it before the new meter is read)" }, 409);
  });

  app.get("/admin/energy", (c) => {
    const e = ctx.energy;
    const req = pageRequest(c, site.site.language);
    return c.html(<EnergyAdminPage site={site} yaml={stringify(site.energy, { lineWidth: 160 })} meters={e?.service.meters ?? []} held={e?.store.heldIntervals() ?? []} csrf={authOf(c).csrf} {...req} />);
  });

  const adminBody = z.object({ yaml: z.string().max(200_000), save: z.boolean().default(false), confirm: z.boolean().default(false), recomputeFrom: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).optional() }).strict();
  app.post("/admin/energy", async (c) => {
    const parsed = adminBody.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json({ errors: zodIssues(parsed.error), warnings: [] }, 400);
    let doc: unknown;
    try {
      doc = parseYaml(parsed.data.yaml, "energy");
    } catch (err) {
      return c.json({ errors: [{ path: "energy", message: (err as Error).message }], warnings: [] }, 400);
    }
    // The same checks as the site file's energy section, paths included.
    const shape = energySchema.safeParse(doc ?? {});
    if (!shape.success) return c.json({ errors: zodIssues(shape.error, ["energy"]), warnings: [] }, 400);
    const r = validateEnergy(shape.data, siteUnits(site, site.profiles));
    if (r.errors.length) return c.json({ errors: r.errors, warnings: r.warnings }, 400);
    if (!parsed.data.save) return c.json({ errors: [], warnings: r.warnings, saved: false });
    if (r.warnings.length && !parsed.data.confirm) return c.json({ errors: [], warnings: r.warnings, saved: false }, 409);
    const actor = authOf(c).user?.name ?? "";
    const put = ctx.db.sqlite.query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    const { costs, ...structure } = shape.data;
    put.run("energy.structure", JSON.stringify({ ...structure, costs: [] }));
    put.run("energy.costs", JSON.stringify(costs));
    const structureChanged = JSON.stringify({ ...structure }) !== JSON.stringify({ ...site.energy, costs: undefined });
    site.energy = { ...site.energy, costs };
    let repriced = 0;
    const e = ctx.energy;
    if (e) {
      e.service.setTariffs(costs);
      if (parsed.data.recomputeFrom) {
        const [y, m, d] = parsed.data.recomputeFrom.split("-").map(Number);
        repriced = e.service.reprice(e.service.clock.fromLocal(y!, m!, d!), actor);
      }
    }
    const lang = site.site.language;
    ctx.db.journal.append({
      type: "energy.config",
      ...journalText(lang, repriced ? "journal.energy.savedRepriced" : "journal.energy.saved", { user: actor, structure: structureChanged ? { key: "journal.energy.structureNext" } : "", n: repriced }),
      actor,
    });
    return c.json({ errors: [], warnings: r.warnings, saved: true, repriced, note: structureChanged ? "saved; tariffs in force now, structure at the next start" : "saved; tariffs in force now" });
  });
}
