import * as z from "zod";

/**
 * The historian's part of the site file (`historian:` and `backup:`). Everything has a default that
 * suits the demo; a site overrides per device or per point.
 *
 *   historian:
 *     deadband: "0.5%"          # analog default: percent of the tag's range (or an absolute number)
 *     heartbeatS: 900           # store the value at least this often, even when it does not move
 *     points:                   # overrides, the most specific wins (point over device)
 *       - { device: 5B1, deadband: 0.1 }
 *       - { point: 5B1.p_total, deadband: "0.2%", heartbeatS: 60 }
 *       - { point: TH40C.freq, store: false }
 *     retention: { rawDays: 30, minuteDays: 90, quarterDays: 3650, hourDays: forever, dayDays: forever, monthDays: forever }
 *   backup: { folder: /var/backups/busbar, everyHours: 24, keep: 7 }
 */

const deadband = z.union(
  [z.number().min(0, "must be ≥ 0"), z.string().regex(/^\d+(\.\d+)?\s*%$/, 'must be a number or a percentage such as "0.5%"')],
  { error: 'must be a number or a percentage such as "0.5%"' },
);
const days = z.union([z.number().positive("must be > 0 days"), z.literal("forever")], { error: 'must be a number of days or "forever"' });

const overrideSchema = z
  .object({
    device: z.string().min(1).optional(),
    point: z.string().regex(/^[^.]+\..+$/, "must be DEVICE.tag").optional(),
    deadband: deadband.optional(),
    heartbeatS: z.number().min(1).max(86_400).optional(),
    /** false: this point is not historized at all. */
    store: z.boolean().optional(),
  })
  .strict()
  .refine((o) => (o.device === undefined) !== (o.point === undefined), "give either device or point");

export const historianSchema = z
  .object({
    enabled: z.boolean().default(true),
    deadband: deadband.default("0.5%"),
    heartbeatS: z.number().min(1).max(86_400).default(900),
    points: z.array(overrideSchema).default([]),
    retention: z
      .object({
        rawDays: days.default(30),
        minuteDays: days.default(90),
        quarterDays: days.default(3650),
        hourDays: days.default("forever"),
        dayDays: days.default("forever"),
        monthDays: days.default("forever"),
      })
      .strict()
      .prefault({}),
    /** Samples held in memory while the database is busy; beyond it the oldest are dropped (counted, journaled). */
    queueMax: z.number().int().min(1000).max(10_000_000).default(100_000),
  })
  .strict();

export const backupSchema = z
  .object({
    folder: z.string().min(1),
    everyHours: z.number().min(0.1).max(24 * 31).default(24),
    keep: z.number().int().min(1).max(1000).default(7),
  })
  .strict();

export type HistorianConfig = z.output<typeof historianSchema>;
export type BackupConfig = z.output<typeof backupSchema>;
export const DEFAULT_HISTORIAN: HistorianConfig = historianSchema.parse({});

/** A deadband as the site file says it: absolute, or a fraction of the range. */
export function parseDeadband(d: number | string): { abs: number } | { pct: number } {
  if (typeof d === "number") return { abs: d };
  return { pct: Number(d.replace("%", "").trim()) / 100 };
}

export function retentionMs(d: number | "forever"): number {
  return d === "forever" ? Infinity : d * 86_400_000;
}
