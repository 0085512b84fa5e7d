import type { Context, Hono } from "hono";
import { atLeast } from "../../auth/roles.ts";
import { t, type Lang } from "../../i18n/index.ts";
import type { PointInfo } from "../../points/registry.ts";
import { OperateConfirmPage, OperateListPage, OperateResultPage, OperateSelectPage, type OperateRights } from "../../views/operate/operate-pages.tsx";
import { pageRequest } from "../../views/page-context.ts";
import type { AppContext } from "../context.ts";
import { authOf } from "../middleware/security.ts";
import { servicesOf } from "../middleware/services.ts";

/**
 * Operating writable points (maintenance and admin): select, confirm, execute through the bus
 * worker. Every execution is journaled with user, old → new value and the device's outcome, and the
 * row is committed before the result is shown.
 */

/** Points a person may operate: writable, numeric (analog, digital or multi-state). */
export function operable(p: PointInfo): boolean {
  return p.writable && (p.kind === "analog" || p.kind === "digital" || p.kind === "multi-state");
}

/** Longest value text accepted (and journaled): a number or state name is never longer. */
const MAX_VALUE_CHARS = 64;
const DECIMAL = /^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d{1,3})?$/;

/**
 * A value as a person or a script sends it: a decimal number (`12.5`, `-3`, `1e3`, French `12,5`),
 * or for a multi-state point one of its state names (`OPEN`) or numbers. Nothing else: `Number()`
 * would take `[310]`, `"0x12C"`, `"0b1"` or `""` as numbers, and a setpoint must be what it says.
 */
export function parseWriteValue(raw: unknown, p: PointInfo, lang: Lang): { ok: true; value: number } | { ok: false; error: string } {
  const bad = { ok: false as const, error: t(lang, "operate.err.number") };
  if (typeof raw === "number") return Number.isFinite(raw) ? { ok: true, value: raw } : bad;
  if (typeof raw !== "string" || raw.length > MAX_VALUE_CHARS) return bad;
  const s = raw.trim().replace("−", "-");
  if (DECIMAL.test(s)) {
    const v = Number(s.replace(",", "."));
    return Number.isFinite(v) ? { ok: true, value: v } : bad;
  }
  const states = p.states;
  if (states && s) {
    const key = Object.keys(states).find((k) => String(states[k]).toLowerCase() === s.toLowerCase());
    if (key !== undefined) return { ok: true, value: Number(key) };
    return { ok: false, error: t(lang, "operate.err.state", { states: Object.values(states).join(", ") }) };
  }
  return bad;
}

