import type { AlarmListFilter, AlarmSummary, AlarmView } from "../../alarms/engine.ts";
import type { ActivationRow } from "../../alarms/store.ts";
import { ALARM_PRIORITIES, type AlarmPriority } from "../../config/site.ts";
import { fmtNumber } from "../../hmi/format.ts";
import { translator, type Lang, type T } from "../../i18n/index.ts";
import { Layout } from "../layout.tsx";
import type { PageRequest } from "../page-context.ts";
import { CsrfField, DateRangeFields, DeviceFilter, Flash, fmtDateTime, PriorityBadge, PriorityFilter } from "./ui.tsx";

/**
 * Alarm summary (active and unacknowledged-RTN, then shelved and out of service) and alarm history.
 * The list refreshes itself when the alarm summary on the live stream changes (public/alarms.js
 * fetches /alarms/list with the same filters), except while someone is filling an action form.
 */

export interface AlarmRights {
  silence: boolean;
  ack: boolean;
  shelve: boolean;
  admin: boolean;
  /** Anonymous kiosk: offer the PIN pad instead of the buttons. */
  kioskLocked: boolean;
}

const STATE_GLYPH: Record<AlarmView["state"], string> = { unack_active: "⚠", ack_active: "●", unack_rtn: "○", normal: "" };

function StateText(props: { a: AlarmView; t: T }) {
  return (
    <span class={`ast ast-${props.a.state}`}>
      <span aria-hidden="true">{STATE_GLYPH[props.a.state]}</span> {props.t(`alarm.state.${props.a.state}`)}
    </span>
  );
}

/** The point's state text ("TRIPPED", "NORMAL") or its value with the unit; never a raw 1/0. */
export function valueText(a: AlarmView, lang: Lang): string {
  if (a.kind === "comm" || a.value === null) return "—";
  if (a.kind === "digital") return (lang === "fr" ? a.statesFr : a.states)?.[String(a.value)] ?? (a.value ? "1" : "0");
  return `${fmtNumber(a.value, lang)}${a.unit ? " " + a.unit : ""}`;
}

/**
 * The message as it reads now: a digital alarm that has returned to normal no longer ends with its
 * abnormal state (": TRIPPED") but says it is back.
 */
export function messageText(a: AlarmView, lang: Lang, t: T): string {
  const m = a.message[lang];
  if (a.active || (a.state !== "unack_rtn" && a.state !== "normal")) return m;
  const name = lang === "fr" ? a.stateNameFr : a.stateName;
  const cut = name && (m.endsWith(` : ${name}`) || m.endsWith(`: ${name}`)) ? m.slice(0, m.lastIndexOf(":")).trimEnd() : m;
  return `${cut} — ${t("alarm.returned")}`;
}

export const COMMENTS = ["alarm.comment.checked", "alarm.comment.working", "alarm.comment.known", "alarm.comment.false"];
export const SHELVE_REASONS = ["alarm.shelve.reason.maintenance", "alarm.shelve.reason.nuisance", "alarm.shelve.reason.sensor", "alarm.shelve.reason.test"];

/**
 * Acknowledge with a preset comment in one tap (each preset is a submit button), or with free text.
 * Where the site requires a note for this priority, the bare Acknowledge button is not offered.
 */
export function AckForm(props: { id: string; t: T; csrf: string; back: string; noteRequired: boolean }) {
  const { t } = props;
  return (
    <form method="post" action={`/alarms/${encodeURIComponent(props.id)}/ack`} class="ack-form" data-alarm-action="ack">
      <CsrfField token={props.csrf} />
      <input type="hidden" name="back" value={props.back} />
      <div class="presets">
        {COMMENTS.map((k) => (
          <button class="btn preset" type="submit" name="preset" value={t(k)} data-preset={k}>
            ✔ {t(k)}
          </button>
        ))}
      </div>
      <div class="free">
        <input name="comment" maxlength={500} placeholder={t(props.noteRequired ? "alarm.comment.required" : "alarm.comment.placeholder")} aria-label={t("alarm.comment")} required={props.noteRequired} />
        <button class="btn btn-primary" type="submit" data-ack="plain">
          ✔ {t("alarm.ack")}
        </button>
      </div>
      {props.noteRequired ? <p class="hint note-required">{t("alarm.noteRequired")}</p> : null}
    </form>
  );
}

