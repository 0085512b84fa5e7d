import { fmtValue, statesFor } from "../../hmi/format.ts";
import { translator, type T } from "../../i18n/index.ts";
import type { PointValue } from "../../points/live.ts";
import type { PointInfo } from "../../points/registry.ts";
import type { BreakerConsequence } from "../../operate/consequence.ts";
import type { Selection } from "../../operate/selection.ts";
import { CsrfField, fmtDateTime } from "../alarms/ui.tsx";
import { Keypad } from "../auth/auth-pages.tsx";
import { Layout } from "../layout.tsx";
import type { PageRequest } from "../page-context.ts";

/**
 * Operating a writable point, in three touches: select (a state button or a value on the keypad),
 * confirm (old → new, shown side by side), execute (through the bus worker; the device's answer is
 * shown). Maintenance and admin only: others see the screens with the buttons replaced by why not.
 */

export interface OperateRights {
  canOperate: boolean;
  kioskLocked: boolean;
}

function Locked(props: { t: T; rights: OperateRights; back: string }) {
  if (props.rights.canOperate) return null;
  return (
    <p class="flash flash-err">
      {props.t("operate.needRole")}{" "}
      {props.rights.kioskLocked ? (
        <a class="btn" href={`/auth/pin?next=${encodeURIComponent(props.back)}`}>
          {props.t("alarm.unlock")}
        </a>
      ) : (
        <a class="btn" href={`/auth/login?next=${encodeURIComponent(props.back)}`}>
          {props.t("auth.login.submit")}
        </a>
      )}
    </p>
  );
}

function label(p: PointInfo, lang: string): string {
  return lang === "fr" ? p.labelFr : p.label;
}

type Live = { info: PointInfo; value: PointValue };

/** A live value with its unit, bound for public/live.js (data-p). */
function LiveValue(props: { p: Live; lang: string }) {
  const { info, value } = props.p;
  const states = statesFor(info, props.lang as "fr" | "en");
  const bad = value.quality !== "good";
  return (
    <span class="lv">
      <b class={bad ? "v vb" : "v"} data-p={info.id} data-s={states ? JSON.stringify(states) : undefined}>
        {fmtValue(value, props.lang as "fr" | "en", states) + (bad ? " ?" : "")}
      </b>
      {info.unit && !states ? ` ${info.unit}` : ""}
    </span>
  );
}

