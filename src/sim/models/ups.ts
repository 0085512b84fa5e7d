import type { SimDevice } from "../device.ts";
import type { TickContext } from "./context.ts";
import { NOMINAL_LN, type BusVoltage } from "../electrical.ts";

/**
 * A Socomec-like double-conversion UPS: its output load follows its feeder's load shape; while the
 * feeder has no voltage (utility lost, ATS transferring, feeder open) it runs on battery, whose
 * charge falls with the load and recovers when the input comes back. Writes engineering values
 * into the device's tags (the BACnet server turns them into the seed's raw values).
 */

/** Single-unit values for points the seed marks "-1 / non géré" on a MASTERYS (§7.1). */
const NOT_MANAGED = ["unit_output_kw1", "unit_output_kw2", "unit_output_kw3", "unit_output_cf", "unit_output_pf1", "unit_output_pf2", "unit_output_pf3", "rectifier_kw1", "rectifier_kw2", "rectifier_kw3", "battery_s", "battery_tmp", "bypass_i1", "bypass_i2", "bypass_i3", "bypass_kw1", "bypass_kw2", "bypass_kw3", "battery_v_neg", "battery_i_neg", "ups_output_cf"];

const LOAD = { MAINT_BYPASS: 1, ON_BATTERY: 2, ON_INVERTER: 3, NORMAL: 4, ECO: 5, ON_BYPASS: 6, LOAD_OFF: 7 } as const;
const BATTERY = { DISCHARGED: 3, LOW: 4, DISCHARGING: 5, CHARGING: 9, OK: 10 } as const;

export class UpsModel {
  /** Battery charge, 0..100 %. */
  soc = 100;
  /** Nominal apparent power (Model_Name, kVA). */
  readonly kva: number;
  /** Battery capacity, Ah at the DC bus voltage. */
  readonly ah = 100;
  readonly dcV = 432;
  onBattery = false;

  constructor(
    readonly id: string,
    readonly dev: SimDevice,
    kva = 60,
  ) {
    this.kva = kva;
    for (const t of NOT_MANAGED) if (dev.tag(t)) dev.set(t, -1);
  }

  update(ctx: TickContext, input: BusVoltage, loadKw: number): void {
    const d = this.dev;
    const inputLive = input.live;
    const loadOff = this.soc <= 0 && !inputLive;
    this.onBattery = !inputLive && !loadOff;
    const pf = 0.92;
    const kw = loadOff ? 0 : Math.max(0, loadKw);
    const kva = kw / pf;
    // Battery: ~10 min autonomy at full load; recharges at 10 %/h of capacity.
    const batteryKwh = (this.ah * this.dcV) / 1000;
    if (this.onBattery) this.soc = Math.max(0, this.soc - ((kw * ctx.dtH) / batteryKwh) * 100);
    else if (inputLive && this.soc < 100) this.soc = Math.min(100, this.soc + 10 * ctx.dtH * 100 / 100);
    const autonomyMin = kw > 0.1 ? ((this.soc / 100) * batteryKwh * 60) / kw : 999;
    const vOut = loadOff ? 0 : 230 + 0.5 * Math.sin(ctx.now / 7000);
    const iPh = loadOff ? 0 : (kva * 1000) / 3 / vOut;
    const lr = Math.round((kva / this.kva) * 100);
    const set = (id: string, v: number) => d.tag(id) && d.set(id, v);
    for (const pre of ["ups_output", "unit_output"]) {
      set(`${pre}_lr`, pre === "unit_output" ? lr : lr);
      for (const ph of [1, 2, 3]) {
        set(`${pre}_lr${ph}`, lr);
        set(`${pre}_i${ph}`, Math.round(iPh));
        set(`${pre}_kva${ph}`, Math.round((kva / 3) * 10) / 10);
        set(`${pre}_v${ph}`, Math.round(vOut));
        if (pre === "ups_output") set(`${pre}_kw${ph}`, Math.round((kw / 3) * 10) / 10);
      }
      set(`${pre}_kva`, Math.round(kva * 10) / 10);
      set(`${pre}_kw`, Math.round(kw * 10) / 10);
      for (const uu of ["u12", "u23", "u31"]) set(`${pre}_${uu}`, Math.round(vOut * Math.sqrt(3)));
      set(`${pre}_fr`, loadOff ? 0 : 60);
    }
    for (const ph of [1, 2, 3]) set(`ups_output_pf${ph}`, pf);
    set("unit_tmp", 24.5);
    const vIn = inputLive ? (input.vln[0] * 230) / NOMINAL_LN : 0;
    for (const pre of ["rectifier", "bypass"]) {
      for (const ph of [1, 2, 3]) set(`${pre}_v${ph}`, Math.round(vIn));
      for (const uu of ["u12", "u23", "u31"]) set(`${pre}_${uu}`, Math.round(vIn * Math.sqrt(3)));
      set(`${pre}_fr`, inputLive ? Math.round(input.f * 10) / 10 : 0);
    }
    for (const ph of [1, 2, 3]) set(`rectifier_i${ph}`, inputLive ? Math.round(((kva * 1000) / 3 / Math.max(1, vIn)) * 10) / 10 : 0);
    set("battery_v_pos", Math.round(this.dcV * (0.9 + 0.1 * (this.soc / 100))));
    set("battery_i_pos", this.onBattery ? -Math.round(((kw * 1000) / this.dcV) * 10) / 10 : this.soc < 100 ? 5 : 0);
    set("battery_pct", Math.round(this.soc));
    set("battery_ah", Math.round((this.ah * this.soc) / 100));
    set("battery_min", Math.round(Math.min(999, autonomyMin)));

    const load = loadOff ? LOAD.LOAD_OFF : this.onBattery ? LOAD.ON_BATTERY : LOAD.NORMAL;
    set("device_status", 1);
    set("ups_load_status", load);
    set("unit_load_status", load);
    set("unit_status", loadOff ? 3 : 5);
    set("battery_status", loadOff ? BATTERY.DISCHARGED : this.onBattery ? (this.soc < 20 ? BATTERY.LOW : BATTERY.DISCHARGING) : this.soc < 99.5 ? BATTERY.CHARGING : BATTERY.OK);
    set("rectifier_status", inputLive ? 2 : 1);
    set("inverter_status", loadOff ? 1 : 2);
    set("input_rec_status", inputLive ? 4 : 2);
    set("input_byp_status", inputLive ? 3 : 1);
    // Bits follow the state unless pinned from the simulator's controls (alarm drills).
    set("unit_alarms_on_battery", this.onBattery ? 1 : 0);
    set("unit_alarms_battery_low", this.onBattery && this.soc < 20 ? 1 : 0);
    set("unit_alarms_bat_discharged", loadOff ? 1 : 0);
    set("unit_alarms_imminent_stop", this.onBattery && autonomyMin < 2 ? 1 : 0);
    set("ups_status_unit_1_operating", loadOff ? 0 : 1);
    const anyAlarm = this.onBattery || loadOff;
    set("alarms", anyAlarm ? 4 : 1);
  }
}