function Actions(props: { a: AlarmView; t: T; rights: AlarmRights; csrf: string; back: string; maxShelve: number; notesRequired: readonly string[] }) {
  const { a, t, rights, csrf, back } = props;
  const id = encodeURIComponent(a.id);
  const unack = a.state === "unack_active" || a.state === "unack_rtn";
  const durations = [15, 60, 240, 480, 1440].filter((m) => m <= props.maxShelve);
  if (!durations.includes(props.maxShelve) && props.maxShelve < 1440) durations.push(props.maxShelve);
  if (rights.kioskLocked && (unack || !a.shelvedUntil))
    return (
      <a class="btn" href={`/auth/pin?next=${encodeURIComponent(back)}`}>
        {t("alarm.unlock")}
      </a>
    );
  return (
    <div class="alarm-actions">
      {rights.ack && unack && !a.outOfService ? <AckForm id={a.id} t={t} csrf={csrf} back={back} noteRequired={props.notesRequired.includes(a.priority)} /> : null}
      {rights.shelve && !a.outOfService && !a.shelvedUntil ? (
        <form method="post" action={`/alarms/${id}/shelve`} class="shelve-form" data-alarm-action="shelve">
          <CsrfField token={csrf} />
          <input type="hidden" name="back" value={back} />
          <select name="minutes" aria-label={t("alarm.shelve.for")}>
            {durations.map((m) => (
              <option value={String(m)}>{m < 60 ? t("alarm.minutes", { n: m }) : t("alarm.hours", { n: Math.round((m / 60) * 10) / 10 })}</option>
            ))}
          </select>
          <select name="preset" aria-label={t("alarm.shelve.reason")}>
            <option value="">{t("alarm.shelve.reason")}…</option>
            {SHELVE_REASONS.map((k) => (
              <option value={t(k)}>{t(k)}</option>
            ))}
          </select>
          <input name="comment" maxlength={500} placeholder={t("alarm.shelve.reasonFree")} aria-label={t("alarm.shelve.reasonFree")} />
          <button class="btn" type="submit">
            {t("alarm.shelve")}
          </button>
        </form>
      ) : null}
      {rights.shelve && a.shelvedUntil ? (
        <form method="post" action={`/alarms/${id}/unshelve`} data-alarm-action="unshelve">
          <CsrfField token={csrf} />
          <input type="hidden" name="back" value={back} />
          <button class="btn" type="submit">
            ▶ {t("alarm.unshelve")}
          </button>
        </form>
      ) : null}
      {rights.admin ? (
        <form method="post" action={`/alarms/${id}/${a.outOfService ? "in-service" : "out-of-service"}`} data-alarm-action="oos">
          <CsrfField token={csrf} />
          <input type="hidden" name="back" value={back} />
          <button class="btn btn-quiet" type="submit">
            {a.outOfService ? t("alarm.inService") : t("alarm.oos")}
          </button>
        </form>
      ) : null}
    </div>
  );
}

