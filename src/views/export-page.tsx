import { ALARM_PRIORITIES } from "../config/site.ts";
import { translator } from "../i18n/index.ts";
import { EXPORT_GROUPS } from "../exports/csv.ts";
import { Layout } from "./layout.tsx";
import type { PageRequest } from "./page-context.ts";

/** /export: the two CSV downloads as plain GET forms (the file comes back as an attachment). */
export function ExportPage(props: { req: PageRequest; siteName: string; points: { id: string; label: string; unit: string }[]; devices: string[]; today: string; monthAgo: string }) {
  const t = translator(props.req.lang);
  const Format = () => (
    <>
      <label>
        {t("export.sep")}{" "}
        <select name="sep">
          <option value=";">;</option>
          <option value=",">,</option>
          <option value="tab">Tab</option>
        </select>
      </label>
      <label>
        {t("export.decimal")}{" "}
        <select name="decimal">
          <option value=",">, (12,5)</option>
          <option value=".">. (12.5)</option>
        </select>
      </label>
    </>
  );
  return (
    <Layout title={t("export.title")} siteName={props.siteName} lang={props.req.lang} path={props.req.path} user={props.req.user} active="admin" styles={["/assets/alarms.css"]}>
      <h1>{t("export.title")}</h1>
      <p class="hint">{t("export.note")}</p>
      <h2>{t("export.history")}</h2>
      <form method="get" action="/export/history.csv" id="export-history">
        <label>
          {t("export.points")}{" "}
          <select name="points" multiple size={8} required>
            {props.points.map((p) => (
              <option value={p.id}>
                {p.id} — {p.label}
                {p.unit ? ` (${p.unit})` : ""}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("export.from")} <input type="date" name="from" value={props.monthAgo} required />
        </label>
        <label>
          {t("export.to")} <input type="date" name="to" value={props.today} required />
        </label>
        <label>
          {t("export.group")}{" "}
          <select name="group">
            {EXPORT_GROUPS.map((g) => (
              <option value={g} selected={g === "15m"}>
                {t(`export.group.${g}`)}
              </option>
            ))}
          </select>
        </label>
        <Format />
        <button class="btn" type="submit">
          ↓ CSV
        </button>
        <button class="btn" type="submit" formaction="/export/bundle.zip">
          ↓ ZIP ({t("export.bundle")})
        </button>
      </form>
      <h2>{t("export.alarms")}</h2>
      <form method="get" action="/export/alarms.csv" id="export-alarms">
        <label>
          {t("export.from")} <input type="date" name="from" value={props.monthAgo} required />
        </label>
        <label>
          {t("export.to")} <input type="date" name="to" value={props.today} required />
        </label>
        <label>
          {t("export.device")}{" "}
          <select name="device">
            <option value="">*</option>
            {props.devices.map((d) => (
              <option value={d}>{d}</option>
            ))}
          </select>
        </label>
        <label>
          {t("notify.rule.priorities")}{" "}
          <select name="priority">
            <option value="">*</option>
            {ALARM_PRIORITIES.map((p) => (
              <option value={p}>{t(`priority.${p}`)}</option>
            ))}
          </select>
        </label>
        <Format />
        <button class="btn" type="submit">
          ↓ CSV
        </button>
      </form>
    </Layout>
  );
}
