import type { Tag } from "../../config/profile.ts";
import type { SimDevice, SimValue } from "../device.ts";
import { type BusVoltage, DEAD_BUS, type Flow, NO_FLOW, reactiveOf, totalOf, writeElectrical } from "../electrical.ts";
import { hashString, randSigned } from "../noise.ts";
import type { TickContext } from "./context.ts";

/** Energy counters (kWh) of a breaker or meter. */
export interface EnergyCounters {
  importKwh: number;
  exportKwh: number;
}

/**
 * A breaker with its trip unit: open / closed / tripped state, the flow through it, energy
 * counters. `breaker.command` writes 0 = open, 1 = close (a close also resets a trip);
 * `trip()` opens it with the tripped indication (SD, and SDE for an electrical fault).
 */
export class BreakerModel {
  closed = true;
  tripped = false;
  /** Tripped on an electrical fault (SDE) rather than a shunt / push-to-trip (SD only). */
  fault = false;
  /** Line-side voltage (what the trip unit measures) and the flow through the breaker. */
  bus: BusVoltage = DEAD_BUS;
  flow: Flow = NO_FLOW;
  /** kWh delivered (top to bottom) and received. */
  energyIn: number;
  energyOut: number;
  private readonly key: number;

  constructor(
    readonly id: string,
    readonly dev: SimDevice | undefined,
    /** What the counters hold at start (seeded by the simulator, consistent across the topology). */
    initial: EnergyCounters,
  ) {
    this.key = hashString(`breaker:${id}`);
    this.energyIn = initial.importKwh;
    this.energyOut = initial.exportKwh;
    if (dev) {
      dev.onWrite((tag, value) => this.onWrite(tag, value));
      dev.set("status_validity", 0x003f);
      dev.set("spring_charged", 1);
    }
  }

  /** Set by the simulator whenever the state changes, to republish at once. */
  changed: () => void = () => {};

  private onWrite(tag: Tag, value: SimValue) {
    if (tag.role !== "breaker.command") return;
    // The command register reads back the last command; states are checked by SimDevice (0/1 only).
    this.setClosed(value === 1);
    this.changed();
  }

  setClosed(closed: boolean): void {
    this.closed = closed;
    if (closed) {
      this.tripped = false;
      this.fault = false;
    }
  }

  trip(fault = true): void {
    this.closed = false;
    this.tripped = true;
    this.fault = fault;
  }

  /** Integrates the energy counters over the tick (call after `flow` is set). */
  integrate(ctx: TickContext): void {
    const p = totalOf(this.flow);
    if (p > 0) this.energyIn += p * ctx.dtH;
    else this.energyOut -= p * ctx.dtH;
  }

  publish(ctx: TickContext): void {
    const dev = this.dev;
    if (!dev) return;
    // Bits first, then the roles sharing the status register (tripped covers SD+SDE, fault = SDE).
    dev.setRole("breaker.closed", this.closed ? 1 : 0);
    dev.setRole("breaker.tripped", this.tripped ? 1 : 0);
    // The tripped role's mask covers SD|SDE: writing 1 set both; SDE stays only for a fault trip.
    dev.set("tripped_fault", this.tripped && this.fault ? 1 : 0);
    dev.set("ready_to_close", !this.closed && !this.tripped ? 1 : 0);
    writeElectrical(dev, this.bus, this.closed ? this.flow : NO_FLOW, (k) => randSigned(ctx.seed, this.key + k, ctx.slot));
    dev.setRole("energy.total", this.energyIn);
    dev.set("energy_export", this.energyOut);
  }

  /** kvar through the breaker (for meters mirroring it). */
  reactive(): number {
    return reactiveOf(this.flow);
  }
}
