/**
 * The site's energy structure (vendor manual §7.15.2): circuits (load categories), zones (a device
 * may be in several, up to 5 as on the vendor's server), panels (distribution boards), and the
 * meters: which counter point each reads and where it sits. The head meter is the site's total;
 * the meters directly under it are the breakdown by circuit, and the rest is its own line, the
 * "unmetered remainder" (head − Σ sub-meters counted). A meter whose consumption another counted
 * meter already holds (a check meter, a meter under a feeder) is excluded from totals.
 *
 * One validator for the site file (`energy:` section) and the admin page, every issue with its path.
 */
import * as z from "zod";
import type { ConfigIssue } from "../config/validation.ts";
import { costSchema, validateTariffs } from "./tariffs.ts";
import { toBase, type Commodity } from "./units.ts";

/** Load categories every site has (the vendor's pre-configured RT 2012 ones, as a product would name them). */
export const BUILTIN_CIRCUITS = [
  { id: "lighting", label: "Lighting", labelFr: "Éclairage" },
  { id: "hvac", label: "HVAC", labelFr: "CVC" },
  { id: "sockets", label: "Sockets", labelFr: "Prises" },
  { id: "ev", label: "EV charging", labelFr: "Recharge VÉ" },
  { id: "process", label: "Process", labelFr: "Procédé" },
  { id: "other", label: "Other", labelFr: "Autres" },
] as const;

const id = z.string().regex(/^[A-Za-z0-9_.:-]+$/, "letters, digits, _ . : - only");
const named = z.object({ id, label: z.string().min(1), labelFr: z.string().optional(), description: z.string().optional() }).strict();

export const meterSchema = z
  .object({
    id,
    /** The counter point, `DEVICE.tag` (an energy register or a pulse meter's accumulated value). */
    point: z.string().regex(/^[^.\s]+\.[^.\s]+$/, "DEVICE.tag"),
    label: z.string().optional(),
    /** Water or gas, for a meter in m³ or L (electricity follows from Wh/kWh/MWh). */
    commodity: z.enum(["electricity", "gas", "water"]).optional(),
    circuit: id.default("other"),
    zones: z.array(id).max(5, "a meter is in at most 5 zones").default([]),
    panel: id.optional(),
    /** The meter whose consumption already includes this one's. */
    parent: id.optional(),
    /**
     * Left out of circuit totals. Default: the head's direct sub-meters count (they ARE the
     * breakdown, the head's remainder is the rest); a meter under a sub-meter does not (it would
     * be counted twice).
     */
    excludeFromTotals: z.boolean().optional(),
    /** The site's head meter for its commodity: the site total, instantaneous kW and billed demand. */
    head: z.boolean().default(false),
    /** Highest plausible power (kW; m³/h for water and gas): rises above it × time are bad data. */
    ratingKw: z.number().positive().optional(),
    /** The register wraps: its width in bits (× the point's scale) or its maximum. */
    rollover: z.union([z.object({ bits: z.number().int().min(8).max(64), scale: z.number().positive().default(1) }).strict(), z.object({ max: z.number().positive() }).strict()]).optional(),
    /** Recorded by an admin: old meter's final reading, new meter's first reading. */
    replacements: z.array(z.object({ at: z.string().datetime({ offset: true }), oldFinal: z.number(), newFirst: z.number() }).strict()).default([]),
    /** The meter's reset write and "date/time of last reset" points (pulse meters). */
    resetPoint: z.string().optional(),
    lastResetPoint: z.string().optional(),
    unitsCodePoint: z.string().optional(),
  })
  .strict();

export const energySchema = z
  .object({
    circuits: z.array(named).max(14 + BUILTIN_CIRCUITS.length).default([]),
    zones: z.array(named).default([]),
    panels: z.array(named).default([]),
    meters: z.array(meterSchema).default([]),
    costs: z.array(costSchema).default([]),
  })
  .strict();

