import type { Hono } from "hono";
import { t } from "../../i18n/index.ts";
import { describeLoadProfileWith, parseLoadProfile, type LoadProfile } from "../../sim/load-profiles.ts";
import { fmtNumber, statesFor } from "../../hmi/format.ts";
import { SimPage } from "../../views/sim-page.tsx";
import { safeNext } from "../../views/alarms/ui.tsx";
import { pageRequest } from "../../views/page-context.ts";
import type { AppContext } from "../context.ts";
import { journalText } from "../../journal/i18n.ts";
import { MG } from "../../microgrid/points.ts";
import { authOf } from "../middleware/security.ts";
import { servicesOf } from "../middleware/services.ts";

/**
 * The simulation controls (admin; only where Busbar runs beside its simulator: the demo and the
 * tests). Each action changes the simulated building, never a device: the page and every journal
 * row say "simulation". The journal row is committed before the simulator is touched.
 */

export type SimAction =
  | "trip"
  | "reset"
  | "open"
  | "close"
  | "ats-emergency"
  | "ats-normal"
  | "utility-lost"
  | "utility-back"
  | "offline"
  | "online"
  | "garbage"
  | "sane"
  | "load"
  | "load-release"
  | "gdp-start"
  | "gdp-end";

const BREAKER_ACTIONS = new Set(["trip", "reset", "open", "close", "load", "load-release"]);
const DEVICE_ACTIONS = new Set(["offline", "online", "garbage", "sane"]);
const SITE_ACTIONS = new Set(["ats-emergency", "ats-normal", "utility-lost", "utility-back", "gdp-start", "gdp-end"]);
/** A Hydro-Québec peak-demand event, as the BMS announces it: a write of Busbar's GDP request point. */
const GDP_ACTIONS = new Set(["gdp-start", "gdp-end"]);

/**
 * Ready-made profiles a newcomer can run in one tap (the target feeder's present load as base),
 * shaped against the shedding setpoint when there is one: a slow ramp to 10 % over it, a step to
 * its row 7 (+40 kW with the site list's table), an oscillation ±5 kW around its first row (the
 * threshold the hysteresis and hold times must keep from chattering).
 */
export function presetProfile(name: string, baseKw: number, buildingKw: number, shedKw: number | null, firstRowKw = 10): LoadProfile | null {
  const base = Math.max(0, Math.round(baseKw * 10) / 10);
  /** The feeder's load that puts the building at `kw` (a load never goes below zero). */
  const feederFor = (kw: number, floor: number) => Math.max(floor, Math.round(base + kw - buildingKw));
  switch (name) {
    case "ramp-over-shed": {
      // Climb slowly until the building draws 10 % over the shedding setpoint.
      const over = shedKw === null ? base + 50 : base + Math.max(10, shedKw * 1.1 - buildingKw);
      return { kind: "ramp", fromKw: base, toKw: Math.round(over), durationS: 120 };
    }
    case "step":
      return { kind: "step", fromKw: base, toKw: shedKw === null ? Math.round(base * 2 + 20) : feederFor(shedKw + 40, base + 10), atS: 5 };
    case "oscillation":
      if (shedKw === null) return { kind: "oscillation", meanKw: base, amplitudeKw: Math.max(5, Math.round(base * 0.5)), periodS: 20 };
      return { kind: "oscillation", meanKw: feederFor(shedKw + firstRowKw, 5), amplitudeKw: 5, periodS: 20 };
    default:
      return null;
  }
}

