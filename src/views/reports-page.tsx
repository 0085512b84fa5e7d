import { translator } from "../i18n/index.ts";
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
  channels: { id: number; name: string }[];
  ok?: string;
  error?: string;
}) {
  const t = translator(p.req.lang);
  const years = Array.from({ length: 10 }, (_, i) => p.thisYear - i);
  return (
    <Layout title={t("reports.title")} siteName={p.siteName} lang={p.req.lang} path={p.req.path} user={p.req.user} active="admin" styles={["/assets/alarms.css"]}>
      <h1>{t("reports.title")}</h1>
      {p.ok ? <p class="flash ok" role="status">{t("reports.ok")}</p> : null}
      {p.error ? <p class="flash err" role="alert">{p.error}</p> : null}
      <section class="card">
        <h2>{t("reports.onDemand")}</h2>
        <form method="get" action="/reports/report.pdf">
          <label>{t("reports.kind")} <select name="kind"><option value="general">{t("report.title.general")}</option><option value="detailed">{t("report.title.detailed")}</option></select></label>{" "}
          <label>{t("reports.period")} <select name="period"><option value="month">{t("report.bucket.month")}</option><option value="year">{t("report.bucket.year")}</option></select></label>{" "}
          <label>{t("reports.year")} <select name="year">{years.map((y) => <option value={String(y)} selected={y === p.lastMonth.year}>{y}</option>)}</select></label>{" "}
          <label>{t("reports.month")} <select name="month">{Array.from({ length: 12 }, (_, i) => <option value={String(i + 1)} selected={i + 1 === p.lastMonth.month}>{i + 1}</option>)}</select></label>{" "}
          <label>{t("reports.lang")} <select name="lang"><option value="fr" selected={p.req.lang === "fr"}>Français</option><option value="en" selected={p.req.lang === "en"}>English</option></select></label>
          <fieldset><legend>{t("reports.items")}</legend>{p.items.map((i) => <label class="chip"><input type="checkbox" name="item" value={i.id} /> {i.label}</label>)}</fieldset>
          <button type="submit" class="btn primary">{t("reports.download")}</button>
        </form>
      </section>
      <section class="card">
        <h2>{t("reports.schedules")}</h2>
        <table class="list">
          <thead><tr><th>{t("reports.name")}</th><th>{t("reports.frequency")}</th><th>{t("reports.kind")}</th><th>{t("reports.format")}</th><th>{t("reports.recipients")}</th><th>{t("reports.enabled")}</th><th></th></tr></thead>
          <tbody>
            {p.schedules.map((s) => (
              <tr>
                <td>{s.name}</td><td>{t(`reports.freq.${s.frequency}`)}</td><td>{t(`report.title.${s.kind}`)}</td><td>{s.format.toUpperCase()}</td><td>{s.recipients.join(", ")}</td><td>{s.enabled ? t("reports.yes") : t("reports.no")}</td>
                <td>
                  {p.isAdmin ? (
                    <>
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
          <form method="post" action="/reports/schedules">
            <CsrfField token={p.csrf} />
            <h3>{t("reports.new")}</h3>
            <label>{t("reports.name")} <input name="name" required maxlength={100} /></label>{" "}
            <label>{t("reports.frequency")} <select name="frequency">{["daily", "weekly", "monthly", "yearly"].map((f) => <option value={f} selected={f === "monthly"}>{t(`reports.freq.${f}`)}</option>)}</select></label>{" "}
            <label>{t("reports.kind")} <select name="kind"><option value="general">{t("report.title.general")}</option><option value="detailed">{t("report.title.detailed")}</option></select></label>{" "}
            <label>{t("reports.format")} <select name="format"><option value="pdf">PDF</option><option value="csv">CSV</option></select></label>{" "}
            <label>{t("reports.lang")} <select name="lang"><option value="fr">Français</option><option value="en">English</option></select></label>{" "}
            <label>{t("reports.channel")} <select name="channel">{p.channels.map((c) => <option value={String(c.id)}>{c.name}</option>)}</select></label>
            <label>{t("reports.recipients")} <input name="recipients" required placeholder="direction@example.org, ..." size={50} /></label>
            <fieldset><legend>{t("reports.items")}</legend>{p.items.map((i) => <label class="chip"><input type="checkbox" name="item" value={i.id} /> {i.label}</label>)}</fieldset>
            <button type="submit" class="btn primary">{t("reports.save")}</button>
            <p class="muted">{t("reports.catchup")}</p>
          </form>
        ) : null}
      </section>
    </Layout>
  );
}
