import * as z from "zod";
import { validAddressPattern } from "../auth/addresses.ts";

/**
 * The `bacnetServer:` site section: Busbar as a BACnet/IP device for the building's BMS.
 * Validated with the rest of the site file (config/site.ts); cross-checks against devices are in
 * `bacnetServerIssues`.
 */

const int = (min: number, max: number) =>
  z.number({ error: "must be a number" }).int("must be a whole number").min(min, `must be ${min}..${max}`).max(max, `must be ${min}..${max}`);

/**
 * Busbar has no vendor identifier registered with ASHRAE. 0 is ASHRAE's own and every other number
 * up to ~1600 belongs to a real manufacturer (a BMS would show Busbar as theirs), so the default is
 * 65535, the top of the Unsigned16 range and far from any assignment: honest "unregistered". A site
 * (or a future registration) sets its own with `vendorId`.
 */
export const DEFAULT_VENDOR_ID = 65535;

export const OBJECT_KINDS = ["analog-input", "analog-value", "binary-input", "binary-value", "multi-state-input", "multi-state-value", "datetime-value"] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

/**
 * The object types that can serve a point, from what it is (the same rule as the generated
 * defaults, objects.ts): a date-time only as a DateTime Value; a two-state point (states 0 and 1)
 * as binary or multi-state; more states as multi-state; anything else as analog. A `type` outside
 * these would serve a wrong value (an analog as INACTIVE/ACTIVE), so the site file is refused.
 */
export function objectKindsFor(p: { kind?: string; states?: Record<string, string> }): ObjectKind[] {
  if (p.kind === "datetime") return ["datetime-value"];
  const keys = Object.keys(p.states ?? {}).map(Number);
  if (keys.length && keys.every((k) => k === 0 || k === 1)) return ["binary-input", "binary-value", "multi-state-input", "multi-state-value"];
  if (keys.length) return ["multi-state-input", "multi-state-value"];
  return ["analog-input", "analog-value"];
}
export const isInputKind = (k: ObjectKind): boolean => k.endsWith("-input") || k === "datetime-value";

/** One served object: overrides a default (same `point`) or adds one. */
export const bacnetObjectSchema = z
  .object({
    /** `DEVICE.tag` the object serves. */
    point: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_\-]*\.[A-Za-z][A-Za-z0-9_]*$/, "must be DEVICE.tag"),
    /** Drop this default object. */
    remove: z.boolean().default(false),
    type: z.enum(OBJECT_KINDS).optional(),
    /** Instance asked for a NEW object (existing ones keep theirs: BMS programs reference them). */
    instance: int(0, 4_194_302).optional(),
    name: z.string().min(1).max(64).optional(),
    description: z.string().max(255).optional(),
    /** The BMS may write it (a commandable value object relayed to the device). */
    writable: z.boolean().optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    /** Relinquish_Default of a commandable object (kept in the database once written by the BMS). */
    relinquishDefault: z.number().optional(),
    /** Analog change that triggers a COV notification. */
    covIncrement: z.number().positive().optional(),
    outOfService: z.boolean().default(false),
  })
  .strict();
export type BacnetObjectConfig = z.output<typeof bacnetObjectSchema>;

export const bacnetServerSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Device object instance: unique on the building's BACnet internetwork. */
    instance: int(0, 4_194_302),
    name: z.string().min(1).max(64).default("Busbar"),
    location: z.string().max(255).default(""),
    description: z.string().max(255).default("Busbar electrical room"),
    port: int(1, 65535).default(47808),
    /** Local interface: an interface name (eth0) or an IPv4 address; default all addresses. */
    interface: z.string().min(1).optional(),
    /** Where broadcasts (I-Am, I-Have) go; default the interface's directed broadcast. */
    broadcast: z.string().min(1).optional(),
    /** Port broadcasts go to; default `port`. */
    broadcastPort: int(1, 65535).optional(),
    vendorId: int(0, 65535).default(DEFAULT_VENDOR_ID),
    /** Foreign-device registration with a BBMD (the BMS on another IP subnet). */
    bbmd: z
      .object({ host: z.string().min(1), port: int(1, 65535).default(47808), ttlSeconds: int(30, 65535).default(600) })
      .strict()
      .optional(),
    /** Client addresses (IPv4, optionally /prefix) that may write; everyone else reads only. */
    writeClients: z.array(z.string().refine(validAddressPattern, "must be an IP address or an IPv4 address/prefix")).default([]),
    /** Generate the site point list's objects (seed site-point-list.fr.txt) for the site's devices. */
    defaults: z.boolean().default(true),
    objects: z.array(bacnetObjectSchema).default([]),
    maxSubscriptions: int(1, 10_000).default(256),
    /** Confirmed COV notifications: wait per attempt, and attempts after the first. */
    apduTimeoutMs: int(100, 60_000).default(3000),
    apduRetries: int(0, 10).default(3),
  })
  .strict();
export type BacnetServerConfig = z.output<typeof bacnetServerSchema>;
