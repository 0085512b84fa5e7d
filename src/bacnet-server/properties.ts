import {
  ApplicationTag as T,
  BinaryPV,
  ErrorClass,
  ErrorCode,
  ObjectType,
  Polarity,
  PropertyIdentifier as P,
  Segmentation,
  ServicesSupported,
  StatusFlags,
} from "@bacnet-js/client";
import type { EncodeBuffer } from "@bacnet-js/client/dist/lib/types.js";
import { Quality } from "../points/quality.ts";
import { encodeValues, RAW, writeReal, writeUnsigned, type PropertyResult, type Value } from "./encode.ts";
import { healthOf, stateIndex, type Health, type ObjectSet, type ServedObject } from "./objects.ts";
import { commandedValue } from "./store.ts";

/**
 * Property values of the served objects and of the Device object (ASHRAE 135 clause 12), read live
 * from the point table. `readProperty` answers one property (with the standard's errors);
 * `propertyIds` lists what ALL / REQUIRED / OPTIONAL expand to.
 */

export const PROTOCOL_VERSION = 1;
/** Revision 14: Property_List is required from it on; Busbar serves nothing newer revisions require. */
export const PROTOCOL_REVISION = 14;
export const MAX_APDU = 1476;

export interface DeviceInfo {
  instance: number;
  name: string;
  location: string;
  description: string;
  vendorId: number;
  modelName: string;
  firmware: string;
  timezone: string;
  apduTimeoutMs: number;
  apduRetries: number;
  databaseRevision: () => number;
  systemStatus: () => number;
  /** Active_COV_Subscriptions: one pre-encoded BACnetCOVSubscription per subscription (cov.ts). */
  covSubscriptions: () => Value[];
}

export interface LiveSource {
  /**
   * Non-zero while the server answers one request: the instant its reads judge staleness and
   * alarms at. A ReadPropertyMultiple of 10 objects took the clock 30 times, 55 ns each on this VM:
   * a fifth of its cost. 0 (outside a request): each read takes the clock.
   */
  requestTime?: number;
  /** value, quality (with staleness), ms timestamp; may reuse one object: read it at once. */
  read(index: number): { value: number; quality: number; ts: number };
  /** Active alarm kind on a point, if any. */
  alarm(index: number): "high" | "low" | "state" | undefined;
}

type Arr = Value[];
const err = (c: number, e: number): PropertyResult => ({ error: [c, e] });
const ok = (...values: Value[]): PropertyResult => ({ values });
const real = (v: number): Value => ({ type: T.REAL, value: v });
const uns = (v: number): Value => ({ type: T.UNSIGNED_INTEGER, value: v });
const enm = (v: number): Value => ({ type: T.ENUMERATED, value: v });
const bool = (v: boolean): Value => ({ type: T.BOOLEAN, value: v });
const str = (v: string): Value => ({ type: T.CHARACTER_STRING, value: v });
const oid = (type: number, instance: number): Value => ({ type: T.OBJECTIDENTIFIER, value: { type, instance } });
const nul = (): Value => ({ type: T.NULL, value: null });
function bits(n: number, set: number[]): Value {
  const value = new Array(Math.ceil(n / 8)).fill(0);
  for (const b of set) value[b >> 3] |= 1 << (b & 7);
  return { type: T.BIT_STRING, value: { bitsUsed: n, value } };
}

/** Status_Flags as a bit mask (bit n = StatusFlags n) for COV change detection. */
export function statusFlagMask(h: Health): number {
  return (
    (h.inAlarm ? 1 << StatusFlags.IN_ALARM : 0) |
    (h.fault ? 1 << StatusFlags.FAULT : 0) |
    (h.overridden ? 1 << StatusFlags.OVERRIDDEN : 0) |
    (h.outOfService ? 1 << StatusFlags.OUT_OF_SERVICE : 0)
  );
}
/** The 16 possible Status_Flags values, built once: every RPM and COV notification carries one. */
const STATUS_FLAGS: Value[] = Array.from({ length: 16 }, (_, m) => bits(4, [0, 1, 2, 3].filter((b) => m & (1 << b))));
/** The same, each as the one-value list the encoder takes (written into replies without a new array). */
const STATUS_FLAGS_LISTS: Value[][] = STATUS_FLAGS.map((v) => [v]);

const COMMON_REQUIRED = [P.OBJECT_IDENTIFIER, P.OBJECT_NAME, P.OBJECT_TYPE, P.PROPERTY_LIST];

