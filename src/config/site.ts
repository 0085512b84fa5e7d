import * as z from "zod";
import { readFileSync } from "node:fs";
import { ConfigError, type ConfigIssue, zodIssues } from "./validation.ts";
import { parseYaml, type Profile } from "./profile.ts";

/**
 * The site file (YAML): buses, devices, the one-line topology.
 * Every error is reported with its path; nothing is half-loaded.
 */

const int = (min: number, max: number) =>
  z.number({ error: "must be a number" }).int("must be a whole number").min(min, `must be ${min}..${max}`).max(max, `must be ${min}..${max}`);
const id = z.string({ error: "must be a text id" }).regex(/^[A-Za-z0-9][A-Za-z0-9_.\-]*$/, "must be letters, digits, _ . -");

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

/** RTU over a serial port and RTU frames over TCP: parsed now, polled once the RTU issue lands. */
const rtuBus = z
  .object({
    id,
    kind: z.literal("modbus-rtu"),
    port: z.string().min(1),
    baud: int(1200, 115200).default(19200),
    parity: z.enum(["none", "even", "odd"]).default("even"),
    stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
    ...linkTiming,
    timeoutMs: int(20, 60_000).default(300),
  })
  .strict();

const rtuOverTcpBus = z
  .object({
    id,
    kind: z.literal("modbus-rtu-tcp"),
    host: z.string().min(1),
    port: int(1, 65535),
    ...linkTiming,
  })
  .strict();

const busSchema = z.discriminatedUnion("kind", [tcpBus, rtuBus, rtuOverTcpBus], {
  error: "kind must be modbus-tcp, modbus-rtu or modbus-rtu-tcp",
});

const deviceSchema = z
  .object({
    id,
    bus: id,
    unit: int(0, 255).refine((n) => n >= 1 && n <= 247, "must be 1..247"),
    profile: z.string().min(1),
    label: z.string().optional(),
    /** Poll period of the device's fast tags. */
    pollMs: int(50, 3_600_000).default(1000),
    /** Poll period of tags marked `slow` (energy counters, clocks). */
    slowPollMs: int(50, 86_400_000).default(10_000),
    maxRegistersPerRead: int(1, 125).optional(),
    maxGap: int(0, 125).optional(),
    /** EnLogic-style KU / KI transformer multipliers. */
    ku: z.number().positive().default(1),
    ki: z.number().positive().default(1),
    enabled: z.boolean().default(true),
  })
  .strict();

/** `DEVICE.tag` */
const pointRef = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_\-]*\.[A-Za-z][A-Za-z0-9_]*$/, "must be DEVICE.tag");

const sourceSchema = z
  .object({
    id,
    kind: z.enum(["utility", "generator", "ups", "bess", "pv"]),
    label: z.string().optional(),
    device: id.optional(),
    /** Points shown beside the source (e.g. generator running, BESS SOC). */
    points: z.array(pointRef).default([]),
  })
  .strict();

const atsSchema = z
  .object({
    id,
    label: z.string().optional(),
    device: id.optional(),
    normal: id,
    emergency: id,
    onNormal: pointRef.optional(),
    onEmergency: pointRef.optional(),
    points: z.array(pointRef).default([]),
  })
  .strict();

const busbarSchema = z.object({ id, label: z.string().optional() }).strict();

const breakerSchema = z
  .object({
    id,
    label: z.string().optional(),
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
    meters: z.array(z.object({ id, device: id, at: id, label: z.string().optional() }).strict()).default([]),
  })
  .strict();

export const siteSchema = z
  .object({
    site: z
      .object({
        name: z.string().min(1),
        timezone: z.string().default("UTC"),
        language: z.enum(["fr", "en"]).default("fr"),
      })
      .strict(),
    buses: z.array(busSchema).min(1, "a site needs at least one bus"),
    devices: z.array(deviceSchema).default([]),
    topology: topologySchema.default({ sources: [], ats: [], busbars: [], breakers: [], meters: [] }),
  })
  .strict();

export type SiteFile = z.output<typeof siteSchema>;
export type BusConfig = SiteFile["buses"][number];
export type DeviceConfig = SiteFile["devices"][number];
export type Topology = SiteFile["topology"];

export interface Site extends SiteFile {
  /** Profiles by id, only those the site uses. */
  profiles: Map<string, Profile>;
}

/** Resolves a topology point: explicit reference, else the device's tag with that role. */
export function pointForRole(site: Site, deviceId: string | undefined, role: string): string | undefined {
  if (!deviceId) return undefined;
  const dev = site.devices.find((d) => d.id === deviceId);
  const tag = dev && site.profiles.get(dev.profile)?.tags.find((t) => t.role === role);
  return tag ? `${deviceId}.${tag.id}` : undefined;
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
  s.devices.forEach((d, i) => {
    if (!busIds.has(d.bus)) issues.push({ path: `devices[${i}].bus`, message: `no bus "${d.bus}" (buses: ${[...busIds].join(", ")})` });
    if (!profiles.has(d.profile))
      issues.push({ path: `devices[${i}].profile`, message: `no profile "${d.profile}" (known: ${[...profiles.keys()].sort().join(", ")})` });
    const key = `${d.bus}/${d.unit}`;
    const prev = units.get(key);
    if (prev) issues.push({ path: `devices[${i}].unit`, message: `unit ${d.unit} is already used on bus ${d.bus} by ${prev}` });
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
  if (issues.length) throw new ConfigError(file, issues);
  const used = new Map<string, Profile>();
  for (const d of result.data.devices) used.set(d.profile, profiles.get(d.profile)!);
  return { ...result.data, profiles: used };
}

export function loadSiteFile(path: string, profiles: Map<string, Profile>): Site {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(path, [{ path: "(file)", message: `cannot read: ${(e as Error).message}` }]);
  }
  return parseSite(parseYaml(text, path), profiles, path);
}
