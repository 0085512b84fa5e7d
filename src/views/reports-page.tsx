import { translator, type T } from "../i18n/index.ts";
import type { Schedule } from "../reports/schedules.ts";
import { CsrfField } from "./alarms/ui.tsx";
import { Layout } from "./layout.tsx";
import type { PageRequest } from "./page-context.ts";

/** /reports: a PDF report on demand (maintenance, admin) and the scheduled reports (admin edits). */
export function ReportsPage(p: {
  req: PageRequest;
  siteName: string;
  csrf: string;
  isAdmin: boolean;
  thisYear: number;
  lastMonth: { year: number; month: number };
  items: { id: string; label: string }[];
  schedules: Schedule[];
  /** The schedule being edited (?edit=ID). */
  editing?: Schedule;
  channels: { id: number; name: string }[];
  ok?: string;
  error?: string;
}) {
  const t = translator(p.req.lang);
  const monthName = (i: number) => new Intl.DateTimeFormat(p.req.lang === "fr" ? "fr-CA" : "en-CA", { month: "long", timeZone: "UTC" }).format(Date.UTC(2000, i, 15));
  const e = p.editing;
  const years = Array.from({ length: 10 }, (_, i) => p.thisYear - i);
  return (
    <Layout title={t("reports.title")} siteName={p.siteName} lang={p.req.lang} path={p.req.path} user={p.req.user} active="admin" styles={["/assets/alarms.css"]}>
      <h1>{t("reports.title")}</h1>
      {p.ok ? <p class="flash flash-ok" role="status">{t("reports.ok")}</p> : null}
      {p.error ? <p class="flash flash-err" role="alert">{p.error}</p> : null}
      <h2>{t("reports.onDemand")}</h2>
      <fieldset class="notify-channel">
        <form method="get" action="/reports/report.pdf" class="notify-form">
          <label>{t("reports.kind")} <select name="kind"><option value="general">{t("report.title.general")}</option><option value="detailed">{t("report.title.detailed")}</option></select></label>{" "}
          <label>{t("reports.period")} <select name="period"><option value="month">{t("report.bucket.month")}</option><option value="year">{t("report.bucket.year")}</option></select></label>{" "}
          <label>{t("reports.year")} <select name="year">{years.map((y) => <option value={String(y)} selected={y === p.lastMonth.year}>{y}</option>)}</select></label>{" "}
          <label>{t("reports.month")} <select name="month">{Array.from({ length: 12 }, (_, i) => <option value={String(i + 1)} selected={i + 1 === p.lastMonth.month}>{monthName(i)}</option>)}</select></label>{" "}
          <label>{t("reports.lang")} <select name="lang"><option value="fr" selected={p.req.lang === "fr"}>Français</option><option value="en" selected={p.req.lang === "en"}>English</option></select></label>
          <div><Items t={t} items={p.items} /></div>
          <button type="submit" class="btn">↓ {t("reports.download")}</button>
        </form>
      </fieldset>
      <h2>{t("reports.schedules")}</h2>
      <table class="users list">
          <thead><tr><th>{t("reports.name")}</th><th>{t("reports.frequency")}</th><th>{t("reports.kind")}</th><th>{t("reports.format")}</th><th>{t("reports.recipients")}</th><th>{t("reports.enabled")}</th><th></th></tr></thead>
          <tbody>
            {p.schedules.map((s) => (
              <tr>
                <td>{s.name}</td><td>{t(`reports.freq.${s.frequency}`)}</td><td>{t(`report.title.${s.kind}`)}</td><td>{s.format.toUpperCase()}</td><td>{s.recipients.join(", ")}</td><td>{s.enabled ? t("reports.yes") : t("reports.no")}</td>
                <td>
                  {p.isAdmin ? (
                    <>
                      <a class="btn" href={`/reports?edit=${s.id}#schedule-form`}>{t("reports.editBtn")}</a>{" "}
                      <form method="post" action={`/reports/schedules/${s.id}/run`} style="display:inline"><CsrfField token={p.csrf} /><button class="btn">{t("reports.runNow")}</button></form>{" "}
                      <form method="post" action={`/reports/schedules/${s.id}/delete`} style="display:inline"><CsrfField token={p.csrf} /><button class="btn danger">{t("reports.delete")}</button></form>
                    </>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
      </table>
      {p.isAdmin ? (
        <fieldset class="notify-channel" id="schedule-form">
          <legend>{e ? `${t("reports.edit")} — ${e.name}` : t("reports.new")}</legend>
          <form method="post" action="/reports/schedules" class="notify-form">
            <CsrfField token={p.csrf} />
            {e ? <input type="hidden" name="id" value={String(e.id)} /> : null}
            <label>{t("reports.name")} <input name="name" required maxlength={100} value={e?.name ?? ""} /></label>
            <label>{t("reports.frequency")} <select name="frequency">{["daily", "weekly", "monthly", "yearly"].map((f) => <option value={f} selected={f === (e?.frequency ?? "monthly")}>{t(`reports.freq.${f}`)}</option>)}</select></label>
            <label>{t("reports.kind")} <select name="kind">{(["general", "detailed"] as const).map((k) => <option value={k} selected={k === e?.kind}>{t(`report.title.${k}`)}</option>)}</select></label>
            <label>{t("reports.format")} <select name="format">{(["pdf", "csv"] as const).map((f) => <option value={f} selected={f === e?.format}>{f.toUpperCase()}</option>)}</select></label>
            <label>{t("reports.lang")} <select name="lang"><option value="fr" selected={(e?.lang ?? p.req.lang) === "fr"}>Français</option><option value="en" selected={(e?.lang ?? p.req.lang) === "en"}>English</option></select></label>
            <label>{t("reports.channel")} <select name="channel">{p.channels.map((c) => <option value={String(c.id)} selected={c.id === e?.channelId}>{c.name}</option>)}</select></label>
            <label>{t("reports.recipients")} <input name="recipients" required placeholder="direction@example.org, …" value={e?.recipients.join(", ") ?? ""} /></label>
            <label><input type="checkbox" name="enabled" value="yes" checked={e ? e.enabled : true} /> {t("reports.enabled")}</label>
            <div><Items t={t} items={p.items} checked={e?.items ?? []} /></div>
            <button type="submit" class="btn">{t("reports.save")}</button>
          </form>
          <p class="hint">{t("reports.catchup")}</p>
        </fieldset>
      ) : null}
    </Layout>
  );
}

/** The lines a detailed report can show, as large tick boxes (a touchscreen has no Ctrl-click). */
function Items(props: { t: T; items: { id: string; label: string }[]; checked?: string[] }) {
  return (
    <details open={!!props.checked?.length}>
      <summary>{props.t("reports.items")}</summary>
      <p class="report-items">
        {props.items.map((i) => (
          <label style="display:inline-flex;gap:.3rem;align-items:center;min-height:2.2rem;margin-right:1rem">
            <input type="checkbox" name="item" value={i.id} checked={props.checked?.includes(i.id)} style="width:1.3rem;height:1.3rem" /> {i.label}
          </label>
        ))}
      </p>
    </details>
  );
}
