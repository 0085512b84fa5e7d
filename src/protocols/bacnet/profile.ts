import * as z from "zod";
import { ConfigError, type ConfigIssue, zodIssues } from "../../config/validation.ts";
import { OBJECT_TYPES, PROP, PROPERTY_NAMES, type ObjectTypeName } from "./objects.ts";

/**
 * A BACnet device profile (data/profiles/*.yaml with `protocol: bacnet`): object type/instance/
 * property → point, with unit, scaling, state texts, bit names and "not available" sentinels.
 * Pure: no sockets, so it is tested and fuzzed alone.
 */

const intIn = (min: number, max: number) =>
  z.number({ error: "must be a number" }).int("must be a whole number").min(min, `must be ${min}..${max}`).max(max, `must be ${min}..${max}`);
const pointId = z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, "must start with a letter and hold only letters, digits and _");
const objectRefSchema = z
  .string()
  .regex(new RegExp(`^(${Object.keys(OBJECT_TYPES).join("|")}):(\\d{1,7})$`), `must be TYPE:INSTANCE with TYPE one of ${Object.keys(OBJECT_TYPES).join(", ")}`);
const property = z.union([intIn(0, 4_194_303), z.enum(Object.keys(PROPERTY_NAMES) as [string, ...string[]])]).default("present-value");

const bitSchema = z
  .object({
    bit: intIn(0, 255),
    id: pointId,
    label: z.string().min(1),
    labelFr: z.string().optional(),
    role: z.string().optional(),
  })
  .strict();

const pointSchema = z
  .object({
    id: pointId,
    object: objectRefSchema,
    property,
    label: z.string().min(1),
    labelFr: z.string().optional(),
    unit: z.string().default(""),
    /** The device's BACnetEngineeringUnits code (the simulator serves it; Busbar shows `unit`). */
    units: intIn(0, 65535).optional(),
    /** Fixed decimals of the device's format (`##.#` → 1): the raw value is divided by 10^decimals. */
    decimals: intIn(0, 6).default(0),
    /** Extra fixed multiplier after the decimals. */
    scale: z.number().default(1),
    /** The device-wide factor (`deviceFactor`) applies to this point. */
    useFactor: z.boolean().default(false),
    /** Raw values meaning "no value" (the Socomec UPS reports -1). */
    notAvailable: z.array(z.number()).default([]),
    range: z.object({ min: z.number().optional(), max: z.number().optional() }).strict().optional(),
    /** Multi-state texts by value (BACnet states count from 1). */
    states: z.record(z.string(), z.string()).optional(),
    /** The same texts in French (else the HMI's built-in words for the common ones). */
    statesFr: z.record(z.string(), z.string()).optional(),
    /** A bit-string: one named digital point per bit (`<id>_<bit id>`), the whole string is not a point. */
    bits: z.array(bitSchema).optional(),
    role: z.string().optional(),
    /** System-level (parallel system) or unit-level object (seed's table "Niveau des données"). */
    level: z.enum(["system", "unit", "common"]).default("common"),
    /** Commandable: WriteProperty with a priority (1 highest … 16 lowest; 8 = manual operator). */
    writable: z.boolean().default(false),
    priority: intIn(1, 16).default(8),
    /** Subscribe COV for this point when the device's COV mode is on (default for present values). */
    cov: z.boolean().optional(),
    description: z.string().optional(),
  })
  .strict();

export const bacnetProfileSchema = z
  .object({
    profile: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "must be lower-case letters, digits and -"),
    protocol: z.literal("bacnet"),
    name: z.string().min(1),
    maker: z.string().optional(),
    model: z.string().optional(),
    /** Where the object map comes from. */
    source: z.string().min(1, "must say where the object map comes from"),
    /** Expected Device Vendor_Identifier; another one is reported at commissioning. */
    vendorId: intIn(0, 65535).optional(),
    /**
     * A factor the device announces in one of its Device object's properties (Socomec: Profile_Name
     * `factor_10` → ÷10), applied to the points with `useFactor`. Read at every bind; a value not
     * listed leaves those points bad-data rather than guessing.
     */
    deviceFactor: z
      .object({
        property,
        values: z.record(z.string(), z.number().positive()),
        /** When the property is absent or names no listed value; without it such points are bad-data. */
        default: z.number().positive().optional(),
      })
      .strict()
      .optional(),
    points: z.array(pointSchema).min(1, "a profile needs at least one point"),
  })
  .strict();

export type PointKind = "analog" | "digital" | "multistate" | "text";

/** One Busbar point of a BACnet device, with every default resolved. */
export interface BacnetPoint {
  id: string;
  label: string;
  labelFr: string;
  objectType: number;
  objectTypeName: ObjectTypeName;
  instance: number;
  property: number;
  /** Bit of a bit-string, for bit points. */
  bit?: number;
  kind: PointKind;
  unit: string;
  units?: number;
  /** raw × multiplier (× the device factor when `useFactor`) is the value. */
  multiplier: number;
  useFactor: boolean;
  notAvailable: number[];
  range?: { min?: number; max?: number };
  states?: Record<string, string>;
  statesFr?: Record<string, string>;
  role?: string;
  level: "system" | "unit" | "common";
  writable: boolean;
  priority: number;
  cov: boolean;
  description?: string;
}

