import { statesFor } from "../hmi/format.ts";
import { labelIn } from "../config/site.ts";
import type { AlarmPriority, AlarmsConfig, PointAlarmConfig, Site } from "../config/site.ts";
import { ALARM_PRIORITIES } from "../config/site.ts";
import type { PointRegistry } from "../points/registry.ts";

/**
 * Turns the site's `alarms:` section into a flat list of alarm definitions:
 *  - one per analog limit (`5B1.p_total.HH`), with deadband and on/off delays;
 *  - one per digital state alarm (`2B1.tripped`);
 *  - from tag roles unless the site says otherwise: every `breaker.tripped` (critical) and every
 *    `ats.emergency` (high) of every enabled device;
 *  - one communication-loss alarm per enabled device (`2B1.comm-loss`), automatic.
 * Ids never collide: tag ids hold no `.` or `-`.
 */

export type AlarmKind = "analog" | "digital" | "comm";
export type LimitName = "HH" | "H" | "L" | "LL";

export interface AlarmDef {
  id: string;
  kind: AlarmKind;
  priority: AlarmPriority;
  /** `DEVICE.tag`, or null for communication loss. */
  point: string | null;
  /** Registry index of the point; -1 for communication loss. */
  pointIndex: number;
  device: string;
  limit?: LimitName;
  setpoint?: number;
  /** HH/H alarm above the setpoint; L/LL below. */
  high?: boolean;
  deadband: number;
  /** Digital: the abnormal value. */
  state?: number;
  stateName?: string;
  /** The same state in French (profile `statesFr`, else the built-in words). */
  stateNameFr?: string;
  onDelayMs: number;
  offDelayMs: number;
  unit: string;
  message: { fr: string; en: string };
}

export const PRIORITY_RANK: Record<AlarmPriority, number> = { critical: 0, high: 1, medium: 2, low: 3 };
export { ALARM_PRIORITIES };

const LIMIT_WORDS: Record<LimitName, { fr: string; en: string }> = {
  HH: { fr: "très haut", en: "high-high" },
  H: { fr: "haut", en: "high" },
  L: { fr: "bas", en: "low" },
  LL: { fr: "très bas", en: "low-low" },
};

function fmtNum(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 1000) / 1000);
}

