import { labelIn, type Site } from "../config/site.ts";
import { fmtNumber } from "../hmi/format.ts";
import { translator, type T } from "../i18n/index.ts";
import { describeLoadProfileWith } from "../sim/load-profiles.ts";
import type { SimStatus } from "../sim/simulator.ts";
import { CsrfField } from "./alarms/ui.tsx";
import { Layout } from "./layout.tsx";
import type { PageRequest } from "./page-context.ts";

/**
 * The admin's simulation controls (demo and tests only): the page is striped and titled
 * SIMULATION so nobody mistakes it for switching real equipment.
 */

function Act(props: { t: T; csrf: string; action: string; target?: string; label: string; extra?: Record<string, string>; cls?: string }) {
  return (
    <form method="post" action="/sim" class="sim-act">
      <CsrfField token={props.csrf} />
      <input type="hidden" name="action" value={props.action} />
      {props.target ? <input type="hidden" name="target" value={props.target} /> : null}
      {Object.entries(props.extra ?? {}).map(([k, v]) => (
        <input type="hidden" name={k} value={v} />
      ))}
      <button type="submit" class={`btn ${props.cls ?? ""}`} data-sim={`${props.action}${props.target ? ":" + props.target : ""}${props.extra?.preset ? ":" + props.extra.preset : ""}`}>
        {props.label}
      </button>
    </form>
  );
}

/** The microgrid's GDP event as the page shows it (null: the site has no microgrid). */
export interface SimGdp {
  /** 0 none, 1 by request (BMS, operator, this page), 2 by schedule. */
  active: 0 | 1 | 2;
  request: boolean;
  setpointKw: number;
}

