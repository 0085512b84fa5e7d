import type { SimDevice } from "../device.ts";
import { hashString, rand01, randSigned } from "../noise.ts";
import type { TickContext } from "./context.ts";

/** Modes of the BESS profile (dispatch_mode, p_control_mode registers). */
const DISPATCH = { MANUAL: 0, PEAK_SHAVING: 1, SCHEDULE: 2, BACKUP: 3 } as const;
const P_CONTROL = { LOCAL: 0, REMOTE_SETPOINT: 1 } as const;

export interface BessOptions {
  capacityKwh?: number;
  maxKw?: number;
  /** How fast the power follows its target (the PCS's ramp), kW per real second. */
  rampKwPerS?: number;
}

/**
 * Battery system. Power sign: positive = discharge. The power follows the written setpoint
 * (`p_setpoint`) in REMOTE SETPOINT control or MANUAL dispatch; otherwise its own dispatch:
 * peak shaving (discharge what the building draws above the shedding setpoint, recharge at night),
 * schedule (charge 00-06 h, discharge 16-20 h) or backup (stay charged). SOC integrates the power
 * and is held within 5..95 %; the power drops to 0 at the limits, with the contactor open, or
 * when its feeder is open.
 */
export class BessModel {
  soc: number;
  soh: number;
  power = 0;
  readonly capacityKwh: number;
  readonly maxKw: number;
  readonly rampKwPerS: number;
  /** A BESS fault (tests, simulation controls): no power, FAULT state and the fault bit. */
  fault = false;
  private readonly key: number;

  constructor(
    readonly id: string,
    readonly dev: SimDevice,
    seed: number,
    opts: BessOptions = {},
  ) {
    this.key = hashString(`bess:${id}`);
    this.capacityKwh = opts.capacityKwh ?? 500;
    this.maxKw = opts.maxKw ?? 250;
    this.rampKwPerS = opts.rampKwPerS ?? 1000;
    this.soc = 55 + 25 * rand01(seed, this.key, 1);
    this.soh = 96 + 3 * rand01(seed, this.key, 2);
    // Writable registers start at plausible values (a master may change them).
    const init: [string, number][] = [
      ["contactor", 1],
      ["dispatch_mode", DISPATCH.PEAK_SHAVING],
      ["p_control_mode", P_CONTROL.LOCAL],
      ["sub_control_dc", 1],
      ["sub_control_ac", 1],
      ["dc_control_mode", 1],
      ["p_setpoint", 0],
      ["q_setpoint", 0],
      ["pf_setpoint", 1],
      ["max_charge_current", 300],
      ["max_discharge_current", 300],
      ["dc_current_setpoint", 0],
      ["dc_power_setpoint", 0],
    ];
    for (const [id, v] of init) dev.set(id, v);
  }

  private num(tagId: string, dflt: number): number {
    const v = this.dev.get(tagId);
    return typeof v === "number" && Number.isFinite(v) ? v : dflt;
  }

  /** Chooses the power for this tick and integrates the SOC. */
  update(ctx: TickContext, buildingKw: number, shedSetpointKw: number, connected: boolean): void {
    let target: number;
    const control = this.num("p_control_mode", P_CONTROL.LOCAL);
    const dispatch = this.num("dispatch_mode", DISPATCH.PEAK_SHAVING);
    if (control === P_CONTROL.REMOTE_SETPOINT || dispatch === DISPATCH.MANUAL) {
      target = this.num("p_setpoint", 0);
    } else if (dispatch === DISPATCH.PEAK_SHAVING) {
      const over = buildingKw - shedSetpointKw;
      if (over > 0) target = over;
      else if (ctx.hour < 6 && this.soc < 90) target = -0.3 * this.maxKw;
      else target = 0;
    } else if (dispatch === DISPATCH.SCHEDULE) {
      target = ctx.hour < 6 ? -0.4 * this.maxKw : ctx.hour >= 16 && ctx.hour < 20 ? 0.6 * this.maxKw : 0;
    } else {
      target = this.soc < 94 ? -0.2 * this.maxKw : 0; // BACKUP: keep it full
    }
    if (!connected || this.fault || this.num("contactor", 1) !== 1) target = 0;
    // Power limits: the rating, and the current limits at the present DC voltage.
    const vdc = 700 + 1.6 * this.soc;
    const maxDis = Math.min(this.maxKw, (this.num("max_discharge_current", 300) * vdc) / 1000);
    const maxChg = Math.min(this.maxKw, (this.num("max_charge_current", 300) * vdc) / 1000);
    target = Math.max(-maxChg, Math.min(maxDis, target));
    const atLimit = (target > 0 && this.soc <= 5) || (target < 0 && this.soc >= 95);
    if (atLimit) target = 0;
    // The PCS ramps toward its target; a trip (no connection, fault, contactor, SOC limit) is immediate.
    const trip = atLimit || !connected || this.fault || this.num("contactor", 1) !== 1;
    const step = this.rampKwPerS * (ctx.dtMs / 1000);
    if (!trip) target = this.power + Math.max(-step, Math.min(step, target - this.power));
    // Charging stores 95 % of what it draws.
    const dE = target > 0 ? target * ctx.dtH : target * ctx.dtH * 0.95;
    this.soc = Math.max(5, Math.min(95, this.soc - (dE / this.capacityKwh) * 100));
    this.power = target;
  }

  publish(ctx: TickContext): void {
    const dev = this.dev;
    const vdc = 700 + 1.6 * this.soc - (this.power / this.maxKw) * 12 + 0.3 * randSigned(ctx.seed, this.key, ctx.slot);
    dev.setRole("bess.soc", this.soc);
    dev.setRole("bess.soh", this.soh);
    dev.setRole("bess.power", this.power);
    dev.set("voltage", vdc);
    dev.set("current", (this.power * 1000) / vdc);
    dev.set("dc_output_voltage", vdc);
    dev.set("dc_max_output_voltage", 900);
    const on = this.num("contactor", 1) === 1;
    dev.set("ac_group_on", on ? 1 : 0);
    dev.set("ac_group_startup", this.fault ? 3 : on ? 2 : 0);
    dev.set("grid_mode", 0);
    dev.set("dc_aux_relay", on ? 1 : 0);
    dev.set("ambient_temp_fault", this.fault ? 1 : 0);
    dev.set("ambient_humidity_fault", 0);
  }
}
