import { ALARM_PRIORITIES, type AlarmPriority } from "../../config/site.ts";
import type { T } from "../../i18n/index.ts";
import { safePath } from "../../server/redirect.ts";

/** Small pieces shared by the alarm, journal, operate and account pages. */

/** The hidden CSRF field every state-changing form carries. */
export function CsrfField(props: { token: string }) {
  return <input type="hidden" name="_csrf" value={props.token} />;
}

/** The history filters' "from" and "to" day fields (alarm history and journal). */
export function DateRangeFields(props: { t: T; from?: string; to?: string }) {
  return (
    <>
      <label>
        {props.t("filter.from")}
        <input type="date" name="from" value={props.from ?? ""} />
      </label>
      <label>
        {props.t("filter.to")}
        <input type="date" name="to" value={props.to ?? ""} />
      </label>
    </>
  );
}

/** A filter's device choice: every device, or one. */
export function DeviceFilter(props: { t: T; label: string; devices: string[]; selected?: string }) {
  return (
    <label>
      {props.label}
      <select name="device">
        <option value="">{props.t("filter.all")}</option>
        {props.devices.map((d) => (
          <option value={d} selected={props.selected === d}>
            {d}
          </option>
        ))}
      </select>
    </label>
  );
}

/** A filter's priority choice: every priority, or one. */
export function PriorityFilter(props: { t: T; selected?: string }) {
  return (
    <label>
      {props.t("alarm.col.priority")}
      <select name="priority">
        <option value="">{props.t("filter.all")}</option>
        {ALARM_PRIORITIES.map((p) => (
          <option value={p} selected={props.selected === p}>
            {props.t(`priority.${p}`)}
          </option>
        ))}
      </select>
    </label>
  );
}

const PRIORITY_GLYPH: Record<AlarmPriority, string> = { critical: "◆", high: "▲", medium: "■", low: "●" };

/** Priority shown by shape, number and word — never by colour alone. */
export function PriorityBadge(props: { priority: AlarmPriority; t: T; noNumber?: boolean }) {
  const n = { critical: 1, high: 2, medium: 3, low: 4 }[props.priority];
  return (
    <span class={`prio prio-${props.priority}`} title={props.t(`priority.${props.priority}`)}>
      <span class="prio-glyph" aria-hidden="true">
        {PRIORITY_GLYPH[props.priority]}
      </span>
      {props.noNumber ? null : <span class="prio-n">{n}</span>} <span class="prio-word">{props.t(`priority.${props.priority}`)}</span>
    </span>
  );
}

const dtf = new Map<string, Intl.DateTimeFormat>();

/** `2026-01-05 09:30:12`, the site's wall clock. */
export function fmtDateTime(ts: number | null | undefined, timeZone?: string): string {
  if (!ts) return "—";
  const key = timeZone ?? "";
  let f = dtf.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hour12: false,
    });
    dtf.set(key, f);
  }
  return f.format(ts).replace(", ", " ");
}

/** Local date `YYYY-MM-DD` of a time (for date inputs). */
export function fmtDate(ts: number, timeZone?: string): string {
  return fmtDateTime(ts, timeZone).slice(0, 10);
}

/** A message passed back after a redirect (`?ok=ack`), only from a fixed set of keys. */
export function Flash(props: { t: T; ok?: string | null; err?: string | null }) {
  if (!props.ok && !props.err) return null;
  const key = props.err ? `flash.err.${props.err}` : `flash.ok.${props.ok}`;
  const text = props.t(key);
  if (text === key) return null;
  return (
    <p class={props.err ? "flash flash-err" : "flash flash-ok"} role={props.err ? "alert" : "status"}>
      {props.err ? "✖ " : "✔ "}
      {text}
    </p>
  );
}

/** Keeps a path on this site (no `//host`, no scheme): never an open redirect. */
export function safeNext(next: string | null | undefined, fallback = "/"): string {
  return safePath(next, fallback);
}
