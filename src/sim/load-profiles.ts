/**
 * Load profiles: a power (kW) as a pure function of the time since the profile started. The
 * simulator applies one to a feeder (`Sim.setLoad`); the profile knows nothing of feeders, so the
 * microgrid and energy work can drive a PV array, a BESS set-point or a tariff test with the same
 * shapes and the same parser.
 *
 *   constant     kw
 *   ramp         fromKw → toKw over durationS, then holds toKw (a slow climb over a setpoint)
 *   step         fromKw until atS, then toKw
 *   oscillation  meanKw ± amplitudeKw, sine of periodS
 */

export type LoadProfile =
  | { kind: "constant"; kw: number }
  | { kind: "ramp"; fromKw: number; toKw: number; durationS: number }
  | { kind: "step"; fromKw: number; toKw: number; atS: number }
  | { kind: "oscillation"; meanKw: number; amplitudeKw: number; periodS: number };

export const LOAD_PROFILE_KINDS = ["constant", "ramp", "step", "oscillation"] as const;

/** The profile's power `elapsedMs` after it started (never negative: a load draws). */
export function profileKw(p: LoadProfile, elapsedMs: number): number {
  const s = Math.max(0, elapsedMs) / 1000;
  let kw: number;
  switch (p.kind) {
    case "constant":
      kw = p.kw;
      break;
    case "ramp":
      kw = p.durationS <= 0 || s >= p.durationS ? p.toKw : p.fromKw + ((p.toKw - p.fromKw) * s) / p.durationS;
      break;
    case "step":
      kw = s < p.atS ? p.fromKw : p.toKw;
      break;
    case "oscillation":
      kw = p.meanKw + p.amplitudeKw * Math.sin((2 * Math.PI * s) / Math.max(0.1, p.periodS));
      break;
  }
  return Math.max(0, kw);
}

/** When the profile stops changing (ms after start); Infinity for an oscillation. */
export function profileSettlesMs(p: LoadProfile): number {
  if (p.kind === "ramp") return Math.max(0, p.durationS) * 1000;
  if (p.kind === "step") return Math.max(0, p.atS) * 1000;
  if (p.kind === "oscillation") return Infinity;
  return 0;
}

const LIMIT_KW = 100_000;
const LIMIT_S = 86_400;

/**
 * Validates outside input (a form, JSON) into a profile, or says what is wrong with it. Numbers
 * may use a decimal comma (French keypads).
 */
export function parseLoadProfile(input: Record<string, unknown>): LoadProfile | { error: string } {
  const kind = String(input.kind ?? "");
  const num = (k: string, min: number, max: number): number | string => {
    const raw = input[k];
    const v = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw.trim().replace(",", ".").replace("−", "-")) : NaN;
    if (!Number.isFinite(v)) return `${k}: a number is required`;
    if (v < min || v > max) return `${k}: must be ${min}..${max}`;
    return v;
  };
  const fields: Record<string, [number, number]> =
    kind === "constant"
      ? { kw: [0, LIMIT_KW] }
      : kind === "ramp"
        ? { fromKw: [0, LIMIT_KW], toKw: [0, LIMIT_KW], durationS: [1, LIMIT_S] }
        : kind === "step"
          ? { fromKw: [0, LIMIT_KW], toKw: [0, LIMIT_KW], atS: [0, LIMIT_S] }
          : kind === "oscillation"
            ? { meanKw: [0, LIMIT_KW], amplitudeKw: [0, LIMIT_KW], periodS: [1, LIMIT_S] }
            : {};
  if (!Object.keys(fields).length) return { error: `kind: one of ${LOAD_PROFILE_KINDS.join(", ")}` };
  const out: Record<string, number | string> = { kind };
  for (const [k, [min, max]] of Object.entries(fields)) {
    const v = num(k, min, max);
    if (typeof v === "string") return { error: v };
    out[k] = v;
  }
  return out as unknown as LoadProfile;
}

/** One line for people and the journal: "ramp 20 → 140 kW over 120 s". */
export function describeLoadProfile(p: LoadProfile): string {
  const n = (x: number) => String(Math.round(x * 10) / 10);
  switch (p.kind) {
    case "constant":
      return `constant ${n(p.kw)} kW`;
    case "ramp":
      return `ramp ${n(p.fromKw)} → ${n(p.toKw)} kW over ${n(p.durationS)} s`;
    case "step":
      return `step ${n(p.fromKw)} → ${n(p.toKw)} kW at ${n(p.atS)} s`;
    case "oscillation":
      return `oscillation ${n(p.meanKw)} ± ${n(p.amplitudeKw)} kW, period ${n(p.periodS)} s`;
  }
}

/** The same in a person's language: `t` is a translator with sim.profile.* keys, `num` formats numbers. */
export function describeLoadProfileWith(p: LoadProfile, t: (key: string, params: Record<string, string | number>) => string, num: (n: number) => string): string {
  switch (p.kind) {
    case "constant":
      return t("sim.profile.constant", { kw: num(p.kw) });
    case "ramp":
      return t("sim.profile.ramp", { from: num(p.fromKw), to: num(p.toKw), s: num(p.durationS) });
    case "step":
      return t("sim.profile.step", { from: num(p.fromKw), to: num(p.toKw), s: num(p.atS) });
    case "oscillation":
      return t("sim.profile.oscillation", { mean: num(p.meanKw), amp: num(p.amplitudeKw), s: num(p.periodS) });
  }
}
