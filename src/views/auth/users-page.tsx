import { ROLES } from "../../auth/roles.ts";
import type { User } from "../../auth/users.ts";
import { translator, type T } from "../../i18n/index.ts";
import type { VerifyResult } from "../../journal/journal.ts";
import { CsrfField, Flash, fmtDateTime } from "../alarms/ui.tsx";
import { Layout } from "../layout.tsx";
import type { PageRequest } from "../page-context.ts";

/** Administration: landing page, users, journal verification. */

export function AdminPage(props: {
  req: PageRequest;
  siteName: string;
  facts: { users: number; alarms: number; alarmSource: string; kiosk: string[]; journalRows: number; head: string; simulator?: boolean };
  /** Addresses the login throttle refuses now. */
  throttled?: { ip: string; failures: number; until: string; refused: number }[];
  ok?: string;
}) {
  const t = translator(props.req.lang);
  const f = props.facts;
  const throttled = props.throttled ?? [];
  return (
    <Layout title={t("admin.title")} siteName={props.siteName} lang={props.req.lang} path={props.req.path} user={props.req.user} active="admin" styles={["/assets/alarms.css"]}>
      <h1>{t("admin.title")}</h1>
      <ul class="admin-links">
        {f.simulator ? (
          <li>
            <a class="btn btn-big" href="/sim">
              ⚠ {t("sim.title")}
            </a>
          </li>
        ) : null}
        <li>
          <a class="btn btn-big" href="/users">
            {t("users.title")} ({f.users})
          </a>
        </li>
        <li>
          <a class="btn btn-big" href="/admin/alarms">
            {t("admin.alarms")} ({f.alarms}, {t(`admin.alarms.source.${f.alarmSource}`)})
          </a>
        </li>
        <li>
          <a class="btn btn-big" href="/journal">
            {t("journal.title")} ({f.journalRows})
          </a>
        </li>
        <li>
          <a class="btn btn-big" href="/journal/export.csv" download>
            ↓ {t("journal.export")}
          </a>
        </li>
        <li>
          <a class="btn btn-big" href="/admin/journal/verify">
            {t("journal.verify")}
          </a>
        </li>
        <li>
          <a class="btn btn-big" href="/export">
            ↓ {t("export.title")}
          </a>
        </li>
        <li>
          <a class="btn btn-big" href="/reports">
            {t("admin.reports")}
          </a>
        </li>
        <li>
          <a class="btn btn-big" href="/admin/notify">
            {t("admin.notify")}
          </a>
        </li>
        <li>
          <a class="btn btn-big" href="/bacnet">
            {t("admin.bacnet")}
          </a>
        </li>
        <li>
          <a class="btn btn-big" href="/admin/system">
            {t("admin.system")}
          </a>
        </li>
        <li>
          <a class="btn btn-big" href="/admin/energy">
            {t("energy.admin.title")}
          </a>
        </li>
      </ul>
      <p class="hint">
        {t("admin.kiosk")}: {f.kiosk.length ? f.kiosk.join(", ") : t("admin.kiosk.none")}
      </p>
      <p class="hint">
        {t("admin.head")}: <code>{f.head}</code>
      </p>
      <section id="throttle" data-throttled={String(throttled.length)}>
        <h2>{t("admin.throttle")}</h2>
        {props.ok === "throttleCleared" ? <p class="flash flash-ok">{t("admin.throttle.cleared")}</p> : null}
        <p class="hint">{t("admin.throttle.note")}</p>
        {throttled.length === 0 ? (
          <p>{t("admin.throttle.none")}</p>
        ) : (
          <ul>
            {throttled.map((x) => (
              <li data-ip={x.ip}>
                {t("admin.throttle.row", { ip: x.ip, failures: x.failures, refused: x.refused, until: x.until })}{" "}
                <form method="post" action="/admin/throttle/clear" class="inline">
                  <input type="hidden" name="_csrf" value={props.req.csrf ?? ""} />
                  <input type="hidden" name="ip" value={x.ip} />
                  <button type="submit" class="btn">
                    {t("admin.throttle.clear")}
                  </button>
                </form>
              </li>
            ))}
          </ul>
        )}
      </section>
    </Layout>
  );
}

export function VerifyPage(props: { req: PageRequest; siteName: string; result: VerifyResult; ms: number }) {
  const t = translator(props.req.lang);
  const r = props.result;
  return (
    <Layout title={t("journal.verify")} siteName={props.siteName} lang={props.req.lang} path={props.req.path} user={props.req.user} active="admin" styles={["/assets/alarms.css"]}>
      <h1>{t("journal.verify")}</h1>
      <p class={r.ok ? "flash flash-ok" : "flash flash-err"} data-verify={r.ok ? "ok" : "failed"}>
        {r.ok ? `✔ ${t("journal.verify.ok", { rows: r.rows, ms: Math.round(props.ms) })}` : `✖ ${t("journal.verify.failed", { n: r.problems.length, rows: r.rows })}`}
      </p>
      <p class="hint">
        {t("admin.head")}: <code>{r.head}</code>
      </p>
      {r.problems.length ? (
        <ul>
          {r.problems.map((p) => (
            <li>
              {p.id !== null ? `#${p.id}: ` : ""}
              {p.problem}
            </li>
          ))}
        </ul>
      ) : null}
    </Layout>
  );
}

