import * as z from "zod";
import { backupSchema, historianSchema } from "../historian/config.ts";
import { energySchema, validateEnergy } from "../energy/structure.ts";
import { readFileSync } from "node:fs";
import { ConfigError, type ConfigIssue, zodIssues } from "./validation.ts";
import type { Profile } from "./profile.ts";
import { checkConfigFileSize, parseYaml } from "./yaml.ts";
import { bacnetServerSchema, isInputKind, objectKindsFor } from "../bacnet-server/config.ts";
import { energyPointDefs } from "../energy/service.ts";
import type { ComputedPointDef } from "../points/computed.ts";
import { validAddressPattern } from "../auth/addresses.ts";
import { microgridSchema } from "../microgrid/config.ts";
import { microgridPoints } from "../microgrid/points.ts";

/**
 * The site file (YAML): buses, devices, the one-line topology.
 * Every error is reported with its path; nothing is half-loaded.
 */

const int = (min: number, max: number) =>
  z.number({ error: "must be a number" }).int("must be a whole number").min(min, `must be ${min}..${max}`).max(max, `must be ${min}..${max}`);
const id = z.string({ error: "must be a text id" }).regex(/^[A-Za-z0-9][A-Za-z0-9_.\-]*$/, "must be letters, digits, _ . -");

/** A zone the runtime can format times in (the pages would otherwise fail on the first timestamp). */
export function isTimeZone(zone: string): boolean {
  let known = zoneChecks.get(zone);
  if (known === undefined) {
    try {
      new Intl.DateTimeFormat("en", { timeZone: zone });
      known = true;
    } catch {
      known = false;
    }
    if (zoneChecks.size < 1000) zoneChecks.set(zone, known);
  }
  return known;
}
const zoneChecks = new Map<string, boolean>();

/** Per-bus link supervision, shared by every bus kind. */
const linkTiming = {
  /** How long to wait for one answer. */
  timeoutMs: int(20, 60_000).default(1000),
  /** Extra attempts after a failed request before the device counts as failed. */
  retries: int(0, 5).default(1),
  /** A failed device is retried only once per backoff period, so it costs its bus at most one timeout per period. */
  backoffMs: int(100, 600_000).default(5000),
};

const tcpBus = z
  .object({
    id,
    kind: z.literal("modbus-tcp"),
    host: z.string().min(1),
    port: int(1, 65535).default(502),
    ...linkTiming,
  })
  .strict();

/** The POSIX line speeds a serial port can be set to (stty). */
export const SERIAL_BAUDS = [1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600, 115200] as const;
const baud = z.custom<(typeof SERIAL_BAUDS)[number]>((v) => (SERIAL_BAUDS as readonly unknown[]).includes(v), {
  message: `must be one of ${SERIAL_BAUDS.join(", ")}`,
});

/**
 * Serial line settings. Left out, they come from the profiles of the bus's devices when those agree
 * (TH40C: 9600 8N1), else the vendor gateway's defaults (19200, even parity, 1 stop bit).
 */
const lineSettings = {
  baud: baud.optional(),
  parity: z.enum(["none", "even", "odd"]).optional(),
  stopBits: z.union([z.literal(1), z.literal(2)]).optional(),
  /** Quiet time after a broadcast (unit 0) before the next request, so slaves can execute it. */
  broadcastDelayMs: int(0, 10_000).default(100),
};

/** The vendor RS-485/IP gateway's defaults (seed legrand-energy-mini-web-server-manual, §7.8). */
export const SERIAL_DEFAULTS = { baud: 19200, parity: "even", stopBits: 1, timeoutMs: 300 } as const;

/** Modbus RTU on a local serial port (RS-485 adapter). */
const rtuBus = z
  .object({
    id,
    kind: z.literal("modbus-rtu"),
    port: z.string().min(1),
    ...lineSettings,
    /** Silence before each request; default t3.5 (3.5 characters, 1.75 ms above 19200 baud). */
    interFrameMs: z.number().min(0).max(1000).optional(),
    /** The adapter echoes what it sends (no echo suppression): strip our own request from the input. */
    echo: z.boolean().default(false),
    ...linkTiming,
    timeoutMs: int(20, 60_000).default(SERIAL_DEFAULTS.timeoutMs),
  })
  .strict();

/** Raw RTU frames over TCP to a serial device server (its line settings only budget wire time). */
const rtuOverTcpBus = z
  .object({
    id,
    kind: z.literal("modbus-rtu-tcp"),
    host: z.string().min(1),
    port: int(1, 65535),
    ...lineSettings,
    ...linkTiming,
    timeoutMs: int(20, 60_000).default(SERIAL_DEFAULTS.timeoutMs),
  })
  .strict();

/**
 * A BACnet/IP port: one worker binds this UDP port and talks to every BACnet device of the bus.
 * `broadcast` may carry a port (`127.255.255.255:47809`) for peers on loopback, which each need a port
 * of their own; `bbmd` registers Busbar as a foreign device when the devices sit on another subnet.
 */
const bacnetBus = z
  .object({
    id,
    kind: z.literal("bacnet-ip"),
    /** Local address to bind (an interface's address); default all. */
    interface: z.string().min(1).optional(),
    port: int(1, 65535).default(47808),
    broadcast: z.string().min(1).default("255.255.255.255"),
    bbmd: z.object({ address: z.string().min(1), ttlS: int(30, 65535).default(300) }).strict().optional(),
    ...linkTiming,
    timeoutMs: int(20, 60_000).default(2000),
  })
  .strict();

const busSchema = z.discriminatedUnion("kind", [tcpBus, rtuBus, rtuOverTcpBus, bacnetBus], {
  error: "kind must be modbus-tcp, modbus-rtu, modbus-rtu-tcp or bacnet-ip",
});

/** The `unit` of a device that has none (a BACnet device): never a Modbus unit id. */
export const NO_UNIT = -1;