export interface BacnetProfile {
  profile: string;
  protocol: "bacnet";
  name: string;
  maker?: string;
  model?: string;
  source: string;
  vendorId?: number;
  deviceFactor?: { property: number; values: Record<string, number>; default?: number };
  points: BacnetPoint[];
}

const propNumber = (p: string | number): number => (typeof p === "number" ? p : PROPERTY_NAMES[p]!);

/** Properties whose datatype is a CharacterString: Description, Model_Name, Object_Name, Profile_Name. */
const TEXT_PROPERTIES = new Set([28, PROP.MODEL_NAME, PROP.OBJECT_NAME, PROP.PROFILE_NAME]);

function kindOf(type: ObjectTypeName, property: number, hasStates: boolean): PointKind {
  if (TEXT_PROPERTIES.has(property)) return "text";
  if (type === "BI" || type === "BO" || type === "BV") return "digital";
  if (type === "MSI" || type === "MSO" || type === "MSV") return "multistate";
  if (type === "CSV") return "text";
  return hasStates ? "multistate" : "analog";
}

export function parseBacnetProfile(data: unknown, file = "profile"): BacnetProfile {
  const r = bacnetProfileSchema.safeParse(data);
  if (!r.success) throw new ConfigError(file, zodIssues(r.error));
  const p = r.data;
  const issues: ConfigIssue[] = [];
  const points: BacnetPoint[] = [];
  const ids = new Map<string, string>();
  const objects = new Map<string, string>();
  const claim = (id: string, path: string) => {
    const prev = ids.get(id);
    if (prev) issues.push({ path, message: `duplicate point id "${id}" (also ${prev})` });
    else ids.set(id, path);
  };
  p.points.forEach((pt, i) => {
    const path = `points[${i}]`;
    const [typeName, inst] = pt.object.split(":") as [ObjectTypeName, string];
    const objectType = OBJECT_TYPES[typeName];
    const prop = propNumber(pt.property);
    const key = `${pt.object}/${prop}`;
    const prevObj = objects.get(key);
    if (prevObj) issues.push({ path: `${path}.object`, message: `${pt.object} ${pt.property} is already mapped by ${prevObj}` });
    else objects.set(key, path);
    if (pt.bits && typeName !== "BSV") issues.push({ path: `${path}.bits`, message: `only a bit-string value (BSV) has bits, not ${typeName}` });
    if (typeName === "BSV" && !pt.bits) issues.push({ path: `${path}.bits`, message: "a bit-string value needs its bits named" });
    if (pt.useFactor && !p.deviceFactor) issues.push({ path: `${path}.useFactor`, message: "the profile has no deviceFactor" });
    const base = {
      label: pt.label,
      labelFr: pt.labelFr ?? pt.label,
      objectType,
      objectTypeName: typeName,
      instance: Number(inst),
      property: prop,
      unit: pt.unit,
      units: pt.units,
      multiplier: pt.scale / 10 ** pt.decimals,
      useFactor: pt.useFactor,
      notAvailable: pt.notAvailable,
      range: pt.range,
      level: pt.level,
      writable: pt.writable,
      priority: pt.priority,
      cov: pt.cov ?? prop === PROP.PRESENT_VALUE,
      description: pt.description,
    };
    if (pt.bits) {
      const seenBits = new Set<number>();
      pt.bits.forEach((b, j) => {
        if (seenBits.has(b.bit)) issues.push({ path: `${path}.bits[${j}].bit`, message: `bit ${b.bit} is named twice` });
        seenBits.add(b.bit);
        const id = `${pt.id}_${b.id}`;
        claim(id, `${path}.bits[${j}]`);
        points.push({
          ...base,
          id,
          label: b.label,
          labelFr: b.labelFr ?? b.label,
          bit: b.bit,
          kind: "digital",
          unit: "",
          multiplier: 1,
          useFactor: false,
          notAvailable: [],
          states: { "0": "OFF", "1": "ON" },
          role: b.role,
          writable: false,
        });
      });
      return;
    }
    claim(pt.id, path);
    if (pt.writable && (typeName === "AI" || typeName === "BI" || typeName === "MSI" || typeName === "BSV"))
      issues.push({ path: `${path}.writable`, message: `${typeName} is an input: its present value is not commandable` });
    points.push({ ...base, id: pt.id, kind: kindOf(typeName, prop, !!pt.states), states: pt.states, statesFr: pt.statesFr, role: pt.role });
  });
  if (issues.length) throw new ConfigError(file, issues);
  return {
    profile: p.profile,
    protocol: "bacnet",
    name: p.name,
    maker: p.maker,
    model: p.model,
    source: p.source,
    vendorId: p.vendorId,
    deviceFactor: p.deviceFactor && { property: propNumber(p.deviceFactor.property), values: p.deviceFactor.values, default: p.deviceFactor.default },
    points,
  };
}

/** Does this parsed YAML document declare a BACnet profile? */
export const isBacnetProfileData = (data: unknown): boolean =>
  typeof data === "object" && data !== null && (data as { protocol?: unknown }).protocol === "bacnet";