export function compileAlarms(site: Site, registry: PointRegistry, config: AlarmsConfig = site.alarms): AlarmDef[] {
  const defs: AlarmDef[] = [];
  const seen = new Set<string>();
  const deviceLabel = new Map(site.devices.map((d) => [d.id, labelIn(d, "fr") ?? d.id]));
  const deviceLabelEn = new Map(site.devices.map((d) => [d.id, labelIn(d, "en") ?? d.id]));
  const push = (d: AlarmDef) => {
    if (seen.has(d.id)) return;
    seen.add(d.id);
    defs.push(d);
  };

  const explicit = new Set(config.points.filter((p) => p.state !== undefined).map((p) => p.point));
  for (const p of config.points) {
    if (!p.enabled) continue;
    const info = registry.byId.get(p.point);
    if (!info) continue; // device disabled
    const dev = deviceLabel.get(info.device) ?? info.device;
    const devEn = deviceLabelEn.get(info.device) ?? info.device;
    const base = p.id ?? p.point;
    const onDelayMs = Math.round(p.onDelaySeconds * 1000);
    const offDelayMs = Math.round(p.offDelaySeconds * 1000);
    if (p.state !== undefined) {
      const states = info.states ?? {};
      let state: number;
      let stateName: string;
      if (typeof p.state === "number") {
        state = p.state;
        stateName = states[String(p.state)] ?? String(p.state);
      } else {
        const entry = Object.entries(states).find(([, name]) => name === p.state);
        state = entry ? Number(entry[0]) : NaN;
        stateName = p.state;
      }
      push({
        id: base,
        kind: "digital",
        priority: p.priority ?? "medium",
        point: p.point,
        pointIndex: info.index,
        device: info.device,
        deadband: 0,
        state,
        stateName,
        onDelayMs,
        offDelayMs,
        stateNameFr: statesFor(info, "fr")?.[String(state)] ?? stateName,
        unit: "",
        message: {
          fr: p.labelFr ?? p.label ?? `${dev} — ${info.labelFr} : ${statesFor(info, "fr")?.[String(state)] ?? stateName}`,
          en: p.label ?? `${devEn} — ${info.label}: ${stateName}`,
        },
      });
      continue;
    }
    for (const k of ["hh", "h", "l", "ll"] as const) {
      const lim = p[k];
      if (lim === undefined) continue;
      const name = k.toUpperCase() as LimitName;
      const setpoint = typeof lim === "number" ? lim : lim.value;
      const priority = (typeof lim === "number" ? undefined : lim.priority) ?? p.priority ?? (name.length === 2 ? "high" : "medium");
      const high = name[0] === "H";
      const unit = info.unit;
      const cmp = `${high ? ">" : "<"} ${fmtNum(setpoint)}${unit ? " " + unit : ""}`;
      push({
        id: `${base}.${name}`,
        kind: "analog",
        priority,
        point: p.point,
        pointIndex: info.index,
        device: info.device,
        limit: name,
        setpoint,
        high,
        deadband: p.deadband,
        onDelayMs,
        offDelayMs,
        unit,
        message: {
          fr: `${p.labelFr ?? p.label ?? `${dev} — ${info.labelFr}`} ${LIMIT_WORDS[name].fr} (${cmp})`,
          en: `${p.label ?? `${devEn} — ${info.label}`} ${LIMIT_WORDS[name].en} (${cmp})`,
        },
      });
    }
  }

  // Alarms from roles.
  const roleAlarms: { role: string; priority: AlarmPriority | false }[] = [
    { role: "breaker.tripped", priority: config.fromRoles.breakerTripped },
    { role: "ats.emergency", priority: config.fromRoles.atsEmergency },
    { role: "ups.alarm", priority: config.fromRoles.upsAlarm },
    { role: "ups.alarm.critical", priority: config.fromRoles.upsAlarmCritical },
  ];
  for (const ra of roleAlarms) {
    if (ra.priority === false) continue;
    for (const info of registry.points) {
      if (info.role !== ra.role || explicit.has(info.id)) continue;
      const dev = deviceLabel.get(info.device) ?? info.device;
      const devEn = deviceLabelEn.get(info.device) ?? info.device;
      const stateName = info.states?.["1"] ?? "1";
      const stateNameFr = statesFor(info, "fr")?.["1"] ?? stateName;
      push({
        id: info.id,
        kind: "digital",
        priority: ra.priority,
        point: info.id,
        pointIndex: info.index,
        device: info.device,
        deadband: 0,
        state: 1,
        stateName,
        stateNameFr,
        onDelayMs: 0,
        offDelayMs: 0,
        unit: "",
        message: { fr: `${dev} (${info.device}) — ${info.labelFr} : ${stateNameFr}`, en: `${devEn} (${info.device}) — ${info.label}: ${stateName}` },
      });
    }
  }

  // A UPS's load status: one alarm per abnormal state that feeds (or no longer feeds) its load.
  const upsStates: { name: string; suffix: string; priority: AlarmPriority | false }[] = [
    { name: "ON BATTERY", suffix: "on_battery", priority: config.fromRoles.upsOnBattery },
    { name: "ON BYPASS", suffix: "on_bypass", priority: config.fromRoles.upsOnBypass },
    { name: "LOAD OFF", suffix: "load_off", priority: config.fromRoles.upsLoadOff },
  ];
  for (const info of registry.points) {
    if (info.role !== "ups.load-status" || explicit.has(info.id)) continue;
    const dev = deviceLabel.get(info.device) ?? info.device;
    const devEn = deviceLabelEn.get(info.device) ?? info.device;
    for (const st of upsStates) {
      const entry = Object.entries(info.states ?? {}).find(([, n]) => n === st.name);
      if (st.priority === false || !entry) continue;
      const stateNameFr = statesFor(info, "fr")?.[entry[0]] ?? st.name;
      push({
        id: `${info.id}.${st.suffix}`,
        kind: "digital",
        priority: st.priority,
        point: info.id,
        pointIndex: info.index,
        device: info.device,
        deadband: 0,
        state: Number(entry[0]),
        stateName: st.name,
        stateNameFr,
        onDelayMs: 0,
        offDelayMs: 0,
        unit: "",
        message: { fr: `${dev} (${info.device}) — ${info.labelFr} : ${stateNameFr}`, en: `${devEn} (${info.device}) — ${info.label}: ${st.name}` },
      });
    }
  }

  if (config.commLoss.enabled) {
    for (const d of site.devices) {
      if (!d.enabled || !registry.byDevice.has(d.id)) continue;
      const dev = labelIn(d, "fr") ?? d.id;
      const devEn = labelIn(d, "en") ?? d.id;
      push({
        id: `${d.id}.comm-loss`,
        kind: "comm",
        priority: config.commLoss.priority,
        point: null,
        pointIndex: -1,
        device: d.id,
        deadband: 0,
        onDelayMs: Math.round(config.commLoss.onDelaySeconds * 1000),
        offDelayMs: 0,
        unit: "",
        message: { fr: `${dev} (${d.id}) — perte de communication`, en: `${devEn} (${d.id}) — communication lost` },
      });
    }
  }
  return defs;
}

/** The definitions' view of one config entry, for messages in the admin editor. */
export function describeEntry(p: PointAlarmConfig): string {
  if (p.state !== undefined) return `${p.point} = ${p.state}`;
  return (["hh", "h", "l", "ll"] as const)
    .filter((k) => p[k] !== undefined)
    .map((k) => `${k.toUpperCase()} ${typeof p[k] === "number" ? p[k] : (p[k] as { value: number }).value}`)
    .join(", ");
}
