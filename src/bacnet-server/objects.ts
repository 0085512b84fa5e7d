import { EngineeringUnits, ObjectType, Reliability, EventState } from "@bacnet-js/client/dist/lib/enum.js";
import type { Site } from "../config/site.ts";
import type { PointInfo, PointRegistry } from "../points/registry.ts";
import { Quality } from "../points/quality.ts";
import type { BacnetObjectConfig, BacnetServerConfig, ObjectKind } from "./config.ts";
import { defaultObjects } from "./defaults.ts";
import type { BacnetStore, CommandState } from "./store.ts";

/**
 * The served object set: which BACnet object serves which Busbar point, with its stable instance
 * (store.ts), names, units and state texts from the profiles, and how a point's quality and alarms
 * become Status_Flags / Reliability / Event_State. Pure apart from the instance store.
 */

export const TYPE_OF_KIND: Record<ObjectKind, number> = {
  "analog-input": ObjectType.ANALOG_INPUT,
  "analog-value": ObjectType.ANALOG_VALUE,
  "binary-input": ObjectType.BINARY_INPUT,
  "binary-value": ObjectType.BINARY_VALUE,
  "multi-state-input": ObjectType.MULTI_STATE_INPUT,
  "multi-state-value": ObjectType.MULTI_STATE_VALUE,
  "datetime-value": ObjectType.DATETIME_VALUE,
};
/** Short type names of EDE files and the objects page. */
export const TYPE_SHORT: Record<number, string> = {
  [ObjectType.ANALOG_INPUT]: "AI",
  [ObjectType.ANALOG_VALUE]: "AV",
  [ObjectType.BINARY_INPUT]: "BI",
  [ObjectType.BINARY_VALUE]: "BV",
  [ObjectType.MULTI_STATE_INPUT]: "MSI",
  [ObjectType.MULTI_STATE_VALUE]: "MSV",
  [ObjectType.DATETIME_VALUE]: "DTV",
  [ObjectType.DEVICE]: "DEV",
};

/** Profile unit texts → BACnet engineering units (clause 21, BACnetEngineeringUnits). */
const UNITS: Record<string, number> = {
  V: EngineeringUnits.VOLTS,
  kV: EngineeringUnits.KILOVOLTS,
  A: EngineeringUnits.AMPERES,
  mA: EngineeringUnits.MILLIAMPERES,
  W: EngineeringUnits.WATTS,
  kW: EngineeringUnits.KILOWATTS,
  MW: EngineeringUnits.MEGAWATTS,
  Wh: EngineeringUnits.WATT_HOURS,
  kWh: EngineeringUnits.KILOWATT_HOURS,
  MWh: EngineeringUnits.MEGAWATT_HOURS,
  VA: EngineeringUnits.VOLT_AMPERES,
  kVA: EngineeringUnits.KILOVOLT_AMPERES,
  var: EngineeringUnits.VOLT_AMPERES_REACTIVE,
  kvar: EngineeringUnits.KILOVOLT_AMPERES_REACTIVE,
  kvarh: EngineeringUnits.KILOVOLT_AMPERE_HOURS_REACTIVE,
  Hz: EngineeringUnits.HERTZ,
  "%": EngineeringUnits.PERCENT,
  "°C": EngineeringUnits.DEGREES_CELSIUS,
  s: EngineeringUnits.SECONDS,
  min: EngineeringUnits.MINUTES,
  h: EngineeringUnits.HOURS,
};
export const unitsOf = (unit: string): number => UNITS[unit] ?? EngineeringUnits.NO_UNITS;

/** A change this large is worth a COV notification, when the site does not say. */
function defaultCovIncrement(p: PointInfo): number {
  if (p.unit === "Hz") return 0.05;
  const r = p.range;
  if (r?.min !== undefined && r?.max !== undefined && r.max - r.min <= 2) return 0.01; // power factor
  return 1;
}