interface Sets {
  required: number[];
  optional: number[];
  all: number[];
  known: Set<number>;
  /** Property_List: all but the four every object has. */
  list: Value[];
}
const SETS = Symbol("property sets");
let deviceSets: Sets | undefined;
/** The property sets of an object, computed once (they do not change while it is served). */
function sets(o: ServedObject | "device"): Sets {
  // Kept on the object: a WeakMap lookup per property read was a visible part of an RPM.
  let s = o === "device" ? deviceSets : (o as { [SETS]?: Sets })[SETS];
  if (!s) {
    const { required, optional } = propertySets(o);
    const all = [...required, ...optional];
    const list = all.filter((p) => p !== P.OBJECT_IDENTIFIER && p !== P.OBJECT_NAME && p !== P.OBJECT_TYPE && p !== P.PROPERTY_LIST).map((p) => ({ type: T.ENUMERATED, value: p }));
    s = { required, optional, all, known: new Set(all), list };
    if (o === "device") deviceSets = s;
    else (o as { [SETS]?: Sets })[SETS] = s;
  }
  return s;
}

/** Required and optional properties per object (clause 12). */
export function propertySets(o: ServedObject | "device"): { required: number[]; optional: number[] } {
  if (o === "device")
    return {
      required: [
        ...COMMON_REQUIRED,
        P.SYSTEM_STATUS,
        P.VENDOR_NAME,
        P.VENDOR_IDENTIFIER,
        P.MODEL_NAME,
        P.FIRMWARE_REVISION,
        P.APPLICATION_SOFTWARE_VERSION,
        P.PROTOCOL_VERSION,
        P.PROTOCOL_REVISION,
        P.PROTOCOL_SERVICES_SUPPORTED,
        P.PROTOCOL_OBJECT_TYPES_SUPPORTED,
        P.OBJECT_LIST,
        P.MAX_APDU_LENGTH_ACCEPTED,
        P.SEGMENTATION_SUPPORTED,
        P.APDU_TIMEOUT,
        P.NUMBER_OF_APDU_RETRIES,
        P.DEVICE_ADDRESS_BINDING,
        P.DATABASE_REVISION,
        // Required of a device that executes SubscribeCOV (clause 12.11, footnote to the Device table).
        P.ACTIVE_COV_SUBSCRIPTIONS,
      ],
      optional: [P.LOCATION, P.DESCRIPTION, P.LOCAL_DATE, P.LOCAL_TIME, P.UTC_OFFSET, P.DAYLIGHT_SAVINGS_STATUS],
    };
  const base = [...COMMON_REQUIRED, P.PRESENT_VALUE, P.STATUS_FLAGS, P.EVENT_STATE, P.OUT_OF_SERVICE];
  const cmd = o.commandable ? [P.PRIORITY_ARRAY, P.RELINQUISH_DEFAULT] : [];
  switch (o.type) {
    case ObjectType.ANALOG_INPUT:
    case ObjectType.ANALOG_VALUE: {
      const optional = [P.DESCRIPTION, P.RELIABILITY, P.COV_INCREMENT];
      if (o.min !== undefined) optional.push(P.MIN_PRES_VALUE);
      if (o.max !== undefined) optional.push(P.MAX_PRES_VALUE);
      return { required: [...base, P.UNITS, ...cmd], optional };
    }
    case ObjectType.BINARY_INPUT:
      return { required: [...base, P.POLARITY], optional: [P.DESCRIPTION, P.RELIABILITY, P.INACTIVE_TEXT, P.ACTIVE_TEXT] };
    case ObjectType.BINARY_VALUE:
      return { required: [...base, ...cmd], optional: [P.DESCRIPTION, P.RELIABILITY, P.INACTIVE_TEXT, P.ACTIVE_TEXT] };
    case ObjectType.MULTI_STATE_INPUT:
    case ObjectType.MULTI_STATE_VALUE:
      return { required: [...base, P.NUMBER_OF_STATES, ...cmd], optional: [P.DESCRIPTION, P.RELIABILITY, P.STATE_TEXT] };
    default:
      // DateTime Value: Event_State, Out_Of_Service and Reliability are optional there.
      return { required: [...COMMON_REQUIRED, P.PRESENT_VALUE, P.STATUS_FLAGS], optional: [P.DESCRIPTION, P.EVENT_STATE, P.OUT_OF_SERVICE, P.RELIABILITY] };
  }
}

export const ARRAY_PROPERTIES = new Set<number>([P.OBJECT_LIST, P.PROPERTY_LIST, P.PRIORITY_ARRAY, P.STATE_TEXT]);

