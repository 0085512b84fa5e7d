import { labelIn, type Site } from "../config/site.ts";
import { fmtTime, fmtValue, statesFor } from "../hmi/format.ts";
import type { NodeModel } from "../hmi/oneline/model.ts";
import type { Lang, T } from "../i18n/index.ts";
import type { PointValue } from "../points/live.ts";
import type { PointInfo, PointRegistry } from "../points/registry.ts";
import type { AlarmView } from "../alarms/engine.ts";
import { AckForm, messageText, valueText } from "./alarms/alarms-page.tsx";
import { PriorityBadge } from "./alarms/ui.tsx";

/**
 * The panel a tap on a one-line symbol opens: the node's devices' points (value, unit, quality,
 * time), a live trend of its main measurement, and its commands: each opens the confirm screen
 * (true state, load at stake, select-before-operate for breakers) for whoever may operate; a
 * kiosk is offered the PIN pad instead.
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
  /** Maintenance and above may operate; an anonymous kiosk gets the PIN unlock. */
  rights?: { canOperate: boolean; kioskLocked: boolean };
  /** Who holds the device's breaker selection (select-before-operate), if anyone. */
  selectedBy?: (device: string) => string | undefined;
  /** The node's devices' alarms needing attention, and whether this screen may acknowledge them. */
  alarms?: { list: AlarmView[]; canAck: boolean; kioskLocked: boolean; csrf: string; notesRequired: readonly string[] };
}

/** A point row; live.js updates the cells bound by data-p / data-pq / data-pt / data-prow. */
export function PointRow(props: { p: PointInfo; v: PointValue; lang: Lang; t: T; timeZone?: string; showDevice?: boolean }) {
  const { p, v, lang, t } = props;
  const bad = v.quality !== "good";
  const states = statesFor(p, lang);
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
      {props.alarms && props.alarms.list.length ? <DetailAlarms {...props} /> : null}
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
          <h3>{t("detail.points", { device: labelIn(l.device, lang) ? `${l.device.id} — ${labelIn(l.device, lang)}` : l.device.id })}</h3>
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
      {anyWritable ? <Commands {...props} /> : null}
    </div>
  );
}

/** The node's commands, as buttons to the confirm screen (it comes back here afterwards). */
function Commands(props: DetailProps) {
  const { t, lang, registry, node } = props;
  const back = `/?node=${encodeURIComponent(node.id)}`;
  const cmds = props.devices.flatMap((d) => (registry.byDevice.get(d) ?? []).filter((p) => p.writable && (p.kind === "analog" || p.kind === "digital")));
  if (!cmds.length) return null;
  const rights = props.rights ?? { canOperate: false, kioskLocked: false };
  return (
    <section class="detail-commands" data-commands>
      <h3>{t("detail.commands")}</h3>
      {props.devices.map((d) => {
        const by = props.selectedBy?.(d);
        return by ? (
          <p class="sel-badge" data-selected-by={by}>
            {t("operate.sel.badge", { user: by })}
          </p>
        ) : null;
      })}
      {!rights.canOperate ? (
        <p class="detail-note">
          {t("operate.needRole")}{" "}
          {rights.kioskLocked ? (
            <a class="btn" href={`/auth/pin?next=${encodeURIComponent(back)}`}>
              {t("alarm.unlock")}
            </a>
          ) : null}
        </p>
      ) : null}
      <div class="cmd-list">
        {cmds.map((p) => {
          const name = lang === "fr" ? p.labelFr : p.label;
          const href = `/operate/${encodeURIComponent(p.id)}`;
          const states = statesFor(p, lang);
          if (!rights.canOperate)
            return (
              <span class="cmd cmd-off">
                ✎ {name} <span class="pt-id">{p.id}</span>
              </span>
            );
          // A BACnet command can also be given back (its priority is chosen on the confirm screen).
          const relinquish =
            p.owner.driver === "bacnet" ? (
              <a class="btn btn-big" href={`${href}?relinquish=1&back=${encodeURIComponent(back)}`} data-cmd={`${p.id}:relinquish`}>
                {t("operate.relinquish")}
              </a>
            ) : null;
          return states ? (
            <div class="cmd">
              <span class="cmd-name">{name}</span>
              {Object.entries(states).map(([k, label]) => (
                <a class="btn btn-big" href={`${href}?value=${encodeURIComponent(k)}&back=${encodeURIComponent(back)}`} data-cmd={`${p.id}=${k}`}>
                  {label}
                </a>
              ))}
              {relinquish}
            </div>
          ) : (
            <div class="cmd">
              <a class="btn btn-big" href={`${href}?back=${encodeURIComponent(back)}`} data-cmd={p.id}>
                ✎ {name}
              </a>
              {relinquish}
            </div>
          );
        })}
      </div>
    </section>
  );
}

/** The device's alarms at the top of its panel: the banner's tap lands here, one tap acknowledges. */
function DetailAlarms(props: DetailProps) {
  const { t, lang, node } = props;
  const a = props.alarms!;
  const back = `/?node=${encodeURIComponent(node.id)}`;
  return (
    <section class="detail-alarms" data-detail-alarms>
      <h3>
        {t("detail.alarms")} <a href={`/alarms?device=${encodeURIComponent(a.list[0]!.device)}`}>{t("detail.alarmList")}</a>
      </h3>
      {a.list.map((al) => {
        const unack = al.state === "unack_active" || al.state === "unack_rtn";
        return (
          <div class={`detail-alarm prio-row-${al.priority} st-${al.state}`} data-alarm={al.id} data-state={al.state}>
            <p>
              <PriorityBadge priority={al.priority} t={t} /> <span class="msg">{messageText(al, lang, t)}</span>
              {/* A digital alarm's message already ends with its state; an analog one gets its value. */}
              {al.kind === "analog" ? <b class="val"> {valueText(al, lang)}</b> : null}
              <span class={`ast ast-${al.state}`}>{t(`alarm.state.${al.state}`)}</span>
            </p>
            {unack && a.canAck ? <AckForm id={al.id} t={t} csrf={a.csrf} back={back} noteRequired={a.notesRequired.includes(al.priority)} /> : null}
            {unack && !a.canAck && a.kioskLocked ? (
              <a class="btn" href={`/auth/pin?next=${encodeURIComponent(back)}`}>
                {t("alarm.unlock")}
              </a>
            ) : null}
          </div>
        );
      })}
    </section>
  );
}