export interface ServedObject {
  /** Stable key of the instance assignment: `TYPE:DEVICE.tag`. */
  key: string;
  type: number;
  instance: number;
  name: string;
  description: string;
  point: PointInfo;
  kind: ObjectKind;
  units: number;
  /** Binary: [inactive, active] texts. Multi-state: state i+1 ↔ raw value `states[i].raw`. */
  states: { raw: number; text: string }[];
  writable: boolean;
  /** Priority array + Relinquish_Default (value objects the BMS commands). */
  commandable: boolean;
  /** A command that does not hold a value (a meter's reset): Present_Value reads INACTIVE. */
  momentary: boolean;
  min: number | undefined;
  max: number | undefined;
  covIncrement: number;
  outOfService: boolean;
  command: CommandState | undefined;
  /** When Busbar last wrote the commanded value to the device (ms), for OVERRIDDEN. */
  relayedAt: number;
}

export interface ObjectSet {
  objects: ServedObject[];
  byKey: Map<string, ServedObject>;
  /** `type:instance` → object */
  byId: Map<number, ServedObject>;
  byName: Map<string, ServedObject>;
  byPoint: Map<number, ServedObject[]>;
  /** Problems worth a log line (an override naming a taken instance, …). */
  warnings: string[];
}

export const objectKey = (type: number, instance: number): number => type * 0x400000 + instance;

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

function kindFor(p: PointInfo, writable: boolean): ObjectKind {
  if (p.kind === "datetime") return "datetime-value";
  if (p.kind === "digital" || p.kind === "multi-state" || p.states) {
    const keys = Object.keys(p.states ?? {}).map(Number);
    const binary = keys.length > 0 && keys.every((k) => k === 0 || k === 1);
    if (binary) return writable ? "binary-value" : "binary-input";
    return writable ? "multi-state-value" : "multi-state-input";
  }
  return writable ? "analog-value" : "analog-input";
}

function statesFor(p: PointInfo, kind: ObjectKind): { raw: number; text: string }[] {
  const s = p.states ?? {};
  if (kind === "binary-input" || kind === "binary-value") return [0, 1].map((raw) => ({ raw, text: s[String(raw)] ?? (raw ? "ACTIVE" : "INACTIVE") }));
  if (kind === "multi-state-input" || kind === "multi-state-value")
    return Object.entries(s)
      .map(([k, text]) => ({ raw: Number(k), text }))
      .sort((a, b) => a.raw - b.raw);
  return [];
}

/**
 * Builds the object set: the point list's defaults, then `bacnetServer.objects` (override by
 * `point`, or new objects), each with its persisted instance.
 */
export function buildObjectSet(site: Site, registry: PointRegistry, cfg: BacnetServerConfig, store: BacnetStore): ObjectSet {
  const lang = site.site.language;
  const warnings: string[] = [];
  const overrides = new Map(cfg.objects.map((o) => [o.point, o]));
  const wanted: { point: string; writable: boolean; relinquishDefault?: number; o?: BacnetObjectConfig }[] = [];
  const listed = new Set<string>();
  if (cfg.defaults)
    for (const d of defaultObjects(site, registry)) {
      listed.add(d.point);
      const o = overrides.get(d.point);
      if (o?.remove) continue;
      wanted.push({ point: d.point, writable: o?.writable ?? d.writable ?? false, relinquishDefault: o?.relinquishDefault ?? d.relinquishDefault, o });
    }
  for (const o of cfg.objects) if (!listed.has(o.point) && !o.remove) wanted.push({ point: o.point, writable: o.writable ?? false, relinquishDefault: o.relinquishDefault, o });

  const objects: ServedObject[] = [];
  const byName = new Map<string, ServedObject>();
  for (const w of wanted) {
    const p = registry.byId.get(w.point);
    if (!p) {
      warnings.push(`${w.point}: no such point (device disabled?), not served`);
      continue;
    }
    let writable = w.writable;
    if (writable && !p.writable) {
      warnings.push(`${w.point}: the device tag is not writable, served read-only`);
      writable = false;
    }
    const kind = w.o?.type ?? kindFor(p, writable);
    const type = TYPE_OF_KIND[kind];
    if (writable && (kind.endsWith("-input") || kind === "datetime-value")) {
      warnings.push(`${w.point}: a ${kind} cannot be written, served read-only`);
      writable = false;
    }
    const momentary = writable && p.role === "meter.reset";
    let name = w.o?.name ?? `${p.device}.${cap(p.name)}`;
    if (byName.has(name)) {
      warnings.push(`${w.point}: object name "${name}" is taken, using "${name}_${p.index}"`);
      name = `${name}_${p.index}`;
    }
    const r = p.range;
    const obj: ServedObject = {
      key: `${TYPE_SHORT[type]}:${w.point}`,
      type,
      instance: -1,
      name,
      description: (w.o?.description ?? (lang === "fr" ? p.labelFr : p.label)).slice(0, 255),
      point: p,
      kind,
      units: unitsOf(p.unit),
      states: statesFor(p, kind),
      writable,
      commandable: writable && !momentary,
      momentary,
      min: w.o?.min ?? r?.min,
      max: w.o?.max ?? r?.max,
      covIncrement: w.o?.covIncrement ?? defaultCovIncrement(p),
      outOfService: w.o?.outOfService ?? false,
      command: undefined,
      relayedAt: 0,
    };
    if (obj.commandable) obj.command = store.command(obj.key, w.relinquishDefault ?? (obj.kind === "analog-value" ? (obj.min ?? 0) : obj.states[0]?.raw ?? 0));
    byName.set(name, obj);
    objects.push(obj);
  }
  store.assignInstances(
    objects.map((o) => ({ key: o.key, type: o.type, name: o.name, wanted: overrides.get(o.point.id)?.instance })),
    warnings,
  ).forEach((inst, i) => (objects[i]!.instance = inst));

  const byKey = new Map(objects.map((o) => [o.key, o]));
  const byId = new Map(objects.map((o) => [objectKey(o.type, o.instance), o]));
  const byPoint = new Map<number, ServedObject[]>();
  for (const o of objects) {
    const l = byPoint.get(o.point.index) ?? [];
    l.push(o);
    byPoint.set(o.point.index, l);
  }
  return { objects, byKey, byId, byName, byPoint, warnings };
}