/** Site-local wall-clock parts (the BMS expects the building's time, not the server's TZ). */
const formats = new Map<string, Intl.DateTimeFormat>();
function localParts(timezone: string, now: number): { y: number; mo: number; d: number; h: number; mi: number; s: number; ms: number } {
  // Building a DateTimeFormat costs ~100 µs: one per zone, kept.
  let f = formats.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: timezone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    formats.set(timezone, f);
  }
  const p: Record<string, number> = {};
  for (const x of f.formatToParts(new Date(now))) if (x.type !== "literal") p[x.type] = Number(x.value);
  return { y: p.year!, mo: p.month!, d: p.day!, h: p.hour!, mi: p.minute!, s: p.second!, ms: now % 1000 };
}
/** Minutes to add to site-local time to get UTC (BACnet's sign: west of Greenwich positive). */
function utcMinusLocal(timezone: string, at: number): number {
  const l = localParts(timezone, at);
  return Math.round((at - (Date.UTC(l.y, l.mo - 1, l.d, l.h, l.mi, l.s) + (at % 1000))) / 60000);
}
export function utcOffsetAndDst(timezone: string, now: number): { utcOffset: number; dst: boolean } {
  const y = new Date(now).getUTCFullYear();
  const jan = utcMinusLocal(timezone, Date.UTC(y, 0, 1));
  const jul = utcMinusLocal(timezone, Date.UTC(y, 6, 1));
  const standard = Math.max(jan, jul); // standard time is the later one on the clock
  return { utcOffset: standard, dst: utcMinusLocal(timezone, now) < standard };
}
/**
 * A Date whose local fields (what the library's date/time encoders read) are the site's wall
 * clock at `at`.
 */
function wallClock(timezone: string, at: number): Date {
  const l = localParts(timezone, at);
  return new Date(l.y, l.mo - 1, l.d, l.h, l.mi, l.s, l.ms);
}

export class PropertyReader {
  constructor(
    private readonly set: ObjectSet,
    private readonly device: DeviceInfo,
    private readonly live: LiveSource,
  ) {}

  health(o: ServedObject): Health {
    const s = this.live.read(o.point.index);
    const h = healthOf(o, s.quality, s.value, this.live.alarm(o.point.index));
    // A commandable object whose device holds another value than commanded (changed at the panel or
    // from /operate) is OVERRIDDEN: the "local override" the flag exists for. Right after Busbar's
    // own write the poll has not caught up yet: not an override.
    // A computed point (no stale limit) takes a write at once: a second's grace is enough.
    const graceMs = Number.isFinite(o.point.staleAfterMs) ? o.point.staleAfterMs : 1000;
    if (o.command && o.point.readable && s.quality === Quality.GOOD && Date.now() - o.relayedAt > graceMs) {
      const want = commandedValue(o.command).value;
      if (Math.abs(s.value - want) > 1e-6 * Math.max(1, Math.abs(want))) h.overridden = true;
    }
    return h;
  }

  /**
   * Present_Value or Status_Flags of an input or value Busbar does not command, written as octets
   * straight into the reply: the properties a BMS polls all day, without the Value objects of
   * read(). The same octets as read() and the generic encoder (test/bacnet-server-objects.test.ts
   * compares both for every object of the demo in every quality). False: anything else, for read().
   */
  writeHot(b: EncodeBuffer, o: ServedObject, prop: number): boolean {
    if (o.command || o.momentary) return false;
    if (prop === P.STATUS_FLAGS) {
      encodeValues(b, STATUS_FLAGS_LISTS[statusFlagMask(this.health(o))]!);
      return true;
    }
    if (prop !== P.PRESENT_VALUE) return false;
    const v = this.live.read(o.point.index).value;
    switch (o.type) {
      case ObjectType.ANALOG_INPUT:
      case ObjectType.ANALOG_VALUE:
        writeReal(b, Number.isFinite(v) ? v : NaN);
        return true;
      case ObjectType.BINARY_INPUT:
      case ObjectType.BINARY_VALUE:
        writeUnsigned(b, 9, v === 1 ? BinaryPV.ACTIVE : BinaryPV.INACTIVE);
        return true;
      case ObjectType.MULTI_STATE_INPUT:
      case ObjectType.MULTI_STATE_VALUE:
        writeUnsigned(b, 2, (Number.isFinite(v) ? stateIndex(o, v) : 0) || 1);
        return true;
    }
    return false;
  }