const deviceSchema = z
  .object({
    id,
    bus: id,
    /** Modbus unit id, not on a bacnet-ip bus: 1..247 on a serial line; 0..255 on a `modbus-tcp` bus (Schneider IFE/EIFE and many Ethernet devices answer 255 or 0). */
    unit: int(0, 255).optional(),
    /** BACnet device instance (bacnet-ip buses). */
    instance: int(0, 4_194_302).optional(),
    /** BACnet: known `ip[:port]`, used before the first I-Am (the device is still re-bound by I-Am). */
    address: z.string().min(1).optional(),
    /** BACnet: subscribe COV (confirmed or unconfirmed notifications), else poll at pollMs. */
    cov: z.enum(["off", "confirmed", "unconfirmed"]).default("off"),
    /** BACnet: subscription lifetime; renewed at half-life. */
    covLifetimeS: int(10, 86_400).default(300),
    /** BACnet UPS of a parallel system in "multi-units" mode: does this device carry the system-level objects? */
    systemLevel: z.boolean().default(true),
    profile: z.string().min(1),
    label: z.string().optional(),
    /** The label in each interface language, when it differs from `label` (written in the site's language). */
    labelFr: z.string().optional(),
    labelEn: z.string().optional(),
    /** Poll period of the device's fast tags. */
    pollMs: int(50, 3_600_000).default(1000),
    /** Poll period of tags marked `slow` (energy counters, clocks). */
    slowPollMs: int(50, 86_400_000).default(10_000),
    maxRegistersPerRead: int(1, 125).optional(),
    maxGap: int(0, 125).optional(),
    /** EnLogic-style KU / KI transformer multipliers; default: the profile's `multipliers`, else 1. */
    ku: z.number().positive().optional(),
    ki: z.number().positive().optional(),
    enabled: z.boolean().default(true),
    /**
     * A Modbus TCP device with its own address (an Ethernet meter) on a `modbus-tcp` bus: the bus's
     * worker keeps one connection and one request queue per address and polls the addresses in parallel.
     */
    host: z.string().min(1).optional(),
    port: int(1, 65535).optional(),
  })
  .strict()
  // Protocol code reads `unit` as a number; a BACnet device has none. 0 is a real unit on modbus-tcp, so "none" is NO_UNIT.
  .transform((d) => ({ ...d, unit: d.unit ?? NO_UNIT }));

/** `DEVICE.tag` */
const pointRef = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_\-]*\.[A-Za-z][A-Za-z0-9_]*$/, "must be DEVICE.tag");

const sourceSchema = z
  .object({
    id,
    kind: z.enum(["utility", "generator", "ups", "bess", "pv"]),
    label: z.string().optional(),
    /** The label in each interface language, when it differs from `label` (written in the site's language). */
    labelFr: z.string().optional(),
    labelEn: z.string().optional(),
    device: id.optional(),
    /**
     * A point that is 1 while the source has voltage (e.g. the ATS's "normal source available").
     * The one-line draws energized lines from it; without it, a utility is assumed live and a
     * generator is live while its `generator.running` role says so.
     */
    available: pointRef.optional(),
    /** Points shown beside the source (e.g. generator running, BESS SOC). */
    points: z.array(pointRef).default([]),
    /** A UPS's input: the feeder breaker it hangs from (its load follows that feeder; it runs on battery while the feeder is dead). */
    fedBy: id.optional(),
  })
  .strict();

const atsSchema = z
  .object({
    id,
    label: z.string().optional(),
    /** The label in each interface language, when it differs from `label` (written in the site's language). */
    labelFr: z.string().optional(),
    labelEn: z.string().optional(),
    device: id.optional(),
    normal: id,
    emergency: id,
    onNormal: pointRef.optional(),
    onEmergency: pointRef.optional(),
    points: z.array(pointRef).default([]),
  })
  .strict();

const busbarSchema = z.object({ id, label: z.string().optional(), labelFr: z.string().optional(), labelEn: z.string().optional() }).strict();

const breakerSchema = z
  .object({
    id,
    label: z.string().optional(),
    /** The label in each interface language, when it differs from `label` (written in the site's language). */
    labelFr: z.string().optional(),
    labelEn: z.string().optional(),
    /** Upstream node (source, ATS, busbar). */
    from: id,
    /** Downstream node; absent for a feeder to a load named by `load`. */
    to: id.optional(),
    load: z.string().optional(),
    device: id.optional(),
    closed: pointRef.optional(),
    tripped: pointRef.optional(),
    power: pointRef.optional(),
    points: z.array(pointRef).default([]),
  })
  .strict();

const topologySchema = z
  .object({
    sources: z.array(sourceSchema).default([]),
    ats: z.array(atsSchema).default([]),
    busbars: z.array(busbarSchema).default([]),
    breakers: z.array(breakerSchema).default([]),
    /** Meters shown beside a breaker or node. */
    meters: z.array(z.object({ id, device: id, at: id, label: z.string().optional(), labelFr: z.string().optional(), labelEn: z.string().optional() }).strict()).default([]),
  })
  .strict();

/** Alarm priorities, most urgent first (ISA-18.2 / IEC 62682). */
export const ALARM_PRIORITIES = ["critical", "high", "medium", "low"] as const;
export type AlarmPriority = (typeof ALARM_PRIORITIES)[number];
const alarmPriority = z.enum(ALARM_PRIORITIES, { error: "must be critical, high, medium or low" });
const seconds = z.number({ error: "must be a number of seconds" }).min(0, "must be ≥ 0").max(3600, "must be ≤ 3600");

/** One analog limit: a number, or `{ value, priority }` when this limit's priority differs. */
const alarmLimit = z.union([z.number(), z.object({ value: z.number(), priority: alarmPriority.optional() }).strict()], {
  error: "must be a number or { value, priority }",
});

