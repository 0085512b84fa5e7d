import { raw } from "hono/html";
import { labelIn, type Site } from "../config/site.ts";
import { statesFor } from "../hmi/format.ts";
import { translator, type Lang } from "../i18n/index.ts";
import type { PointInfo, PointRegistry } from "../points/registry.ts";
import { Layout } from "./layout.tsx";

/**
 * Trends: several pens (one axis per unit), ranges from the live window to years (the historian
 * picks the tier), a custom from/to, min–max bands, gaps, CSV of the view, zoom and pan by touch and
 * mouse, pause/resume, values under the cursor. The chart is public/trend.js
 * (uPlot); the pens chosen are in the URL (?p=A.x,B.y) so a view can be bookmarked on a kiosk.
 */

export function trendable(p: PointInfo): boolean {
  return p.readable && (p.kind === "analog" || p.kind === "digital");
}

export function TrendsPage(props: {
  site: Site;
  registry: PointRegistry;
  selected: string[];
  lang: Lang;
  user?: { name: string; role: string };
  path: string;
  windowMinutes: number;
}) {
  const { site, registry, lang } = props;
  const t = translator(lang);
  const catalog: Record<string, { l: string; u: string; d: string; dl: string; s?: Record<string, string> }> = {};
  const deviceLabel = new Map(site.devices.map((d) => [d.id, labelIn(d, lang) ?? ""]));
  for (const p of registry.points)
    if (trendable(p)) catalog[p.id] = { l: lang === "fr" ? p.labelFr : p.label, u: p.unit, d: p.device, dl: deviceLabel.get(p.device) ?? "", s: statesFor(p, lang) };
  const devices = site.devices.filter((d) => registry.byDevice.has(d.id));
  return (
    <Layout
      title={t("trends.title")}
      siteName={site.site.name}
      lang={lang}
      user={props.user}
      active="trends"
      path={props.path}
      timeZone={site.site.timezone}
      bodyClass="page-trends"
      styles={["/assets/uPlot.min.css"]}
      scripts={["/assets/uPlot.iife.min.js", "/assets/trend.js", "/assets/trends-page.js"]}
    >
      <div class="trends" data-window-min={props.windowMinutes}>
        <section class="tr-main">
          <div class="tr-toolbar tr-ranges" role="toolbar" aria-label={t("trends.window")}>
            {(["live", "hour", "day", "week", "month", "year"] as const).map((r) => (
              <button type="button" class="btn tr-range" data-range={r} aria-pressed={r === "live" ? "true" : "false"}>
                {t(`trends.range.${r}`)}
              </button>
            ))}
            <button type="button" class="btn tr-range" data-range="custom" aria-pressed="false" aria-expanded="false">
              {t("trends.range.custom")}
            </button>
          </div>
          <form class="tr-custom" hidden>
            <label>
              {t("trends.from")} <input type="datetime-local" name="from" required />
            </label>
            <label>
              {t("trends.to")} <input type="datetime-local" name="to" required />
            </label>
            <button type="submit" class="btn">
              {t("trends.show")}
            </button>
          </form>
          <div class="tr-toolbar" role="toolbar">
            <button type="button" class="btn tr-live" data-act="toggle" aria-pressed="false">
              {t("trends.pause")}
            </button>
            <button type="button" class="btn" data-act="zoomIn">
              {t("trends.zoomIn")}
            </button>
            <button type="button" class="btn" data-act="zoomOut">
              {t("trends.zoomOut")}
            </button>
            <button type="button" class="btn" data-act="panLeft">
              {t("trends.panLeft")}
            </button>
            <button type="button" class="btn" data-act="panRight">
              {t("trends.panRight")}
            </button>
            <button type="button" class="btn" data-act="csv">
              ↓ {t("trends.csv")}
            </button>
            {/* A state, not a control: plain text (the Pause/Live button is the control). */}
            <span class="tr-mode" data-mode="live" role="status" aria-live="polite">
              {t("trends.live")}
            </span>
            <span class="tr-tier" aria-live="polite"></span>
          </div>
          <div id="trend-chart" class="trend-chart"></div>
          <p class="hint">{t("trends.hint")}</p>
        </section>
        <section class="tr-side">
          <h2>{t("trends.selected")}</h2>
          <ul id="pens" class="pens">
            <li class="pens-none">{t("trends.none")}</li>
          </ul>
          <h2>{t("trends.choose")}</h2>
          <div class="picker">
            {devices.map((d) => (
              <details class="pick-dev">
                <summary>
                  <b>{d.id}</b> <span class="dev-label">{d.label ?? ""}</span>
                </summary>
                <div class="pick-points">
                  {(registry.byDevice.get(d.id) ?? []).filter(trendable).map((p) => (
                    <button type="button" class="pick" data-id={p.id} aria-pressed={props.selected.includes(p.id) ? "true" : "false"}>
                      {lang === "fr" ? p.labelFr : p.label}
                      {p.unit ? <span class="unit"> ({p.unit})</span> : null}
                    </button>
                  ))}
                </div>
              </details>
            ))}
          </div>
        </section>
      </div>
      <script type="application/json" id="trend-catalog">
        {raw(JSON.stringify({ points: catalog, selected: props.selected.filter((id) => catalog[id]) }).replace(/</g, "\\u003c"))}
      </script>
    </Layout>
  );
}
