import type { Child } from "hono/jsx";
import { translator, type Lang, type T } from "../../i18n/index.ts";
import { Layout } from "../layout.tsx";
import type { PageRequest } from "../page-context.ts";
import { CsrfField, Flash } from "../alarms/ui.tsx";

/**
 * Login, first-admin setup, the kiosk PIN pad and the user's own account page. Login and setup use
 * a bare shell (no live stream: nobody is allowed one yet); the PIN pad and the account page use the
 * common layout, banner included.
 */

function AuthShell(props: { title: string; lang: Lang; children: Child; path: string }) {
  const other: Lang = props.lang === "fr" ? "en" : "fr";
  const t = translator(props.lang);
  return (
    <html lang={props.lang}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} — Busbar`}</title>
        <link rel="stylesheet" href="/assets/busbar.css" />
        <link rel="stylesheet" href="/assets/alarms.css" />
      </head>
      <body class="auth-page">
        <main class="auth-box">
          <p class="auth-brand">
            Busbar{" "}
            <a class="lang-toggle" href={`/lang/${other}?back=${encodeURIComponent(props.path)}`} hreflang={other}>
              {t("lang.switch")}
            </a>
          </p>
          {props.children}
        </main>
      </body>
    </html>
  );
}

export function LoginPage(props: { lang: Lang; path: string; csrf: string; next: string; error?: string; name?: string; kiosk: boolean; noUsers: boolean; setupHere: boolean }) {
  const t = translator(props.lang);
  return (
    <AuthShell title={t("auth.login.title")} lang={props.lang} path={props.path}>
      <h1>{t("auth.login.title")}</h1>
      {props.error ? (
        <p class="flash flash-err" role="alert">
          ✖ {props.error}
        </p>
      ) : null}
      {props.noUsers ? (
        <p class="flash flash-err">
          {t("auth.noUsers")} {props.setupHere ? <a href="/setup">{t("auth.setup.link")}</a> : t("auth.noUsers.cli")}
        </p>
      ) : null}
      <form method="post" action="/auth/login" class="auth-form">
        <CsrfField token={props.csrf} />
        <input type="hidden" name="next" value={props.next} />
        <label>
          {t("auth.name")}
          <input name="name" autocomplete="username" required autofocus value={props.name ?? ""} />
        </label>
        <label>
          {t("auth.password")}
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <button type="submit" class="btn btn-primary">
          {t("auth.login.submit")}
        </button>
      </form>
      {props.kiosk ? (
        <p>
          <a class="btn" href={`/auth/pin?next=${encodeURIComponent(props.next)}`}>
            {t("auth.pin.link")}
          </a>{" "}
          <a class="btn" href={props.next}>
            {t("auth.kiosk.back")}
          </a>
        </p>
      ) : null}
    </AuthShell>
  );
}

export function SetupPage(props: { lang: Lang; path: string; csrf: string; error?: string; name?: string }) {
  const t = translator(props.lang);
  return (
    <AuthShell title={t("auth.setup.title")} lang={props.lang} path={props.path}>
      <h1>{t("auth.setup.title")}</h1>
      <p>{t("auth.setup.intro")}</p>
      {props.error ? (
        <p class="flash flash-err" role="alert">
          ✖ {props.error}
        </p>
      ) : null}
      <form method="post" action="/setup" class="auth-form">
        <CsrfField token={props.csrf} />
        <label>
          {t("auth.name")}
          <input name="name" autocomplete="username" required value={props.name ?? ""} />
        </label>
        <label>
          {t("auth.password")}
          <input name="password" type="password" autocomplete="new-password" required minlength={10} />
        </label>
        <label>
          {t("auth.password.again")}
          <input name="password2" type="password" autocomplete="new-password" required minlength={10} />
        </label>
        <label>
          {t("auth.pin.optional")}
          <input name="pin" inputmode="numeric" pattern="[0-9]{4,8}" autocomplete="off" />
        </label>
        <button type="submit" class="btn btn-primary">
          {t("auth.setup.submit")}
        </button>
      </form>
    </AuthShell>
  );
}

/** The kiosk's PIN pad: pick your name, tap your PIN. No keyboard needed (public/alarms.js drives the pad). */
export function PinPage(props: {
  req: PageRequest;
  siteName: string;
  csrf: string;
  users: { name: string; role: string }[];
  next: string;
  kiosk: boolean;
  error?: string;
  selected?: string;
  minutes: number;
}) {
  const t = translator(props.req.lang);
  return (
    <Layout title={t("auth.pin.title")} siteName={props.siteName} lang={props.req.lang} path={props.req.path} user={props.req.user} styles={["/assets/alarms.css"]}>
      <section class="pin-page">
        <h1>{t("auth.pin.title")}</h1>
        {!props.kiosk ? (
          <p class="flash flash-err">{t("auth.pin.notKiosk")}</p>
        ) : (
          <>
            <p class="hint">{t("auth.pin.hint", { minutes: props.minutes })}</p>
            {props.error ? (
              <p class="flash flash-err" role="alert">
                ✖ {props.error}
              </p>
            ) : null}
            <form method="post" action="/auth/pin" class="pin-form" data-keypad="pin">
              <CsrfField token={props.csrf} />
              <input type="hidden" name="next" value={props.next} />
              <fieldset class="pin-users">
                <legend>{t("auth.pin.who")}</legend>
                {props.users.length === 0 ? <p>{t("auth.pin.noUsers")}</p> : null}
                {props.users.map((u, i) => (
                  <label class="pin-user">
                    <input type="radio" name="name" value={u.name} required checked={props.selected ? props.selected === u.name : i === 0 && props.users.length === 1} />
                    <span>
                      {u.name} <small>{t(`role.${u.role}`)}</small>
                    </span>
                  </label>
                ))}
              </fieldset>
              <Keypad t={t} name="pin" secret />
              <button type="submit" class="btn btn-primary btn-big">
                {t("auth.pin.submit")}
              </button>
            </form>
          </>
        )}
      </section>
    </Layout>
  );
}

/** An on-screen keypad bound to a hidden input (PIN) or a visible number field (setpoint). */
export function Keypad(props: { t: T; name: string; secret?: boolean; decimal?: boolean; value?: string }) {
  const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", props.decimal ? "±" : "", "0", props.decimal ? "," : ""];
  return (
    <div class="keypad" data-keypad-for={props.name}>
      <output class="keypad-display" data-secret={props.secret ? "1" : undefined} aria-live="polite">
        {props.value ?? ""}
      </output>
      <input type={props.secret ? "hidden" : "text"} name={props.name} value={props.value ?? ""} inputmode={props.decimal ? "decimal" : "numeric"} autocomplete="off" class="keypad-input" />
      <div class="keypad-keys">
        {keys.map((k) =>
          k ? (
            <button type="button" class="key" data-key={k}>
              {k}
            </button>
          ) : (
            <span />
          ),
        )}
        <button type="button" class="key key-wide" data-key="back" aria-label={props.t("keypad.back")}>
          ⌫
        </button>
        <button type="button" class="key key-wide" data-key="clear">
          {props.t("keypad.clear")}
        </button>
      </div>
    </div>
  );
}

export function AccountPage(props: { req: PageRequest; siteName: string; csrf: string; user: { name: string; role: string; kind: string; hasPin: boolean }; ok?: string; err?: string; error?: string }) {
  const t = translator(props.req.lang);
  return (
    <Layout title={t("account.title")} siteName={props.siteName} lang={props.req.lang} path={props.req.path} user={props.req.user} styles={["/assets/alarms.css"]}>
      <h1>{t("account.title")}</h1>
      <Flash t={t} ok={props.ok} err={props.err} />
      {props.error ? <p class="flash flash-err">✖ {props.error}</p> : null}
      <p>
        {props.user.name} — {t(`role.${props.user.role}`)} {props.user.kind === "pin" ? `(${t("auth.pin.session")})` : ""}
      </p>
      {props.user.kind === "password" ? (
        <>
          <form method="post" action="/account/password" class="auth-form">
            <h2>{t("account.password")}</h2>
            <CsrfField token={props.csrf} />
            <label>
              {t("account.current")}
              <input name="current" type="password" autocomplete="current-password" required />
            </label>
            <label>
              {t("auth.password")}
              <input name="password" type="password" autocomplete="new-password" required minlength={10} />
            </label>
            <label>
              {t("auth.password.again")}
              <input name="password2" type="password" autocomplete="new-password" required minlength={10} />
            </label>
            <button class="btn btn-primary">{t("account.save")}</button>
          </form>
          <form method="post" action="/account/pin" class="auth-form">
            <h2>{t("account.pin")}</h2>
            <CsrfField token={props.csrf} />
            <label>
              {t("account.current")}
              <input name="current" type="password" autocomplete="current-password" required />
            </label>
            <label>
              {t("auth.pin")} ({props.user.hasPin ? t("account.pin.has") : t("account.pin.none")})
              <input name="pin" inputmode="numeric" pattern="[0-9]{4,8}" autocomplete="off" />
            </label>
            <button class="btn btn-primary">{t("account.save")}</button>
          </form>
        </>
      ) : (
        <p class="hint">{t("account.pinSessionHint")}</p>
      )}
      <form method="post" action="/auth/logout">
        <CsrfField token={props.csrf} />
        <button class="btn">{t("auth.logout")}</button>
      </form>
    </Layout>
  );
}
