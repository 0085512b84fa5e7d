import { raw } from "hono/html";
import type { Site } from "../config/site.ts";
import { translator, type Lang } from "../i18n/index.ts";
import type { PointInfo, PointRegistry } from "../points/registry.ts";
import { Layout } from "./layout.tsx";

/**
 * Trends: several pens (one axis per unit), the live window from the shared history ring, zoom and
 * pan by touch and mouse, pause/resume, values under the cursor. The chart is public/trend.js
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
  const catalog: Record<string, { l: string; u: string; d: string; s?: Record<string, string> }> = {};
  for (const p of registry.points) if (trendable(p)) catalog[p.id] = { l: lang === "fr" ? p.labelFr : p.label, u: p.unit, d: p.device, s: p.states };
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
            <span class="tr-mode" data-mode="live">
              {t("trends.live")}
            </span>
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