export type EnergyConfig = z.output<typeof energySchema>;
export type MeterConfig = z.output<typeof meterSchema>;

/** What the validator needs to know of the site: each `DEVICE.tag` and its unit. */
export type PointUnits = (point: string) => { unit: string } | undefined | "no-device" | "no-tag";

export interface ResolvedMeter extends MeterConfig {
  commodity: Commodity;
  /** Register unit → kWh or m³. */
  factor: number;
  excluded: boolean;
  rolloverAt?: number;
}

export function circuitsOf(e: EnergyConfig): { id: string; label: string; labelFr?: string }[] {
  const own = new Map(e.circuits.map((c) => [c.id, c]));
  return [...BUILTIN_CIRCUITS.map((b) => own.get(b.id) ?? b), ...e.circuits.filter((c) => !BUILTIN_CIRCUITS.some((b) => b.id === c.id))];
}

/** Cross-checks the structure; every issue with its path under `prefix`. Warnings never block. */
export function validateEnergy(e: EnergyConfig, units: PointUnits, prefix = "energy"): { errors: ConfigIssue[]; warnings: ConfigIssue[]; meters: ResolvedMeter[] } {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const p = (s: string) => `${prefix}.${s}`;
  const dupes = (list: { id: string }[], what: string) => {
    const seen = new Set<string>();
    list.forEach((x, i) => {
      if (seen.has(x.id)) errors.push({ path: p(`${what}[${i}].id`), message: `duplicate id "${x.id}"` });
      seen.add(x.id);
    });
    return seen;
  };
  const circuits = new Set(circuitsOf(e).map((c) => c.id));
  dupes(e.circuits, "circuits");
  const zones = dupes(e.zones, "zones");
  const panels = dupes(e.panels, "panels");
  const meters = dupes(e.meters, "meters");
  const out: ResolvedMeter[] = [];
  const heads = new Map<Commodity, string>();
  e.meters.forEach((m, i) => {
    const mp = p(`meters[${i}]`);
    const u = units(m.point);
    let commodity: Commodity = "electricity";
    let factor = 1;
    if (u === "no-device") errors.push({ path: `${mp}.point`, message: `no device "${m.point.split(".")[0]}"` });
    else if (u === "no-tag" || u === undefined) errors.push({ path: `${mp}.point`, message: `no point "${m.point}"` });
    else {
      const b = toBase(u.unit);
      if (!b) errors.push({ path: `${mp}.point`, message: `${m.point} is in "${u.unit}", not a consumption unit (Wh, kWh, MWh, m³, L)` });
      else {
        factor = b.factor;
        commodity = b.base === "kWh" ? "electricity" : (m.commodity ?? "water");
        if (m.commodity && (m.commodity === "electricity") !== (b.base === "kWh")) errors.push({ path: `${mp}.commodity`, message: `${m.point} is in "${u.unit}": not ${m.commodity}` });
      }
    }
    for (const k of ["resetPoint", "lastResetPoint", "unitsCodePoint"] as const) {
      const ref = m[k];
      if (ref && typeof units(ref) === "string") errors.push({ path: `${mp}.${k}`, message: `no point "${ref}"` });
    }
    if (!circuits.has(m.circuit)) errors.push({ path: `${mp}.circuit`, message: `no circuit "${m.circuit}" (circuits: ${[...circuits].join(", ")})` });
    m.zones.forEach((z, k) => {
      if (!zones.has(z)) errors.push({ path: `${mp}.zones[${k}]`, message: `no zone "${z}"` });
    });
    if (m.panel && !panels.has(m.panel)) errors.push({ path: `${mp}.panel`, message: `no panel "${m.panel}"` });
    if (m.parent && !meters.has(m.parent)) errors.push({ path: `${mp}.parent`, message: `no meter "${m.parent}"` });
    if (m.parent === m.id) errors.push({ path: `${mp}.parent`, message: "a meter cannot be its own parent" });
    if (m.head) {
      if (heads.has(commodity)) errors.push({ path: `${mp}.head`, message: `two head meters for ${commodity} (also ${heads.get(commodity)})` });
      heads.set(commodity, m.id);
      if (m.parent) errors.push({ path: `${mp}.parent`, message: "the head meter has no parent" });
    }
    const rolloverAt = m.rollover ? ("max" in m.rollover ? m.rollover.max : 2 ** m.rollover.bits * m.rollover.scale) : undefined;
    out.push({ ...m, commodity, factor, excluded: m.excludeFromTotals ?? false, rolloverAt });
  });
  // Parent chains must end: a loop would count a meter inside itself.
  const byId = new Map(out.map((m) => [m.id, m]));
  out.forEach((m, i) => {
    const seen = new Set<string>([m.id]);
    let cur = m.parent ? byId.get(m.parent) : undefined;
    while (cur) {
      if (seen.has(cur.id)) {
        errors.push({ path: p(`meters[${i}].parent`), message: `parent chain loops (${[...seen].join(" → ")} → ${cur.id})` });
        break;
      }
      seen.add(cur.id);
      cur = cur.parent ? byId.get(cur.parent) : undefined;
    }
    const parent = m.parent ? byId.get(m.parent) : undefined;
    if (e.meters[i]!.excludeFromTotals === undefined) m.excluded = !!parent && !parent.head;
    if (parent && parent.commodity !== m.commodity) errors.push({ path: p(`meters[${i}].parent`), message: `${m.parent} meters ${parent.commodity}, ${m.id} ${m.commodity}` });
  });
  const commodities = new Set<string>();
  e.costs.forEach((c, i) => {
    if (commodities.has(c.commodity)) errors.push({ path: p(`costs[${i}].commodity`), message: `a second cost set for ${c.commodity}` });
    commodities.add(c.commodity);
    const r = validateTariffs(c, p(`costs[${i}]`));
    errors.push(...r.errors);
    warnings.push(...r.warnings);
  });
  if (out.length && !heads.size) warnings.push({ path: p("meters"), message: "no head meter: the site total is the sum of meters not excluded, and there is no demand or remainder line" });
  return { errors, warnings, meters: out };
}

