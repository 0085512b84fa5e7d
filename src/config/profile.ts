import * as z from "zod";
import { parseYaml } from "./yaml.ts";
import { DATA_TYPES, READ_FUNCTIONS, TAG_KINDS, WORD_ORDERS, WRITE_FUNCTIONS } from "../protocols/modbus/types.ts";
import { ConfigError, type ConfigIssue, zodIssues } from "./validation.ts";

/**
 * A device profile: a reusable Modbus register map (data/profiles/*.yaml).
 * Addresses are 0-based protocol addresses unless the profile says `addressBase: 1`.
 */

const intIn = (min: number, max: number, what = "") =>
  z.number({ error: `must be a number${what}` }).int(`must be a whole number${what}`).min(min, `must be ${min}..${max}`).max(max, `must be ${min}..${max}`);

const literalUnion = <T extends readonly (string | number)[]>(values: T, what: string) =>
  z.custom<T[number]>((v) => (values as readonly unknown[]).includes(v), { message: `${what} must be one of ${values.join(", ")}` });

export const tagSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, "must start with a letter and hold only letters, digits and _"),
    label: z.string().min(1, "must not be empty"),
    labelFr: z.string().optional(),
    address: intIn(0, 65535),
    function: literalUnion(READ_FUNCTIONS, "function").optional(),
    /** Write function; a tag with `write` is writable. */
    write: literalUnion(WRITE_FUNCTIONS, "write").optional(),
    /** False for write-only commands (e.g. a reset): never polled. */
    poll: z.boolean().default(true),
    type: literalUnion(DATA_TYPES, "type").optional(),
    order: literalUnion(WORD_ORDERS, "order").optional(),
    mask: intIn(1, 0xffff).optional(),
    length: intIn(1, 250).optional(),
    scale: z.number().default(1),
    offset: z.number().default(0),
    /** EnLogic `mn`: the device's voltage/current transformer multipliers. */
    multiplier: z.enum(["none", "KU", "KI", "KU*KI"]).default("none"),
    unit: z.string().default(""),
    kind: literalUnion(TAG_KINDS, "kind").optional(),
    /** Raw values the device uses for "no value" (e.g. -1, 0xFFFF, NaN as "NaN"). */
    notAvailable: z.array(z.union([z.number(), z.literal("NaN")])).default([]),
    range: z.object({ min: z.number().optional(), max: z.number().optional() }).strict().optional(),
    /** Names of discrete states, e.g. {0: OPEN, 1: CLOSED}. */
    states: z.record(z.string(), z.string()).optional(),
    /** The same states in French (the French screens); missing ones fall back to src/hmi/state-words.ts. */
    statesFr: z.record(z.string(), z.string()).optional(),
    /** What the tag means to the rest of Busbar (topology, HMI), e.g. breaker.closed, power.total. */
    role: z.string().optional(),
    /** Seconds between polls for this tag when slower than the device's rate (e.g. energy, time). */
    slow: z.boolean().default(false),
    /** The device answers this tag's registers only in a read of their own (never merged with others). */
    readAlone: z.boolean().default(false),
    description: z.string().optional(),
  })
  .strict();

const tagRef = z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, "must be a tag id of this profile");

/**
 * Device clock setting (EnLogic "Период синхронизации" + a DTO tag): Busbar writes the time through
 * `tag` every `periodMin`. When the device's clock can be read (`clock`, or one tag per field in
 * `clockParts`), the drift is checked first: beyond `maxDriftS` an event is raised instead of
 * writing (the TH40C refuses such a setting anyway).
 */