/** What the BMS sees of a point's health. */
export interface Health {
  inAlarm: boolean;
  fault: boolean;
  overridden: boolean;
  outOfService: boolean;
  reliability: number;
  eventState: number;
}

/**
 * Busbar quality → BACnet health. A value Busbar does not trust is never "normal" to the BMS:
 * comm-fail and stale (poll overdue) → COMMUNICATION_FAILURE, bad data or a device exception →
 * UNRELIABLE_OTHER, "not available" → NO_SENSOR, out of range → OVER_/UNDER_RANGE, no value yet →
 * UNRELIABLE_OTHER; each with FAULT. A manual value is OVERRIDDEN. An active alarm on the point
 * gives IN_ALARM (HIGH/LOW_LIMIT for analog limits, OFFNORMAL for states).
 */
export function healthOf(o: ServedObject, quality: number, value: number, alarm: "high" | "low" | "state" | undefined): Health {
  let reliability: number = Reliability.NO_FAULT_DETECTED;
  switch (quality) {
    case Quality.GOOD:
    case Quality.MANUAL:
      break;
    case Quality.COMM_FAIL:
    case Quality.STALE:
      reliability = Reliability.COMMUNICATION_FAILURE;
      break;
    case Quality.NOT_AVAILABLE:
      reliability = Reliability.NO_SENSOR;
      break;
    case Quality.OUT_OF_RANGE: {
      const r = o.point.range;
      reliability = r?.min !== undefined && value < r.min ? Reliability.UNDER_RANGE : Reliability.OVER_RANGE;
      break;
    }
    default:
      reliability = Reliability.UNRELIABLE_OTHER;
  }
  const fault = reliability !== Reliability.NO_FAULT_DETECTED;
  const eventState = fault
    ? EventState.FAULT
    : alarm === "high"
      ? EventState.HIGH_LIMIT
      : alarm === "low"
        ? EventState.LOW_LIMIT
        : alarm
          ? EventState.OFFNORMAL
          : EventState.NORMAL;
  return { inAlarm: eventState !== EventState.NORMAL, fault, overridden: quality === Quality.MANUAL, outOfService: o.outOfService, reliability, eventState };
}

/** The state index (1-based) of a multi-state object for a raw device value; 0 when none fits. */
export function stateIndex(o: ServedObject, raw: number): number {
  const i = o.states.findIndex((s) => s.raw === raw);
  return i + 1;
}

