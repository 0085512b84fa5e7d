import type { Tag } from "../../config/profile.ts";
import type { SimDevice, SimValue } from "../device.ts";
import { type BusVoltage, DEAD_BUS, type Flow, NO_FLOW, reactiveOf, totalOf, writeElectrical } from "../electrical.ts";
import { hashString, rand01, randSigned } from "../noise.ts";
import type { EnergyCounters } from "./breaker.ts";
import type { TickContext } from "./context.ts";

/**
 * Pulse-input energy meter on a feeder: the accumulated value integrates the feeder's power;
 * writing the reset tag (`meter.reset` = 1) zeroes it and stamps the last-reset date.
 */
export class PulseMeterModel {
  accumulated: number;
  /** Epoch ms of the last reset; 0 = never. */
  lastReset = 0;
  changed: () => void = () => {};

  constructor(
    readonly id: string,
    readonly dev: SimDevice,
    seed: number,
    private readonly clock: () => number,
  ) {
    this.accumulated = Math.round(20_000 + 60_000 * rand01(seed, hashString(`meter:${id}`), 1));
    dev.onWrite((tag, value) => this.onWrite(tag, value));
    dev.set("units_code", 2); // kWh
  }

  private onWrite(tag: Tag, value: SimValue) {
    if (tag.role !== "meter.reset" || value !== 1) return;
    this.accumulated = 0;
    this.lastReset = this.clock();
    this.dev.set(tag.id, 0); // a command register reads back 0 once executed
    this.changed();
  }

  integrate(ctx: TickContext, kw: number): void {
    if (kw > 0) this.accumulated += kw * ctx.dtH;
  }

  publish(): void {
    this.dev.setRole("meter.accumulated", this.accumulated);
    // 0 is the profile's "never reset" sentinel.
    this.dev.set("last_reset", this.lastReset);
  }
}

/**
 * A multifunction meter (the TH40C at the main breaker): mirrors the voltage and flow of the
 * point it is installed at, with its own energy counters and clock. A time set (`time_set`,
 * FC16, also by broadcast) moves the meter clock.
 */
export class MeterModel {
  bus: BusVoltage = DEAD_BUS;
  flow: Flow = NO_FLOW;
  importKwh: number;
  exportKwh: number;
  importKvarh: number;
  exportKvarh = 0;
  /** Meter clock minus wall clock, ms. */
  clockOffsetMs = 0;
  private readonly key: number;

  constructor(
    readonly id: string,
    readonly dev: SimDevice,
    /** What the counters hold at start: those of the breaker or node the meter sits at. */
    initial: EnergyCounters,
  ) {
    this.key = hashString(`meter:${id}`);
    this.importKwh = initial.importKwh;
    this.exportKwh = initial.exportKwh;
    this.importKvarh = Math.round(this.importKwh * 0.35);
    dev.onWrite((tag, value) => {
      if (tag.kind === "datetime" && typeof value === "number" && Number.isFinite(value)) {
        // The value was written in the meter's local time and decoded as UTC fields: the
        // simulator keeps the fields as they were sent, so the clock shows exactly what was set.
        this.clockOffsetMs = value - this.localNow;
      }
    });
  }

  private localNow = 0;

  integrate(ctx: TickContext): void {
    const p = totalOf(this.flow);
    if (p > 0) this.importKwh += p * ctx.dtH;
    else this.exportKwh -= p * ctx.dtH;
    this.importKvarh += reactiveOf(this.flow) * ctx.dtH;
  }

  publish(ctx: TickContext): void {
    const dev = this.dev;
    writeElectrical(dev, this.bus, this.flow, (k) => randSigned(ctx.seed, this.key + k, ctx.slot));
    dev.setRole("energy.total", this.importKwh);
    dev.set("energy_export", this.exportKwh);
    dev.set("reactive_energy_import", this.importKvarh);
    dev.set("reactive_energy_export", this.exportKvarh);
    // Clock registers in site-local time (one integer per register).
    this.localNow = ctx.local.getTime();
    const c = new Date(this.localNow + this.clockOffsetMs);
    dev.set("clock_year", c.getUTCFullYear());
    dev.set("clock_month", c.getUTCMonth() + 1);
    dev.set("clock_day", c.getUTCDate());
    dev.set("clock_hour", c.getUTCHours());
    dev.set("clock_minute", c.getUTCMinutes());
    dev.set("clock_second", c.getUTCSeconds());
  }
}
