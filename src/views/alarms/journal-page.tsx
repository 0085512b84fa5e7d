import { getSiteLanguage, translator } from "../../i18n/index.ts";
import { journalMessage, journalTranslatable } from "../../journal/i18n.ts";
import type { JournalRow } from "../../journal/journal.ts";
import { Layout } from "../layout.tsx";
import type { PageRequest } from "../page-context.ts";
import { DateRangeFields, DeviceFilter, fmtDateTime } from "./ui.tsx";

/** The event journal, newest first, with the same filters as the CSV export (download: admin). */
export function JournalPage(props: {
  req: PageRequest;
  siteName: string;
  tz: string;
  rows: JournalRow[];
  filter: { from?: string; to?: string; type?: string; device?: string; user?: string };
  types: string[];
  devices: string[];
  canExport: boolean;
  olderUrl: string | null;
}) {
  const lang = props.req.lang;
  const t = translator(lang);
  const f = props.filter;
  const families = [...new Set(props.types.map((x) => x.split(".")[0]!))].sort();
  return (
    <Layout title={t("journal.title")} siteName={props.siteName} lang={lang} path={props.req.path} user={props.req.user} active="journal" styles={["/assets/alarms.css"]} timeZone={props.tz}>
      <section class="journal-page">
        <div class="alarm-head">
          <h1>{t("journal.title")}</h1>
          {props.canExport ? (
            <>
              {/* Submit the filter form as typed (applied or not) to the export: what you see in the fields is what you get. */}
              <button class="btn" type="submit" form="journal-filters" formaction="/journal/export.csv" name="sep" value="," data-export="csv">
                ↓ {t("journal.export")}
              </button>
              <button class="btn" type="submit" form="journal-filters" formaction="/journal/export.csv" name="sep" value=";" data-export="csv-fr">
                ↓ {t("journal.exportExcelFr")}
              </button>
              <a class="btn btn-quiet" href="/admin/journal/verify">
                {t("journal.verify")}
              </a>
            </>
          ) : null}
        </div>
        <form method="get" action="/journal" class="filters" id="journal-filters">
          <DateRangeFields t={t} from={f.from} to={f.to} />
          <label>
            {t("journal.col.type")}
            <select name="type">
              <option value="">{t("filter.all")}</option>
              {families.map((fam) => (
                <optgroup label={fam}>
                  <option value={fam} selected={f.type === fam}>
                    {fam}.*
                  </option>
                  {props.types
                    .filter((x) => x.startsWith(fam + "."))
                    .map((x) => (
                      <option value={x} selected={f.type === x}>
                        {x}
                      </option>
                    ))}
                </optgroup>
              ))}
            </select>
          </label>
          <DeviceFilter t={t} label={t("journal.col.device")} devices={props.devices} selected={f.device} />
          <label>
            {t("journal.col.user")}
            <input name="user" value={f.user ?? ""} size={12} />
          </label>
          <button class="btn" type="submit">
            {t("filter.apply")}
          </button>
        </form>
        <table class="journal">
          <thead>
            <tr>
              <th>#</th>
              <th>{t("journal.col.time")}</th>
              <th>{t("journal.col.type")}</th>
              <th>{t("journal.col.device")}</th>
              <th>{t("journal.col.user")}</th>
              <th>{t("journal.col.message")}</th>
            </tr>
          </thead>
          <tbody>
            {props.rows.length === 0 ? (
              <tr>
                <td colspan={6} class="empty">
                  {t("journal.none")}
                </td>
              </tr>
            ) : null}
            {props.rows.map((r) => (
              <tr data-type={r.type} data-id={String(r.id)}>
                <td class="num">{r.id}</td>
                <td class="ts">{fmtDateTime(r.ts, props.tz)}</td>
                <td>
                  <code>{r.type}</code>
                </td>
                <td>{r.device || r.source}</td>
                <td>{r.actor || "—"}</td>
                <td class="msg" lang={journalTranslatable(r) || getSiteLanguage() === lang ? undefined : getSiteLanguage()}>
                  {journalMessage(r, lang)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {props.olderUrl ? (
          <nav class="pager">
            <a class="btn" href={props.olderUrl}>
              {t("pager.older")} →
            </a>
          </nav>
        ) : null}
      </section>
    </Layout>
  );
}
