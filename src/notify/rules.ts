import { ALARM_PRIORITIES, type AlarmPriority } from "../config/site.ts";
import { isRole, type Role } from "../auth/roles.ts";

/** Which alarm events a rule sends, to whom, and when it keeps quiet. */

export const NOTIFY_EVENTS = ["active", "ack", "rtn"] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export interface RuleConfig {
  priorities: AlarmPriority[];
  /** Device ids or area prefixes ending in `*` (`2B*`); empty = every device. */
  devices: string[];
  /** Users of this role with an e-mail address receive it ('' = only the listed recipients). */
  role: Role | "";
  recipients: string[];
  events: NotifyEvent[];
  /** Local "HH:MM" in the site's time zone; both empty = never quiet. */
  quietFrom: string;
  quietTo: string;
  /** Priorities that ring through quiet hours. */
  quietBypass: AlarmPriority[];
}

/** An alarm transition as the journal recorded it. */
export interface AlarmEvent {
  journalId: number;
  ts: number;
  event: NotifyEvent;
  /** Journal row type (alarm.rtn vs alarm.normal, for the text). */
  type: string;
  alarm: string;
  device: string;
  priority: AlarmPriority;
  message: string;
  actor: string;
  value: number | null;
}

const EVENT_OF: Record<string, NotifyEvent> = { "alarm.active": "active", "alarm.ack": "ack", "alarm.rtn": "rtn", "alarm.normal": "rtn" };

export function alarmEventOf(row: { id: number; ts: number; type: string; source: string; device: string; actor: string; message: string; data: string | null }): AlarmEvent | null {
  const event = EVENT_OF[row.type];
  if (!event) return null;
  let data: { priority?: string; value?: number | null; toNormal?: boolean } = {};
  try {
    data = row.data ? JSON.parse(row.data) : {};
  } catch {
    /* a row without details still notifies, as low */
  }
  const priority = (ALARM_PRIORITIES as readonly string[]).includes(data.priority ?? "") ? (data.priority as AlarmPriority) : "low";
  return { journalId: row.id, ts: row.ts, event, type: row.type, alarm: row.source, device: row.device, priority, message: row.message, actor: row.actor, value: data.value ?? null };
}

export function ruleMatches(r: RuleConfig, e: AlarmEvent): boolean {
  if (!r.events.includes(e.event)) return false;
  if (!r.priorities.includes(e.priority)) return false;
  if (r.devices.length && !r.devices.some((d) => (d.endsWith("*") ? e.device.startsWith(d.slice(0, -1)) : e.device === d))) return false;
  return true;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

function minutes(hhmm: string): number {
  const m = HHMM.exec(hhmm)!;
  return Number(m[1]) * 60 + Number(m[2]);
}

function localMinutes(ts: number, zone: string): number {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).formatToParts(ts);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return get("hour") * 60 + get("minute") + get("second") / 60;
}

/**
 * When quiet hours hold this event back: the end of the quiet period (ms), else 0 (send now).
 * Held events are not dropped: they go out as one digest when the quiet period ends.
 */
export function quietUntil(r: RuleConfig, e: AlarmEvent, zone: string): number {
  if (!r.quietFrom || !r.quietTo || r.quietBypass.includes(e.priority)) return 0;
  const from = minutes(r.quietFrom);
  const to = minutes(r.quietTo);
  const now = localMinutes(e.ts, zone);
  const inQuiet = from < to ? now >= from && now < to : now >= from || now < to;
  if (!inQuiet) return 0;
  const wait = (to - now + 1440) % 1440;
  return e.ts + Math.round(wait * 60_000);
}

/** Validates a rule form; returns the problems (field: message) or the config. */
export function parseRule(f: Record<string, unknown>): { ok: true; config: RuleConfig } | { ok: false; problems: string[] } {
  const list = (k: string) => {
    const v = f[k];
    const arr = Array.isArray(v) ? v : typeof v === "string" ? v.split(/[,\s]+/) : [];
    return arr.map((x) => String(x).trim()).filter(Boolean);
  };
  const problems: string[] = [];
  const priorities = list("priorities").filter((p) => (ALARM_PRIORITIES as readonly string[]).includes(p)) as AlarmPriority[];
  if (!priorities.length) problems.push("priorities: choose at least one");
  const events = list("events").filter((p) => (NOTIFY_EVENTS as readonly string[]).includes(p)) as NotifyEvent[];
  if (!events.length) problems.push("events: choose at least one");
  const role = String(f.role ?? "");
  if (role && !isRole(role)) problems.push("role: operator, maintenance, admin or none");
  const recipients = list("recipients");
  for (const a of recipients) if (!/^[^@\s<>]+@[^@\s<>]+$/.test(a)) problems.push(`recipients: “${a}” is not an e-mail address`);
  const devices = list("devices");
  for (const d of devices) if (!/^[\w.-]+\*?$/.test(d)) problems.push(`devices: “${d}” is not a device id or prefix*`);
  const quietFrom = String(f.quietFrom ?? "").trim();
  const quietTo = String(f.quietTo ?? "").trim();
  if ((quietFrom || quietTo) && !(HHMM.test(quietFrom) && HHMM.test(quietTo) && quietFrom !== quietTo)) problems.push("quiet hours: two different HH:MM times, or both empty");
  const quietBypass = list("quietBypass").filter((p) => (ALARM_PRIORITIES as readonly string[]).includes(p)) as AlarmPriority[];
  if (problems.length) return { ok: false, problems };
  return { ok: true, config: { priorities, devices, role: role as Role | "", recipients, events, quietFrom, quietTo, quietBypass } };
}
