import type { AlarmView } from "../../alarms/engine.ts";
import type { ConfigIssue } from "../../config/validation.ts";
import { translator } from "../../i18n/index.ts";
import { Layout } from "../layout.tsx";
import type { PageRequest } from "../page-context.ts";
import { CsrfField, Flash, PriorityBadge } from "./ui.tsx";

/**
 * The admin's alarm configuration: the `alarms:` section as YAML (same schema and checks as the site
 * file, every problem listed with its path), and every alarm with its state and an out-of-service
 * switch.
 */
export function AlarmConfigPage(props: {
  req: PageRequest;
  siteName: string;
  csrf: string;
  yaml: string;
  source: "site" | "admin";
  issues?: ConfigIssue[];
  alarms: AlarmView[];
  ok?: string;
  err?: string;
}) {
  const t = translator(props.req.lang);
  const lang = props.req.lang;
  return (
    <Layout title={t("admin.alarms")} siteName={props.siteName} lang={lang} path={props.req.path} user={props.req.user} active="admin" styles={["/assets/alarms.css"]}>
      <h1>{t("admin.alarms")}</h1>
      <Flash t={t} ok={props.ok} err={props.err} />
      <p class="hint">{t(`admin.alarms.source.${props.source}.long`)}</p>
      {props.issues?.length ? (
        <div class="flash flash-err" role="alert">
          <p>✖ {t("admin.alarms.invalid", { n: props.issues.length })}</p>
          <ul>
            {props.issues.map((i) => (
              <li>
                <code>{i.path}</code>: {i.message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <form method="post" action="/admin/alarms" class="yaml-form">
        <CsrfField token={props.csrf} />
        <textarea name="yaml" rows={24} spellcheck={false} aria-label="alarms (YAML)">
          {props.yaml}
        </textarea>
        <p>
          <button class="btn btn-primary" name="action" value="save">
            {t("admin.alarms.save")}
          </button>{" "}
          {props.source === "admin" ? (
            <button class="btn" name="action" value="revert">
              {t("admin.alarms.revert")}
            </button>
          ) : null}
        </p>
      </form>
      <h2>{t("admin.alarms.list", { n: props.alarms.length })}</h2>
      <table class="alarms">
        <thead>
          <tr>
            <th>{t("alarm.col.priority")}</th>
            <th>id</th>
            <th>{t("alarm.col.message")}</th>
            <th>{t("alarm.col.state")}</th>
            <th>{t("alarm.col.actions")}</th>
          </tr>
        </thead>
        <tbody>
          {props.alarms.map((a) => (
            <tr data-alarm={a.id}>
              <td>
                <PriorityBadge priority={a.priority} t={t} />
              </td>
              <td>
                <code>{a.id}</code>
              </td>
              <td class="msg">{a.message[lang]}</td>
              <td>
                {t(`alarm.state.${a.state}`)}
                {a.outOfService ? ` — ${t("alarm.outOfService")}` : ""}
              </td>
              <td>
                <form method="post" action={`/alarms/${encodeURIComponent(a.id)}/${a.outOfService ? "in-service" : "out-of-service"}`} class="inline">
                  <CsrfField token={props.csrf} />
                  <input type="hidden" name="back" value="/admin/alarms" />
                  <button class="btn btn-quiet">{a.outOfService ? t("alarm.inService") : t("alarm.oos")}</button>
                </form>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  );
}