const timeSyncSchema = z
  .object({
    /** The writable date-time tag to write. */
    tag: tagRef,
    periodMin: intIn(1, 527_040).default(1440),
    /** Write to unit 0 (every device of the bus at once), as the TH40C's manual does. */
    broadcast: z.boolean().default(false),
    /** The device accepts at most one setting per this many minutes (TH40C: once a day). */
    minIntervalMin: intIn(0, 527_040).default(0),
    maxDriftS: z.number().positive().optional(),
    /** A readable date-time tag with the device's clock ... */
    clock: tagRef.optional(),
    /** ... or its clock as one integer tag per field. */
    clockParts: z
      .object({ year: tagRef, month: tagRef, day: tagRef, hour: tagRef, minute: tagRef, second: tagRef })
      .strict()
      .optional(),
    /** The device clock runs in the site's local time (default) or in UTC. */
    clockZone: z.enum(["local", "utc"]).default("local"),
  })
  .strict();

export const profileSchema = z
  .object({
    profile: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "must be lower-case letters, digits and -"),
    name: z.string().min(1),
    maker: z.string().optional(),
    model: z.string().optional(),
    /** Where the register map came from: a seed, a maker's public document, or "Busbar-defined". */
    source: z.string().min(1, "must say where the register map comes from"),
    addressBase: z.union([z.literal(0), z.literal(1)]).default(0),
    maxRegistersPerRead: intIn(1, 125).default(125),
    maxBitsPerRead: intIn(1, 2000).default(2000),
    /** Unused registers the planner may read through to merge two reads. */
    maxGap: intIn(0, 125).default(10),
    serial: z
      .object({
        baud: intIn(1200, 115200).optional(),
        parity: z.enum(["none", "even", "odd"]).optional(),
        stopBits: z.union([z.literal(1), z.literal(2)]).optional(),
      })
      .strict()
      .optional(),
    timeSync: timeSyncSchema.optional(),
    /**
     * Transformer multipliers (EnLogic KU / KI) the register map was written for: what a device of
     * this profile uses when the site file gives it no `ku` / `ki` of its own.
     */
    multipliers: z.object({ ku: z.number().positive().default(1), ki: z.number().positive().default(1) }).strict().optional(),
    defaults: z
      .object({
        function: literalUnion(READ_FUNCTIONS, "function").optional(),
        type: literalUnion(DATA_TYPES, "type").optional(),
        order: literalUnion(WORD_ORDERS, "order").optional(),
      })
      .strict()
      .default({}),
    tags: z.array(tagSchema).min(1, "a profile needs at least one tag"),
  })
  .strict();

export type ProfileInput = z.input<typeof profileSchema>;
type ParsedProfile = z.output<typeof profileSchema>;
type ParsedTag = z.output<typeof tagSchema>;

/** A tag with every default resolved: what planners, decoders and the simulator use. */
export interface Tag extends Omit<ParsedTag, "function" | "type" | "order" | "kind"> {
  function: 1 | 2 | 3 | 4;
  type: (typeof DATA_TYPES)[number];
  order: (typeof WORD_ORDERS)[number];
  kind: (typeof TAG_KINDS)[number];
  writable: boolean;
}

export interface Profile extends Omit<ParsedProfile, "tags"> {
  tags: Tag[];
  /** A BACnet profile (`protocol: bacnet`), presented with tags by config/bacnet-profile.ts. */
  bacnet?: import("../protocols/bacnet/profile.ts").BacnetProfile;
}

function resolveTag(t: ParsedTag, p: ParsedProfile): Tag {
  const type = t.type ?? p.defaults.type ?? (t.mask !== undefined ? "bit" : "uint16");
  const fn = t.function ?? (type === "bit" && t.mask === undefined ? 2 : (p.defaults.function ?? 3));
  const kind =
    t.kind ??
    (type === "bit" ? "digital" : type === "text" ? "text" : type.startsWith("dt") ? "datetime" : "analog");
  return {
    ...t,
    address: t.address - p.addressBase,
    function: fn,
    type,
    order: t.order ?? p.defaults.order ?? "ABCD",
    kind,
    writable: t.write !== undefined,
  };
}