  /** Present_Value as sent: commandable objects hold their commanded value. */
  presentValue(o: ServedObject): Value[] {
    if (o.command) {
      const v = commandedValue(o.command).value;
      return [this.encodeCommand(o, v)];
    }
    if (o.momentary) return [enm(BinaryPV.INACTIVE)];
    const s = this.live.read(o.point.index);
    const v = s.value;
    switch (o.type) {
      case ObjectType.ANALOG_INPUT:
      case ObjectType.ANALOG_VALUE:
        // A value Busbar has not got is sent as NaN beside FAULT, never as a plausible 0.
        return [real(Number.isFinite(v) ? v : NaN)];
      case ObjectType.BINARY_INPUT:
      case ObjectType.BINARY_VALUE:
        return [enm(v === 1 ? BinaryPV.ACTIVE : BinaryPV.INACTIVE)];
      case ObjectType.MULTI_STATE_INPUT:
      case ObjectType.MULTI_STATE_VALUE: {
        // No state fits a missing or unknown raw value: state 1 with FAULT set (there is no "none").
        const i = Number.isFinite(v) ? stateIndex(o, v) : 0;
        return [uns(i || 1)];
      }
      default: {
        const at = Number.isFinite(v) && v > 0 && s.quality !== Quality.INIT ? v : 0;
        if (!at) return [{ type: T.DATE, value: { year: 255, month: 255, day: 255, wday: 255 } }, { type: RAW, value: [0xb4, 0xff, 0xff, 0xff, 0xff] }];
        const d = wallClock(this.device.timezone, at);
        return [{ type: T.DATE, value: d }, { type: T.TIME, value: d }];
      }
    }
  }

  encodeCommand(o: ServedObject, v: number): Value {
    if (o.type === ObjectType.ANALOG_VALUE) return real(v);
    if (o.type === ObjectType.BINARY_VALUE) return enm(v === 1 ? 1 : 0);
    return uns(stateIndex(o, v) || 1);
  }

  propertyIds(o: ServedObject | "device", which: number): number[] {
    const s = sets(o);
    if (which === P.REQUIRED) return s.required;
    if (which === P.OPTIONAL) return s.optional;
    return s.all;
  }

  knows(o: ServedObject | "device", prop: number): boolean {
    return sets(o).known.has(prop);
  }

  /** One property; `index` for arrays (0 = length). */
  read(o: ServedObject | "device", prop: number, index: number | undefined): PropertyResult {
    if (!sets(o).known.has(prop)) return err(ErrorClass.PROPERTY, ErrorCode.UNKNOWN_PROPERTY);
    if (index !== undefined && !ARRAY_PROPERTIES.has(prop)) return err(ErrorClass.PROPERTY, ErrorCode.PROPERTY_IS_NOT_AN_ARRAY);
    const whole = o === "device" ? this.deviceProperty(prop) : this.objectProperty(o, prop);
    if (!whole) return err(ErrorClass.PROPERTY, ErrorCode.UNKNOWN_PROPERTY);
    if (index === undefined || "error" in whole) return whole;
    if (index === 0) return ok(uns(whole.values.length));
    const item = whole.values[index - 1];
    return item ? ok(item) : err(ErrorClass.PROPERTY, ErrorCode.INVALID_ARRAY_INDEX);
  }

  private propertyList(o: ServedObject | "device"): Arr {
    return sets(o).list;
  }

  private objectProperty(o: ServedObject, prop: number): PropertyResult | undefined {
    switch (prop) {
      case P.OBJECT_IDENTIFIER:
        return ok(oid(o.type, o.instance));
      case P.OBJECT_NAME:
        return ok(str(o.name));
      case P.OBJECT_TYPE:
        return ok(enm(o.type));
      case P.PROPERTY_LIST:
        return ok(...this.propertyList(o));
      case P.DESCRIPTION:
        return ok(str(o.description));
      case P.PRESENT_VALUE:
        return ok(...this.presentValue(o));
      case P.STATUS_FLAGS:
        return ok(STATUS_FLAGS[statusFlagMask(this.health(o))]!);
      case P.EVENT_STATE:
        return ok(enm(this.health(o).eventState));
      case P.RELIABILITY:
        return ok(enm(this.health(o).reliability));
      case P.OUT_OF_SERVICE:
        return ok(bool(o.outOfService));
      case P.UNITS:
        return ok(enm(o.units));
      case P.COV_INCREMENT:
        return ok(real(o.covIncrement));
      case P.MIN_PRES_VALUE:
        return o.min === undefined ? undefined : ok(real(o.min));
      case P.MAX_PRES_VALUE:
        return o.max === undefined ? undefined : ok(real(o.max));
      case P.POLARITY:
        return ok(enm(Polarity.NORMAL));
      case P.INACTIVE_TEXT:
        return ok(str(o.states[0]?.text ?? "INACTIVE"));
      case P.ACTIVE_TEXT:
        return ok(str(o.states[1]?.text ?? "ACTIVE"));
      case P.NUMBER_OF_STATES:
        return ok(uns(Math.max(1, o.states.length)));
      case P.STATE_TEXT:
        return ok(...(o.states.length ? o.states.map((s) => str(s.text)) : [str("—")]));
      case P.PRIORITY_ARRAY:
        return o.command ? ok(...o.command.priorities.map((v) => (v === null ? nul() : this.encodeCommand(o, v)))) : undefined;
      case P.RELINQUISH_DEFAULT:
        return o.command ? ok(this.encodeCommand(o, o.command.relinquishDefault)) : undefined;
    }
    return undefined;
  }

