import type { Tag } from "../../config/profile.ts";
import type { SimDevice, SimValue } from "../device.ts";
import { type BusVoltage, DEAD_BUS, type Flow, NO_FLOW, writeElectrical } from "../electrical.ts";
import { hashString, randSigned } from "../noise.ts";
import type { TickContext } from "./context.ts";

/**
 * Automatic transfer switch. It wants the emergency source when commanded (API or `ats.command`
 * 1 = transfer, 2 = retransfer) or when the normal source is lost; it transfers once the
 * emergency source has voltage (the generator runs while the ATS wants it), and retransfers as soon
 * as it is no longer wanted and the normal source is back.
 */
export class AtsModel {
  position: "normal" | "emergency" = "normal";
  /** Transfer requested by a command (as opposed to a normal-source loss). */
  commanded = false;
  utilityAvailable = true;
  /** Voltage of the selected source and the load flow through the switch. */
  bus: BusVoltage = DEAD_BUS;
  flow: Flow = NO_FLOW;
  private readonly key: number;
  changed: () => void = () => {};

  constructor(
    readonly id: string,
    readonly dev: SimDevice | undefined,
  ) {
    this.key = hashString(`ats:${id}`);
    dev?.onWrite((tag, value) => this.onWrite(tag, value));
  }

  private onWrite(tag: Tag, value: SimValue) {
    if (tag.role !== "ats.command") return;
    if (value === 1) this.commanded = true;
    else if (value === 2) this.commanded = false;
    this.changed();
  }

  /** True while the switch wants the emergency source (the generator must run). */
  wantsEmergency(): boolean {
    return this.commanded || !this.utilityAvailable;
  }

  /** Moves the switch given the sources' state. */
  update(emergencyLive: boolean): void {
    if (this.wantsEmergency()) {
      if (emergencyLive) this.position = "emergency";
    } else if (this.utilityAvailable) {
      this.position = "normal";
    }
  }

  publish(ctx: TickContext, emergencyLive: boolean): void {
    const dev = this.dev;
    if (!dev) return;
    dev.setRole("ats.normal", this.position === "normal" ? 1 : 0);
    dev.setRole("ats.emergency", this.position === "emergency" ? 1 : 0);
    dev.set("normal_available", this.utilityAvailable ? 1 : 0);
    dev.set("emergency_available", emergencyLive ? 1 : 0);
    dev.set("ats_alarm", this.utilityAvailable ? 0 : 1);
    writeElectrical(dev, this.bus, this.flow, (k) => randSigned(ctx.seed, this.key + k, ctx.slot));
  }
}
