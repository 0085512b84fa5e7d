import type { SimDevice } from "../device.ts";
import { hashString, rand01 } from "../noise.ts";
import type { TickContext } from "./context.ts";

const MONTH_IDS = [
  "consumption_jan",
  "consumption_feb",
  "consumption_mar",
  "consumption_apr",
  "consumption_may",
  "consumption_jun",
  "consumption_jul",
  "consumption_aug",
  "consumption_sep",
  "consumption_oct",
  "consumption_nov",
  "consumption_dec",
];
/** Québec buildings heat with electricity: winter months weigh more. */
const MONTH_WEIGHT = [1.35, 1.3, 1.15, 0.95, 0.8, 0.75, 0.8, 0.8, 0.8, 0.95, 1.1, 1.3];
const WINDOW_S = 15 * 60;

/**
 * Microgrid / load-shedding controller: instantaneous building kW, its 15-minute mean, monthly
 * consumption, and the shedding signal computed against the writable setpoint (default 250 kW).
 * Signal per the site point list: below setpoint + 10 kW → 100 %, then 10 % less per 5 kW above
 * (+15 kW → 90 % … +60 kW → 0 %).
 */
export class MicrogridModel {
  /** kWh per month of the current year, January first. */
  readonly months: number[];
  private readonly ringT = new Float64Array(WINDOW_S);
  private readonly ringE = new Float64Array(WINDOW_S);
  private head = -1;
  private ringSecond = -1;
  private ringFilled = 0;
  /** Real-time (not speed-scaled) cumulative kWh, for the 15-minute mean. */
  private realKwh = 0;
  kw = 0;
  kwAvg15 = 0;
  signal = 100;

  constructor(
    readonly id: string,
    readonly dev: SimDevice,
    seed: number,
    typicalKw: number,
    local: Date,
  ) {
    const key = hashString(`microgrid:${id}`);
    const month = local.getUTCMonth();
    const monthStart = Date.UTC(local.getUTCFullYear(), month, 1);
    const elapsedH = (local.getTime() - monthStart) / 3_600_000;
    this.months = MONTH_WEIGHT.map((w, m) => {
      const full = typicalKw * 730 * w * (0.92 + 0.16 * rand01(seed, key, m));
      if (m < month) return Math.round(full);
      if (m === month) return Math.round(typicalKw * w * elapsedH);
      return 0; // not yet this year
    });
    dev.set("shed_setpoint", 250);
  }

  update(ctx: TickContext, buildingKw: number): void {
    this.kw = buildingKw;
    const m = ctx.local.getUTCMonth();
    if (buildingKw > 0) this.months[m] = this.months[m]! + buildingKw * ctx.dtH;
    // 15-minute mean over real time: (time, cumulative kWh) sampled once a second in a ring.
    this.realKwh += (buildingKw * ctx.dtMs) / 3_600_000;
    const sec = Math.floor(ctx.now / 1000);
    if (sec !== this.ringSecond) {
      this.ringSecond = sec;
      this.head = (this.head + 1) % WINDOW_S;
      this.ringT[this.head] = ctx.now;
      this.ringE[this.head] = this.realKwh;
      this.ringFilled = Math.min(WINDOW_S, this.ringFilled + 1);
    }
    // Oldest sample still within 15 minutes.
    let i = (this.head - this.ringFilled + 1 + WINDOW_S) % WINDOW_S;
    while (i !== this.head && ctx.now - this.ringT[i]! > WINDOW_S * 1000) i = (i + 1) % WINDOW_S;
    const spanMs = ctx.now - this.ringT[i]!;
    this.kwAvg15 = spanMs >= 1000 ? ((this.realKwh - this.ringE[i]!) * 3_600_000) / spanMs : buildingKw;
    const setpoint = this.setpoint();
    const over = buildingKw - setpoint;
    this.signal = over < 10 ? 100 : Math.max(0, 100 - 10 * Math.floor((over - 10) / 5));
  }

  setpoint(): number {
    const v = this.dev.get("shed_setpoint");
    return typeof v === "number" && Number.isFinite(v) ? v : 250;
  }

  publish(): void {
    const dev = this.dev;
    dev.setRole("power.total", this.kw);
    dev.set("kw_avg_15min", this.kwAvg15);
    dev.set("shed_request", this.signal);
    for (let m = 0; m < 12; m++) dev.set(MONTH_IDS[m]!, this.months[m]!);
  }
}
