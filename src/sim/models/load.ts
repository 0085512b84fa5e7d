import { dailyShape, hashString, rand01, randSigned, smoothNoise } from "../noise.ts";
import type { Flow } from "../electrical.ts";
import type { TickContext } from "./context.ts";

/**
 * A feeder's load: a per-feeder peak (kW) shaped by the time of day, with slow drift (HVAC cycles,
 * occupancy) and a little fast jitter; a fixed phase imbalance and power factor per feeder.
 * Everything is a pure function of (seed, feeder id, wall-clock time).
 */
export class FeederLoad {
  readonly key: number;
  /** Peak kW on a working day. */
  readonly peakKw: number;
  readonly pf: number;
  private readonly split: [number, number, number];

  constructor(
    readonly id: string,
    seed: number,
    peakKw?: number,
  ) {
    this.key = hashString(`load:${id}`);
    this.peakKw = peakKw ?? Math.round(8 + 32 * rand01(seed, this.key, 1));
    this.pf = 0.86 + 0.1 * rand01(seed, this.key, 2);
    const a = 1 + 0.06 * randSigned(seed, this.key, 3);
    const b = 1 + 0.06 * randSigned(seed, this.key, 4);
    const c = 3 - a - b;
    this.split = [a / 3, b / 3, c / 3];
  }

  /** Total kW at the tick's time. */
  power(ctx: TickContext): number {
    const shape = dailyShape(ctx.hour, ctx.weekend);
    const drift = 0.08 * smoothNoise(ctx.seed, this.key, ctx.now, 300_000) + 0.04 * smoothNoise(ctx.seed, this.key ^ 0x5bd1e995, ctx.now, 45_000);
    const jitter = 0.012 * randSigned(ctx.seed, this.key, ctx.slot);
    return Math.max(0, this.peakKw * shape * (1 + drift + jitter));
  }

  flow(ctx: TickContext): Flow {
    const p = this.power(ctx);
    return { p: [p * this.split[0], p * this.split[1], p * this.split[2]], pf: this.pf };
  }
}