export function SimPage(props: { req: PageRequest; siteName: string; site: Site; status: SimStatus; gdp?: SimGdp | null; csrf: string; ok?: string; err?: string }) {
  const lang = props.req.lang;
  const t = translator(lang);
  const s = props.status;
  const { csrf } = props;
  const label = (d: string | null) => (d ? (labelIn(props.site.devices.find((x) => x.id === d), lang) ?? "") : "");
  return (
    <Layout title={t("sim.title")} siteName={props.siteName} lang={lang} path={props.req.path} user={props.req.user} active="sim" styles={["/assets/alarms.css"]} bodyClass="sim-mode">
      <section class="sim-page">
        <h1 class="sim-title">⚠ {t("sim.title")}</h1>
        <p class="sim-warning" role="note">
          {t("sim.warning")}
        </p>
        {props.ok ? (
          <p class="flash flash-ok" role="status">
            ✔ {t("sim.done")}
          </p>
        ) : null}
        {props.err ? (
          <p class="flash flash-err" role="alert">
            ✖ {props.err}
          </p>
        ) : null}
        <div class="sim-site">
          <div class="sim-card">
            <h2>{t("sim.sources")}</h2>
            <p>
              {t("sim.utility")}: <b data-sim-state="utility">{s.utilityAvailable ? t("sim.available") : t("sim.lost")}</b>
            </p>
            <Act t={t} csrf={csrf} action={s.utilityAvailable ? "utility-lost" : "utility-back"} label={t(s.utilityAvailable ? "sim.act.utility-lost" : "sim.act.utility-back")} />
            {s.atsToEmergency !== null ? (
              <>
                <p>
                  {t("sim.ats")}: <b data-sim-state="ats">{s.atsToEmergency ? t("sim.atsEmergency") : t("sim.atsNormal")}</b>
                </p>
                <Act t={t} csrf={csrf} action={s.atsToEmergency ? "ats-normal" : "ats-emergency"} label={t(s.atsToEmergency ? "sim.act.ats-normal" : "sim.act.ats-emergency")} />
              </>
            ) : null}
            <p>
              {t("sim.building")}: <b>{fmtNumber(s.buildingKw, lang)} kW</b>
              {s.shedSetpointKw !== null ? (
                <>
                  {" "}
                  · {t("sim.shed")}: <b>{fmtNumber(s.shedSetpointKw, lang)} kW</b>
                </>
              ) : null}
            </p>
          </div>
          {props.gdp ? (
            <div class={`sim-card${props.gdp.active ? " is-gdp" : ""}`} data-sim-gdp>
              <h2>{t("sim.gdp")}</h2>
              <p>
                {t("sim.gdp.state")}:{" "}
                <b data-sim-state="gdp">{props.gdp.active ? t("sim.gdp.on", { kw: fmtNumber(props.gdp.setpointKw, lang), by: t(props.gdp.active === 2 ? "mg.by.schedule" : "mg.by.request") }) : t("sim.gdp.off")}</b>
              </p>
              <p class="hint">{t("sim.gdp.hint")}</p>
              {props.gdp.request ? <Act t={t} csrf={csrf} action="gdp-end" label={t("sim.act.gdp-end")} /> : <Act t={t} csrf={csrf} action="gdp-start" label={t("sim.act.gdp-start")} cls="btn-danger" />}
            </div>
          ) : null}
        </div>
        <h2>{t("sim.breakers")}</h2>
        <div class="sim-grid">
          {s.breakers.map((b) => (
            <div class={`sim-card sim-brk${b.tripped ? " is-tripped" : ""}`} data-breaker={b.id}>
              <h3>
                {b.id} <small>{label(b.device)}</small>
              </h3>
              <p>
                <b data-sim-state={`brk:${b.id}`}>{b.tripped ? t("brk.tripped") : b.closed ? t("brk.closed") : t("brk.open")}</b> · {fmtNumber(b.kw, lang)} kW
              </p>
              {b.profile ? <p class="hint">{describeLoadProfileWith(b.profile, t, (n) => fmtNumber(n, lang))}</p> : null}
              <div class="sim-row">
                {b.tripped ? <Act t={t} csrf={csrf} action="reset" target={b.id} label={t("sim.act.reset")} /> : <Act t={t} csrf={csrf} action="trip" target={b.id} label={t("sim.act.trip")} cls="btn-danger" />}
                {b.closed ? <Act t={t} csrf={csrf} action="open" target={b.id} label={t("sim.act.open")} /> : !b.tripped ? <Act t={t} csrf={csrf} action="close" target={b.id} label={t("sim.act.close")} /> : null}
              </div>
              {b.feeder ? (
                <>
                  <div class="sim-row">
                    <Act t={t} csrf={csrf} action="load" target={b.id} extra={{ preset: "ramp-over-shed" }} label={t("sim.preset.ramp")} />
                    <Act t={t} csrf={csrf} action="load" target={b.id} extra={{ preset: "step" }} label={t("sim.preset.step")} />
                    <Act t={t} csrf={csrf} action="load" target={b.id} extra={{ preset: "oscillation" }} label={t("sim.preset.oscillation")} />
                    {b.profile ? <Act t={t} csrf={csrf} action="load-release" target={b.id} label={t("sim.act.load-release")} /> : null}
                  </div>
                  <form method="post" action="/sim" class="sim-load">
                    <CsrfField token={csrf} />
                    <input type="hidden" name="action" value="load" />
                    <input type="hidden" name="target" value={b.id} />
                    <input type="hidden" name="kind" value="constant" />
                    <label>
                      {t("sim.setLoad")}
                      <input name="kw" inputmode="decimal" size={6} aria-label={t("sim.setLoad")} />
                      kW
                    </label>
                    <button class="btn" type="submit">
                      {t("sim.apply")}
                    </button>
                  </form>
                </>
              ) : null}
            </div>
          ))}
        </div>
        <h2>{t("sim.devices")}</h2>
        <div class="sim-grid">
          {s.devices.map((d) => (
            <div class={`sim-card${d.offline || d.garbage ? " is-faulty" : ""}`} data-sim-device={d.id}>
              <h3>
                {d.id} <small>{label(d.id)}</small>
              </h3>
              <p>
                <b>{d.offline ? t("sim.offline") : d.garbage ? t("sim.garbage") : t("sim.answering")}</b>
              </p>
              <div class="sim-row">
                <Act t={t} csrf={csrf} action={d.offline ? "online" : "offline"} target={d.id} label={t(d.offline ? "sim.act.online" : "sim.act.offline")} />
                <Act t={t} csrf={csrf} action={d.garbage ? "sane" : "garbage"} target={d.id} label={t(d.garbage ? "sim.act.sane" : "sim.act.garbage")} />
              </div>
            </div>
          ))}
        </div>
      </section>
    </Layout>
  );
}
