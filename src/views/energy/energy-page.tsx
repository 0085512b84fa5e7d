import { raw } from "hono/html";
import type { Site } from "../../config/site.ts";
import { Flag } from "../../energy/counters.ts";
import { PERIODS, VIEWS, type EnergyView } from "../../energy/views.ts";
import { translator, type Lang } from "../../i18n/index.ts";
import { Layout } from "../layout.tsx";

/**
 * The energy pages (vendor manual §8.2.2): total stacked by circuit, partial by zone or circuit,
 * comparison, one device's details, cost with each circuit's share. Periods step by links (works
 * without script, bookmarkable on a lobby screen with ?lobby=1); public/energy.js draws the bars.
 * The headline answers "how much, how much money, compared with before" before any chart.
 */
export function EnergyPage(props: { site: Site; view: EnergyView | undefined; lang: Lang; user?: { name: string; role: string }; path: string; lobby: boolean }) {
  const { site, view: v, lang } = props;
  const t = translator(lang);
  const locale = lang === "fr" ? "fr-CA" : "en-CA";
  const num = (x: number, d = 0) => new Intl.NumberFormat(locale, { maximumFractionDigits: d, minimumFractionDigits: d }).format(x);
  const money = (x: number | null | undefined, cur: string) => (x === null || x === undefined ? t("energy.noTariff") : cur ? new Intl.NumberFormat(locale, { style: "currency", currency: cur }).format(x) : num(x, 2));
  // The period's general PDF report (src/reports), for who may download it.
  const pdfHref = (from: number, period: "month" | "year") => {
    const [y, m] = new Intl.DateTimeFormat("en-CA", { timeZone: site.site.timezone, year: "numeric", month: "2-digit" }).format(from + 12 * 3_600_000).split("-");
    return `/reports/report.pdf?kind=general&period=${period}&year=${Number(y)}&month=${Number(m)}&lang=${lang}`;
  };
  const qty = (kwh: number) => (Math.abs(kwh) >= 10_000 ? `${num(kwh / 1000, 1)} MWh` : `${num(kwh, 0)} kWh`);
  const href = (o: Record<string, string | number | undefined>) => {
    const q = new URLSearchParams();
    const cur = { view: v?.req.view, period: v?.req.period, at: v ? new Date(v.req.at).toISOString().slice(0, 10) : undefined, group: v?.req.group, a: v?.req.a, b: v?.req.b, lobby: props.lobby ? "1" : undefined, ...o };
    for (const [k, x] of Object.entries(cur)) if (x !== undefined && x !== "") q.set(k, String(x));
    return `/energy?${q}`;
  };
  const day = (ts: number) => new Date(ts).toISOString().slice(0, 10);
  const periodTitle = v ? new Intl.DateTimeFormat(locale, { timeZone: site.site.timezone, ...(v.req.period === "day" ? { dateStyle: "full" } : v.req.period === "month" ? { month: "long", year: "numeric" } : { year: "numeric" }) }).format(v.from + 3_600_000) + (v.req.period === "decade" ? ` – ${new Date(v.to - 86_400_000).getUTCFullYear()}` : "") : "";
  const marked = v ? v.total.flags & (Flag.ESTIMATED | Flag.BAD) : 0;
  const delta = v?.previousTotal && v.previousTotal.value ? ((v.total.value - v.previousTotal.value) / v.previousTotal.value) * 100 : undefined;
  return (
    <Layout
      title={t("energy.title")}
      siteName={site.site.name}
      lang={lang}
      user={props.user}
      active="energy"
      path={props.path}
      timeZone={site.site.timezone}
      bodyClass={props.lobby ? "page-energy lobby" : "page-energy"}
      styles={["/assets/uPlot.min.css", "/assets/energy.css"]}
      scripts={["/assets/uPlot.iife.min.js", "/assets/energy.js"]}
    >
      {!v ? (
        <p class="en-empty">{t("energy.noMeters")}</p>
      ) : (
        <div class="energy" data-view={v.req.view}>
          <nav class="en-tabs" aria-label={t("energy.views")}>
            {VIEWS.map((k) => (
              <a class="btn" href={href({ view: k })} aria-current={k === v.req.view ? "page" : undefined}>
                {t(`energy.view.${k}`)}
              </a>
            ))}
            <a class="btn en-lobby" href={href({ lobby: props.lobby ? undefined : "1" })}>
              {props.lobby ? t("energy.lobbyExit") : t("energy.lobby")}
            </a>
          </nav>
          <div class="en-periods" role="toolbar" aria-label={t("energy.period")}>
            {PERIODS.map((k) => (
              <a class="btn" href={href({ period: k })} aria-current={k === v.req.period ? "page" : undefined}>
                {t(`energy.period.${k}`)}
              </a>
            ))}
            <span class="en-step">
              <a class="btn" href={href({ at: day(v.prevAt) })} aria-label={t("energy.prev")}>
                ◀
              </a>
              <b class="en-when">{periodTitle}</b>
              <a class="btn" href={href({ at: day(v.nextAt) })} aria-label={t("energy.next")}>
                ▶
              </a>
              <a class="btn" href={href({ at: undefined })}>
                {t("energy.now")}
              </a>
            </span>
          </div>
          {v.req.view === "partial" ? (
            <div class="en-periods">
              {(["circuits", "zones"] as const).map((g) => (
                <a class="btn" href={href({ group: g })} aria-current={(v.req.group ?? "circuits") === g ? "page" : undefined}>
                  {t(`energy.group.${g}`)}
                </a>
              ))}
            </div>
          ) : null}
          {v.req.view === "compare" || v.req.view === "details" ? (
            <form class="en-pick" method="get" action="/energy">
              <input type="hidden" name="view" value={v.req.view} />
              <input type="hidden" name="period" value={v.req.period} />
              <input type="hidden" name="at" value={day(v.req.at)} />
              <label>
                {t("energy.device")}{" "}
                <select name="a">
                  {v.meters.map((m) => (
                    <option value={m.id} selected={m.id === (v.series[0]?.id ?? "")}>
                      {m.label}
                    </option>
                  ))}
                </select>
              </label>
              {v.req.view === "compare" ? (
                <label>
                  {t("energy.with")}{" "}
                  <select name="b">
                    <option value="">{t("energy.previousPeriod")}</option>
                    {v.meters.map((m) => (
                      <option value={m.id} selected={m.id === v.series[1]?.id}>
                        {m.label}
                      </option>
                    ))}
                  </select>
                </label>
              ) : null}
              <button class="btn" type="submit">
                {t("energy.show")}
              </button>
            </form>
          ) : null}
          <section class="en-headline" aria-live="polite">
            <div class="en-figure">
              <span class="en-k">{t("energy.consumption")}</span>
              <span class="en-v">{qty(v.total.value)}</span>
            </div>
            {v.req.view !== "compare" ? (
              <div class="en-figure">
                <span class="en-k">{t("energy.cost")}</span>
                <span class="en-v">{money(v.total.cost, v.currency)}</span>
              </div>
            ) : null}
            {v.demand ? (
              <div class="en-figure">
                <span class="en-k">{t("energy.demand")}</span>
                <span class="en-v">
                  {num(v.demand.peakKw, 0)} kW · {money(v.demand.charge, v.currency)}
                </span>
              </div>
            ) : null}
            {v.demand?.charge !== undefined && v.total.cost !== null ? (
              <div class="en-figure">
                <span class="en-k">{t("energy.bill")}</span>
                <span class="en-v">{money(v.total.cost + v.demand.charge, v.currency)}</span>
              </div>
            ) : null}
            {v.previousTotal ? (
              <div class="en-figure en-prev">
                <span class="en-k">{t("energy.previousPeriod")}</span>
                <span class="en-v">
                  {qty(v.previousTotal.value)}
                  {delta !== undefined ? <span class="en-delta"> ({(delta >= 0 ? "+" : "") + num(delta, 1)} %)</span> : null}
                </span>
              </div>
            ) : null}
            {marked ? (
              <p class="en-quality" role="note">
                {v.total.flags & Flag.BAD ? t("energy.hasBad", { held: qty(v.total.held) }) + " " : ""}
                {v.total.flags & Flag.ESTIMATED ? t("energy.hasEstimated") : ""}
              </p>
            ) : null}
            {v.total.missing ? (
              <p class="en-quality en-missing" role="note">
                {t(`energy.hasMissing.${v.bucket}`, { n: v.total.missing, of: v.total.elapsed })}
              </p>
            ) : null}
          </section>
          <div class="en-chart-wrap">
            <div id="energy-chart" class="en-chart" role="img" aria-label={t("energy.chart")}></div>
            <p class="en-legend-q">
              <span class="en-sw en-sw-est"></span> {t("energy.legend.estimated")} <span class="en-sw en-sw-bad"></span> {t("energy.legend.bad")} {v.previous && v.req.view !== "cost" ? (
                <>
                  <span class="en-sw en-sw-prev"></span> {t("energy.previousPeriod")}
                </>
              ) : null}
            </p>
          </div>
          {v.share.length ? (
            <section class="en-share">
              <h2>{v.req.view === "cost" ? t("energy.costShare") : t("energy.share")}</h2>
              <table>
                <thead>
                  <tr>
                    <th>{t("energy.circuit")}</th>
                    <th class="num">kWh</th>
                    <th class="num">%</th>
                    <th class="num">{t("energy.cost")}</th>
                  </tr>
                </thead>
                <tbody>
                  {v.share.map((s) => {
                    const series = v.series.find((x) => x.id === s.id)!;
                    return (
                      <tr>
                        <td>
                          <span class="en-dot" data-color={series.color}></span>
                          {s.label}
                        </td>
                        <td class="num">{num(s.value, 0)}</td>
                        <td class="num">
                          <span class="en-bar" data-pct={Math.max(0, Math.min(100, s.pct)).toFixed(1)}></span>
                          {num(s.pct, 1)}
                        </td>
                        <td class="num">{money(s.cost, v.currency)}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </section>
          ) : null}
          <p class="en-actions">
            <a class="btn" href={href({}).replace("/energy?", "/api/energy/view.csv?")} download>
              ↓ {t("energy.csv")}
            </a>
            {(v.req.period === "month" || v.req.period === "year") && (props.user?.role === "maintenance" || props.user?.role === "admin") ? (
              <>
                {" "}
                <a class="btn" href={pdfHref(v.from, v.req.period)}>
                  ↓ {t("energy.pdf")}
                </a>
              </>
            ) : null}
          </p>
          <script type="application/json" id="energy-data">
            {raw(JSON.stringify({ ...v, locale, tz: site.site.timezone, i18n: { when: t(`energy.bucket.${v.bucket}`), previous: t("energy.previousPeriod"), estimated: t("energy.legend.estimated"), bad: t("energy.legend.bad"), missing: t("energy.missing") } }).replace(/</g, "\\u003c"))}
          </script>
        </div>
      )}
    </Layout>
  );
}
