import type { Site } from "../config/site.ts";
import { fmtTime, fmtValue } from "../hmi/format.ts";
import type { NodeModel } from "../hmi/oneline/model.ts";
import type { Lang, T } from "../i18n/index.ts";
import type { PointValue } from "../points/live.ts";
import type { PointInfo, PointRegistry } from "../points/registry.ts";

/**
 * The panel a tap on a one-line symbol opens: the node's devices' points (value, unit, quality,
 * time), and a live trend of its main measurement. Writable points are listed, marked, and not
 * operable here (operation with confirmation and roles comes with issue 4).
 *
 * `data-lease` lists the points the page adds to its live stream while the panel is open.
 */

export interface DetailProps {
  site: Site;
  node: NodeModel;
  devices: string[];
  registry: PointRegistry;
  values: (p: PointInfo) => PointValue;
  lang: Lang;
  t: T;
}

/** A point row; live.js updates the cells bound by data-p / data-pq / data-pt / data-prow. */
export function PointRow(props: { p: PointInfo; v: PointValue; lang: Lang; t: T; timeZone?: string; showDevice?: boolean }) {
  const { p, v, lang, t } = props;
  const bad = v.quality !== "good";
  const states = p.states;
  return (
    <tr data-prow={p.id} class={bad ? "q-bad" : "q-good"}>
      {props.showDevice ? <td>{p.device}</td> : null}
      <td class="pt-label">
        <span class="pt-name">{lang === "fr" ? p.labelFr : p.label}</span>
        <span class="pt-id">{p.id}</span>
        {p.writable ? (
          <span class="badge-write" title={t("detail.writableNote")}>
            ✎ {t("detail.writable")}
          </span>
        ) : null}
      </td>
      <td class="num">
        <span class={bad ? "v vb" : "v"} data-p={p.id} data-s={states ? JSON.stringify(states) : undefined}>
          {fmtValue(v, lang, states) + (bad ? " ?" : "")}
        </span>
        {p.unit ? <span class="unit"> {p.unit}</span> : null}
      </td>
      <td>
        <span class="qb" data-pq={p.id}>
          {t(`quality.${v.quality}`)}
        </span>
      </td>
      <td class="ts" data-pt={p.id}>
        {fmtTime(v.ts, lang, props.timeZone)}
      </td>
    </tr>
  );
}

export function DetailPanel(props: DetailProps) {
  const { node, t, lang, registry, site } = props;
  const tz = site.site.timezone;
  const lists = props.devices.map((d) => ({ device: site.devices.find((x) => x.id === d)!, points: (registry.byDevice.get(d) ?? []).filter((p) => p.readable) }));
  const writeOnly = props.devices.flatMap((d) => (registry.byDevice.get(d) ?? []).filter((p) => !p.readable));
  const lease = [...new Set([...lists.flatMap((l) => l.points.map((p) => p.id)), ...node.points])];
  const main = node.main ? registry.byId.get(node.main) : undefined;
  const mainLabel = main ? (lang === "fr" ? main.labelFr : main.label) : "";
  const anyWritable = lists.some((l) => l.points.some((p) => p.writable)) || writeOnly.length > 0;
  return (
    <div class="detail-inner" data-node={node.id} data-lease={lease.join(",")}>
      <header class="detail-head">
        <div>
          <div class="detail-kind">{t(`detail.kind.${node.kind}`)}</div>
          <h2>
            {node.label}
            {node.sublabel ? <span class="detail-sub"> — {node.sublabel}</span> : null}
          </h2>
          <div class="detail-state" data-node-state={node.id}></div>
        </div>
        <button type="button" class="detail-close btn" aria-label={t("detail.close")}>
          ✕ {t("detail.close")}
        </button>
      </header>
      {main ? (
        <section class="detail-trend">
          <h3>{t("detail.trend", { label: mainLabel })}</h3>
          <div class="mini-trend" data-trend={main.id} data-unit={main.unit} data-label={mainLabel}></div>
          {/* Back in time from the historian (public/trend.js wires these). */}
          <div class="tr-mini-ranges" role="toolbar">
            {(["live", "hour", "day", "week", "month"] as const).map((r) => (
              <button type="button" class="btn" data-trend-range={r} aria-pressed={r === "live" ? "true" : "false"}>
                {t(`trends.range.${r}`)}
              </button>
            ))}
          </div>
          <a class="btn" href={`/trends?p=${encodeURIComponent(main.id)}`}>
            {t("detail.openTrends")}
          </a>
        </section>
      ) : null}
      {lists.length === 0 ? <p class="detail-none">{t("detail.noDevice")}</p> : null}
      {lists.map((l) => (
        <section>
          <h3>{t("detail.points", { device: l.device.label ? `${l.device.id} — ${l.device.label}` : l.device.id })}</h3>
          <table class="pts">
            <thead>
              <tr>
                <th>{t("detail.point")}</th>
                <th class="num">{t("detail.value")}</th>
                <th>{t("detail.quality")}</th>
                <th class="ts">{t("detail.time")}</th>
              </tr>
            </thead>
            <tbody>
              {l.points.map((p) => (
                <PointRow p={p} v={props.values(p)} lang={lang} t={t} timeZone={tz} />
              ))}
            </tbody>
          </table>
        </section>
      ))}
      {writeOnly.length ? (
        <ul class="write-only">
          {writeOnly.map((p) => (
            <li>
              <span class="badge-write">✎ {t("detail.writable")}</span> {lang === "fr" ? p.labelFr : p.label} <span class="pt-id">{p.id}</span>
            </li>
          ))}
        </ul>
      ) : null}
      {anyWritable ? <p class="detail-note">{t("detail.writableNote")}</p> : null}
    </div>
  );
}
