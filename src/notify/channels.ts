import { createHmac } from "node:crypto";
import { isIP } from "node:net";

/**
 * The ways a message leaves Busbar. Each send resolves with the peer's own answer (SMTP reply line,
 * HTTP status and body start) or throws with it: the admin page and the outbox show that text, not
 * a paraphrase.
 */

export const CHANNEL_TYPES = ["email", "webhook", "telegram", "ntfy"] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

export interface EmailConfig {
  host: string;
  port: number;
  /** starttls: plain connect, STARTTLS required; implicit: TLS from the first byte (465); none: no TLS (lab only). */
  tls: "starttls" | "implicit" | "none";
  user: string;
  from: string;
  /** Accept a self-signed server certificate (an internal relay). */
  allowSelfSigned: boolean;
}
export interface WebhookConfig {
  url: string;
}
export interface TelegramConfig {
  chatId: string;
  /** https://api.telegram.org unless a proxy or a test server stands in. */
  apiBase: string;
}
export interface NtfyConfig {
  /** Topic URL, e.g. https://ntfy.sh/site-electrical-room. */
  url: string;
}
export type ChannelConfig = EmailConfig | WebhookConfig | TelegramConfig | NtfyConfig;

/** The secret fields per type (encrypted at rest, never shown back). */
export const SECRET_FIELDS: Record<ChannelType, readonly string[]> = {
  email: ["password"],
  webhook: ["hmacKey", "token"],
  telegram: ["token"],
  ntfy: ["token"],
};

export interface Channel {
  id: number;
  name: string;
  type: ChannelType;
  config: ChannelConfig;
  secret: Record<string, string>;
  enabled: boolean;
}

export interface OutMessage {
  /** Stable per outbox row: a resend after a crash carries the same id (mail clients and receivers dedupe on it). */
  id: string;
  subject: string;
  text: string;
  recipients: string[];
  /** Highest priority in the message (push services map it). */
  priority: string;
  /** Machine-readable payload for webhooks. */
  payload: unknown;
  /** Files (scheduled reports); e-mail only: other channels carry the text. */
  attachments?: { filename: string; contentType: string; content: Uint8Array }[];
}

const TIMEOUT_MS = 15_000;

export async function sendOn(ch: Channel, m: OutMessage): Promise<string> {
  switch (ch.type) {
    case "email":
      return sendEmail(ch.config as EmailConfig, ch.secret, m);
    case "webhook":
      return sendWebhook(ch.config as WebhookConfig, ch.secret, m);
    case "telegram":
      return sendTelegram(ch.config as TelegramConfig, ch.secret, m);
    case "ntfy":
      return sendNtfy(ch.config as NtfyConfig, ch.secret, m);
  }
}

async function sendEmail(c: EmailConfig, s: Record<string, string>, m: OutMessage): Promise<string> {
  if (!m.recipients.length) throw new Error("no recipient (give the rule addresses, or users of its role an e-mail address)");
  // Loaded on first use: nodemailer (with TLS and its transports) costs ~15 MB of RSS, a site that never
  // mails should not carry it.
  const { default: nodemailer } = await import("nodemailer");
  const transport = nodemailer.createTransport({
    host: c.host,
    port: c.port,
    secure: c.tls === "implicit",
    requireTLS: c.tls === "starttls",
    ignoreTLS: c.tls === "none",
    auth: c.user ? { user: c.user, pass: s.password ?? "" } : undefined,
    // SNI takes a name, never an address.
    tls: { rejectUnauthorized: !c.allowSelfSigned, ...(isIP(c.host) ? {} : { servername: c.host }) },
    connectionTimeout: TIMEOUT_MS,
    greetingTimeout: TIMEOUT_MS,
    socketTimeout: TIMEOUT_MS,
  });
  try {
    const domain = c.from.split("@")[1]?.replace(/[>\s]/g, "") || "busbar.local";
    const info = await transport.sendMail({
      from: c.from,
      to: m.recipients,
      subject: m.subject,
      text: m.text,
      messageId: `<${m.id}@${domain}>`,
      headers: { "X-Busbar-Message": m.id },
      attachments: m.attachments?.map((a) => ({ filename: a.filename, contentType: a.contentType, content: Buffer.from(a.content) })),
    });
    return String(info.response ?? "accepted");
  } finally {
    transport.close();
  }
}

/** Signs `timestamp.body` so a receiver can refuse replays older than it tolerates. */
export function webhookSignature(key: string, timestamp: string, body: string): string {
  return "sha256=" + createHmac("sha256", key).update(`${timestamp}.${body}`).digest("hex");
}

async function post(url: string, body: string, headers: Record<string, string>): Promise<string> {
  const res = await fetch(url, { method: "POST", body, headers, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: "manual" });
  const text = (await res.text()).slice(0, 300);
  const answer = `HTTP ${res.status}${text ? ` ${text}` : ""}`;
  if (!res.ok) throw new Error(answer);
  return answer;
}

async function sendWebhook(c: WebhookConfig, s: Record<string, string>, m: OutMessage): Promise<string> {
  const body = JSON.stringify({ id: m.id, subject: m.subject, text: m.text, priority: m.priority, ...(m.payload as object) });
  const ts = String(Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = { "content-type": "application/json", "x-busbar-id": m.id, "x-busbar-timestamp": ts };
  if (s.hmacKey) headers["x-busbar-signature"] = webhookSignature(s.hmacKey, ts, body);
  if (s.token) headers.authorization = `Bearer ${s.token}`;
  return post(c.url, body, headers);
}

async function sendTelegram(c: TelegramConfig, s: Record<string, string>, m: OutMessage): Promise<string> {
  if (!s.token) throw new Error("no bot token");
  const base = (c.apiBase || "https://api.telegram.org").replace(/\/+$/, "");
  // Telegram caps a message at 4096 characters; a long digest is cut, the rest is on the alarm page.
  const text = `${m.subject}\n\n${m.text}`.slice(0, 4000);
  return post(`${base}/bot${s.token}/sendMessage`, JSON.stringify({ chat_id: c.chatId, text, disable_web_page_preview: true }), { "content-type": "application/json" });
}

const NTFY_PRIORITY: Record<string, number> = { critical: 5, high: 4, medium: 3, low: 2 };

async function sendNtfy(c: NtfyConfig, s: Record<string, string>, m: OutMessage): Promise<string> {
  // ntfy's JSON publishing goes to the server root with the topic in the body.
  const u = new URL(c.url);
  const topic = u.pathname.replace(/^\/+|\/+$/g, "");
  if (!topic) throw new Error("the ntfy URL needs a topic (https://ntfy.sh/TOPIC)");
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (s.token) headers.authorization = `Bearer ${s.token}`;
  const body = JSON.stringify({ topic, title: m.subject, message: m.text.slice(0, 3800), priority: NTFY_PRIORITY[m.priority] ?? 3, tags: ["zap"] });
  return post(`${u.origin}/`, body, headers);
}
