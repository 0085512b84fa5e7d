import type { Site } from "../../config/site.ts";
import type { ResolvedMeter } from "../../energy/structure.ts";
import { translator, type Lang } from "../../i18n/index.ts";
import { Layout } from "../layout.tsx";

/**
 * Admin: the energy section of the site as YAML, checked by the same validator as the site file
 * (every issue with its path; warnings such as uncovered week time shown before saving). Tariffs
 * apply at once (with the date to recompute costs from); structure changes at the next start.
 * Below, the intervals held as bad data, to accept or set. public/energy-admin.js does the calls.
 */
export function EnergyAdminPage(props: { site: Site; yaml: string; meters: ResolvedMeter[]; held: { meter: string; ts: number; value: number; held: number }[]; lang: Lang; user?: { name: string; role: string }; path: string; csrf: string }) {
  const t = translator(props.lang);
  const fmt = new Intl.DateTimeFormat(props.lang === "fr" ? "fr-CA" : "en-CA", { timeZone: props.site.site.timezone, dateStyle: "short", timeStyle: "short" });
  return (
    <Layout title={t("energy.admin.title")} siteName={props.site.site.name} lang={props.lang} user={props.user} active="admin" path={props.path} timeZone={props.site.site.timezone} bodyClass="page-energy-admin" styles={["/assets/energy.css"]} scripts={["/assets/energy-admin.js"]}>
      <div class="energy en-admin" data-csrf={props.csrf}>
        <h1>{t("energy.admin.title")}</h1>
        <p class="hint">{t("energy.admin.hint")}</p>
        <textarea id="energy-yaml" spellcheck={false} rows={24} aria-label="energy">
          {props.yaml}
        </textarea>
        <p class="en-pick">
          <button class="btn" type="button" data-act="check">
            {t("energy.admin.check")}
          </button>
          <label>
            {t("energy.admin.recompute")} <input type="date" id="recompute-from" />
          </label>
          <button class="btn" type="button" data-act="save">
            {t("energy.admin.save")}
          </button>
        </p>
        <ul id="energy-issues" class="en-issues" aria-live="polite"></ul>
        <h2>{t("energy.admin.held")}</h2>
        {props.held.length ? (
          <table class="en-held">
            <thead>
              <tr>
                <th>{t("energy.device")}</th>
                <th>{t("energy.admin.when")}</th>
                <th class="num">{t("energy.admin.counted")}</th>
                <th class="num">{t("energy.admin.heldKwh")}</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {props.held.map((h) => (
                <tr data-meter={h.meter} data-ts={h.ts}>
                  <td>{h.meter}</td>
                  <td>{fmt.format(h.ts)}</td>
                  <td class="num">{h.value.toFixed(3)}</td>
                  <td class="num">{h.held.toFixed(3)}</td>
                  <td>
                    <button class="btn" type="button" data-act="accept">
                      {t("energy.admin.accept")}
                    </button>{" "}
                    <input type="number" step="any" aria-label={t("energy.admin.setValue")} />{" "}
                    <button class="btn" type="button" data-act="set">
                      {t("energy.admin.set")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p>{t("energy.admin.noneHeld")}</p>
        )}
      </div>
    </Layout>
  );
}