/** Checks that go beyond the shape: duplicates, types that need a register, etc. */
function crossCheck(p: ParsedProfile): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, number>();
  p.tags.forEach((t, i) => {
    const prev = seen.get(t.id);
    if (prev !== undefined) issues.push({ path: `tags[${i}].id`, message: `duplicate tag id "${t.id}" (also tags[${prev}])` });
    seen.set(t.id, i);
    const fn = t.function ?? p.defaults.function ?? 3;
    const type = t.type ?? p.defaults.type;
    if ((fn === 1 || fn === 2) && type !== undefined && type !== "bit")
      issues.push({ path: `tags[${i}].type`, message: `function ${fn} reads bits; type must be bit, not ${type}` });
    if (type === "text" && t.length === undefined) issues.push({ path: `tags[${i}].length`, message: "text tags need a length" });
    if (t.address - p.addressBase < 0) issues.push({ path: `tags[${i}].address`, message: "is below the profile's addressBase" });
    if (t.write !== undefined && (t.write === 5 || t.write === 15) !== (fn === 1 || type === "bit") && !t.mask)
      issues.push({ path: `tags[${i}].write`, message: `write function ${t.write} does not fit a ${type ?? "register"} tag` });
  });
  return issues;
}

/** The time-sync block names tags that exist and fit: a writable date-time tag, readable clock tags. */
function timeSyncIssues(p: ParsedProfile): ConfigIssue[] {
  const ts = p.timeSync;
  if (!ts) return [];
  const issues: ConfigIssue[] = [];
  const byId = new Map(p.tags.map((t) => [t.id, t]));
  const w = byId.get(ts.tag);
  if (!w) issues.push({ path: "timeSync.tag", message: `no tag "${ts.tag}"` });
  else {
    const type = w.type ?? p.defaults.type;
    if (w.write === undefined) issues.push({ path: "timeSync.tag", message: `tag ${ts.tag} is not writable (no \`write\`)` });
    if (!type?.startsWith("dt")) issues.push({ path: "timeSync.tag", message: `tag ${ts.tag} must have a date-time type (dt32 … dt96_2), not ${type ?? "uint16"}` });
  }
  if (ts.clock !== undefined) {
    const c = byId.get(ts.clock);
    const type = c?.type ?? p.defaults.type;
    if (!c) issues.push({ path: "timeSync.clock", message: `no tag "${ts.clock}"` });
    else if (!type?.startsWith("dt")) issues.push({ path: "timeSync.clock", message: `tag ${ts.clock} must have a date-time type` });
    else if (c.poll === false) issues.push({ path: "timeSync.clock", message: `tag ${ts.clock} is not readable (poll: false)` });
  }
  if (ts.clockParts)
    for (const [k, id] of Object.entries(ts.clockParts)) {
      const c = byId.get(id);
      if (!c) issues.push({ path: `timeSync.clockParts.${k}`, message: `no tag "${id}"` });
      else if (c.poll === false) issues.push({ path: `timeSync.clockParts.${k}`, message: `tag ${id} is not readable (poll: false)` });
    }
  if (ts.clock !== undefined && ts.clockParts) issues.push({ path: "timeSync", message: "give `clock` or `clockParts`, not both" });
  // A clock is never set blind: without a drift check a wrong setting (or a wrong zone) goes unnoticed.
  if (ts.clock === undefined && !ts.clockParts)
    issues.push({ path: "timeSync", message: "needs `clock` or `clockParts`: Busbar reads a device's clock before setting it" });
  return issues;
}

export function parseProfile(data: unknown, file = "profile"): Profile {
  const result = profileSchema.safeParse(data);
  if (!result.success) throw new ConfigError(file, zodIssues(result.error));
  const issues = [...crossCheck(result.data), ...timeSyncIssues(result.data)];
  if (issues.length) throw new ConfigError(file, issues);
  const p = result.data;
  return { ...p, tags: p.tags.map((t) => resolveTag(t, p)) };
}

export { parseYaml } from "./yaml.ts";

export function parseProfileYaml(text: string, file: string): Profile {
  return parseProfile(parseYaml(text, file), file);
}
