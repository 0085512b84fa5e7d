import { translator } from "../i18n/index.ts";
import { EXPORT_GROUPS } from "../exports/csv.ts";
import { ENERGY_BUCKETS, ENERGY_BY } from "../exports/energy.ts";
import { defaultFormat } from "../exports/format.ts";
import { DateRangeFields, DeviceFilter, PriorityFilter } from "./alarms/ui.tsx";
import { Layout } from "./layout.tsx";
import type { PageRequest } from "./page-context.ts";

/**
 * /export: one form, one range and one format for every file. Each button downloads its CSV as a
 * plain GET (the browser streams it to disk); the ZIP button puts the ticked files in one archive.
 * With script, export.js adds a job id and shows the server's progress of the download in flight.
 */
export function ExportPage(props: {
  req: PageRequest;
  siteName: string;
  points: { id: string; label: string; unit: string }[];
  devices: string[];
  today: string;
  monthAgo: string;
  /** The site has energy meters. */
  energy?: boolean;
  /** An admin: the journal may be exported too. */
  canJournal?: boolean;
}) {
  const t = translator(props.req.lang);
  // Preselected from the reader's language: fr ; and , (the vendor's, French Excel), en , and .
  const dflt = defaultFormat(props.req.lang);
  const files = ["history", ...(props.energy ? ["energy"] : []), "alarms", ...(props.canJournal ? ["journal"] : [])];
  return (
    <Layout title={t("export.title")} siteName={props.siteName} lang={props.req.lang} path={props.req.path} user={props.req.user} active="admin" styles={["/assets/alarms.css"]} scripts={["/assets/export.js"]}>
      <h1>{t("export.title")}</h1>
      <p class="hint">{t("export.note")}</p>
      <form method="get" action="/export/history.csv" id="export-form" class="export-form">
        <input type="hidden" name="job" value="" />
        <fieldset class="filters">
          <legend>{t("export.common")}</legend>
          <DateRangeFields t={t} from={props.monthAgo} to={props.today} />
          <label>
            {t("export.sep")}
            <select name="sep">
              <option value=";" selected={dflt.sep === ";"}>;</option>
              <option value="," selected={dflt.sep === ","}>,</option>
              <option value="tab">Tab</option>
            </select>
          </label>
          <label>
            {t("export.decimal")}
            <select name="decimal">
              <option value="," selected={dflt.decimal === ","}>, (12,5)</option>
              <option value="." selected={dflt.decimal === "."}>. (12.5)</option>
            </select>
          </label>
          <p class="hint export-format-error" role="alert" hidden>
            {t("export.sameMarks")}
          </p>
        </fieldset>
        <fieldset class="filters" id="export-history">
          <legend>{t("export.history")}</legend>
          <label>
            {t("export.points")}
            <select name="points" multiple size={8}>
              {props.points.map((p) => (
                <option value={p.id}>
                  {p.id} — {p.label}
                  {p.unit ? ` (${p.unit})` : ""}
                </option>
              ))}
            </select>
          </label>
          <label>
            {t("export.group")}
            <select name="group">
              {EXPORT_GROUPS.map((g) => (
                <option value={g} selected={g === "15m"}>
                  {t(`export.group.${g}`)}
                </option>
              ))}
            </select>
          </label>
          <button class="btn" type="submit" formaction="/export/history.csv">
            ↓ CSV
          </button>
        </fieldset>
        {props.energy ? (
          <fieldset class="filters" id="export-energy">
            <legend>{t("export.energy")}</legend>
            <label>
              {t("export.by")}
              <select name="by">
                {ENERGY_BY.map((b) => (
                  <option value={b} selected={b === "circuit"}>
                    {t(`export.by.${b}`)}
                  </option>
                ))}
              </select>
            </label>
            <label>
              {t("export.bucket")}
              <select name="bucket">
                {ENERGY_BUCKETS.map((b) => (
                  <option value={b} selected={b === "day"}>
                    {t(`export.bucket.${b}`)}
                  </option>
                ))}
              </select>
            </label>
            <button class="btn" type="submit" formaction="/export/energy.csv">
              ↓ CSV
            </button>
          </fieldset>
        ) : null}
        <fieldset class="filters" id="export-alarms">
          <legend>{t("export.alarms")}</legend>
          <DeviceFilter t={t} label={t("export.device")} devices={props.devices} />
          <PriorityFilter t={t} />
          <button class="btn" type="submit" formaction="/export/alarms.csv">
            ↓ CSV
          </button>
        </fieldset>
        {props.canJournal ? (
          <fieldset class="filters" id="export-journal">
            <legend>{t("export.journal")}</legend>
            <button class="btn" type="submit" formaction="/journal/export.csv">
              ↓ CSV
            </button>
          </fieldset>
        ) : null}
        <fieldset class="filters" id="export-zip">
          <legend>{t("export.zip")}</legend>
          {files.map((f) => (
            <label class="check">
              <input type="checkbox" name="files" value={f} checked={f === "history" || f === "alarms"} /> {t(`export.file.${f}`)}
            </label>
          ))}
          <button class="btn" type="submit" formaction="/export/bundle.zip">
            ↓ ZIP
          </button>
        </fieldset>
        <p class="export-progress" role="status" aria-live="polite" hidden>
          <progress max="1"></progress> <span></span>
        </p>
      </form>
    </Layout>
  );
}