function RoleSelect(props: { t: T; value?: string; name?: string }) {
  return (
    <select name={props.name ?? "role"} aria-label={props.t("users.role")}>
      {ROLES.map((r) => (
        <option value={r} selected={props.value === r}>
          {props.t(`role.${r}`)}
        </option>
      ))}
    </select>
  );
}

export function UsersPage(props: {
  req: PageRequest;
  siteName: string;
  tz: string;
  users: User[];
  csrf: string;
  me: string;
  ok?: string;
  err?: string;
  error?: string;
  /** A generated secret, shown once. */
  shown?: { name: string; password?: string; pin?: string };
}) {
  const t = translator(props.req.lang);
  const now = Date.now();
  return (
    <Layout title={t("users.title")} siteName={props.siteName} lang={props.req.lang} path={props.req.path} user={props.req.user} active="admin" styles={["/assets/alarms.css"]}>
      <h1>{t("users.title")}</h1>
      <Flash t={t} ok={props.ok} err={props.err} />
      {props.error ? (
        <p class="flash flash-err" role="alert">
          ✖ {props.error}
        </p>
      ) : null}
      {props.shown ? (
        <div class="flash flash-ok secret" role="status">
          <p>{t("users.shownOnce", { name: props.shown.name })}</p>
          {props.shown.password ? (
            <p>
              {t("auth.password")}: <code data-secret="password">{props.shown.password}</code>
            </p>
          ) : null}
          {props.shown.pin ? (
            <p>
              {t("auth.pin")}: <code data-secret="pin">{props.shown.pin}</code>
            </p>
          ) : null}
        </div>
      ) : null}
      <table class="users">
        <thead>
          <tr>
            <th>{t("auth.name")}</th>
            <th>{t("users.role")}</th>
            <th>{t("auth.pin")}</th>
            <th>{t("users.status")}</th>
            <th>{t("users.lastLogin")}</th>
            <th>{t("alarm.col.actions")}</th>
          </tr>
        </thead>
        <tbody>
          {props.users.map((u) => (
            <tr data-user={u.name}>
              <td>
                {u.name} {u.name === props.me ? <small>({t("users.you")})</small> : null}
              </td>
              <td>
                <form method="post" action={`/users/${u.id}/role`} class="inline">
                  <CsrfField token={props.csrf} />
                  <RoleSelect t={t} value={u.role} />
                  <button class="btn">{t("users.save")}</button>
                </form>
              </td>
              <td>{u.hasPin ? "✔" : "—"}</td>
              <td>{u.disabled ? t("users.disabled") : u.lockedUntil > now ? t("users.locked") : t("users.active")}</td>
              <td class="ts">{fmtDateTime(u.lastLoginAt, props.tz)}</td>
              <td class="user-actions">
                <form method="post" action={`/users/${u.id}/password`} class="inline">
                  <CsrfField token={props.csrf} />
                  <input type="password" name="password" placeholder={t("users.passwordOrGenerate")} autocomplete="new-password" />
                  <button class="btn">{t("users.setPassword")}</button>
                </form>
                <form method="post" action={`/users/${u.id}/pin`} class="inline">
                  <CsrfField token={props.csrf} />
                  <input name="pin" inputmode="numeric" pattern="[0-9]{4,8}" placeholder={t("users.pinOrGenerate")} autocomplete="off" size={8} />
                  <button class="btn">{t("users.setPin")}</button>
                  {u.hasPin ? (
                    <button class="btn btn-quiet" name="remove" value="1">
                      {t("users.removePin")}
                    </button>
                  ) : null}
                </form>
                <form method="post" action={`/users/${u.id}/${u.disabled ? "enable" : "disable"}`} class="inline">
                  <CsrfField token={props.csrf} />
                  <button class="btn">{u.disabled ? t("users.enable") : t("users.disable")}</button>
                </form>
                <form method="post" action={`/users/${u.id}/delete`} class="inline" data-confirm={t("users.deleteConfirm", { name: u.name })}>
                  <CsrfField token={props.csrf} />
                  <button class="btn btn-quiet">{t("users.delete")}</button>
                </form>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form method="post" action="/users" class="auth-form">
        <h2>{t("users.add")}</h2>
        <CsrfField token={props.csrf} />
        <label>
          {t("auth.name")}
          <input name="name" required autocomplete="off" />
        </label>
        <label>
          {t("users.role")}
          <RoleSelect t={t} value="operator" />
        </label>
        <label>
          {t("auth.password")}
          <input type="password" name="password" placeholder={t("users.passwordOrGenerate")} autocomplete="new-password" />
        </label>
        <label>
          <input type="checkbox" name="withPin" value="1" checked /> {t("users.generatePin")}
        </label>
        <button class="btn btn-primary">{t("users.add")}</button>
      </form>
    </Layout>
  );
}
