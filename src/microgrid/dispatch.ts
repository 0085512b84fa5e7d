/**
 * Battery dispatch: what Busbar asks the BESS to deliver, and when it must not ask at all. Pure.
 *
 * Busbar commands the BESS's active power setpoint (positive = discharge) only during a GDP event
 * (Hydro-Québec peak-demand event), to hold the building's kW at the 5B1 under the event setpoint:
 * the discharge needed is what the building would draw without the battery (5B1 kW + the battery's
 * present discharge) minus the event setpoint (less a margin), within
 *   - the SOC reserve (at or below it: nothing; the reserve is kept for an outage),
 *   - the BESS's power rating and its discharge current limit × DC voltage,
 *   - its permissive states: contactor closed, AC group running, remote setpoint control (else
 *     Busbar does not write at all: the BESS is under its own control).
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
  /** Why, for the page: an i18n key (`mg.reason.*`) and its parameters. */
  reason: { key: string; params?: Record<string, string | number> };
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
  if (!opts.enabled) return { setpointKw: null, interlock: null, reason: { key: "mg.reason.disabled" } };
  const interlock = interlockOf(bess);
  if (interlock) return { setpointKw: null, interlock, reason: { key: `mg.reason.${interlock}` } };
  if (opts.manual) return { setpointKw: null, interlock: null, reason: { key: "mg.reason.manual" } };
  if (!bess.permissive) return { setpointKw: null, interlock: null, reason: { key: "mg.reason.permissive" } };
  if (!opts.gdpActive) return { setpointKw: 0, interlock: null, reason: { key: "mg.reason.noEvent" } };
  if (!Number.isFinite(opts.buildingKw)) return { setpointKw: null, interlock: null, reason: { key: "mg.reason.noKw" } };
  if (!(bess.soc > cfg.socReserve)) return { setpointKw: 0, interlock: null, reason: { key: "mg.reason.reserve", params: { soc: bess.soc.toFixed(1), reserve: cfg.socReserve } } };
  const withoutBattery = opts.buildingKw + Math.max(0, bess.powerKw);
  const need = Math.max(0, withoutBattery - (opts.eventSetpointKw - cfg.marginKw));
  const currentKw = bess.voltageV > 0 && bess.maxDischargeA > 0 ? (bess.voltageV * bess.maxDischargeA) / 1000 : cfg.maxKw;
  const limit = Math.min(cfg.maxKw, currentKw);
  const sp = Math.min(need, limit);
  const key = need <= limit ? "mg.reason.event" : limit === cfg.maxKw ? "mg.reason.eventRating" : "mg.reason.eventCurrent";
  return { setpointKw: Math.round(sp * 10) / 10, interlock: null, reason: { key, params: { need: need.toFixed(1), limit: Math.round(limit) } } };
}