export function registerSimRoutes(app: Hono, ctx: AppContext): void {
  const { journal, lang: siteLang } = servicesOf(ctx);
  const { site } = ctx;

  const gdpRequest = () => (ctx.microgrid ? ctx.live.registry.byId.get(`${MG}.gdp_request`) : undefined);

  app.get("/sim", (c) => {
    const sim = ctx.sim;
    const req = pageRequest(c, site.site.language);
    if (!sim) return c.text(t(req.lang, "sim.none"), 404);
    const mg = ctx.microgrid?.status();
    const rq = gdpRequest();
    // The request as written (the controller's status follows at its next tick).
    const gdp = mg && rq ? { active: mg.gdp.active, request: ctx.live.value(rq).value === 1, setpointKw: mg.gdp.setpointKw } : null;
    return c.html(<SimPage req={req} siteName={site.site.name} site={site} status={sim.status()} gdp={gdp} csrf={authOf(c).csrf} ok={c.req.query("ok")} err={c.req.query("err")} />);
  });

  app.post("/sim", async (c) => {
    const sim = ctx.sim;
    if (!sim) return c.json({ ok: false, error: "no simulator" }, 404);
    const json = (c.req.header("content-type") ?? "").includes("json");
    const b: Record<string, string> = json
      ? Object.fromEntries(Object.entries(((await c.req.json().catch(() => ({}))) as Record<string, unknown>) ?? {}).map(([k, v]) => [k, v === null || v === undefined ? "" : String(v)]))
      : Object.fromEntries(Object.entries(await c.req.parseBody()).map(([k, v]) => [k, typeof v === "string" ? v : ""]));
    const action = b.action ?? "";
    const target = (b.target ?? "").trim();
    const status = sim.status();
    const fail = (error: string, code: 400 | 404 = 400) =>
      json || (c.req.header("accept") ?? "").includes("application/json") ? c.json({ ok: false, error }, code) : c.redirect(`/sim?err=${encodeURIComponent(error)}`, 303);

    const breaker = status.breakers.find((x) => x.id === target || x.device === target);
    const device = status.devices.find((x) => x.id === target);
    if (BREAKER_ACTIONS.has(action) && !breaker) return fail(`no breaker "${target}"`, 404);
    if (DEVICE_ACTIONS.has(action) && !device) return fail(`no device "${target}"`, 404);
    if (!BREAKER_ACTIONS.has(action) && !DEVICE_ACTIONS.has(action) && !SITE_ACTIONS.has(action)) return fail(`unknown action "${action}"`);
    if ((action === "ats-emergency" || action === "ats-normal") && status.atsToEmergency === null) return fail("the site has no ATS");
    const gdpPoint = GDP_ACTIONS.has(action) ? gdpRequest() : undefined;
    if (GDP_ACTIONS.has(action) && !gdpPoint) return fail("the site has no microgrid (no GDP request point)");

    let profile: LoadProfile | null = null;
    if (action === "load") {
      if (!breaker!.feeder) return fail(`breaker "${breaker!.id}" feeds no load of its own`);
      // The setpoint in force: Busbar's own microgrid control, else a simulated controller device's.
      const mg = ctx.microgrid?.status();
      const shedKw = mg && Number.isFinite(mg.setpointKw) ? mg.setpointKw : status.shedSetpointKw;
      if (b.preset) profile = presetProfile(b.preset, breaker!.kw, status.buildingKw, shedKw, mg?.shedding.table[0]?.excessKw);
      else {
        const p = parseLoadProfile({ ...b, kind: b.kind || "constant" });
        if ("error" in p) return fail(p.error);
        profile = p;
      }
      if (!profile) return fail(`unknown preset "${b.preset}"`);
    }

    const who = authOf(c).user!.name;
    const what = breaker?.id ?? device?.id ?? "";
    const detailIn = (lang: "fr" | "en") => (profile ? ` (${describeLoadProfileWith(profile, (k, p) => t(lang, k, p), (n) => fmtNumber(n, lang))})` : "");
    const detail = detailIn(siteLang);
    // The row names the action as a key and its parameters, so any language can show it.
    journal.append({
      type: `sim.${action}`,
      source: "simulator",
      device: breaker?.device ?? device?.id,
      actor: who,
      message: t(siteLang, "journal.sim", { user: who, action: t(siteLang, `sim.act.${action}`), target: what, detail }),
      data: { simulation: true, action, target: what, profile, i18n: { key: "journal.sim", params: { user: who, action: `sim.act.${action}`, target: what, detail: { fr: detailIn("fr"), en: detailIn("en") } } } },
    });
    const id = breaker?.id ?? "";
    switch (action as SimAction) {
      case "trip":
        sim.trip(id);
        break;
      case "reset":
      case "close":
        sim.setBreaker(id, true);
        break;
      case "open":
        sim.setBreaker(id, false);
        break;
      case "ats-emergency":
        sim.transferAts(true);
        break;
      case "ats-normal":
        sim.transferAts(false);
        break;
      case "utility-lost":
        sim.setUtility(false);
        break;
      case "utility-back":
        sim.setUtility(true);
        break;
      case "offline":
      case "online":
        sim.setOffline(device!.id, action === "offline");
        break;
      case "garbage":
      case "sane":
        sim.setGarbage(device!.id, action === "garbage");
        break;
      case "load":
        sim.setLoad(id, profile);
        break;
      case "load-release":
        sim.setLoad(id, null);
        break;
      case "gdp-start":
      case "gdp-end": {
        // The same write the BMS makes (BACnet BV MICROGRID.Gdp_request, or /operate): through the
        // supervisor to the point's owner, so the controller reacts exactly as to the BMS.
        const p = gdpPoint!;
        const before = ctx.live.value(p);
        const to = action === "gdp-start" ? 1 : 0;
        const r = await ctx.supervisor.write(p.index, to);
        const stateIn = (lang: "fr" | "en", v: number | string | null) => (v === null ? "—" : (statesFor(p, lang)?.[String(v)] ?? String(v)));
        journal.append({
          type: "point.write",
          source: p.id,
          device: p.device,
          actor: who,
          ...journalText(siteLang, r.ok ? "journal.write.ok" : "journal.write.failed", {
            user: who,
            point: p.id,
            old: { fr: stateIn("fr", before.value), en: stateIn("en", before.value) },
            new: { fr: stateIn("fr", to), en: stateIn("en", to) },
            error: r.error ?? "",
            ms: Math.round(r.ms),
          }),
          data: { simulation: true, old: before.value, new: to, ok: r.ok, error: r.error ?? null, ms: r.ms },
        });
        if (!r.ok) return fail(`${p.id}: ${r.error ?? "write failed"}`);
        break;
      }
    }
    if (json || (c.req.header("accept") ?? "").includes("application/json")) return c.json({ ok: true, action, target: what, profile, status: sim.status() });
    return c.redirect(safeNext(b.back, "/sim") + `${(b.back ?? "").includes("?") ? "&" : "?"}ok=sim`, 303);
  });
}
