import { ROLES } from "../auth/roles.ts";
import { ALARM_PRIORITIES } from "../config/site.ts";
import { translator, type T } from "../i18n/index.ts";
import { CHANNEL_TYPES, SECRET_FIELDS, type Channel, type ChannelType } from "../notify/channels.ts";
import type { OutboxRow, RuleRow } from "../notify/notifier.ts";
import { NOTIFY_EVENTS, type RuleConfig } from "../notify/rules.ts";
import { CsrfField, Flash, fmtDateTime } from "./alarms/ui.tsx";
import { Layout } from "./layout.tsx";
import type { PageRequest } from "./page-context.ts";

/** /admin/notify: channels (with Send test), rules, users' e-mail addresses, the outbox. Secrets are never rendered. */

type ChannelView = Omit<Channel, "secret"> & { secretsSet: string[]; secretsUnreadable: boolean };

/** The non-secret fields per channel type, as form inputs. */
const FIELDS: Record<ChannelType, { name: string; label: string; type?: string; placeholder?: string }[]> = {
  email: [
    { name: "host", label: "notify.f.host" },
    { name: "port", label: "notify.f.port", type: "number", placeholder: "587" },
    { name: "tls", label: "notify.f.tls", placeholder: "starttls" },
    { name: "user", label: "notify.f.user" },
    { name: "from", label: "notify.f.from", placeholder: "busbar@example.org" },
    { name: "allowSelfSigned", label: "notify.f.allowSelfSigned", placeholder: "no" },
  ],
  webhook: [{ name: "url", label: "notify.f.url", placeholder: "https://bms.example.org/busbar" }],
  telegram: [
    { name: "chatId", label: "notify.f.chatId" },
    { name: "apiBase", label: "notify.f.apiBase", placeholder: "https://api.telegram.org" },
  ],
  ntfy: [{ name: "url", label: "notify.f.topicUrl", placeholder: "https://ntfy.sh/my-topic" }],
};