/**
 * Alarms on one point: analog limits (`hh`, `h`, `l`, `ll`, each its own alarm, with a shared
 * deadband) or a digital state (`state`: the value or state name that is abnormal).
 */
const pointAlarmSchema = z
  .object({
    /** Alarm id; default `POINT` (digital) or `POINT.HH` etc. (analog). */
    id: id.optional(),
    point: pointRef,
    /** Message shown for the alarm; default: device label and tag label. */
    label: z.string().optional(),
    labelFr: z.string().optional(),
    priority: alarmPriority.optional(),
    hh: alarmLimit.optional(),
    h: alarmLimit.optional(),
    l: alarmLimit.optional(),
    ll: alarmLimit.optional(),
    /** An active limit alarm clears only once the value is back past the limit by this much. */
    deadband: z.number().min(0, "must be ≥ 0").default(0),
    state: z.union([z.number(), z.string()]).optional(),
    /** The condition must hold this long before the alarm activates … */
    onDelaySeconds: seconds.default(0),
    /** … and be gone this long before it returns to normal. */
    offDelaySeconds: seconds.default(0),
    enabled: z.boolean().default(true),
  })
  .strict();

export const alarmsSchema = z
  .object({
    /** Priorities whose new alarms sound the horn until acknowledged or silenced. */
    hornPriorities: z.array(alarmPriority).default(["critical", "high"]),
    /** Longest a maintenance user may shelve an alarm. */
    maxShelveMinutes: int(1, 10_080).default(480),
    /** Priorities whose acknowledgement needs a note (a preset or free text): site policy, enforced by the server. */
    notesRequired: z.array(alarmPriority).default([]),
    /** Who may silence the horn: anyone at the screen (a kiosk without PIN too), or signed-in operators and above. */
    silence: z.enum(["anyone", "operator"]).default("anyone"),
    /** Communication loss, one alarm per enabled device (automatic). */
    commLoss: z
      .object({ enabled: z.boolean().default(true), priority: alarmPriority.default("high"), onDelaySeconds: seconds.default(5) })
      .strict()
      .prefault({}),
    /** Alarms from tag roles: every `breaker.tripped` critical, every `ats.emergency` high. */
    fromRoles: z
      .object({
        breakerTripped: z.union([alarmPriority, z.literal(false)]).default("critical"),
        atsEmergency: z.union([alarmPriority, z.literal(false)]).default("high"),
        /** Every UPS alarm bit (role ups.alarm), and the imminent-stop bits (ups.alarm.critical). */
        upsAlarm: z.union([alarmPriority, z.literal(false)]).default("high"),
        upsAlarmCritical: z.union([alarmPriority, z.literal(false)]).default("critical"),
        /** A UPS load status (role ups.load-status) on battery, on (automatic) bypass, load off. */
        upsOnBattery: z.union([alarmPriority, z.literal(false)]).default("high"),
        upsOnBypass: z.union([alarmPriority, z.literal(false)]).default("medium"),
        upsLoadOff: z.union([alarmPriority, z.literal(false)]).default("critical"),
      })
      .strict()
      .prefault({}),
    points: z.array(pointAlarmSchema).default([]),
  })
  .strict();
export type AlarmsConfig = z.output<typeof alarmsSchema>;
export type PointAlarmConfig = AlarmsConfig["points"][number];

/** Who may see and do what: kiosk addresses, session lifetimes, login lockout. */
export const securitySchema = z
  .object({
    /** Client addresses (the control-room touchscreen) that see read-only pages without login. */
    kiosk: z.array(z.string().min(1)).default([]),
    sessionIdleMinutes: int(1, 1440).default(30),
    sessionMaxHours: int(1, 168).default(12),
    /** A PIN unlock at a kiosk is short: idle minutes, and at most `pinSessionMaxMinutes` in all. */
    pinSessionMinutes: int(1, 60).default(2),
    pinSessionMaxMinutes: int(1, 240).default(15),
    /** Failed logins (per user) before a lockout, and its length. */
    loginMaxFailures: int(1, 100).default(5),
    lockoutMinutes: int(1, 1440).default(15),
    /** Select-before-operate: how long a selected breaker stays locked for its user before execute. */
    selectTimeoutSeconds: int(5, 300).default(30),
  })
  .strict();
export type SecurityConfig = z.output<typeof securitySchema>;

/**
 * The Modbus TCP gateway that replaces the RS-485/IP converter: other masters (BMS, SCADA) reach the
 * site's devices through Busbar. Each gateway unit id names a device (or a raw bus unit); requests go
 * through that bus's worker queue, or, in `cached` mode, reads of registers Busbar already polls are
 * answered from its last poll replies.
 */
const gatewayUnitSchema = z
  .object({
    /** Unit id the TCP clients address (a TCP unit id: 0..255). */
    unit: int(0, 255),
    /** A site device (its bus and unit). */
    device: id.optional(),
    /** Or a bus and a unit on it that Busbar does not poll itself. */
    bus: id.optional(),
    /** 1..247 on a serial bus, 0..255 on a `modbus-tcp` bus. */
    targetUnit: int(0, 255).optional(),
    mode: z.enum(["pass", "cached"]).optional(),
    /** Cached mode: oldest poll reply that may answer a read; default twice the read's poll period. */
    maxAgeMs: int(0, 86_400_000).optional(),
  })
  .strict();

/**
 * Gateway writes: off unless enabled; then only from the listed client addresses, and only to the
 * registers of tags the profiles mark writable (`points`) or to the listed ranges.
 */
const gatewayWriteRangeSchema = z
  .object({
    /** Gateway unit id (as the clients address it). */
    unit: int(0, 255),
    /** `holding` = FC6/FC16, `coils` = FC5/FC15. */
    table: z.enum(["holding", "coils"]).default("holding"),
    /** 0-based wire addresses, inclusive. */
    from: int(0, 65535),
    to: int(0, 65535).optional(),
  })
  .strict();

const gatewayWritesSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Client addresses (IPv4/IPv6, or IPv4 CIDR such as 10.0.0.0/24) allowed to write. */
    clients: z.array(z.string().min(1).max(64)).default([]),
    /** Allow writes to the registers of tags the device's profile marks writable (`write:`). */
    points: z.boolean().default(true),
    /** Further allowed ranges (a unit Busbar does not poll, a register no profile lists). */
    registers: z.array(gatewayWriteRangeSchema).default([]),
  })
  .strict();

export const gatewaySchema = z
  .object({
    /**
     * Loopback by default: a Modbus TCP server has no authentication, so serving the building
     * network must be a deliberate choice (`host: 0.0.0.0` or the BMS-side interface's address).
     */
    host: z.string().min(1).default("127.0.0.1"),
    /** 502 in production (needs CAP_NET_BIND_SERVICE), an unprivileged port elsewhere. */
    port: int(0, 65535).default(502),
    maxClients: int(1, 1024).default(64),
    /** Connections per client address (one BMS rarely needs more than a few). */
    maxClientsPerAddress: int(1, 1024).default(16),
    /** Close a connection that sent no complete request this long (seconds); 0 = never. */
    idleTimeoutSec: int(0, 86_400).default(60),
    /** Close a connection whose request frame is not complete this long after its first byte (ms). */
    frameTimeoutMs: int(100, 60_000).default(2000),
    /** Mode of units that do not say. */
    mode: z.enum(["pass", "cached"]).default("pass"),
    maxAgeMs: int(0, 86_400_000).optional(),
    /** Also expose every enabled device not listed in `units` at its own unit id. */
    exposeAll: z.boolean().default(true),
    units: z.array(gatewayUnitSchema).default([]),
    /** Forwarded requests waiting per bus before new ones are refused (exception 06, busy). */
    maxQueue: int(1, 10_000).default(64),
    /** Read-only unless enabled (FC5/6/15/16 answer exception 01). */
    writes: gatewayWritesSchema.prefault({}),
  })
  .strict();
export type GatewayConfig = z.output<typeof gatewaySchema>;

export const siteSchema = z
  .object({
    site: z
      .object({
        name: z.string().min(1),
        /** The name in each language where it differs (as labelFr/labelEn for points): `name` is the fallback. */
        nameFr: z.string().min(1).optional(),
        nameEn: z.string().min(1).optional(),
        /** IANA time zone of the building: local times on the pages, journal exports and device clocks. */
        timezone: z.string().refine(isTimeZone, "must be an IANA time zone such as America/Toronto or Europe/Paris").default("UTC"),
        language: z.enum(["fr", "en"]).default("fr"),
      })
      .strict(),
    buses: z.array(busSchema).min(1, "a site needs at least one bus"),
    devices: z.array(deviceSchema).default([]),
    topology: topologySchema.default({ sources: [], ats: [], busbars: [], breakers: [], meters: [] }),
    alarms: alarmsSchema.prefault({}),
    security: securitySchema.prefault({}),
    gateway: gatewaySchema.optional(),
    /** Load shedding, 15-minute demand, GDP events, battery dispatch (src/microgrid). */
    microgrid: microgridSchema.optional(),
    /** Busbar as a BACnet/IP device for the BMS (src/bacnet-server). */
    bacnetServer: bacnetServerSchema.optional(),
    historian: historianSchema.prefault({}),
    backup: backupSchema.optional(),
    /** Circuits, zones, panels, meters and tariffs (src/energy). */
    energy: energySchema.prefault({}),
  })
  .strict();

export type SiteFile = z.output<typeof siteSchema>;
type ParsedBus = SiteFile["buses"][number];
/** A bus with its serial line settings resolved (from the bus, its devices' profiles or the defaults). */
export type BusConfig = ParsedBus extends infer B
  ? B extends { kind: "modbus-rtu" | "modbus-rtu-tcp" }
    ? Omit<B, "baud" | "parity" | "stopBits"> & { baud: number; parity: "none" | "even" | "odd"; stopBits: 1 | 2 }
    : B
  : never;
export type SerialBusConfig = Extract<BusConfig, { kind: "modbus-rtu" | "modbus-rtu-tcp" }>;
export type BacnetBusConfig = Extract<BusConfig, { kind: "bacnet-ip" }>;
/** A bus a Modbus worker polls (every kind but bacnet-ip). */
export type ModbusBusConfig = Exclude<BusConfig, { kind: "bacnet-ip" }>;
/** A device with its multipliers resolved (its own, else its profile's, else 1). */
export type DeviceConfig = Omit<SiteFile["devices"][number], "ku" | "ki"> & { ku: number; ki: number };
export type Topology = SiteFile["topology"];

export interface Site extends Omit<SiteFile, "buses" | "devices"> {
  buses: BusConfig[];
  devices: DeviceConfig[];
  /** Profiles by id, only those the site uses. */
  profiles: Map<string, Profile>;
}

/** A site label in the reader's language: `labelFr` / `labelEn` when given, else `label`. */
export function labelIn(x: { label?: string; labelFr?: string; labelEn?: string } | undefined, lang: "fr" | "en"): string | undefined {
  if (!x) return undefined;
  return (lang === "fr" ? x.labelFr : x.labelEn) ?? x.label;
}

/** The site's name in the reader's language (`nameFr` / `nameEn`, else `name`). */
export function siteNameIn(s: { name: string; nameFr?: string; nameEn?: string }, lang: "fr" | "en"): string {
  return (lang === "fr" ? s.nameFr : s.nameEn) ?? s.name;
}

/** The site's name in both languages, for a journal row's parameters. */
export function siteNames(s: { name: string; nameFr?: string; nameEn?: string }): { fr: string; en: string } {
  return { fr: siteNameIn(s, "fr"), en: siteNameIn(s, "en") };
}

