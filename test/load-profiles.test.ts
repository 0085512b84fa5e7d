import { describe, expect, it } from "vitest";
import { describeLoadProfile, parseLoadProfile, profileKw, profileSettlesMs } from "../src/sim/load-profiles.ts";
import { presetProfile } from "../src/server/routes/sim.tsx";

/** Load profiles: pure shapes of time, shared by the simulator's controls and later energy work. */
describe("load profiles", () => {
  it("ramp, step, oscillation and constant give their power at a time", () => {
    const ramp = { kind: "ramp", fromKw: 20, toKw: 140, durationS: 120 } as const;
    expect(profileKw(ramp, 0)).toBe(20);
    expect(profileKw(ramp, 60_000)).toBe(80);
    expect(profileKw(ramp, 600_000)).toBe(140);
    expect(profileSettlesMs(ramp)).toBe(120_000);
    const step = { kind: "step", fromKw: 10, toKw: 50, atS: 5 } as const;
    expect([profileKw(step, 4_999), profileKw(step, 5_000)]).toEqual([10, 50]);
    const osc = { kind: "oscillation", meanKw: 30, amplitudeKw: 10, periodS: 20 } as const;
    expect(profileKw(osc, 5_000)).toBeCloseTo(40, 9);
    expect(profileKw(osc, 15_000)).toBeCloseTo(20, 9);
    expect(profileKw({ kind: "oscillation", meanKw: 5, amplitudeKw: 10, periodS: 20 }, 15_000)).toBe(0); // a load never feeds back
    expect(profileKw({ kind: "constant", kw: 7.5 }, 1e9)).toBe(7.5);
    expect(describeLoadProfile(ramp)).toBe("ramp 20 → 140 kW over 120 s");
  });

  it("parses outside input with a clear error, decimal comma accepted", () => {
    expect(parseLoadProfile({ kind: "step", fromKw: "10,5", toKw: "40", atS: "3" })).toEqual({ kind: "step", fromKw: 10.5, toKw: 40, atS: 3 });
    expect(parseLoadProfile({ kind: "ramp", fromKw: 1, toKw: 2 })).toEqual({ error: "durationS: a number is required" });
    expect(parseLoadProfile({ kind: "constant", kw: -3 })).toEqual({ error: "kw: must be 0..100000" });
    expect(parseLoadProfile({ kind: "sawtooth" })).toEqual({ error: "kind: one of constant, ramp, step, oscillation" });
  });

  it("the slow ramp preset ends 10 % over the shedding setpoint", () => {
    // Feeder at 20 kW, building at 200 kW, setpoint 250 kW: +75 kW brings the building to 275 kW.
    expect(presetProfile("ramp-over-shed", 20, 200, 250)).toEqual({ kind: "ramp", fromKw: 20, toKw: 95, durationS: 120 });
    expect(presetProfile("nope", 1, 1, 1)).toBeNull();
  });

  it("the step and oscillation presets cross the setpoint's rows: a step to row 7 (+40 kW), an oscillation ±5 kW around the first row (+10 kW)", () => {
    // Feeder at 20 kW, building at 200 kW, setpoint 250 kW (first row +10 kW).
    expect(presetProfile("step", 20, 200, 250)).toEqual({ kind: "step", fromKw: 20, toKw: 110, atS: 5 });
    expect(presetProfile("oscillation", 20, 200, 250, 10)).toEqual({ kind: "oscillation", meanKw: 80, amplitudeKw: 5, periodS: 20 });
    // A building already far over: the feeder cannot go below 0, the oscillation stays a load.
    expect(presetProfile("oscillation", 20, 400, 250, 10)).toEqual({ kind: "oscillation", meanKw: 5, amplitudeKw: 5, periodS: 20 });
  });

  it("fuzz: any input gives a valid profile or an error, never a throw nor a NaN power", () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const pick = <T,>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
    const values = () => pick<unknown>(["", " ", "1", "-1", "1e9", "NaN", "Infinity", "2,5", "−3", "abc", null, undefined, {}, [], 0, 7.5, -0, 1e300, true, "0x10"]);
    for (let i = 0; i < 5000; i++) {
      const input: Record<string, unknown> = { kind: pick<unknown>(["constant", "ramp", "step", "oscillation", "", "RAMP", 3, null, "__proto__"]) };
      for (const k of ["kw", "fromKw", "toKw", "durationS", "atS", "meanKw", "amplitudeKw", "periodS", "extra"]) if (rnd() < 0.8) input[k] = values();
      const p = parseLoadProfile(input);
      if ("error" in p) expect(typeof p.error).toBe("string");
      else for (const t of [0, 1000, 1e6, 1e9]) expect(Number.isFinite(profileKw(p, t))).toBe(true);
    }
  });
});
