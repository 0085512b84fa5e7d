import { translator, type Lang } from "../i18n/index.ts";
import type { MicrogridStatus } from "../microgrid/controller.ts";
import { localInputValue } from "../microgrid/schedule.ts";
import { Layout } from "./layout.tsx";

/**
 * The microgrid page: the "why" panel (inputs, demand and projection, stage, the rule that fired
 * with its thresholds), what the signal means, the GDP event and the battery, and a 10-minute trend
 * of kW against the setpoint and the signal. The panel is re-drawn every second (htmx).
 */

export interface TrendSeries {
  t: number[];
  kw: number[];
  setpoint: number[];
  signal: number[];
}

const n1 = (x: number, lang: Lang) => (Number.isFinite(x) ? x.toLocaleString(lang === "fr" ? "fr-CA" : "en-CA", { maximumFractionDigits: 1, minimumFractionDigits: 1 }) : "—");

function clock(ms: number, tz: string, lang: Lang, withDate = false): string {
  if (!(ms > 0)) return "—";
  return new Intl.DateTimeFormat(lang === "fr" ? "fr-CA" : "en-CA", { timeZone: tz, hour: "2-digit", minute: "2-digit", second: withDate ? undefined : "2-digit", ...(withDate ? { year: "numeric", month: "2-digit", day: "2-digit" } : {}), hour12: false }).format(ms);
}

/** The dispatch's reason parameters (numbers as text) in the reader's decimal format. */
function localNumbers(p: Record<string, string | number> | undefined, lang: Lang): Record<string, string | number> | undefined {
  if (!p) return p;
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, typeof v === "string" && /^-?\d+\.\d+$/.test(v) ? n1(Number(v), lang) : v]));
}

