import { fmtValue } from "../../hmi/format.ts";
import { translator, type T } from "../../i18n/index.ts";
import type { PointValue } from "../../points/live.ts";
import type { PointInfo } from "../../points/registry.ts";
import { CsrfField } from "../alarms/ui.tsx";
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

export function OperateListPage(props: { req: PageRequest; siteName: string; groups: { device: string; deviceLabel: string; points: { info: PointInfo; value: PointValue }[] }[]; rights: OperateRights }) {
  const lang = props.req.lang;
  const t = translator(lang);
  return (
    <Layout title={t("operate.title")} siteName={props.siteName} lang={lang} path={props.req.path} user={props.req.user} active="operate" styles={["/assets/alarms.css"]}>
      <section class="operate-page">
        <h1>{t("operate.title")}</h1>
        <Locked t={t} rights={props.rights} back="/operate" />
        <p class="hint">{t("operate.intro")}</p>
        {props.groups.map((g) => (
          <div class="operate-group">
            <h2>
              {g.deviceLabel} <small>({g.device})</small>
            </h2>
            <ul class="operate-points">
              {g.points.map(({ info, value }) => (
                <li>
                  <a class="btn btn-big" href={`/operate/${encodeURIComponent(info.id)}`}>
                    <span>{label(info, lang)}</span>{" "}
                    <span class="cur">
                      {info.readable ? fmtValue(value, lang, info.states) : "—"}
                      {info.unit && typeof value.value === "number" && !info.states ? ` ${info.unit}` : ""}
                    </span>
                  </a>
                </li>
              ))}
            </ul>
          </div>
        ))}
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
  const states = info.states;
  const range = info.range;
  const href = `/operate/${encodeURIComponent(info.id)}`;
  return (
    <Layout title={t("operate.title")} siteName={props.siteName} lang={lang} path={props.req.path} user={props.req.user} active="operate" styles={["/assets/alarms.css"]}>
      <section class="operate-page">
        <p>
          <a href="/operate">← {t("operate.title")}</a>
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
            <Keypad t={t} name="value" decimal value={typeof value.value === "number" ? String(value.value) : ""} />
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

/** Step 2: confirm old → new; step 3 is the POST. */
export function OperateConfirmPage(props: { req: PageRequest; siteName: string; info: PointInfo; value: PointValue; newValue: number; csrf: string; rights: OperateRights; relinquish?: boolean }) {
  const lang = props.req.lang;
  const t = translator(lang);
  const { info, value } = props;
  const states = info.states;
  const href = `/operate/${encodeURIComponent(info.id)}`;
  const unit = info.unit && !states ? ` ${info.unit}` : "";
  return (
    <Layout title={t("operate.confirm")} siteName={props.siteName} lang={lang} path={props.req.path} user={props.req.user} active="operate" styles={["/assets/alarms.css"]}>
      <section class="operate-page">
        <h1>
          {label(info, lang)} <small>{info.id}</small>
        </h1>
        <Locked t={t} rights={props.rights} back={props.relinquish ? `${href}?relinquish=1` : `${href}?value=${encodeURIComponent(String(props.newValue))}`} />
        <h2>{t("operate.step2")}</h2>
        <div class="operate-change">
          <div class="old">
            <span class="k">{t("operate.old")}</span>
            <span class="v">
              {info.readable ? fmtValue(value, lang, states) : t("operate.writeOnly")}
              {info.readable ? unit : ""}
            </span>
          </div>
          <div class="arrow" aria-hidden="true">
            →
          </div>
          <div class="new">
            <span class="k">{t("operate.new")}</span>
            <span class="v">
              {props.relinquish ? t("operate.relinquished") : fmtValue({ value: props.newValue }, lang, states)}
              {props.relinquish ? "" : unit}
            </span>
          </div>
        </div>
        {props.rights.canOperate ? (
          <form method="post" action={href} class="operate-exec">
            <CsrfField token={props.csrf} />
            {props.relinquish ? <input type="hidden" name="relinquish" value="1" /> : <input type="hidden" name="value" value={String(props.newValue)} />}
            <input type="hidden" name="old" value={value.value === null ? "" : String(value.value)} />
            <button class="btn btn-primary btn-big" type="submit">
              {t("operate.execute")}
            </button>{" "}
            <a class="btn btn-big" href={href}>
              {t("operate.cancel")}
            </a>
          </form>
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
          </p>
        ) : null}
        <p>
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