/**
 * The site with every device and topology label in one language (the one-line model and alarm
 * messages are built from labels): a shallow copy, the original is untouched.
 */
export function siteIn(site: Site, lang: "fr" | "en"): Site {
  const tr = <T extends { label?: string; labelFr?: string; labelEn?: string }>(x: T): T => {
    const l = labelIn(x, lang);
    return l === x.label ? x : { ...x, label: l };
  };
  const t = site.topology;
  return {
    ...site,
    devices: site.devices.map(tr),
    topology: { ...t, sources: t.sources.map(tr), ats: t.ats.map(tr), busbars: t.busbars.map(tr), breakers: t.breakers.map(tr), meters: t.meters.map(tr) },
  };
}

/** Resolves a topology point: explicit reference, else the device's tag with that role. */
export function pointForRole(site: Site, deviceId: string | undefined, role: string): string | undefined {
  if (!deviceId) return undefined;
  const dev = site.devices.find((d) => d.id === deviceId);
  const tag = dev && site.profiles.get(dev.profile)?.tags.find((t) => t.role === role);
  return tag ? `${deviceId}.${tag.id}` : undefined;
}

/**
 * Serial Modbus addresses slaves 1..247 (0 is the broadcast, 248..255 reserved); a Modbus TCP unit id
 * is a full byte, and Ethernet devices and TCP gateways commonly expect 255 or 0.
 */
function serialUnitIssue(unit: number, kind: string | undefined, bus: string): string | undefined {
  if (kind === undefined || kind === "modbus-tcp" || (unit >= 1 && unit <= 247)) return undefined;
  return `must be 1..247 on a serial bus (bus ${bus} is ${kind}; 0..255 only on modbus-tcp)`;
}

function crossCheck(s: SiteFile, profiles: Map<string, Profile>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const dupes = (items: { id: string }[], path: string, seen: Map<string, string>) =>
    items.forEach((item, i) => {
      const prev = seen.get(item.id);
      if (prev) issues.push({ path: `${path}[${i}].id`, message: `duplicate id "${item.id}" (also ${prev})` });
      else seen.set(item.id, `${path}[${i}]`);
    });
  dupes(s.buses, "buses", new Map());
  dupes(s.devices, "devices", new Map());
  const nodes = new Map<string, string>();
  dupes(s.topology.sources, "topology.sources", nodes);
  dupes(s.topology.ats, "topology.ats", nodes);
  dupes(s.topology.busbars, "topology.busbars", nodes);
  dupes(s.topology.breakers, "topology.breakers", nodes);

  const busIds = new Set(s.buses.map((b) => b.id));
  const units = new Map<string, string>();
  const busKinds = new Map(s.buses.map((b) => [b.id, b.kind]));
  s.devices.forEach((d, i) => {
    const kind = busKinds.get(d.bus);
    const bacnetProfile = profiles.get(d.profile)?.bacnet !== undefined;
    if (kind === "bacnet-ip") {
      if (d.instance === undefined) issues.push({ path: `devices[${i}].instance`, message: `a device on bacnet-ip bus ${d.bus} needs its BACnet device instance` });
      if (d.unit !== NO_UNIT) issues.push({ path: `devices[${i}].unit`, message: "a BACnet device has an instance, not a unit" });
      if (profiles.has(d.profile) && !bacnetProfile) issues.push({ path: `devices[${i}].profile`, message: `profile ${d.profile} is a Modbus register map; a bacnet-ip device needs a BACnet profile` });
      return;
    }
    if (kind !== undefined && bacnetProfile) issues.push({ path: `devices[${i}].profile`, message: `profile ${d.profile} is a BACnet object map; bus ${d.bus} is ${kind}` });
    if (kind !== undefined && d.unit === NO_UNIT)
      issues.push({ path: `devices[${i}].unit`, message: kind === "modbus-tcp" ? "required (0..255)" : "required (1..247)" });
    if (d.instance !== undefined) issues.push({ path: `devices[${i}].instance`, message: `only devices on a bacnet-ip bus have an instance (bus ${d.bus} is ${kind})` });
    if ((d.host !== undefined || d.port !== undefined) && kind !== undefined && kind !== "modbus-tcp")
      issues.push({ path: `devices[${i}].${d.host !== undefined ? "host" : "port"}`, message: `only devices on a modbus-tcp bus have their own address (bus ${d.bus} is ${kind})` });
    const unitIssue = d.unit === NO_UNIT ? undefined : serialUnitIssue(d.unit, kind, d.bus);
    if (unitIssue) issues.push({ path: `devices[${i}].unit`, message: unitIssue });
    if (!busIds.has(d.bus)) issues.push({ path: `devices[${i}].bus`, message: `no bus "${d.bus}" (buses: ${[...busIds].join(", ")})` });
    if (!profiles.has(d.profile))
      issues.push({ path: `devices[${i}].profile`, message: `no profile "${d.profile}" (known: ${[...profiles.keys()].sort().join(", ")})` });
    // Devices with their own TCP address may share a unit id; behind one address they may not.
    const endpoint = d.host !== undefined || d.port !== undefined ? ` at ${d.host ?? "(bus host)"}:${d.port ?? "(bus port)"}` : "";
    const key = `${d.bus}${endpoint}/${d.unit}`;
    const prev = units.get(key);
    if (prev) issues.push({ path: `devices[${i}].unit`, message: `unit ${d.unit} is already used on bus ${d.bus}${endpoint} by ${prev}` });
    else units.set(key, d.id);
  });

  const devices = new Map(s.devices.map((d) => [d.id, d]));
  const checkDevice = (dev: string | undefined, path: string) => {
    if (dev !== undefined && !devices.has(dev)) issues.push({ path, message: `no device "${dev}"` });
  };
  const checkPoint = (ref: string | undefined, path: string) => {
    if (!ref) return;
    const dot = ref.indexOf(".");
    const d = devices.get(ref.slice(0, dot));
    if (!d) return issues.push({ path, message: `no device "${ref.slice(0, dot)}"` });
    const p = profiles.get(d.profile);
    if (p && !p.tags.some((t) => t.id === ref.slice(dot + 1)))
      issues.push({ path, message: `profile ${d.profile} has no tag "${ref.slice(dot + 1)}"` });
  };
  const checkNode = (ref: string | undefined, path: string) => {
    if (ref !== undefined && !nodes.has(ref)) issues.push({ path, message: `no topology node "${ref}"` });
  };
  const t = s.topology;
  t.sources.forEach((x, i) => {
    checkDevice(x.device, `topology.sources[${i}].device`);
    checkPoint(x.available, `topology.sources[${i}].available`);
    if (x.fedBy !== undefined && !t.breakers.some((b) => b.id === x.fedBy)) issues.push({ path: `topology.sources[${i}].fedBy`, message: `no breaker "${x.fedBy}"` });
    x.points.forEach((p, j) => checkPoint(p, `topology.sources[${i}].points[${j}]`));
  });
  t.ats.forEach((x, i) => {
    checkDevice(x.device, `topology.ats[${i}].device`);
    checkNode(x.normal, `topology.ats[${i}].normal`);
    checkNode(x.emergency, `topology.ats[${i}].emergency`);
    checkPoint(x.onNormal, `topology.ats[${i}].onNormal`);
    checkPoint(x.onEmergency, `topology.ats[${i}].onEmergency`);
    x.points.forEach((p, j) => checkPoint(p, `topology.ats[${i}].points[${j}]`));
  });
  t.breakers.forEach((x, i) => {
    checkDevice(x.device, `topology.breakers[${i}].device`);
    checkNode(x.from, `topology.breakers[${i}].from`);
    checkNode(x.to, `topology.breakers[${i}].to`);
    if (x.to === undefined && x.load === undefined)
      issues.push({ path: `topology.breakers[${i}]`, message: "needs `to` (a node) or `load` (a feeder's load name)" });
    for (const k of ["closed", "tripped", "power"] as const) checkPoint(x[k], `topology.breakers[${i}].${k}`);
    x.points.forEach((p, j) => checkPoint(p, `topology.breakers[${i}].points[${j}]`));
  });
  t.meters.forEach((m, i) => {
    checkDevice(m.device, `topology.meters[${i}].device`);
    checkNode(m.at, `topology.meters[${i}].at`);
  });
  // The microgrid's inputs are caught here with their path, not when the controller starts.
  const mg = s.microgrid;
  if (mg) {
    mg.power.forEach((p, i) => checkPoint(p, `microgrid.power[${i}]`));
    if (mg.bess) {
      const d = devices.get(mg.bess.device);
      const prof = d && profiles.get(d.profile);
      if (!d) issues.push({ path: "microgrid.bess.device", message: `no device "${mg.bess.device}"` });
      else if (prof) {
        const missing = ["soc", "power", "voltage", "contactor", "ac_group_startup", "p_control_mode", "max_discharge_current", "p_setpoint"].filter((t) => !prof.tags.some((x) => x.id === t));
        if (missing.length) issues.push({ path: "microgrid.bess.device", message: `device ${d.id} (profile ${d.profile}) is not a BESS: no tag ${missing.join(", ")}` });
      }
    }
  }
  issues.push(...alarmIssues(s, profiles));
  return issues;
}

