import type { Tag } from "../../config/profile.ts";
import type { SimDevice, SimValue } from "../device.ts";
import { type BusVoltage, DEAD_BUS, NOMINAL_LL, NOMINAL_LN } from "../electrical.ts";
import { hashString, randSigned, smoothNoise } from "../noise.ts";
import type { TickContext } from "./context.ts";

/** Generator states of the generator profile's `state` register. */
const STATE = { OFF: 0, AUTO_STANDBY: 1, STARTING: 2, RUNNING: 3, COOLDOWN: 4, FAULT: 5 } as const;

/**
 * Standby generator: runs while the ATS wants the emergency source or a start request
 * (`generator.command`, the GDP peak-demand request) is set. Its voltage and frequency wander
 * more than the utility's.
 */
export class GeneratorModel {
  running = false;
  startRequest = false;
  private readonly key: number;
  changed: () => void = () => {};

  constructor(
    readonly id: string,
    readonly dev: SimDevice | undefined,
  ) {
    this.key = hashString(`gen:${id}`);
    dev?.onWrite((tag, value) => this.onWrite(tag, value));
    dev?.setRole("generator.command", 0);
  }

  private onWrite(tag: Tag, value: SimValue) {
    if (tag.role !== "generator.command") return;
    this.startRequest = value === 1;
    this.changed();
  }

  update(atsWantsEmergency: boolean): void {
    this.running = atsWantsEmergency || this.startRequest;
  }

  /** Output voltage (dead when stopped). */
  voltage(ctx: TickContext): BusVoltage {
    if (!this.running) return DEAD_BUS;
    const v = 1 + 0.006 * smoothNoise(ctx.seed, this.key, ctx.now, 7_000);
    const f = 60 + 0.12 * smoothNoise(ctx.seed, this.key + 1, ctx.now, 5_000) + 0.02 * randSigned(ctx.seed, this.key, ctx.slot);
    return {
      live: true,
      vln: [NOMINAL_LN * v, NOMINAL_LN * v * 1.002, NOMINAL_LN * v * 0.998],
      vll: [NOMINAL_LL * v * 1.001, NOMINAL_LL * v, NOMINAL_LL * v * 0.999],
      f,
    };
  }

  publish(): void {
    const dev = this.dev;
    if (!dev) return;
    dev.setRole("generator.running", this.running ? 1 : 0);
    dev.set("ready_auto", 1);
    dev.set("alarm", 0);
    dev.set("fault", 0);
    dev.set("state", this.running ? STATE.RUNNING : STATE.AUTO_STANDBY);
  }
}
