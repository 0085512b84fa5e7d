import type { Context, Hono } from "hono";
import { atLeast } from "../../auth/roles.ts";
import { t, type Lang } from "../../i18n/index.ts";
import { statesFor } from "../../hmi/format.ts";
import { labelIn } from "../../config/site.ts";
import { breakerConsequence, processValueFor } from "../../operate/consequence.ts";
import { Selections, type SelectionEvent } from "../../operate/selection.ts";
import type { PointInfo } from "../../points/registry.ts";
import { safeNext } from "../../views/alarms/ui.tsx";
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
  const states = statesFor(p, lang);
  if (states) return Object.prototype.hasOwnProperty.call(states, String(v)) ? null : t(lang, "operate.err.state", { states: Object.values(states).join(", ") });
  const r = p.range;
  if (r?.min !== undefined && v < r.min) return t(lang, "operate.err.range", { min: r.min, max: r.max ?? "+∞" });
  if (r?.max !== undefined && v > r.max) return t(lang, "operate.err.range", { min: r.min ?? "−∞", max: r.max });
  return null;
}

/** Commands that switch a breaker: select → execute, with a lock per device. */
export function needsSelect(p: PointInfo): boolean {
  return p.role === "breaker.command";
}

const selections = new WeakMap<AppContext, Selections>();

/** The running site's breaker selections (the one-line's detail panel shows them too). */
export function selectionsOf(ctx: AppContext): Selections {
  let s = selections.get(ctx);
  if (!s) {
    const { journal, lang } = servicesOf(ctx);
    const timeoutMs = ctx.site.security.selectTimeoutSeconds * 1000;
    s = new Selections(timeoutMs, (e: SelectionEvent) => {
      // Every screen shows who holds which device (the one-line marks the symbol).
      if (e.kind !== "refused") queueMicrotask(() => ctx.pageEvents.publish("selections", s!.all().map((x) => ({ device: x.device, user: x.user, until: x.until }))));
      if (e.kind === "execute") return; // the write's own row (point.write) follows at once
      const sel = e.kind === "refused" ? e.holder : e.sel;
      const user = e.kind === "refused" ? e.user : sel.user;
      const params = { user, device: sel.device, point: sel.point, holder: sel.user, seconds: Math.round(timeoutMs / 1000) };
      journal.append({
        type: `operate.${e.kind}`,
        source: e.kind === "refused" ? e.point : sel.point,
        device: sel.device,
        actor: e.kind === "timeout" ? "" : user,
        message: t(lang, `journal.operate.${e.kind}`, params),
        data: { value: sel.value, until: sel.until, holder: sel.user, i18n: { key: `journal.operate.${e.kind}`, params } },
      });
    });
    selections.set(ctx, s);
  }
  return s;
}