function AlarmTable(props: { list: AlarmView[]; lang: Lang; tz: string; rights: AlarmRights; csrf: string; back: string; maxShelve: number; notesRequired: readonly string[]; empty: string; caption: string; pick?: boolean }) {
  const t = translator(props.lang);
  return (
    <table class="alarms">
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          {props.pick ? (
            <th class="pick-col">
              <span class="sr-only">{t("alarm.pick")}</span>
            </th>
          ) : null}
          <th>{t("alarm.col.priority")}</th>
          <th>{t("alarm.col.state")}</th>
          <th>{t("alarm.col.time")}</th>
          <th>{t("alarm.col.device")}</th>
          <th>{t("alarm.col.message")}</th>
          <th>{t("alarm.col.value")}</th>
          <th>{t("alarm.col.ack")}</th>
          <th>{t("alarm.col.actions")}</th>
        </tr>
      </thead>
      <tbody>
        {props.list.length === 0 ? (
          <tr>
            <td colspan={props.pick ? 9 : 8} class="empty">
              {props.empty}
            </td>
          </tr>
        ) : null}
        {props.list.map((a) => (
          <tr class={`alarm-row prio-row-${a.priority} st-${a.state}`} data-alarm={a.id} data-priority={a.priority} data-state={a.state}>
            {props.pick ? (
              <td class="pick-col">
                {(a.state === "unack_active" || a.state === "unack_rtn") && !a.outOfService ? (
                  <label class="pick-box">
                    <input type="checkbox" name="ids" value={a.id} form="bulk-ack" aria-label={t("alarm.pickOne", { id: a.id })} />
                  </label>
                ) : null}
              </td>
            ) : null}
            <td>
              <PriorityBadge priority={a.priority} t={t} />
            </td>
            <td>
              <StateText a={a} t={t} />
              {a.shelvedUntil ? <div class="hint">{t("alarm.shelvedUntil", { time: fmtDateTime(a.shelvedUntil, props.tz).slice(11, 16), user: a.shelvedBy ?? "" })}</div> : null}
              {a.outOfService ? <div class="hint">{t("alarm.outOfService")}</div> : null}
            </td>
            <td class="ts">{fmtDateTime(a.raisedAt ?? a.since, props.tz)}</td>
            <td>{a.device}</td>
            <td class="msg" lang={props.lang}>
              {messageText(a, props.lang, t)}
            </td>
            <td class="num val">{valueText(a, props.lang)}</td>
            <td class="ackinfo">
              {a.ackBy ? (
                <>
                  {a.ackBy} {fmtDateTime(a.ackAt, props.tz).slice(11)}
                  {a.ackComment ? <div class="hint">« {a.ackComment} »</div> : null}
                </>
              ) : (
                "—"
              )}
            </td>
            <td>
              <Actions a={a} t={t} rights={props.rights} csrf={props.csrf} back={props.back} maxShelve={props.maxShelve} notesRequired={props.notesRequired} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export interface AlarmListProps {
  lang: Lang;
  tz: string;
  active: AlarmView[];
  shelved: AlarmView[];
  oos: AlarmView[];
  rights: AlarmRights;
  csrf: string;
  back: string;
  maxShelve: number;
  notesRequired: readonly string[];
  /** The list's filters, so "acknowledge all visible" acknowledges what is shown. */
  filter?: { priority?: string; device?: string };
  rev: number;
}

/**
 * Acknowledge several alarms in one action with one comment: the ticked rows, or every
 * unacknowledged alarm the list shows (its filters), each with a preset comment in one tap.
 */
function BulkAck(p: AlarmListProps & { unacked: number }) {
  const t = translator(p.lang);
  const noteNeeded = p.active.some((a) => p.notesRequired.includes(a.priority));
  const hidden = (
    <>
      <CsrfField token={p.csrf} />
      <input type="hidden" name="back" value={p.back} />
      {p.filter?.priority ? <input type="hidden" name="priority" value={p.filter.priority} /> : null}
      {p.filter?.device ? <input type="hidden" name="device" value={p.filter.device} /> : null}
    </>
  );
  return (
    <div class="bulk-ack">
      {/* Every unacknowledged alarm shown (the list's filters): one tap on a preset. */}
      <form method="post" action="/alarms/ack" class="bulk-all" data-alarm-action="ack-all">
        {hidden}
        <input type="hidden" name="all" value="1" />
        <span class="bulk-title">{t("alarm.bulk.all", { n: p.unacked })}</span>
        {COMMENTS.map((k) => (
          <button class="btn preset" type="submit" name="preset" value={t(k)} data-bulk-all={k}>
            ✔✔ {t(k)}
          </button>
        ))}
        {noteNeeded ? null : (
          <button class="btn" type="submit" data-bulk-all="none">
            ✔✔ {t("alarm.bulk.noComment")}
          </button>
        )}
      </form>
      {/* The ticked rows (their boxes belong to this form), with one comment. */}
      <form method="post" action="/alarms/ack" id="bulk-ack" class="bulk-picked" data-alarm-action="ack-many">
        {hidden}
        <span class="bulk-title">{t("alarm.bulk.selected")}</span>
        <select name="preset" aria-label={t("alarm.comment")}>
          <option value="">{t(noteNeeded ? "alarm.comment.choose" : "alarm.comment.none")}</option>
          {COMMENTS.map((k) => (
            <option value={t(k)}>{t(k)}</option>
          ))}
        </select>
        <input name="comment" maxlength={500} placeholder={t("alarm.comment.placeholder")} aria-label={t("alarm.comment")} />
        <button class="btn btn-primary" type="submit" data-bulk="selected">
          ✔ {t("alarm.ack")}
        </button>
      </form>
    </div>
  );
}

/** The refreshing part of the summary page. */
export function AlarmList(p: AlarmListProps) {
  const t = translator(p.lang);
  const unacked = p.active.filter((a) => (a.state === "unack_active" || a.state === "unack_rtn") && !a.outOfService).length;
  const pick = p.rights.ack && unacked > 0;
  return (
    <div class="alarm-lists" data-rev={String(p.rev)}>
      {pick ? <BulkAck {...p} unacked={unacked} /> : null}
      <AlarmTable {...p} list={p.active} pick={pick} empty={t("alarm.none")} caption={t("alarm.section.active", { n: p.active.length })} />
      {p.shelved.length ? <AlarmTable {...p} list={p.shelved} empty="" caption={t("alarm.section.shelved", { n: p.shelved.length })} /> : null}
      {p.oos.length ? <AlarmTable {...p} list={p.oos} empty="" caption={t("alarm.section.oos", { n: p.oos.length })} /> : null}
    </div>
  );
}

export function AlarmsPage(props: {
  req: PageRequest;
  siteName: string;
  list: AlarmListProps;
  filter: AlarmListFilter;
  devices: string[];
  summary: AlarmSummary;
  listUrl: string;
  ok?: string;
  err?: string;
}) {
  const lang = props.req.lang;
  const t = translator(lang);
  const f = props.filter;
  return (
    <Layout title={t("alarm.title")} siteName={props.siteName} lang={lang} path={props.req.path} user={props.req.user} active="alarms" styles={["/assets/alarms.css"]} timeZone={props.list.tz}>
      <section class="alarm-page">
        <div class="alarm-head">
          <h1>{t("alarm.title")}</h1>
          <div class="alarm-counts">
            {ALARM_PRIORITIES.map((p) => (
              <span class={`count count-${p}${props.summary.counts[p] ? " nz" : ""}`}>
                <PriorityBadge priority={p} t={t} noNumber /> <b class="count-n">{props.summary.counts[p]}</b>
              </span>
            ))}
          </div>
          {props.list.rights.silence ? (
            <form method="post" action="/alarms/silence" data-alarm-action="silence">
              <CsrfField token={props.list.csrf} />
              <input type="hidden" name="back" value={props.list.back} />
              <button class="btn" type="submit">
                {t("alarm.silence")}
              </button>
            </form>
          ) : null}
          <a class="btn" href="/alarms/history">
            {t("alarm.history")}
          </a>
        </div>
        <Flash t={t} ok={props.ok} err={props.err} />
        <form method="get" action="/alarms" class="filters">
          <PriorityFilter t={t} selected={f.priority} />
          <DeviceFilter t={t} label={t("alarm.col.device")} devices={props.devices} selected={f.device} />
          <label>
            {t("filter.sort")}
            <select name="sort">
              {(["priority", "time", "device"] as const).map((s) => (
                <option value={s} selected={(f.sort ?? "priority") === s}>
                  {t(`filter.sort.${s}`)}
                </option>
              ))}
            </select>
          </label>
          <button class="btn" type="submit">
            {t("filter.apply")}
          </button>
        </form>
        <div id="alarm-list" data-alarm-list={props.listUrl}>
          <AlarmList {...props.list} />
        </div>
      </section>
    </Layout>
  );
}

export function AlarmHistoryPage(props: {
  req: PageRequest;
  siteName: string;
  tz: string;
  rows: ActivationRow[];
  total: number;
  page: number;
  pageSize: number;
  filter: { from?: string; to?: string; device?: string; priority?: string };
  devices: string[];
}) {
  const lang = props.req.lang;
  const t = translator(lang);
  const f = props.filter;
  const q = (page: number) => {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) u.set(k, v);
    if (page > 0) u.set("page", String(page));
    const s = u.toString();
    return `/alarms/history${s ? "?" + s : ""}`;
  };
  const pages = Math.max(1, Math.ceil(props.total / props.pageSize));
  return (
    <Layout title={t("alarm.history")} siteName={props.siteName} lang={lang} path={props.req.path} user={props.req.user} active="alarms" styles={["/assets/alarms.css"]} timeZone={props.tz}>
      <section class="alarm-page">
        <div class="alarm-head">
          <h1>{t("alarm.history")}</h1>
          <a class="btn" href="/alarms">
            {t("alarm.title")}
          </a>
        </div>
        <form method="get" action="/alarms/history" class="filters">
          <DateRangeFields t={t} from={f.from} to={f.to} />
          <PriorityFilter t={t} selected={f.priority} />
          <DeviceFilter t={t} label={t("alarm.col.device")} devices={props.devices} selected={f.device} />
          <button class="btn" type="submit">
            {t("filter.apply")}
          </button>
        </form>
        <table class="alarms history">
          <caption>{t("alarm.history.count", { n: props.total })}</caption>
          <thead>
            <tr>
              <th>{t("alarm.col.priority")}</th>
              <th>{t("alarm.col.raised")}</th>
              <th>{t("alarm.col.device")}</th>
              <th>{t("alarm.col.message")}</th>
              <th>{t("alarm.col.value")}</th>
              <th>{t("alarm.col.ack")}</th>
              <th>{t("alarm.col.cleared")}</th>
              <th>{t("alarm.col.closed")}</th>
            </tr>
          </thead>
          <tbody>
            {props.rows.length === 0 ? (
              <tr>
                <td colspan={8} class="empty">
                  {t("alarm.history.none")}
                </td>
              </tr>
            ) : null}
            {props.rows.map((r) => (
              <tr data-activation={String(r.id)} data-alarm={r.alarmId}>
                <td>
                  <PriorityBadge priority={r.priority as AlarmPriority} t={t} />
                </td>
                <td class="ts">{fmtDateTime(r.raisedAt, props.tz)}</td>
                <td>{r.device}</td>
                <td class="msg">{r.message}</td>
                <td class="num">{r.value === null ? "—" : fmtNumber(r.value, lang)}</td>
                <td class="ackinfo">
                  {r.ackedBy ? (
                    <>
                      {r.ackedBy} {fmtDateTime(r.ackedAt, props.tz)}
                      {r.ackComment ? <div class="hint">« {r.ackComment} »</div> : null}
                    </>
                  ) : (
                    "—"
                  )}
                </td>
                <td class="ts">{fmtDateTime(r.clearedAt, props.tz)}</td>
                <td class="ts">
                  {fmtDateTime(r.closedAt, props.tz)}
                  {r.closeReason ? <div class="hint">{t(`alarm.close.${r.closeReason}`)}</div> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <nav class="pager">
          {props.page > 0 ? (
            <a class="btn" href={q(props.page - 1)}>
              ← {t("pager.newer")}
            </a>
          ) : null}
          <span>{t("pager.page", { page: props.page + 1, pages })}</span>
          {props.page + 1 < pages ? (
            <a class="btn" href={q(props.page + 1)}>
              {t("pager.older")} →
            </a>
          ) : null}
        </nav>
      </section>
    </Layout>
  );
}