/**
 * The demo's reference building: the TH40C at the service entrance is the head (the utility's
 * meter, billed for demand); the 14 feeders' trip units sit under it, each in a load category; the
 * three pulse meters sub-meter feeders 2B6, 2B11 and 2B12, so they are left out of totals.
 * Categories are read from the feeders' panel names (PE = éclairage, PP = prises, CDS = CVC, PRA
 * = recharge, PS = secours/procédé): a guess to be checked on site, as any commissioning would.
 */
export const DEMO_FEEDERS: { id: string; circuit: string; zones: string[] }[] = [
  { id: "2B1", circuit: "sockets", zones: ["building"] },
  { id: "2B2", circuit: "hvac", zones: ["building", "mechanical"] },
  { id: "2B3", circuit: "hvac", zones: ["building", "mechanical"] },
  { id: "2B4", circuit: "hvac", zones: ["building", "mechanical"] },
  { id: "2B5", circuit: "sockets", zones: ["building"] },
  { id: "2B6", circuit: "lighting", zones: ["building"] },
  { id: "2B7", circuit: "process", zones: ["emergency"] },
  { id: "2B8", circuit: "storage", zones: ["mechanical"] },
  { id: "2B9", circuit: "sockets", zones: ["building"] },
  { id: "2B10", circuit: "sockets", zones: ["building", "emergency"] },
  { id: "2B11", circuit: "sockets", zones: ["building"] },
  { id: "2B12", circuit: "process", zones: ["emergency"] },
  { id: "2B13", circuit: "ev", zones: ["parking"] },
  { id: "4B1", circuit: "process", zones: ["building"] },
];
