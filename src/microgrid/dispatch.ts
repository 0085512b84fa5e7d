/**
 * Battery dispatch: what Busbar asks the BESS to deliver, and when it must not ask at all. Pure.
 *
 * Busbar commands the BESS's active power setpoint (positive = discharge) only during a GDP event
 * (Hydro-Québec peak-demand event), to hold the building's kW at the 5B1 under the event setpoint:
 * the discharge needed is what the building would draw without the battery (5B1 kW + the battery's
 * present discharge) minus the event setpoint (less a margin), within
 *   - the SOC reserve (at or below it: nothing; the reserve is kept for an outage),
 *   - the BESS's power rating and its discharge current limit × DC voltage,
 *   - its permissive states: contactor closed, AC group running, remote setpoint control.
 * Interlocks — communication lost, contactor open, a fault — zero the command, stop every write
 * and raise an alarm until they clear. An operator may put dispatch in MANUAL: Busbar then never
 * writes (the BESS keeps whatever it was last told, by Busbar or by its own panel).
 */

export interface BessInputs {
  /** Every BESS point needed is fresh and good (comm loss otherwise). */
  commOk: boolean;
  soc: number;
  /** Present power, kW, positive = discharge. */
  powerKw: number;
  voltageV: number;
  maxDischargeA: number;
  contactorClosed: boolean;
  /** AC group startup state FAULT, or any fault bit. */
  fault: boolean;
  /** AC group RUNNING and p_control_mode REMOTE SETPOINT. */
  permissive: boolean;
}

export interface DispatchConfig {
  socReserve: number;
  maxKw: number;
  marginKw: number;
}

export type Interlock = "comm-loss" | "contactor-open" | "fault";

export interface DispatchDecision {
  /** Setpoint to send (kW, ≥ 0), or null: do not write. */
  setpointKw: number | null;
  interlock: Interlock | null;
  /** Why, for the page: "event: need 42 kW, limited by current (238 kW)". */
  reason: string;
}

export function interlockOf(b: BessInputs): Interlock | null {
  if (!b.commOk) return "comm-loss";
  if (!b.contactorClosed) return "contactor-open";
  if (b.fault) return "fault";
  return null;
}

export function decideDispatch(opts: {
  enabled: boolean;
  manual: boolean;
  gdpActive: boolean;
  buildingKw: number;
  eventSetpointKw: number;
  bess: BessInputs;
  cfg: DispatchConfig;
}): DispatchDecision {
  const { bess, cfg } = opts;
  if (!opts.enabled) return { setpointKw: null, interlock: null, reason: "control not enabled in the site file" };
  const interlock = interlockOf(bess);
  if (interlock) return { setpointKw: null, interlock, reason: `interlock: ${interlock}` };
  if (opts.manual) return { setpointKw: null, interlock: null, reason: "manual: Busbar does not write" };
  if (!bess.permissive) return { setpointKw: 0, interlock: null, reason: "BESS not in remote setpoint / not running" };
  if (!opts.gdpActive) return { setpointKw: 0, interlock: null, reason: "no GDP event" };
  if (!Number.isFinite(opts.buildingKw)) return { setpointKw: null, interlock: null, reason: "building kW unknown: command held" };
  if (!(bess.soc > cfg.socReserve)) return { setpointKw: 0, interlock: null, reason: `SOC ${bess.soc.toFixed(1)} % ≤ reserve ${cfg.socReserve} %` };
  const withoutBattery = opts.buildingKw + Math.max(0, bess.powerKw);
  const need = Math.max(0, withoutBattery - (opts.eventSetpointKw - cfg.marginKw));
  const currentKw = bess.voltageV > 0 && bess.maxDischargeA > 0 ? (bess.voltageV * bess.maxDischargeA) / 1000 : cfg.maxKw;
  const limit = Math.min(cfg.maxKw, currentKw);
  const sp = Math.min(need, limit);
  const by = need > limit ? (limit === cfg.maxKw ? ` limited by rating (${cfg.maxKw} kW)` : ` limited by current (${Math.round(currentKw)} kW)`) : "";
  return { setpointKw: Math.round(sp * 10) / 10, interlock: null, reason: `event: need ${need.toFixed(1)} kW${by}` };
}
