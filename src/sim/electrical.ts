import type { SimDevice } from "./device.ts";

/**
 * Three-phase measurements of one point of the network (a breaker, the ATS, a meter), and how they
 * land in a device's tags: by role where the profile gives one, else by the usual tag ids
 * (p_a, q_total, v_ln_avg...), since profiles do not give every phase quantity a role.
 */

/** Québec low-voltage distribution: 600 V line to line, 347 V line to neutral. */
export const NOMINAL_LL = 600;
export const NOMINAL_LN = 347;

export interface BusVoltage {
  /** Voltage present. */
  live: boolean;
  /** Line to neutral, V, phases A, B, C. */
  vln: [number, number, number];
  /** Line to line, V: AB, BC, CA. */
  vll: [number, number, number];
  /** Hz (0 when dead). */
  f: number;
}

export const DEAD_BUS: BusVoltage = { live: false, vln: [0, 0, 0], vll: [0, 0, 0], f: 0 };

/** Power through a point: per-phase active power (kW, signed) and power factor. */
export interface Flow {
  p: [number, number, number];
  pf: number;
}

export const NO_FLOW: Flow = { p: [0, 0, 0], pf: 1 };

const PH = ["a", "b", "c"] as const;
const VLN_IDS = ["v_an", "v_bn", "v_cn"] as const;
const VLL_IDS = ["v_ab", "v_bc", "v_ca"] as const;
const VLL_ROLES = ["voltage.ab", "voltage.bc", "voltage.ca"] as const;

/**
 * Writes voltages, currents, powers, power factors and frequency of a point.
 * `jitter(k)` is a small per-device measurement noise in [-1, 1] for quantity k.
 */
export function writeElectrical(dev: SimDevice, bus: BusVoltage, flow: Flow, jitter: (k: number) => number): void {
  const live = bus.live;
  let pt = 0;
  let qt = 0;
  let st = 0;
  let iSum = 0;
  let vlnSum = 0;
  let vllSum = 0;
  const tanPhi = Math.tan(Math.acos(Math.min(1, Math.max(0.05, flow.pf))));
  for (let i = 0; i < 3; i++) {
    const ph = PH[i]!;
    const vln = live ? bus.vln[i]! * (1 + 0.0008 * jitter(i)) : 0;
    const vll = live ? bus.vll[i]! * (1 + 0.0008 * jitter(3 + i)) : 0;
    const p = live ? flow.p[i]! : 0;
    const q = Math.abs(p) * tanPhi;
    const s = Math.hypot(p, q);
    const cur = vln > 0 ? (s * 1000) / vln : 0;
    pt += p;
    qt += q;
    st += s;
    iSum += cur;
    vlnSum += vln;
    vllSum += vll;
    dev.setAny(`voltage.${ph}n`, [VLN_IDS[i]!], vln);
    dev.setAny(VLL_ROLES[i]!, [VLL_IDS[i]!], vll);
    dev.setAny(`current.${ph}`, [`i_${ph}`], cur);
    dev.setAny(`power.${ph}`, [`p_${ph}`], p);
    dev.setAny(`power.reactive.${ph}`, [`q_${ph}`], q);
    dev.setAny(`power.apparent.${ph}`, [`s_${ph}`], s);
    dev.setAny(`pf.${ph}`, [`pf_${ph}`], s > 0 ? Math.abs(p) / s : 1);
  }
  dev.setAny("voltage.ln", ["v_ln_avg"], vlnSum / 3);
  dev.setAny("voltage.ll", ["v_ll_avg"], vllSum / 3);
  dev.setAny("current.avg", ["i_avg"], iSum / 3);
  dev.setAny("power.total", ["p_total"], pt);
  dev.setAny("power.reactive", ["q_total"], qt);
  dev.setAny("power.apparent", ["s_total"], st);
  dev.setAny("pf", ["pf_total"], st > 0 ? Math.abs(pt) / st : 1);
  // A trip unit or meter without voltage has no frequency to show.
  dev.setAny("frequency", ["frequency"], live ? bus.f : NaN);
}

/** Reactive power (kvar) of a flow, for energy counters. */
export function reactiveOf(flow: Flow): number {
  const tanPhi = Math.tan(Math.acos(Math.min(1, Math.max(0.05, flow.pf))));
  return (Math.abs(flow.p[0]) + Math.abs(flow.p[1]) + Math.abs(flow.p[2])) * tanPhi;
}

export function totalOf(flow: Flow): number {
  return flow.p[0] + flow.p[1] + flow.p[2];
}