export function OperateListPage(props: {
  req: PageRequest;
  siteName: string;
  groups: { device: string; deviceLabel: string; points: Live[]; status?: Live; power?: Live; selectedBy?: string }[];
  rights: OperateRights;
}) {
  const lang = props.req.lang;
  const t = translator(lang);
  const ids = props.groups.flatMap((g) => [...g.points.filter((p) => p.info.readable).map((p) => p.info.id), ...(g.status ? [g.status.info.id] : []), ...(g.power ? [g.power.info.id] : [])]);
  return (
    <Layout title={t("operate.title")} siteName={props.siteName} lang={lang} path={props.req.path} user={props.req.user} active="operate" styles={["/assets/alarms.css"]}>
      <section class="operate-page" data-stream={ids.length ? `/api/stream?points=${encodeURIComponent(ids.join(","))}&fmt=c` : undefined}>
        <h1>{t("operate.title")}</h1>
        <Locked t={t} rights={props.rights} back="/operate" />
        <p class="hint">{t("operate.intro")}</p>
        <div class="operate-grid">
          {props.groups.map((g) => (
            <div class="operate-card" data-device={g.device}>
              <h2>
                {g.device} <small>{g.deviceLabel !== g.device ? g.deviceLabel : ""}</small>
              </h2>
              {g.status ? (
                <p class="operate-state">
                  {t("operate.state")} <LiveValue p={g.status} lang={lang} />
                  {g.power ? (
                    <>
                      {" · "}
                      <LiveValue p={g.power} lang={lang} />
                    </>
                  ) : null}
                </p>
              ) : null}
              {g.selectedBy ? <p class="sel-badge">{t("operate.sel.badge", { user: g.selectedBy })}</p> : null}
              <ul class="operate-points">
                {g.points.map((p) => (
                  <li>
                    <a class="btn btn-big" href={`/operate/${encodeURIComponent(p.info.id)}`} data-point={p.info.id}>
                      <span>{label(p.info, lang)}</span>
                      {p.info.readable ? (
                        <span class="cur">
                          <LiveValue p={p} lang={lang} />
                        </span>
                      ) : null}
                    </a>
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </div>
      </section>
    </Layout>
  );
}

/** Step 1: choose the new value. */
export function OperateSelectPage(props: { req: PageRequest; siteName: string; info: PointInfo; value: PointValue; rights: OperateRights; error?: string }) {
  // A BACnet point's command can also be released (WriteProperty NULL at its priority).
  const relinquishable = props.info.owner.driver === "bacnet";
  const lang = props.req.lang;
  const t = translator(lang);
  const { info, value } = props;
  const states = statesFor(info, lang);
  const range = info.range;
  const href = `/operate/${encodeURIComponent(info.id)}`;
  return (
    <Layout title={t("operate.title")} siteName={props.siteName} lang={lang} path={props.req.path} user={props.req.user} active="operate" styles={["/assets/alarms.css"]}>
      <section class="operate-page">
        <p>
          <a class="btn back-link" href="/operate">
            ← {t("operate.title")}
          </a>
        </p>
        <h1>
          {label(info, lang)} <small>{info.id}</small>
        </h1>
        <Locked t={t} rights={props.rights} back={href} />
        {props.error ? (
          <p class="flash flash-err" role="alert">
            ✖ {props.error}
          </p>
        ) : null}
        <p class="operate-current">
          {t("operate.current")}{" "}
          <b data-p={info.readable ? info.id : undefined}>{info.readable ? fmtValue(value, lang, states) : t("operate.writeOnly")}</b>
          {info.unit && !states ? ` ${info.unit}` : ""}
        </p>
        <h2>{t("operate.step1")}</h2>
        {states ? (
          <div class="operate-states">
            {Object.entries(states).map(([k, name]) => (
              <a class="btn btn-big" href={`${href}?value=${encodeURIComponent(k)}`} data-state={k}>
                {name}
              </a>
            ))}
          </div>
        ) : (
          <form method="get" action={href} class="operate-value" data-keypad="value">
            <Keypad t={t} name="value" decimal value="" />
            <p class="hint">
              {range?.min !== undefined || range?.max !== undefined
                ? t("operate.range", { min: range?.min ?? "−∞", max: range?.max ?? "+∞", unit: info.unit })
                : ""}
            </p>
            <button class="btn btn-primary btn-big" type="submit">
              {t("operate.next")}
            </button>
          </form>
        )}
        {relinquishable ? (
          <p class="operate-relinquish">
            <a class="btn btn-big" href={`${href}?relinquish=1`}>
              {t("operate.relinquish")}
            </a>
          </p>
        ) : null}
      </section>
    </Layout>
  );
}

/**
 * The BACnet command priority (WriteProperty 1–16) for the execute form, preset to the point's
 * default. One 48 px target per priority (touch, no keyboard); the device obeys the highest one
 * commanded, so a relinquish only gives back the chosen level.
 */
function PriorityPicker(props: { t: T; priority: { default: number; chosen?: number }; relinquish: boolean }) {
  const { t } = props;
  const chosen = props.priority.chosen ?? props.priority.default;
  return (
    <fieldset class="operate-priority" data-priority-picker>
      <legend>{t("operate.priority.pick")}</legend>
      <div class="prio-chips">
        {Array.from({ length: 16 }, (_, i) => i + 1).map((n) => (
          <label class={`prio-chip${n === props.priority.default ? " is-default" : ""}`}>
            <input type="radio" name="priority" value={String(n)} form="operate-exec-form" checked={n === chosen} data-priority={String(n)} />
            <span>{n}</span>
          </label>
        ))}
      </div>
      <p class="hint">{t(props.relinquish ? "operate.priority.hintRelinquish" : "operate.priority.hint", { p: props.priority.default })}</p>
    </fieldset>
  );
}

/** Step 2: confirm old → new with what it will do; for breakers select first (lock), then execute. */
export function OperateConfirmPage(props: {
  req: PageRequest;
  siteName: string;
  info: PointInfo;
  value: PointValue;
  newValue: number;
  csrf: string;
  rights: OperateRights;
  /** A BACnet command given back (relinquished) instead of a new value. */
  relinquish?: boolean;
  /** BACnet points: the command priority to offer (the point's default, or one chosen before). */
  priority?: { default: number; chosen?: number };
  breaker?: BreakerConsequence;
  processValue?: Live;
  select?: { mine: boolean; holder?: Selection; until?: number; timeoutS: number };
  back?: string;
  err?: string;
  tz?: string;
}) {
  const lang = props.req.lang;
  const t = translator(lang);
  const { info, value, breaker: brk, select } = props;
  const states = statesFor(info, lang);
  const href = `/operate/${encodeURIComponent(info.id)}`;
  const unit = info.unit && !states ? ` ${info.unit}` : "";
  const newText = props.relinquish ? t("operate.relinquished") : fmtValue({ value: props.newValue }, lang, states) + unit;
  const cancelTo = props.back || href;
  // The truth before the change: the status point for a breaker (its command has no read-back).
  const actual = brk?.tripped && brk.tripped.value.value === 1 ? brk.tripped : brk?.closed;
  const opening = brk && info.states && /OPEN/i.test(info.states[String(props.newValue)] ?? "");
  const kw = brk?.power && typeof brk.power.value.value === "number" && brk.power.value.quality === "good" ? brk.power.value.value : null;
  const pv = props.processValue;
  const pvNum = pv && typeof pv.value.value === "number" && pv.value.quality === "good" ? pv.value.value : null;
  const beyond = !props.relinquish && pvNum !== null && props.newValue < pvNum;
  const ids = [actual?.info.id, brk?.power?.info.id, pv?.info.id, info.readable ? info.id : undefined].filter(Boolean).join(",");
  const tz = props.tz;
  return (
    <Layout title={t("operate.confirm")} siteName={props.siteName} lang={lang} path={props.req.path} user={props.req.user} active="operate" styles={["/assets/alarms.css"]} scripts={["/assets/operate.js"]}>
      <section class="operate-page" data-stream={ids ? `/api/stream?points=${encodeURIComponent(ids)}&fmt=c` : undefined}>
        <h1>
          {label(info, lang)} <small>{info.id}</small>
        </h1>
        <Locked t={t} rights={props.rights} back={props.relinquish ? `${href}?relinquish=1` : `${href}?value=${encodeURIComponent(String(props.newValue))}`} />
        {props.err ? (
          <p class="flash flash-err" role="alert">
            ✖ {props.err === "selectedByOther" && select?.holder ? t("operate.sel.byOther", { user: select.holder.user }) : t(`operate.sel.err.${props.err === "selectedByOther" ? "other" : "expired"}`)}
          </p>
        ) : null}
        <h2>{t("operate.step2")}</h2>
        <div class="operate-change">
          <div class="old">
            <span class="k">{t("operate.old")}</span>
            <span class="v" data-actual={actual ? actual.info.id : undefined}>
              {actual ? <LiveValue p={actual} lang={lang} /> : info.readable ? <LiveValue p={{ info, value }} lang={lang} /> : t("operate.writeOnly")}
            </span>
            {actual ? <span class="k">{t("operate.fromStatus", { point: actual.info.id })}</span> : null}
          </div>
          <div class="arrow" aria-hidden="true">
            →
          </div>
          <div class="new">
            <span class="k">{t("operate.new")}</span>
            <span class="v" data-new>
              {newText}
            </span>
          </div>
        </div>
        {brk ? (
          <div class="operate-consequence" data-consequence>
            <p>
              {kw !== null && brk.power
                ? (() => {
                    // The sentence around the live value (it keeps updating while the screen is open).
                    const [before, after] = t(opening ? "operate.carries.open" : "operate.carries", { breaker: `${brk.breaker} ${brk.label}`, kw: "\u0000" }).split("\u0000");
                    return (
                      <>
                        {before}
                        <b class="v" data-p={brk.power.info.id}>
                          {fmtValue({ value: kw }, lang)}
                        </b>
                        {after}
                      </>
                    );
                  })()
                : t("operate.carries.unknown", { breaker: `${brk.breaker} ${brk.label}` })}
            </p>
            {brk.feeds.length > 1 || (brk.feeds.length === 1 && brk.feeds[0] !== brk.label) ? (
              <p>
                {t("operate.feeds")} <span class="feeds">{brk.feeds.join(", ")}</span>
              </p>
            ) : null}
          </div>
        ) : null}
        {pv ? (
          <p class={beyond ? "flash flash-err operate-warn" : "hint"} role={beyond ? "alert" : undefined} data-beyond={beyond ? "1" : "0"}>
            {beyond
              ? t("operate.beyond", { pv: `${label(pv.info, lang)} ${fmtValue(pv.value, lang)} ${pv.info.unit}`, value: newText })
              : t("operate.pvNow", { pv: `${label(pv.info, lang)} ${fmtValue(pv.value, lang)} ${pv.info.unit}` })}
          </p>
        ) : null}
        {props.rights.canOperate && props.priority && (!select || select.mine) ? <PriorityPicker t={t} priority={props.priority} relinquish={!!props.relinquish} /> : null}
        {props.rights.canOperate && select?.holder ? (
          <p class="flash flash-err sel-other" role="alert" data-selected-by={select.holder.user}>
            {t("operate.sel.heldBy", { user: select.holder.user, time: fmtDateTime(select.holder.until, tz).slice(11) })}
          </p>
        ) : null}
        {props.rights.canOperate && select?.holder ? (
          <p>
            <a class="btn btn-big" href={cancelTo} data-act="back">
              ← {t("operate.back")}
            </a>
          </p>
        ) : null}
        {props.rights.canOperate && select && !select.mine && !select.holder ? (
          <form method="post" action={`${href}/select`} class="operate-exec">
            <CsrfField token={props.csrf} />
            <input type="hidden" name="value" value={String(props.newValue)} />
            {props.back ? <input type="hidden" name="back" value={props.back} /> : null}
            <button class="btn btn-primary btn-big" type="submit" data-act="select">
              {t("operate.sel.select", { s: select.timeoutS })}
            </button>
            <a class="btn btn-big" href={cancelTo} data-act="cancel">
              {t("operate.cancel")}
            </a>
          </form>
        ) : null}
        {props.rights.canOperate && (!select || select.mine) ? (
          <div class="operate-exec">
            <form method="post" action={props.back ? `${href}?back=${encodeURIComponent(props.back)}` : href} id="operate-exec-form">
              <CsrfField token={props.csrf} />
              {props.relinquish ? <input type="hidden" name="relinquish" value="1" /> : <input type="hidden" name="value" value={String(props.newValue)} />}
              <input type="hidden" name="old" value={value.value === null ? "" : String(value.value)} />
              <button class="btn btn-primary btn-big" type="submit" data-act="execute">
                {t("operate.execute")}
              </button>
            </form>
            {select?.mine ? (
              <p class="sel-countdown" data-left-ms={String(Math.max(0, (select.until ?? 0) - Date.now()))} role="timer">
                {t("operate.sel.mine", { time: fmtDateTime(select.until, tz).slice(11) })}
              </p>
            ) : null}
            {select?.mine ? (
              <form method="post" action={`${href}/cancel`}>
                <CsrfField token={props.csrf} />
                <input type="hidden" name="back" value={cancelTo} />
                <button class="btn btn-big" type="submit" data-act="cancel">
                  {t("operate.cancel")}
                </button>
              </form>
            ) : (
              <a class="btn btn-big" href={cancelTo} data-act="cancel">
                {t("operate.cancel")}
              </a>
            )}
          </div>
        ) : null}
      </section>
    </Layout>
  );
}

export function OperateResultPage(props: {
  req: PageRequest;
  siteName: string;
  info: PointInfo;
  oldText: string;
  newText: string;
  result: { ok: boolean; error?: string; ms: number };
  /** Where the command was started (the one-line's detail): one tap back there. */
  back?: string;
}) {
  const lang = props.req.lang;
  const t = translator(lang);
  const { info, result } = props;
  return (
    <Layout title={t("operate.result")} siteName={props.siteName} lang={lang} path={props.req.path} user={props.req.user} active="operate" styles={["/assets/alarms.css"]}>
      <section class="operate-page" data-stream={info.readable ? `/api/stream?points=${encodeURIComponent(info.id)}&fmt=c` : undefined}>
        <h1>
          {label(info, lang)} <small>{info.id}</small>
        </h1>
        <p class={result.ok ? "flash flash-ok" : "flash flash-err"} role="status" data-write-result={result.ok ? "ok" : "failed"}>
          {result.ok ? `✔ ${t("operate.done", { ms: Math.round(result.ms) })}` : `✖ ${t("operate.failed", { error: result.error ?? "?" })}`}
        </p>
        <p>
          {props.oldText} → {props.newText}
        </p>
        {info.readable ? (
          <p class="operate-current">
            {t("operate.readBack")} <b data-p={info.id}>…</b>
            {info.unit && !info.states ? ` ${info.unit}` : ""}
          </p>
        ) : null}
        <p class="operate-after">
          {props.back ? (
            <a class="btn btn-big btn-primary" href={props.back} data-act="back">
              ← {t("operate.back")}
            </a>
          ) : null}{" "}
          <a class="btn btn-big" href={`/operate/${encodeURIComponent(info.id)}`}>
            {t("operate.again")}
          </a>{" "}
          <a class="btn btn-big" href="/operate">
            {t("operate.title")}
          </a>
        </p>
      </section>
    </Layout>
  );
}