/** Alarm definitions: points exist, digital states name a state of the tag, limits are ordered. */
export function alarmIssues(s: Pick<SiteFile, "devices" | "alarms"> & { microgrid?: SiteFile["microgrid"] }, profiles: Map<string, Profile>, prefix = "alarms"): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const devices = new Map(s.devices.map((d) => [d.id, d]));
  // The microgrid's computed points may be alarmed like a device's tags.
  const computed = s.microgrid ? microgridPoints(s.microgrid).map((p) => ({ id: p.name, device: p.device, states: p.states })) : [];
  const ids = new Map<string, string>();
  s.alarms.points.forEach((a, i) => {
    const path = `${prefix}.points[${i}]`;
    const dot = a.point.indexOf(".");
    const own = computed.find((c) => c.device === a.point.slice(0, dot) && c.id === a.point.slice(dot + 1));
    const d = own ? { id: own.device, profile: "" } : devices.get(a.point.slice(0, dot));
    const tag = own ?? (d && profiles.get(d.profile)?.tags.find((t) => t.id === a.point.slice(dot + 1)));
    if (!d) issues.push({ path: `${path}.point`, message: `no device "${a.point.slice(0, dot)}"` });
    else if (!tag) issues.push({ path: `${path}.point`, message: `profile ${d.profile} has no tag "${a.point.slice(dot + 1)}"` });
    const limits = (["hh", "h", "l", "ll"] as const).filter((k) => a[k] !== undefined);
    if (a.state === undefined && limits.length === 0) issues.push({ path, message: "needs `state` (digital) or at least one of hh, h, l, ll (analog)" });
    if (a.state !== undefined && limits.length) issues.push({ path, message: "`state` and limits cannot be mixed: make two entries" });
    if (typeof a.state === "string" && tag) {
      const names = Object.values(tag.states ?? {});
      if (!names.includes(a.state)) issues.push({ path: `${path}.state`, message: `tag ${tag.id} has no state "${a.state}" (states: ${names.join(", ") || "none"})` });
    }
    const v = (k: "hh" | "h" | "l" | "ll") => {
      const x = a[k];
      return x === undefined ? undefined : typeof x === "number" ? x : x.value;
    };
    const order = (["hh", "h", "l", "ll"] as const).map((k) => [k, v(k)] as const).filter(([, x]) => x !== undefined) as [string, number][];
    for (let k = 1; k < order.length; k++)
      if (order[k]![1] > order[k - 1]![1]) issues.push({ path: `${path}.${order[k]![0]}`, message: `must not be above ${order[k - 1]![0]} (${order[k - 1]![1]})` });
    const names = a.state !== undefined ? [a.id ?? a.point] : limits.map((k) => (a.id ?? a.point) + "." + k.toUpperCase());
    for (const n of names) {
      const prev = ids.get(n);
      if (prev) issues.push({ path: `${path}.id`, message: `duplicate alarm id "${n}" (also ${prev})` });
      else ids.set(n, path);
    }
  });
  return issues;
}

