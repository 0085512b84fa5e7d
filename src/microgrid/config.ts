import * as z from "zod";
import { DEFAULT_SHED_CONFIG, SITE_LIST_TABLE, tableProblem } from "./shedding.ts";

/**
 * The site file's `microgrid:` section. Absent: no microgrid control. Every number has the site
 * point list's default, so `microgrid: {}` runs the list's table against 250 kW from 5B1 → TH40C.
 */
const row = z.object({ excessKw: z.number(), signal: z.number().min(0).max(100) }).strict();

export const microgridSchema = z
  .object({
    /** Building kW sources in order of preference: the first with a good value is used (fallback shown). */
    power: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_\-]*\.[A-Za-z][A-Za-z0-9_]*$/, "must be DEVICE.tag")).min(1).default(["5B1.p_total", "TH40C.p_total"]),
    setpointKw: z.number().min(0).max(100_000).default(250),
    gdpSetpointKw: z.number().min(0).max(100_000).default(200),
    /** What the table compares with the setpoint: instantaneous kW (site list), or the block's projection. */
    basis: z.enum(["instant", "projected"]).default("instant"),
    shedding: z
      .object({
        table: z.array(row).default(SITE_LIST_TABLE),
        hysteresisKw: z.number().min(0).default(DEFAULT_SHED_CONFIG.hysteresisKw),
        holdUpS: z.number().min(0).max(3600).default(DEFAULT_SHED_CONFIG.holdUpS),
        holdDownS: z.number().min(0).max(3600).default(DEFAULT_SHED_CONFIG.holdDownS),
        direction: z.enum(["permit", "shed"]).default("permit"),
        secondStageExcessKw: z.number().optional(),
        secondStageDelayS: z.number().min(0).max(3600).default(DEFAULT_SHED_CONFIG.secondStageDelayS),
      })
      .strict()
      .prefault({})
      .superRefine((s, ctx) => {
        const p = tableProblem(s.table);
        if (p) ctx.addIssue({ code: "custom", path: ["table"], message: p });
      }),
    /** GDP event schedule entries in the site file (start/end ISO 8601), beside those set from the page. */
    bess: z
      .object({
        device: z.string().min(1),
        /** Busbar writes the BESS's p_setpoint only when this is true. */
        control: z.boolean().default(false),
        socReserve: z.number().min(0).max(100).default(20),
        maxKw: z.number().positive().default(250),
        marginKw: z.number().min(0).default(5),
        /** A written setpoint is repeated only when it moves this much (or after keepaliveS). */
        deadbandKw: z.number().min(0).default(2),
        keepaliveS: z.number().min(1).default(30),
      })
      .strict()
      .optional(),
  })
  .strict();

export type MicrogridConfig = z.output<typeof microgridSchema>;