  private deviceProperty(prop: number): PropertyResult | undefined {
    const d = this.device;
    const now = Date.now();
    switch (prop) {
      case P.OBJECT_IDENTIFIER:
        return ok(oid(ObjectType.DEVICE, d.instance));
      case P.OBJECT_NAME:
        return ok(str(d.name));
      case P.OBJECT_TYPE:
        return ok(enm(ObjectType.DEVICE));
      case P.PROPERTY_LIST:
        return ok(...this.propertyList("device"));
      case P.SYSTEM_STATUS:
        return ok(enm(d.systemStatus()));
      case P.VENDOR_NAME:
        return ok(str("Busbar"));
      case P.VENDOR_IDENTIFIER:
        return ok(uns(d.vendorId));
      case P.MODEL_NAME:
        return ok(str(d.modelName));
      case P.FIRMWARE_REVISION:
        return ok(str(d.firmware));
      case P.APPLICATION_SOFTWARE_VERSION:
        return ok(str(d.firmware));
      case P.PROTOCOL_VERSION:
        return ok(uns(PROTOCOL_VERSION));
      case P.PROTOCOL_REVISION:
        return ok(uns(PROTOCOL_REVISION));
      case P.PROTOCOL_SERVICES_SUPPORTED:
        return ok(
          bits(41, [
            ServicesSupported.SUBSCRIBE_COV,
            ServicesSupported.READ_PROPERTY,
            ServicesSupported.READ_PROPERTY_MULTIPLE,
            ServicesSupported.WRITE_PROPERTY,
            ServicesSupported.WHO_HAS,
            ServicesSupported.WHO_IS,
          ]),
        );
      case P.PROTOCOL_OBJECT_TYPES_SUPPORTED: {
        const types = new Set<number>([ObjectType.DEVICE, ...this.set.objects.map((o) => o.type)]);
        return ok(bits(60, [...types]));
      }
      case P.OBJECT_LIST:
        return ok(oid(ObjectType.DEVICE, d.instance), ...this.set.objects.map((o) => oid(o.type, o.instance)));
      case P.MAX_APDU_LENGTH_ACCEPTED:
        return ok(uns(MAX_APDU));
      case P.SEGMENTATION_SUPPORTED:
        return ok(enm(Segmentation.NO_SEGMENTATION));
      case P.APDU_TIMEOUT:
        return ok(uns(d.apduTimeoutMs));
      case P.NUMBER_OF_APDU_RETRIES:
        return ok(uns(d.apduRetries));
      case P.DEVICE_ADDRESS_BINDING:
        return ok(); // Busbar initiates no confirmed service that needs a binding table
      case P.DATABASE_REVISION:
        return ok(uns(d.databaseRevision()));
      case P.ACTIVE_COV_SUBSCRIPTIONS:
        return ok(...d.covSubscriptions());
      case P.LOCATION:
        return ok(str(d.location));
      case P.DESCRIPTION:
        return ok(str(d.description));
      case P.LOCAL_DATE:
        return ok({ type: T.DATE, value: wallClock(d.timezone, now) });
      case P.LOCAL_TIME:
        return ok({ type: T.TIME, value: wallClock(d.timezone, now) });
      case P.UTC_OFFSET:
        return ok({ type: T.SIGNED_INTEGER, value: utcOffsetAndDst(d.timezone, now).utcOffset });
      case P.DAYLIGHT_SAVINGS_STATUS:
        return ok(bool(utcOffsetAndDst(d.timezone, now).dst));
    }
    return undefined;
  }
}