export function registerOperateRoutes(app: Hono, ctx: AppContext): void {
  const { journal, lang: siteLang } = servicesOf(ctx);
  const { site, live, supervisor } = ctx;
  const registry = live.registry;
  const deviceLabel = (lang: Lang) => new Map(site.devices.map((d) => [d.id, labelIn(d, lang) ?? d.id]));
  const sels = selectionsOf(ctx);
  const sessionOf = (c: Context) => authOf(c).session?.id ?? "";

  const rights = (c: Context): OperateRights => {
    const a = authOf(c);
    return { canOperate: atLeast(a.user?.role, "maintenance"), kioskLocked: !a.user && a.kiosk };
  };

  app.get("/operate", (c) => {
    const now = Date.now();
    const labels = deviceLabel(pageRequest(c, site.site.language).lang);
    const groups: Parameters<typeof OperateListPage>[0]["groups"] = [];
    for (const [device, points] of registry.byDevice) {
      const list = points.filter(operable).map((info) => ({ info, value: live.value(info, now) }));
      if (!list.length) continue;
      // The live state beside a write-only command: its device's status point.
      const brk = breakerConsequence(site, live, device);
      let status = brk?.tripped && brk.tripped.value.value === 1 ? brk.tripped : brk?.closed;
      if (!brk) {
        // An ATS: the side it is on.
        const byRole = (role: string) => {
          const info = points.find((p) => p.role === role && p.readable);
          return info ? { info, value: live.value(info, now) } : undefined;
        };
        const onE = byRole("ats.emergency");
        status = onE && onE.value.value === 1 ? onE : (byRole("ats.normal") ?? onE);
      }
      groups.push({ device, deviceLabel: labels.get(device) ?? device, points: list, status, power: brk?.power, selectedBy: sels.get(device)?.user });
    }
    return c.html(<OperateListPage req={pageRequest(c, site.site.language)} siteName={site.site.name} groups={groups} rights={rights(c)} />);
  });

  app.get("/operate/:point", (c) => {
    const req = pageRequest(c, site.site.language);
    const info = registry.byId.get(c.req.param("point"));
    if (!info || !operable(info)) return c.text(t(req.lang, "operate.err.notWritable"), 404);
    const value = live.value(info);
    // BACnet points: the confirm screen offers the command priority, preset to the point's default.
    const q = Number(c.req.query("priority"));
    const priority = info.owner.driver === "bacnet" ? { default: ctx.bacnet.defaultPriority(info.index) ?? 8, chosen: Number.isInteger(q) && q >= 1 && q <= 16 ? q : undefined } : undefined;
    if (c.req.query("relinquish") === "1" && info.owner.driver === "bacnet")
      return c.html(<OperateConfirmPage req={req} siteName={site.site.name} info={info} value={value} newValue={NaN} relinquish priority={priority} csrf={authOf(c).csrf} rights={rights(c)} back={safeNext(c.req.query("back"), "")} />);
    const raw = c.req.query("value");
    if (raw !== undefined) {
      const parsed = parseWriteValue(raw, info, req.lang);
      const v = parsed.ok ? parsed.value : NaN;
      const problem = parsed.ok ? valueProblem(info, v, req.lang) : parsed.error;
      if (problem) return c.html(<OperateSelectPage req={req} siteName={site.site.name} info={info} value={value} rights={rights(c)} error={problem} />, 400);
      const sel = sels.get(info.device);
      return c.html(
        <OperateConfirmPage
          req={req}
          siteName={site.site.name}
          info={info}
          value={value}
          newValue={v}
          csrf={authOf(c).csrf}
          rights={rights(c)}
          breaker={breakerConsequence(site, live, info.device)}
          processValue={processValueFor(live, info)}
          priority={priority}
          select={needsSelect(info) ? { mine: !!sel && sel.session === sessionOf(c) && sel.point === info.id && sel.value === v, holder: sel && sel.session !== sessionOf(c) ? sel : undefined, until: sel?.until, timeoutS: sels.timeoutMs / 1000 } : undefined}
          back={safeNext(c.req.query("back"), "")}
          tz={site.site.timezone}
          err={c.req.query("err")}
        />,
      );
    }
    return c.html(<OperateSelectPage req={req} siteName={site.site.name} info={info} value={value} rights={rights(c)} />);
  });

  // Select (breakers): locks the device for this session; the confirm screen then offers Execute.
  app.post("/operate/:point/select", async (c) => {
    const info = registry.byId.get(c.req.param("point"));
    const req = pageRequest(c, site.site.language);
    if (!info || !operable(info) || !needsSelect(info)) return c.text(t(req.lang, "operate.err.notWritable"), 404);
    const b = await c.req.parseBody();
    const parsed = parseWriteValue(b.value, info, req.lang);
    const v = parsed.ok ? parsed.value : NaN;
    const problem = parsed.ok ? valueProblem(info, v, req.lang) : parsed.error;
    const back = typeof b.back === "string" ? safeNext(b.back, "") : "";
    const here = `/operate/${encodeURIComponent(info.id)}?value=${encodeURIComponent(String(v))}${back ? `&back=${encodeURIComponent(back)}` : ""}`;
    if (problem) return c.redirect(`/operate/${encodeURIComponent(info.id)}`, 303);
    const r = sels.select(info.device, info.id, v, authOf(c).user!.name, sessionOf(c));
    if ((c.req.header("accept") ?? "").includes("application/json")) return c.json(r.ok ? { ok: true, until: r.sel.until } : { ok: false, selectedBy: r.holder.user, until: r.holder.until }, r.ok ? 200 : 409);
    return c.redirect(r.ok ? here : `${here}&err=selectedByOther`, 303);
  });

  app.post("/operate/:point/cancel", async (c) => {
    const info = registry.byId.get(c.req.param("point"));
    const req = pageRequest(c, site.site.language);
    if (!info || !operable(info)) return c.text(t(req.lang, "operate.err.notWritable"), 404);
    const b = await c.req.parseBody();
    const cancelled = sels.cancel(info.device, sessionOf(c));
    if ((c.req.header("accept") ?? "").includes("application/json")) return c.json({ ok: cancelled });
    return c.redirect(typeof b.back === "string" && safeNext(b.back, "") ? safeNext(b.back, "/operate") : "/operate", 303);
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
    // A BACnet write without a priority uses the point's default: the journal says which.
    const priority = rawPriority === undefined ? (bacnetPoint ? ctx.bacnet.defaultPriority(info.index) : undefined) : Number(rawPriority);
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
    const exactIn = (x: number | string | null, lang: Lang): string => {
      if (x === null) return "—";
      if (typeof x === "string") return x;
      const state = statesFor(info, lang)?.[String(x)];
      return state ?? x.toLocaleString(lang === "fr" ? "fr-CA" : "en-CA", { maximumFractionDigits: 6, useGrouping: false });
    };
    const exact = (x: number | string | null): string => exactIn(x, siteLang);
    // What was asked, in a language: the value (or "relinquished") and a BACnet priority when given.
    const unitOf = info.unit && !info.states ? ` ${info.unit}` : "";
    const askedIn = (lang: Lang): string =>
      (relinquish ? t(lang, "operate.relinquished") : (Number.isFinite(v) ? exactIn(v, lang) : boundedText(rawValue)) + unitOf) +
      (priority !== undefined ? ` (${t(lang, "operate.priority", { p: boundedText(String(rawPriority ?? priority)) })})` : "");
    const oldText = info.readable ? exact(before.value) : "—";
    const newText = askedIn(siteLang);
    const unit = info.unit && !info.states ? ` ${info.unit}` : "";
    let result: { ok: boolean; error?: string; ms: number };
    if (problem) result = { ok: false, error: problem, ms: 0 };
    else if (needsSelect(info)) {
      // Select before operate: only the session holding the device's selection, within its time.
      const taken = sels.take(info.device, info.id, v, sessionOf(c));
      if (!taken.ok) {
        const error =
          taken.reason === "other" ? t(req.lang, "operate.sel.byOther", { user: taken.holder!.user }) : taken.reason === "mismatch" ? t(req.lang, "operate.sel.mismatch") : t(req.lang, "operate.sel.expired");
        journal.append({
          type: "operate.refused",
          source: info.id,
          device: info.device,
          actor: a.user!.name,
          message: t(siteLang, "journal.operate.executeRefused", { user: a.user!.name, point: info.id, reason: taken.reason }),
          data: { reason: taken.reason, value: v, holder: taken.holder?.user ?? null, i18n: { key: "journal.operate.executeRefused", params: { user: a.user!.name, point: info.id, reason: taken.reason } } },
        });
        if (json) return c.json({ ok: false, error, reason: taken.reason }, 409);
        return c.redirect(`/operate/${encodeURIComponent(info.id)}?value=${encodeURIComponent(String(v))}&err=${taken.reason === "other" ? "selectedByOther" : "notSelected"}`, 303);
      }
      result = bacnetPoint && (relinquish || priority !== undefined) ? await ctx.bacnet.write(info.index, relinquish ? null : v, priority) : await supervisor.write(info.index, v);
    } else if (bacnetPoint && (relinquish || priority !== undefined)) result = await ctx.bacnet.write(info.index, relinquish ? null : v, priority);
    else result = await supervisor.write(info.index, v);
    const writeParams = {
      user: a.user!.name,
      point: info.id,
      old: oldText + (info.readable ? unit : ""),
      new: newText,
      error: result.error ?? "",
      ms: Math.round(result.ms),
    };
    // The attempt is on disk before anyone is told how it went.
    journal.append({
      type: "point.write",
      source: info.id,
      device: info.device,
      actor: a.user!.name,
      message: t(siteLang, result.ok ? "journal.write.ok" : "journal.write.failed", writeParams),
      data: {
        old: before.value,
        oldQuality: before.quality,
        new: relinquish ? null : Number.isFinite(v) ? v : boundedText(rawValue),
        ...(bacnetPoint ? { priority: priority ?? null, relinquish } : {}),
        ok: result.ok,
        error: result.error ?? null,
        ms: result.ms,
        ip: a.ip,
        session: a.user!.kind,
        // Old and new in each language (numbers and state texts follow the reader's language).
        i18n: {
          key: result.ok ? "journal.write.ok" : "journal.write.failed",
          params: {
            ...writeParams,
            old: info.readable ? { fr: exactIn(before.value, "fr") + unit, en: exactIn(before.value, "en") + unit } : "—",
            new: relinquish || Number.isFinite(v) ? { fr: askedIn("fr"), en: askedIn("en") } : writeParams.new,
          },
        },
      },
    });
    if (json) return c.json({ ok: result.ok, error: result.error ?? null, ms: result.ms, old: before.value, new: relinquish ? null : v }, problem ? 400 : 200);
    return c.html(
      <OperateResultPage req={req} siteName={site.site.name} info={info} oldText={oldText + (info.readable ? unit : "")} newText={newText} result={result} back={safeNext(c.req.query("back"), "") || undefined} />,
      problem ? 400 : 200,
    );
  });
}