/** Validates a parsed site document against the schema and the available profiles. */
export function parseSite(data: unknown, profiles: Map<string, Profile>, file = "site"): Site {
  const result = siteSchema.safeParse(data);
  if (!result.success) {
    // Report shape errors and, where the shape allows, reference errors too.
    throw new ConfigError(file, zodIssues(result.error));
  }
  const issues = crossCheck(result.data, profiles);
  const buses = resolveLines(result.data, profiles, issues);
  issues.push(...gatewayIssues(result.data));
  issues.push(...bacnetServerIssues(result.data, profiles));
  issues.push(...historianIssues(result.data, profiles));
  issues.push(...validateEnergy(result.data.energy, siteUnits(result.data, profiles)).errors);
  if (issues.length) throw new ConfigError(file, issues);
  const used = new Map<string, Profile>();
  for (const d of result.data.devices) used.set(d.profile, profiles.get(d.profile)!);
  const devices = result.data.devices.map((d) => {
    const m = profiles.get(d.profile)!.multipliers;
    return { ...d, ku: d.ku ?? m?.ku ?? 1, ki: d.ki ?? m?.ki ?? 1 };
  });
  return { ...result.data, devices, buses, profiles: used };
}

/**
 * Serial line settings each RTU bus leaves out: those its devices' profiles agree on, else the
 * vendor gateway's defaults. Devices whose profiles disagree need the bus to say.
 */
function resolveLines(s: SiteFile, profiles: Map<string, Profile>, issues: ConfigIssue[]): BusConfig[] {
  return s.buses.map((bus, i): BusConfig => {
    if (bus.kind === "modbus-tcp" || bus.kind === "bacnet-ip") return bus;
    const resolved = { ...bus } as Record<string, unknown>;
    for (const key of ["baud", "parity", "stopBits"] as const) {
      if (bus[key] !== undefined) continue;
      const said = new Map<string, string[]>();
      for (const d of s.devices) {
        if (d.bus !== bus.id || !d.enabled) continue;
        const v = profiles.get(d.profile)?.serial?.[key];
        if (v === undefined) continue;
        const list = said.get(String(v)) ?? [];
        list.push(`${d.id} (${d.profile})`);
        said.set(String(v), list);
      }
      if (said.size > 1) {
        issues.push({
          path: `buses[${i}].${key}`,
          message: `the device profiles disagree (${[...said].map(([v, ds]) => `${v}: ${ds.join(", ")}`).join("; ")}): set ${key} on the bus`,
        });
        continue;
      }
      const only = [...said.keys()][0];
      resolved[key] = only === undefined ? SERIAL_DEFAULTS[key] : key === "parity" ? only : Number(only);
    }
    return resolved as BusConfig;
  });
}

/** Gateway units: each unit id once, naming an enabled device or a bus and unit. */
function gatewayIssues(s: SiteFile): ConfigIssue[] {
  const g = s.gateway;
  if (!g) return [];
  const issues: ConfigIssue[] = [];
  const devices = new Map(s.devices.map((d) => [d.id, d]));
  const buses = new Set(s.buses.map((b) => b.id));
  const busKinds = new Map(s.buses.map((b) => [b.id, b.kind]));
  const units = new Map<number, string>();
  const listed = new Set<string>();
  g.units.forEach((u, i) => {
    const path = `gateway.units[${i}]`;
    if ((u.device === undefined) === (u.bus === undefined)) issues.push({ path, message: "needs exactly one of `device` or `bus`" });
    if (u.device !== undefined) {
      const d = devices.get(u.device);
      if (!d) issues.push({ path: `${path}.device`, message: `no device "${u.device}"` });
      else if (!d.enabled) issues.push({ path: `${path}.device`, message: `device ${u.device} is disabled` });
      if (u.targetUnit !== undefined) issues.push({ path: `${path}.targetUnit`, message: "only with `bus` (a device has its own unit)" });
      listed.add(u.device);
    }
    if (u.bus !== undefined && !buses.has(u.bus)) issues.push({ path: `${path}.bus`, message: `no bus "${u.bus}"` });
    if (u.bus !== undefined) {
      const unitIssue = serialUnitIssue(u.targetUnit ?? u.unit, busKinds.get(u.bus), u.bus);
      if (unitIssue) issues.push({ path: `${path}.${u.targetUnit !== undefined ? "targetUnit" : "unit"}`, message: unitIssue });
    }
    if (u.bus !== undefined && u.mode === "cached") issues.push({ path: `${path}.mode`, message: "cached mode needs a `device` (Busbar must poll it)" });
    const prev = units.get(u.unit);
    if (prev) issues.push({ path: `${path}.unit`, message: `unit ${u.unit} is already used by ${prev}` });
    else units.set(u.unit, path);
  });
  if (g.writes.enabled && g.writes.clients.length === 0)
    issues.push({ path: "gateway.writes.clients", message: "writes are enabled but no client address may write: list the BMS's address(es)" });
  g.writes.clients.forEach((a, i) => {
    if (!validAddressPattern(a)) issues.push({ path: `gateway.writes.clients[${i}]`, message: `"${a}" is not an IP address or IPv4 CIDR` });
  });
  g.writes.registers.forEach((r, i) => {
    if (r.to !== undefined && r.to < r.from) issues.push({ path: `gateway.writes.registers[${i}].to`, message: `must be ≥ from (${r.from})` });
  });
  if (g.exposeAll) {
    s.devices.forEach((d, i) => {
      // A BACnet device (an instance, no unit) has no registers for Modbus masters.
      if (!d.enabled || listed.has(d.id) || d.instance !== undefined) return;
      const prev = units.get(d.unit);
      if (prev)
        issues.push({
          path: `devices[${i}].unit`,
          message: `gateway.exposeAll: unit ${d.unit} of ${d.id} is already used by ${prev}; give ${d.id} a gateway unit in gateway.units`,
        });
      else units.set(d.unit, `device ${d.id} (bus ${d.bus})`);
    });
  }
  return issues;
}

