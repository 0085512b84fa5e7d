import type { Context, Hono } from "hono";
import { t } from "../../i18n/index.ts";
import { CHANNEL_TYPES, SECRET_FIELDS, type ChannelConfig, type ChannelType } from "../../notify/channels.ts";
import { Notifier } from "../../notify/notifier.ts";
import { parseRule } from "../../notify/rules.ts";
import { SecretBox } from "../../notify/secret-box.ts";
import { NotifyPage } from "../../views/notify-page.tsx";
import { pageRequest } from "../../views/page-context.ts";
import type { AppContext } from "../context.ts";
import { authOf } from "../middleware/security.ts";
import { servicesOf } from "../middleware/services.ts";
import { journalText } from "../../journal/i18n.ts";

/**
 * Notification administration (admin only, policy.ts): channels, rules, users' e-mail addresses,
 * the outbox. Every change is journaled (config.notify) with the names of the secrets changed,
 * never their values.
 */
export function registerNotifyRoutes(app: Hono, ctx: AppContext): void {
  const { journal, lang: siteLang } = servicesOf(ctx);
  const { site } = ctx;
  const file = ctx.db.sqlite.filename || ":memory:";
  // An app built without a runtime (route tests) gets an unstarted notifier over the same database.
  const notify =
    ctx.notify ?? new Notifier({ sqlite: ctx.db.sqlite, journal, box: SecretBox.forDatabase(file), siteName: site.site.name, timezone: site.site.timezone, lang: siteLang, log: () => {} });
  const keyWhere = process.env.BUSBAR_SECRET_KEY ? "BUSBAR_SECRET_KEY" : SecretBox.keyFile(file);
  const str = (v: unknown) => (typeof v === "string" ? v.trim() : "");
  const all = (b: Record<string, unknown>, k: string): string[] => {
    const v = b[k] ?? b[`${k}[]`];
    return (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(String);
  };

  const page = (c: Context, extra: Partial<Parameters<typeof NotifyPage>[0]> = {}, status: 200 | 400 | 502 = 200) =>
    c.html(
      <NotifyPage
        req={pageRequest(c, site.site.language)}
        siteName={site.site.name}
        tz={site.site.timezone}
        csrf={authOf(c).csrf}
        channels={notify.channels()}
        rules={notify.rulesList()}
        users={ctx.db.sqlite.query("SELECT id, name, role, email FROM users ORDER BY name").all() as { id: number; name: string; role: string; email: string }[]}
        outbox={notify.outbox(100)}
        keyWhere={keyWhere}
        ok={c.req.query("ok")}
        {...extra}
      />,
      status,
    );

  // What changed, in both languages (the row reads in the reader's).
  const log = (c: Context, key: string, params: Record<string, string | number>, data: Record<string, unknown>) => {
    const what = { fr: t("fr", `journal.notify.what.${key}`, params), en: t("en", `journal.notify.what.${key}`, params) };
    const user = authOf(c).user!.name;
    journal.append({ type: "config.notify", source: "notify", actor: user, ...journalText(siteLang, "journal.config.notify", { what, user }), data });
  };
  const id = (c: Context) => {
    const n = Number(c.req.param("id"));
    return Number.isInteger(n) && n > 0 ? n : undefined;
  };

  app.get("/admin/notify", (c) => page(c));
  app.get("/api/notify/outbox", (c) => c.json({ counts: notify.counts(), messages: notify.outbox(200).map(({ body: _b, ...r }) => r) }));

  app.post("/admin/notify/channels", async (c) => {
    const b = (await c.req.parseBody({ all: true })) as Record<string, unknown>;
    const type = str(b.type) as ChannelType;
    const name = str(b.name).slice(0, 100);
    const problems: string[] = [];
    if (!CHANNEL_TYPES.includes(type)) problems.push("type: email, webhook, telegram or ntfy");
    if (!name) problems.push("name: required");
    let config: ChannelConfig | undefined;
    if (type === "email") {
      const port = Number(str(b.port) || 587);
      const tls = (str(b.tls) || "starttls") as "starttls" | "implicit" | "none";
      if (!str(b.host)) problems.push("host: required");
      if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push("port: 1–65535");
      if (!["starttls", "implicit", "none"].includes(tls)) problems.push("tls: starttls, implicit or none");
      if (!/^[^@\s]+@[^@\s]+$/.test(str(b.from).replace(/^.*<|>$/g, ""))) problems.push("from: an e-mail address");
      config = { host: str(b.host), port, tls, user: str(b.user), from: str(b.from), allowSelfSigned: /^(yes|oui|1|true)$/i.test(str(b.allowSelfSigned)) };
    } else if (type === "webhook" || type === "ntfy") {
      const url = str(b.url);
      if (!/^https?:\/\/[^\s]+$/.test(url) || !URL.canParse(url)) problems.push("url: an http(s) URL");
      config = { url };
    } else if (type === "telegram") {
      const apiBase = str(b.apiBase) || "https://api.telegram.org";
      if (!/^-?\d+$|^@\w+$/.test(str(b.chatId))) problems.push("chatId: a number or @channel");
      if (!URL.canParse(apiBase)) problems.push("apiBase: an http(s) URL");
      config = { chatId: str(b.chatId), apiBase };
    }
    const existing = str(b.id) ? Number(str(b.id)) : undefined;
    if (existing !== undefined && !notify.channel(existing)) problems.push("id: no such channel");
    if (problems.length || !config) return page(c, { problems }, 400);
    const secrets: Record<string, string> = {};
    for (const k of SECRET_FIELDS[type]) if (str(b[`secret.${k}`])) secrets[k] = str(b[`secret.${k}`]);
    const clear = all(b, "clear");
    const cid = notify.saveChannel(existing, name, type, config, secrets, clear, b.enabled !== undefined);
    log(c, existing ? "channelChanged" : "channelAdded", { name }, { channel: cid, type, config, secretsChanged: Object.keys(secrets), secretsCleared: clear });
    return c.redirect("/admin/notify?ok=notifySaved", 303);
  });

  app.post("/admin/notify/channels/:id/delete", (c) => {
    const ch = notify.channel(id(c) ?? 0);
    if (!ch) return c.text("no such channel", 404);
    notify.deleteChannel(ch.id);
    log(c, "channelDeleted", { name: ch.name }, { channel: ch.id });
    return c.redirect("/admin/notify?ok=notifySaved", 303);
  });

  app.post("/admin/notify/channels/:id/test", async (c) => {
    const ch = notify.channel(id(c) ?? 0);
    if (!ch) return c.text("no such channel", 404);
    const b = (await c.req.parseBody()) as Record<string, unknown>;
    const to = str(b.to);
    if (ch.type === "email" && !/^[^@\s<>]+@[^@\s<>]+$/.test(to)) return page(c, { problems: ["to: an e-mail address"] }, 400);
    const res = await notify.sendTest(ch.id, to ? [to] : []);
    const user = authOf(c).user!.name;
    journal.append({ type: "notify.test", source: ch.name, actor: user, ...journalText(siteLang, "journal.notify.test", { channel: ch.name, user, answer: res.answer.slice(0, 200) }), data: { channel: ch.id, ok: res.ok, answer: res.answer, to } });
    if ((c.req.header("accept") ?? "").includes("application/json")) return c.json(res, res.ok ? 200 : 502);
    return page(c, { test: { channel: ch.id, ...res } }, res.ok ? 200 : 502);
  });

  app.post("/admin/notify/rules", async (c) => {
    const b = (await c.req.parseBody({ all: true })) as Record<string, unknown>;
    const name = str(b.name).slice(0, 100);
    const parsed = parseRule({ ...b, priorities: all(b, "priorities"), events: all(b, "events"), quietBypass: all(b, "quietBypass") });
    const problems = parsed.ok ? [] : [...parsed.problems];
    if (!name) problems.push("name: required");
    const channel = Number(str(b.channel));
    if (!notify.channel(channel)) problems.push("channel: no such channel");
    const existing = str(b.id) ? Number(str(b.id)) : undefined;
    if (existing !== undefined && !notify.rulesList().some((r) => r.id === existing)) problems.push("id: no such rule");
    if (problems.length || !parsed.ok) return page(c, { problems }, 400);
    const rid = notify.saveRule(existing, name, channel, parsed.config, b.enabled !== undefined);
    log(c, existing ? "ruleChanged" : "ruleAdded", { name }, { rule: rid, channel, config: parsed.config });
    return c.redirect("/admin/notify?ok=notifySaved", 303);
  });

  app.post("/admin/notify/rules/:id/delete", (c) => {
    const rule = notify.rulesList().find((r) => r.id === id(c));
    if (!rule) return c.text("no such rule", 404);
    notify.deleteRule(rule.id);
    log(c, "ruleDeleted", { name: rule.name }, { rule: rule.id });
    return c.redirect("/admin/notify?ok=notifySaved", 303);
  });

  app.post("/admin/notify/emails", async (c) => {
    const b = (await c.req.parseBody()) as Record<string, unknown>;
    const users = ctx.db.sqlite.query("SELECT id, name, email FROM users").all() as { id: number; name: string; email: string }[];
    const changes: { user: string; email: string }[] = [];
    const problems: string[] = [];
    for (const u of users) {
      const v = b[`email.${u.id}`];
      if (typeof v !== "string") continue;
      const email = v.trim().slice(0, 200);
      if (email && !/^[^@\s<>]+@[^@\s<>]+$/.test(email)) problems.push(`${u.name}: “${email}” is not an e-mail address`);
      else if (email !== u.email) changes.push({ user: u.name, email });
    }
    if (problems.length) return page(c, { problems }, 400);
    journal.transaction(() => {
      for (const ch of changes) ctx.db.sqlite.run("UPDATE users SET email = ? WHERE name = ?", [ch.email, ch.user]);
      if (changes.length) log(c, "emails", { users: changes.map((x) => x.user).join(", ") }, { changes });
    });
    return c.redirect("/admin/notify?ok=notifySaved", 303);
  });

  app.post("/admin/notify/outbox/:id/retry", (c) => {
    const n = id(c);
    if (!n || !notify.retry(n)) return c.text("no such failed message", 404);
    log(c, "retried", { n }, { outbox: n });
    return c.redirect("/admin/notify?ok=notifySaved", 303);
  });
}