/** What the journal keeps of a refused value: its text, bounded. */
export function boundedText(raw: unknown): string {
  const s = typeof raw === "string" ? raw : raw === undefined ? "" : (JSON.stringify(raw) ?? String(raw));
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS)}… (${s.length} characters)` : s;
}

/** Why a value cannot be written to this point, or null. */
export function valueProblem(p: PointInfo, v: number, lang: Lang): string | null {
  if (!Number.isFinite(v)) return t(lang, "operate.err.number");
  const states = p.states;
  if (states) return Object.prototype.hasOwnProperty.call(states, String(v)) ? null : t(lang, "operate.err.state", { states: Object.values(states).join(", ") });
  const r = p.range;
  if (r?.min !== undefined && v < r.min) return t(lang, "operate.err.range", { min: r.min, max: r.max ?? "+∞" });
  if (r?.max !== undefined && v > r.max) return t(lang, "operate.err.range", { min: r.min ?? "−∞", max: r.max });
  return null;
}

export function registerOperateRoutes(app: Hono, ctx: AppContext): void {
  const { journal, lang: siteLang } = servicesOf(ctx);
  const { site, live, supervisor } = ctx;
  const registry = live.registry;
  const deviceLabel = new Map(site.devices.map((d) => [d.id, d.label ?? d.id]));

  const rights = (c: Context): OperateRights => {
    const a = authOf(c);
    return { canOperate: atLeast(a.user?.role, "maintenance"), kioskLocked: !a.user && a.kiosk };
  };

  app.get("/operate", (c) => {
    const now = Date.now();
    const groups: { device: string; deviceLabel: string; points: { info: PointInfo; value: ReturnType<typeof live.value> }[] }[] = [];
    for (const [device, points] of registry.byDevice) {
      const list = points.filter(operable).map((info) => ({ info, value: live.value(info, now) }));
      if (list.length) groups.push({ device, deviceLabel: deviceLabel.get(device) ?? device, points: list });
    }
    return c.html(<OperateListPage req={pageRequest(c, site.site.language)} siteName={site.site.name} groups={groups} rights={rights(c)} />);
  });

  app.get("/operate/:point", (c) => {
    const req = pageRequest(c, site.site.language);
    const info = registry.byId.get(c.req.param("point"));
    if (!info || !operable(info)) return c.text(t(req.lang, "operate.err.notWritable"), 404);
    const value = live.value(info);
    if (c.req.query("relinquish") === "1" && info.owner.driver === "bacnet")
      return c.html(<OperateConfirmPage req={req} siteName={site.site.name} info={info} value={value} newValue={NaN} relinquish csrf={authOf(c).csrf} rights={rights(c)} />);
    const raw = c.req.query("value");
    if (raw !== undefined) {
      const parsed = parseWriteValue(raw, info, req.lang);
      const v = parsed.ok ? parsed.value : NaN;
      const problem = parsed.ok ? valueProblem(info, v, req.lang) : parsed.error;
      if (problem) return c.html(<OperateSelectPage req={req} siteName={site.site.name} info={info} value={value} rights={rights(c)} error={problem} />, 400);
      return c.html(<OperateConfirmPage req={req} siteName={site.site.name} info={info} value={value} newValue={v} csrf={authOf(c).csrf} rights={rights(c)} />);
    }
    return c.html(<OperateSelectPage req={req} siteName={site.site.name} info={info} value={value} rights={rights(c)} />);
  });

  app.post("/operate/:point", async (c) => {
    const req = pageRequest(c, site.site.language);
    const a = authOf(c);
    const json = (c.req.header("content-type") ?? "").includes("json") || (c.req.header("accept") ?? "").includes("application/json");
    const info = registry.byId.get(c.req.param("point"));
    if (!info || !operable(info)) return json ? c.json({ ok: false, error: "not writable" }, 404) : c.text(t(req.lang, "operate.err.notWritable"), 404);
    let rawValue: unknown;
    let bodyProblem: string | null = null;
    // BACnet points also take a command priority (1–16, default the profile's) and may relinquish it.
    let rawPriority: unknown;
    let relinquish = false;
    if ((c.req.header("content-type") ?? "").includes("json")) {
      const b = (await c.req.json().catch(() => undefined)) as unknown;
      if (!b || typeof b !== "object" || Array.isArray(b)) bodyProblem = t(req.lang, "operate.err.body");
      else {
        const o = b as { value?: unknown; priority?: unknown; relinquish?: unknown };
        rawValue = o.value;
        rawPriority = o.priority ?? undefined;
        relinquish = o.relinquish === true || o.relinquish === "1" || o.relinquish === "true";
      }
    } else {
      const b = await c.req.parseBody();
      rawValue = typeof b.value === "string" ? b.value : undefined;
      rawPriority = typeof b.priority === "string" && b.priority !== "" ? b.priority : undefined;
      relinquish = b.relinquish === "1" || b.relinquish === "true";
    }
    const bacnetPoint = info.owner.driver === "bacnet";
    const priority = rawPriority === undefined ? undefined : Number(rawPriority);
    const parsed = bodyProblem ? { ok: false as const, error: bodyProblem } : relinquish ? { ok: true as const, value: NaN } : parseWriteValue(rawValue, info, req.lang);
    const v = parsed.ok ? parsed.value : NaN;
    const problem = !parsed.ok
      ? parsed.error
      : (rawPriority !== undefined || relinquish) && !bacnetPoint
        ? t(req.lang, "operate.err.priority")
        : priority !== undefined && !(Number.isInteger(priority) && priority >= 1 && priority <= 16)
          ? t(req.lang, "operate.err.priority")
          : relinquish
            ? null
            : valueProblem(info, v, req.lang);
    const before = live.value(info);
    // The journal keeps the exact numbers (the screen rounds for reading).
    const exact = (x: number | string | null): string => {
      if (x === null) return "—";
      if (typeof x === "string") return x;
      const state = info.states?.[String(x)];
      return state ?? x.toLocaleString(siteLang === "fr" ? "fr-CA" : "en-CA", { maximumFractionDigits: 6, useGrouping: false });
    };
    const oldText = info.readable ? exact(before.value) : "—";
    const newText = (relinquish ? t(siteLang, "operate.relinquished") : Number.isFinite(v) ? exact(v) : boundedText(rawValue)) + (priority !== undefined ? ` (${t(siteLang, "operate.priority", { p: boundedText(String(rawPriority)) })})` : "");
    const unit = info.unit && !info.states ? ` ${info.unit}` : "";
    let result: { ok: boolean; error?: string; ms: number };
    if (problem) result = { ok: false, error: problem, ms: 0 };
    else if (bacnetPoint && (relinquish || priority !== undefined)) result = await ctx.bacnet.write(info.index, relinquish ? null : v, priority);
    else result = await supervisor.write(info.index, v);
    // The attempt is on disk before anyone is told how it went.
    journal.append({
      type: "point.write",
      source: info.id,
      device: info.device,
      actor: a.user!.name,
      message: t(siteLang, result.ok ? "journal.write.ok" : "journal.write.failed", {
        user: a.user!.name,
        point: info.id,
        old: oldText + (info.readable ? unit : ""),
        new: newText + unit,
        error: result.error ?? "",
        ms: Math.round(result.ms),
      }),
      data: { old: before.value, oldQuality: before.quality, new: relinquish ? null : Number.isFinite(v) ? v : boundedText(rawValue), ...(bacnetPoint ? { priority: priority ?? null, relinquish } : {}), ok: result.ok, error: result.error ?? null, ms: result.ms, ip: a.ip, session: a.user!.kind },
    });
    if (json) return c.json({ ok: result.ok, error: result.error ?? null, ms: result.ms, old: before.value, new: relinquish ? null : v }, problem ? 400 : 200);
    return c.html(
      <OperateResultPage req={req} siteName={site.site.name} info={info} oldText={oldText + (info.readable ? unit : "")} newText={newText + unit} result={result} />,
      problem ? 400 : 200,
    );
  });
}