/** kW and setpoint on the left axis, the signal (0..100 %) on the right; gaps stay gaps. */
export function TrendSvg(props: { s: TrendSeries; lang: Lang }) {
  const W = 900;
  const H = 220;
  const { s } = props;
  if (s.t.length < 2) return <svg class="mg-trend" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="trend" />;
  const t0 = s.t[0]!;
  const t1 = s.t[s.t.length - 1]!;
  const finite = [...s.kw, ...s.setpoint].filter(Number.isFinite);
  const lo = Math.max(0, Math.min(...finite) - 20);
  const hi = Math.max(...finite) + 20;
  const x = (t: number) => ((t - t0) / Math.max(1, t1 - t0)) * (W - 60) + 40;
  const yk = (v: number) => H - 20 - ((v - lo) / Math.max(1, hi - lo)) * (H - 40);
  const ys = (v: number) => H - 20 - (v / 100) * (H - 40);
  const path = (v: number[], y: (v: number) => number) => {
    let d = "";
    let pen = false;
    for (let i = 0; i < s.t.length; i++) {
      const vi = v[i]!;
      if (!Number.isFinite(vi)) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${x(s.t[i]!).toFixed(1)} ${y(vi).toFixed(1)}`;
      pen = true;
    }
    return d;
  };
  return (
    <svg class="mg-trend" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="kW / setpoint / signal">
      <text x="2" y="14" font-size="12">{`${Math.round(hi)} kW`}</text>
      <text x="2" y={H - 22} font-size="12">{`${Math.round(lo)} kW`}</text>
      <text x={W - 40} y="14" font-size="12">100 %</text>
      <text x={W - 30} y={H - 22} font-size="12">0 %</text>
      <path d={path(s.setpoint, yk)} fill="none" stroke="#1a1a1a" stroke-width="2" stroke-dasharray="6 4" />
      <path d={path(s.signal, ys)} fill="none" stroke="#b35c00" stroke-width="2" />
      <path d={path(s.kw, yk)} fill="none" stroke="#1f4e9c" stroke-width="2.5" />
    </svg>
  );
}

export function WhyPanel(props: { st: MicrogridStatus | null; trend: TrendSeries; lang: Lang; tz: string }) {
  const { st, lang, tz } = props;
  const t = translator(lang);
  if (!st) return <div id="mg-why">—</div>;
  const d = st.decision;
  const r = d.rule;
  // The rule in words, with the excess that fired it and the thresholds it was compared with.
  const excess = n1(st.excessKw, lang);
  const rows = st.shedding.table;
  const rule =
    r.kind === "none"
      ? t("mg.rule.none", { excess, next: r.nextKw })
      : r.kind === "row"
        ? r.nextKw === null
          ? t("mg.rule.rowLast", { excess, thr: r.thresholdKw, row: r.row, signal: d.signal, release: r.releaseKw })
          : t("mg.rule.row", { excess, thr: r.thresholdKw, row: r.row, signal: d.signal, next: r.nextKw, release: r.releaseKw })
        : r.kind === "held"
          ? r.wanted > r.row
            ? t("mg.rule.heldUp", { excess, wanted: r.wanted, thr: rows[r.wanted - 1]?.excessKw ?? "?", row: r.row, signal: d.signal, until: clock(r.untilMs, tz, lang), hold: st.shedding.holdUpS })
            : t("mg.rule.heldDown", { excess, row: r.row, release: (rows[r.row - 1]?.excessKw ?? 0) - st.shedding.hysteresisKw, signal: d.signal, until: clock(r.untilMs, tz, lang), hold: st.shedding.holdDownS })
          : t("mg.rule.noData", { row: r.row });
  const src = st.source;
  const gdpText = st.gdp.active === 1 ? t("mg.gdp.request") : st.gdp.active === 2 ? t("mg.gdp.schedule") : t("mg.gdp.none");
  const b = st.bess;
  // Without a good building kW the outputs are comm-fail (held, not computed): never shown as good.
  const held = src.index < 0;
  const big = (abnormal: boolean) => `mg-big${abnormal ? " abnormal" : ""}${held ? " q-bad" : ""}`;
  const heldMark = held ? <small class="qb">{t("mg.q.held")}</small> : null;
  return (
    <div id="mg-why" class="mg-why" data-stage={d.state.stage} data-signal={d.signal} data-gdp={st.gdp.active} data-quality={held ? "comm-fail" : "good"}>
      <section class="mg-head" aria-live="polite">
        <div class={big(d.state.stage > 0)}>
          <span class="mg-lbl">{t("mg.stage")}</span> <b data-k="stage">{d.state.stage}</b> {heldMark}
        </div>
        <div class={big(d.signal < 100)}>
          <span class="mg-lbl">{t("mg.signal")}</span> <b data-k="signal">{d.signal} %</b> {heldMark}
        </div>
        <div class={big(d.state.second)}>
          <span class="mg-lbl">{t("mg.second")}</span> <b data-k="second">{d.state.second ? 100 : 0} %</b> {heldMark}
        </div>
        <div class={`mg-big ${st.gdp.active ? "abnormal" : ""}`} data-k="gdp">
          {gdpText}
        </div>
      </section>
      <p class="mg-rule">
        <span class="mg-lbl">{t("mg.rule")} :</span> <b data-k="rule">{rule}</b>
      </p>
      <div class="mg-cols">
        <table class="pts">
          <caption>{t("mg.inputs")}</caption>
          <tbody>
            <tr>
              <th>{t("mg.kw")}</th>
              <td data-k="kw">
                {n1(src.kw, lang)} kW{" "}
                {src.index < 0 ? <b class="q-bad">{t("mg.noSource")}</b> : src.fallback ? <b class="q-bad">{t("mg.fallback", { point: src.id! })}</b> : <span class="hint">{t("mg.from", { point: src.id! })}</span>}
              </td>
            </tr>
            <tr>
              <th>{st.gdp.active ? t("mg.setpointGdp", { kw: st.normalSetpointKw }) : t("mg.setpoint")}</th>
              <td data-k="setpoint">{n1(st.setpointKw, lang)} kW</td>
            </tr>
            <tr>
              <th>{t("mg.excess")}</th>
              <td data-k="excess">{n1(st.excessKw, lang)} kW</td>
            </tr>
          </tbody>
        </table>
        <table class="pts">
          <caption>{t("mg.demand")}</caption>
          <tbody>
            <tr>
              <th>{t("mg.block", { from: clock(st.block.start, tz, lang), to: clock(st.block.end, tz, lang) })}</th>
              <td data-k="block" class={st.blockComplete ? undefined : "q-bad"}>
                {n1(st.block.runningKw, lang)} kW{st.blockComplete ? null : <small class="qb"> {t("mg.q.partial", { pct: Math.round((100 * st.block.coveredMs) / Math.max(1, st.now - st.block.start)) })}</small>}
              </td>
            </tr>
            <tr>
              <th>{t("mg.projected")}</th>
              <td data-k="projected" class={st.blockComplete && !held ? undefined : "q-bad"}>
                {n1(st.block.projectedKw, lang)} kW
              </td>
            </tr>
            <tr>
              <th>{t("mg.lastBlock")}</th>
              <td data-k="last-block" class={st.lastBlockKw === null || st.lastBlockComplete ? undefined : "q-bad"}>
                {st.lastBlockKw === null ? (st.lastBlockSeen ? <small class="qb">{t("mg.q.notMeasured")}</small> : "—") : `${n1(st.lastBlockKw, lang)} kW`}
                {st.lastBlockKw !== null && !st.lastBlockComplete ? <small class="qb"> {t("mg.q.gap")}</small> : null}
              </td>
            </tr>
            <tr>
              <th>{t("mg.rolling")}</th>
              <td data-k="rolling" class={held ? "q-bad" : undefined}>{n1(st.rollingKw, lang)} kW</td>
            </tr>
          </tbody>
        </table>
        {b ? (
          <table class="pts">
            <caption>{t("mg.bess")}</caption>
            <tbody>
              <tr>
                <th>{t("mg.bess.command")}</th>
                <td data-k="bess" class={b.unconfirmed ? "q-bad" : undefined}>
                  {b.commandKw === null ? "—" : `${n1(b.commandKw, lang)} kW`}
                  {b.unconfirmed ? <small class="qb"> {t("mg.bess.unconfirmed")}</small> : null} · {t("mg.bess.now", { soc: n1(b.soc, lang), kw: n1(b.powerKw, lang) })}
                </td>
              </tr>
              <tr>
                <th>{t("mg.bess.reason")}</th>
                <td data-k="bess-reason" class={b.interlock ? "q-bad" : undefined}>
                  {!b.enabled ? t("mg.bess.notEnabled") : b.manual ? t("mg.bess.manual") : t(b.reason.key, localNumbers(b.reason.params, lang))}
                </td>
              </tr>
            </tbody>
          </table>
        ) : null}
      </div>
      <h2>{t("mg.trend")}</h2>
      <TrendSvg s={props.trend} lang={lang} />
      <p class="hint">
        <span class="mg-key k-kw">━ {t("mg.kw")}</span> <span class="mg-key k-sp">╌ {t("mg.setpoint")}</span> <span class="mg-key k-sig">━ {t("mg.signal")} (%)</span>
      </p>
    </div>
  );
}

export function MicrogridPage(props: {
  siteName: string;
  timeZone: string;
  st: MicrogridStatus | null;
  trend: TrendSeries;
  lang: Lang;
  user?: { name: string; role: string };
  path?: string;
  csrf?: string;
  canOperate: boolean;
  error?: string;
}) {
  const { lang, st } = props;
  const t = translator(lang);
  const sh = st?.shedding;
  const fmtLocal = (ms: number) => localInputValue(ms, props.timeZone);
  return (
    <Layout title={t("mg.title")} siteName={props.siteName} lang={lang} user={props.user} active="microgrid" path={props.path} timeZone={props.timeZone}>
      <div class="page-pad">
        <h1>{t("mg.title")}</h1>
        <div hx-get="/microgrid/why" hx-trigger="every 1s" hx-swap="innerHTML">
          <WhyPanel st={st} trend={props.trend} lang={lang} tz={props.timeZone} />
        </div>
        {sh ? (
          <section>
            <h2>{t("mg.why")}</h2>
            <p data-k="meaning">{t(sh.direction === "shed" ? "mg.meaning.shed" : "mg.meaning.permit", { second: sh.secondStageExcessKw, delay: sh.secondStageDelayS })}</p>
            <p class="hint">{t("mg.hold", { hyst: sh.hysteresisKw, up: sh.holdUpS, down: sh.holdDownS })}</p>
            <table class="pts">
              <caption>{t("mg.table")}</caption>
              <tbody>
                <tr>
                  {sh.table.map((r) => (
                    <td>+{r.excessKw} kW</td>
                  ))}
                </tr>
                <tr>
                  {sh.table.map((r) => (
                    <td>{sh.direction === "shed" ? 100 - r.signal : r.signal} %</td>
                  ))}
                </tr>
              </tbody>
            </table>
          </section>
        ) : null}
        <section>
          <h2>{t("mg.gdp")}</h2>
          {props.error ? <p class="q-bad">{props.error}</p> : null}
          {st && st.gdp.schedStart > 0 ? <p>{t("mg.gdp.scheduled", { from: clock(st.gdp.schedStart, props.timeZone, lang, true), to: clock(st.gdp.schedEnd, props.timeZone, lang, true) })}</p> : null}
          {props.canOperate ? (
            <>
              <p>
                <a class="btn" href="/operate/MICROGRID.gdp_request">{t("mg.gdp.requestOp")}</a>
              </p>
              <form method="post" action="/microgrid/gdp-schedule">
                <input type="hidden" name="_csrf" value={props.csrf ?? ""} />
                <label>
                  {t("mg.gdp.schedStart")} <input type="datetime-local" name="start" value={fmtLocal(st?.gdp.schedStart ?? 0)} required />
                </label>{" "}
                <label>
                  {t("mg.gdp.schedEnd")} <input type="datetime-local" name="end" value={fmtLocal(st?.gdp.schedEnd ?? 0)} required />
                </label>{" "}
                <button type="submit" class="btn">{t("mg.gdp.set")}</button>
              </form>
              <form method="post" action="/microgrid/gdp-schedule">
                <input type="hidden" name="_csrf" value={props.csrf ?? ""} />
                <input type="hidden" name="clear" value="1" />
                <button type="submit" class="btn">{t("mg.gdp.clear")}</button>
              </form>
            </>
          ) : null}
        </section>
      </div>
    </Layout>
  );
}