export function NotifyPage(props: {
  req: PageRequest;
  siteName: string;
  tz: string;
  csrf: string;
  channels: ChannelView[];
  rules: (RuleRow & { parsed: RuleConfig })[];
  users: { id: number; name: string; role: string; email: string }[];
  outbox: OutboxRow[];
  keyWhere: string;
  test?: { channel: number; ok: boolean; answer: string };
  problems?: string[];
  ok?: string;
}) {
  const t = translator(props.req.lang);
  const p = props;
  return (
    <Layout title={t("admin.notify")} siteName={p.siteName} lang={p.req.lang} path={p.req.path} user={p.req.user} active="admin" styles={["/assets/alarms.css"]}>
      <h1>{t("admin.notify")}</h1>
      <Flash t={t} ok={p.ok} />
      {p.problems?.length ? (
        <div class="flash flash-err" role="alert">
          {t("notify.invalid")}
          <ul>
            {p.problems.map((x) => (
              <li>{x}</li>
            ))}
          </ul>
        </div>
      ) : null}
      {p.test ? (
        <div class={p.test.ok ? "flash flash-ok" : "flash flash-err"} role={p.test.ok ? "status" : "alert"} id="test-result">
          {t(p.test.ok ? "notify.test.ok" : "notify.test.fail")} <code>{p.test.answer}</code>
        </div>
      ) : null}
      <p class="hint">{t("notify.key", { where: p.keyWhere })}</p>

      <h2>{t("notify.channels")}</h2>
      {p.channels.map((ch) => (
        <ChannelForm t={t} csrf={p.csrf} ch={ch} type={ch.type} />
      ))}
      <details>
        <summary>{t("notify.channel.new")}</summary>
        {CHANNEL_TYPES.map((type) => (
          <ChannelForm t={t} csrf={p.csrf} type={type} />
        ))}
      </details>

      <h2>{t("notify.rules")}</h2>
      {p.rules.map((r) => (
        <RuleForm t={t} csrf={p.csrf} rule={r} channels={p.channels} />
      ))}
      {p.channels.length ? (
        <details>
          <summary>{t("notify.rule.new")}</summary>
          <RuleForm t={t} csrf={p.csrf} channels={p.channels} />
        </details>
      ) : null}

      <h2>{t("notify.emails")}</h2>
      <form method="post" action="/admin/notify/emails">
        <CsrfField token={p.csrf} />
        <table class="users">
          <tbody>
            {p.users.map((u) => (
              <tr>
                <td>{u.name}</td>
                <td>{t(`role.${u.role}`)}</td>
                <td>
                  <input type="email" name={`email.${u.id}`} value={u.email} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <button class="btn" type="submit">
          {t("notify.save")}
        </button>
      </form>

      <h2>{t("notify.outbox")}</h2>
      <p class="hint">{t("notify.outbox.note")}</p>
      <table class="journal" id="outbox">
        <tbody>
          {p.outbox.map((o) => (
            <tr data-status={o.status}>
              <td>{o.id}</td>
              <td>{fmtDateTime(o.created_at, p.tz)}</td>
              <td class={o.status === "failed" ? "flash-err" : ""}>{t(`notify.status.${o.status}`)}</td>
              <td>{p.channels.find((c) => c.id === o.channel_id)?.name ?? o.channel_id}</td>
              <td>{o.subject}</td>
              <td>{o.attempts}</td>
              <td>
                <code>{o.status === "sent" ? o.response : o.last_error}</code>
              </td>
              <td>
                {o.status === "failed" ? (
                  <form method="post" action={`/admin/notify/outbox/${o.id}/retry`}>
                    <CsrfField token={p.csrf} />
                    <button class="btn" type="submit">
                      {t("notify.outbox.retry")}
                    </button>
                  </form>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  );
}

function ChannelForm(props: { t: T; csrf: string; type: ChannelType; ch?: ChannelView }) {
  const { t, ch, type } = props;
  const cfg = (ch?.config ?? {}) as unknown as Record<string, unknown>;
  return (
    <fieldset class="notify-channel" data-channel={ch?.id ?? `new-${type}`}>
      <legend>
        {ch ? ch.name : t("notify.channel.new")} ({type})
      </legend>
      {ch?.secretsUnreadable ? <p class="flash flash-err">{t("notify.channel.secretUnreadable")}</p> : null}
      <form method="post" action="/admin/notify/channels" class="notify-form">
        <CsrfField token={props.csrf} />
        {ch ? <input type="hidden" name="id" value={String(ch.id)} /> : null}
        <input type="hidden" name="type" value={type} />
        <label>
          {t("notify.channel.name")} <input name="name" required value={ch?.name ?? ""} />
        </label>
        {FIELDS[type].map((f) => (
          <label>
            {t(f.label)} <input name={f.name} type={f.type ?? "text"} placeholder={f.placeholder} value={cfg[f.name] === undefined ? "" : typeof cfg[f.name] === "boolean" ? (cfg[f.name] ? "yes" : "no") : String(cfg[f.name])} />
          </label>
        ))}
        {SECRET_FIELDS[type].map((s) => (
          <label>
            {t(`notify.secret.${s}`)} <input name={`secret.${s}`} type="password" autocomplete="new-password" value="" placeholder={ch?.secretsSet.includes(s) ? t("notify.channel.secretSet") : t("notify.channel.secretUnset")} />
            {ch?.secretsSet.includes(s) ? (
              <span>
                <input type="checkbox" name="clear" value={s} /> {t("notify.channel.clear")}
              </span>
            ) : null}
          </label>
        ))}
        <label>
          <input type="checkbox" name="enabled" value="1" checked={ch ? ch.enabled : true} /> {t("notify.channel.enabled")}
        </label>
        <button class="btn" type="submit">
          {t("notify.save")}
        </button>
      </form>
      {ch ? (
        <>
          <form method="post" action={`/admin/notify/channels/${ch.id}/test`} class="notify-form notify-actions">
            <CsrfField token={props.csrf} />
            {type === "email" ? (
              <label>
                {t("notify.test.to")} <input type="email" name="to" required />
              </label>
            ) : null}
            <button class="btn" type="submit">
              {t("notify.test")}
            </button>
          </form>
          <form method="post" action={`/admin/notify/channels/${ch.id}/delete`}>
            <CsrfField token={props.csrf} />
            <button class="btn" type="submit">
              {t("notify.delete")}
            </button>
          </form>
        </>
      ) : null}
    </fieldset>
  );
}

function RuleForm(props: { t: T; csrf: string; channels: ChannelView[]; rule?: RuleRow & { parsed: RuleConfig } }) {
  const { t, rule } = props;
  const r = rule?.parsed;
  return (
    <fieldset class="notify-rule" data-rule={rule?.id ?? "new"}>
      <legend>{rule ? rule.name : t("notify.rule.new")}</legend>
      <form method="post" action="/admin/notify/rules" class="notify-form">
        <CsrfField token={props.csrf} />
        {rule ? <input type="hidden" name="id" value={String(rule.id)} /> : null}
        <label>
          {t("notify.channel.name")} <input name="name" required value={rule?.name ?? ""} />
        </label>
        <label>
          {t("notify.rule.channel")}{" "}
          <select name="channel">
            {props.channels.map((c) => (
              <option value={String(c.id)} selected={rule?.channel_id === c.id}>
                {c.name} ({c.type})
              </option>
            ))}
          </select>
        </label>
        <div>
          {t("notify.rule.priorities")}:{" "}
          {ALARM_PRIORITIES.map((x) => (
            <label>
              <input type="checkbox" name="priorities" value={x} checked={r ? r.priorities.includes(x) : x === "critical" || x === "high"} /> {t(`priority.${x}`)}
            </label>
          ))}
        </div>
        <div>
          {t("notify.rule.events")}:{" "}
          {NOTIFY_EVENTS.map((x) => (
            <label>
              <input type="checkbox" name="events" value={x} checked={r ? r.events.includes(x) : x === "active"} /> {t(`notify.event.${x}`)}
            </label>
          ))}
        </div>
        <label>
          {t("notify.rule.devices")} <input name="devices" value={r?.devices.join(", ") ?? ""} />
        </label>
        <label>
          {t("notify.rule.role")}{" "}
          <select name="role">
            <option value="">{t("notify.rule.role.none")}</option>
            {ROLES.map((x) => (
              <option value={x} selected={r?.role === x}>
                {t(`role.${x}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("notify.rule.recipients")} <input name="recipients" value={r?.recipients.join(", ") ?? ""} />
        </label>
        <div>
          {t("notify.rule.quiet")}: <input name="quietFrom" placeholder="22:00" size={5} value={r?.quietFrom ?? ""} /> – <input name="quietTo" placeholder="06:00" size={5} value={r?.quietTo ?? ""} /> {t("notify.rule.quietBypass")}:{" "}
          {ALARM_PRIORITIES.map((x) => (
            <label>
              <input type="checkbox" name="quietBypass" value={x} checked={r ? r.quietBypass.includes(x) : x === "critical"} /> {t(`priority.${x}`)}
            </label>
          ))}
        </div>
        <label>
          <input type="checkbox" name="enabled" value="1" checked={rule ? rule.enabled === 1 : true} /> {t("notify.channel.enabled")}
        </label>
        <button class="btn" type="submit">
          {t("notify.save")}
        </button>
      </form>
      {rule ? (
        <form method="post" action={`/admin/notify/rules/${rule.id}/delete`}>
          <CsrfField token={props.csrf} />
          <button class="btn" type="submit">
            {t("notify.delete")}
          </button>
        </form>
      ) : null}
    </fieldset>
  );
}