export function loadSiteFile(path: string, profiles: Map<string, Profile>): Site {
  checkConfigFileSize(path);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(path, [{ path: "(file)", message: `cannot read: ${(e as Error).message}` }]);
  }
  return parseSite(parseYaml(text, path), profiles, path);
}

/**
 * bacnetServer.objects: each names, once, a point Busbar has: a tag of a site device, whichever
 * driver polls it (Modbus or the BACnet client: the UPS's objects are tags of its BACnet profile),
 * or a computed point (MICROGRID.*, ENERGY.*). What an override asks must fit that point: the BMS
 * writes only what its source takes, and the object type must be able to carry its value.
 */
function bacnetServerIssues(s: SiteFile, profiles: Map<string, Profile>): ConfigIssue[] {
  const b = s.bacnetServer;
  if (!b) return [];
  const issues: ConfigIssue[] = [];
  const devices = new Map(s.devices.map((d) => [d.id, d]));
  const computed = new Map<string, ComputedPointDef>(
    [...(s.microgrid ? microgridPoints(s.microgrid) : []), ...(s.energy.meters.length ? energyPointDefs(s.energy) : [])].map((p) => [`${p.device}.${p.name}`, p]),
  );
  const computedDevices = new Set([...computed.values()].map((p) => p.device));
  const seen = new Map<string, number>();
  b.objects.forEach((o, i) => {
    const at = (key: string) => `bacnetServer.objects[${i}].${key}`;
    const dot = o.point.indexOf(".");
    const [deviceId, tagId] = [o.point.slice(0, dot), o.point.slice(dot + 1)];
    let source: { what: string; kind?: string; states?: Record<string, string>; writable: boolean } | undefined;
    const c = computed.get(o.point);
    if (c) source = { what: `computed point ${o.point}`, kind: c.kind, states: c.states, writable: c.writable !== undefined };
    else if (computedDevices.has(deviceId)) issues.push({ path: at("point"), message: `${deviceId} has no computed point "${tagId}"` });
    else {
      const d = devices.get(deviceId);
      const tag = d && profiles.get(d.profile)?.tags.find((t) => t.id === tagId);
      if (!d) issues.push({ path: at("point"), message: `no device "${deviceId}"` });
      else if (!tag) issues.push({ path: at("point"), message: `profile ${d.profile} has no tag "${tagId}"` });
      else source = { what: `tag ${tagId} of profile ${d.profile}`, kind: tag.kind, states: tag.states, writable: !!tag.writable };
    }
    const prev = seen.get(o.point);
    if (prev !== undefined) issues.push({ path: at("point"), message: `${o.point} is already listed at bacnetServer.objects[${prev}]` });
    else seen.set(o.point, i);
    if (o.min !== undefined && o.max !== undefined && o.min > o.max) issues.push({ path: at("min"), message: `must not be above max (${o.max})` });
    if (!source || o.remove) return;
    if (o.writable && !source.writable) issues.push({ path: at("writable"), message: `${source.what} is read-only: the BMS cannot write it` });
    if (o.type) {
      const kinds = objectKindsFor(source);
      if (!kinds.includes(o.type)) issues.push({ path: at("type"), message: `${source.what} can be served as ${kinds.join(" or ")}, not ${o.type}` });
      else if (o.writable && isInputKind(o.type)) issues.push({ path: at("type"), message: `${o.type} cannot be written: use ${kinds.filter((k) => !isInputKind(k)).join(" or ")}` });
    }
  });
  return issues;
}

/** Historian overrides name devices and points that exist. */
function historianIssues(s: SiteFile, profiles: Map<string, Profile>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const devices = new Map(s.devices.map((d) => [d.id, d]));
  s.historian.points.forEach((o, i) => {
    if (o.device !== undefined && !devices.has(o.device)) issues.push({ path: `historian.points[${i}].device`, message: `no device "${o.device}"` });
    if (o.point !== undefined) {
      const dot = o.point.indexOf(".");
      const d = devices.get(o.point.slice(0, dot));
      const tag = o.point.slice(dot + 1);
      if (!d) issues.push({ path: `historian.points[${i}].point`, message: `no device "${o.point.slice(0, dot)}"` });
      else if (!profiles.get(d.profile)?.tags.some((t) => t.id === tag))
        issues.push({ path: `historian.points[${i}].point`, message: `device ${d.id} (${d.profile}) has no tag "${tag}"` });
    }
  });
  return issues;
}

/** `DEVICE.tag` → its unit, for validators outside this file (energy meters). */
export function siteUnits(s: Pick<SiteFile, "devices">, profiles: Map<string, Profile>): (point: string) => { unit: string } | "no-device" | "no-tag" {
  const devices = new Map(s.devices.map((d) => [d.id, d]));
  return (point) => {
    const dot = point.indexOf(".");
    const d = devices.get(point.slice(0, dot));
    if (!d) return "no-device";
    const tag = profiles.get(d.profile)?.tags.find((t) => t.id === point.slice(dot + 1));
    return tag ? { unit: tag.unit ?? "" } : "no-tag";
  };
}
