import { describe, expect, it } from "vitest";
import { BlockDemandMeter, blockDemand, closedBlockDemand, RollingMean, type KwSample } from "../src/microgrid/demand.ts";
import { decideStage, DEFAULT_SHED_CONFIG, INITIAL_SHED_STATE, SITE_LIST_TABLE, type ShedConfig, type ShedState } from "../src/microgrid/shedding.ts";
import { decideDispatch, type BessInputs } from "../src/microgrid/dispatch.ts";
import { parseEventTime, localInputValue } from "../src/microgrid/schedule.ts";
import { microgridSchema } from "../src/microgrid/config.ts";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { parseYaml } from "../src/config/profile.ts";
import { DEMO_SITE } from "../src/embedded.ts";
import { WhyPanel } from "../src/views/microgrid-page.tsx";
import type { MicrogridStatus } from "../src/microgrid/controller.ts";

/**
 * The microgrid's decisions against independent computations on recorded profiles (issue 12):
 * the expected stage/signal sequence, no chatter within the hold times, and block demand to 0.1 kW.
 */

const SP = 250;
const T0 = Date.UTC(2026, 0, 15, 13, 7, 0); // not on a block boundary

/** Profiles sampled once a second, as the 5B1 poll delivers them. */
function profile(seconds: number, kw: (s: number) => number | null): KwSample[] {
  const out: KwSample[] = [];
  for (let s = 0; s < seconds; s++) {
    const v = kw(s);
    if (v !== null) out.push({ ts: T0 + s * 1000, kw: v });
  }
  return out;
}

/** Runs the controller's stage decision over a profile, one tick a second; NaN where the sample is missing. */
function run(samples: KwSample[], seconds: number, cfg: ShedConfig = DEFAULT_SHED_CONFIG) {
  const byTs = new Map(samples.map((s) => [s.ts, s.kw]));
  let st: ShedState = INITIAL_SHED_STATE;
  const seq: { s: number; stage: number; signal: number; second: boolean }[] = [];
  for (let s = 0; s < seconds; s++) {
    const now = T0 + s * 1000;
    const kw = byTs.get(now);
    const d = decideStage(st, kw === undefined ? NaN : kw - SP, now, cfg);
    st = d.state;
    seq.push({ s, stage: st.stage, signal: d.signal, second: st.second });
  }
  return seq;
}

/** Stage changes only, and the seconds between them. */
const changes = (seq: ReturnType<typeof run>) => seq.filter((x, i) => i === 0 || x.stage !== seq[i - 1]!.stage);

/** The site list's table read independently: +10 → 100 %, +15 → 90 % … +60 → 0 %. */
function siteListSignal(excess: number): number {
  if (excess < 10) return 100;
  return Math.max(0, 100 - 10 * Math.floor((excess - 10) / 5));
}

describe("shedding stage (src/microgrid/shedding.ts)", () => {
  it("the default table is the site point list's", () => {
    expect(SITE_LIST_TABLE[0]).toEqual({ excessKw: 10, signal: 100 });
    expect(SITE_LIST_TABLE[1]).toEqual({ excessKw: 15, signal: 90 });
    expect(SITE_LIST_TABLE.at(-1)).toEqual({ excessKw: 60, signal: 0 });
    for (let e = -20; e <= 80; e += 0.5) {
      const d = decideStage(INITIAL_SHED_STATE, e, T0, { ...DEFAULT_SHED_CONFIG, holdUpS: 0 });
      expect(d.signal, `excess ${e}`).toBe(siteListSignal(e));
    }
  });

  it("slow ramp 200 → 330 kW over 20 minutes: every row in order, each held ≥ holdUpS, then the second stage", () => {
    const N = 1800;
    const samples = profile(N, (s) => 200 + (130 * Math.min(s, 1200)) / 1200);
    const seq = run(samples, N);
    const ch = changes(seq).slice(1);
    // A slow ramp crosses the rows one at a time: 1, 2, … 11.
    expect(ch.map((c) => c.stage)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    // Each row starts when the ramp reaches its threshold (+10 kW at 250 + 10 = 260 kW → s = 554).
    const when = (kw: number) => Math.ceil(((kw - 200) * 1200) / 130);
    expect(ch[0]!.s).toBe(when(260));
    expect(ch[10]!.s).toBe(when(310));
    for (let i = 1; i < ch.length; i++) expect(ch[i]!.s - ch[i - 1]!.s).toBeGreaterThanOrEqual(DEFAULT_SHED_CONFIG.holdUpS);
    expect(seq.at(-1)).toMatchObject({ stage: 11, signal: 0, second: true });
    const second = seq.findIndex((x) => x.second);
    expect(second).toBe(when(310) + DEFAULT_SHED_CONFIG.secondStageDelayS);
  });

  it("step 240 → 290 kW: straight to row 7 (+40 kW → 40 %), back down one row per holdDownS after the step back", () => {
    const N = 1200;
    const seq = run(profile(N, (s) => (s >= 100 && s < 400 ? 290 : 240)), N);
    expect(seq[99]).toMatchObject({ stage: 0, signal: 100 });
    expect(seq[100]).toMatchObject({ stage: 7, signal: 40 });
    const down = changes(seq).filter((c) => c.s >= 400);
    expect(down.map((c) => c.stage)).toEqual([6, 5, 4, 3, 2, 1, 0]);
    expect(down[0]!.s).toBe(400 + 0); // held 300 s already: the first step down is at once
    for (let i = 1; i < down.length; i++) expect(down[i]!.s - down[i - 1]!.s).toBe(DEFAULT_SHED_CONFIG.holdDownS);
  });

  it("oscillation ±2 kW around a threshold (+20 kW): enters once, never chatters", () => {
    const N = 900;
    const seq = run(profile(N, (s) => (s < 60 ? 240 : 270 + 2 * Math.sin((2 * Math.PI * s) / 20))), N);
    const ch = changes(seq);
    // 268..272 kW = +18..+22 around row 3 (+20 kW): entered once; hysteresis 3 kW keeps it (released below +17).
    expect(ch.map((c) => [c.s, c.stage])).toEqual([[0, 0], [60, 3]]);
    expect(seq.at(-1)!.signal).toBe(80);
    // Wider oscillation across the release point: no change more often than the hold times.
    const wide = run(profile(N, (s) => 268 + 5 * Math.sin((2 * Math.PI * s) / 20)), N);
    const wc = changes(wide);
    for (let i = 1; i < wc.length; i++) expect(wc[i]!.s - wc[i - 1]!.s).toBeGreaterThanOrEqual(DEFAULT_SHED_CONFIG.holdUpS);
    const ups = wc.filter((c, i) => i > 0 && c.stage > wc[i - 1]!.stage);
    const downs = wc.filter((c, i) => i > 0 && c.stage < wc[i - 1]!.stage);
    for (const d of downs) {
      const prev = wc[wc.indexOf(d) - 1]!;
      expect(d.s - prev.s).toBeGreaterThanOrEqual(DEFAULT_SHED_CONFIG.holdDownS);
    }
    expect(ups.length + downs.length).toBeLessThan(N / DEFAULT_SHED_CONFIG.holdUpS);
  });

  it("comm gap on 5B1: the stage is held through the gap, neither relieved nor started", () => {
    const N = 600;
    // At +30 kW (row 5), then 120 s with no sample, while the real load fell.
    const seq = run(profile(N, (s) => (s >= 200 && s < 320 ? null : s < 200 ? 280 : 240)), N);
    expect(seq[199]!.stage).toBe(5);
    for (let s = 200; s < 320; s++) expect(seq[s]!.stage).toBe(5);
    const d = decideStage({ ...INITIAL_SHED_STATE, stage: 5, since: T0 }, NaN, T0 + 1e6, DEFAULT_SHED_CONFIG);
    expect(d.rule.kind).toBe("no-data");
    expect(seq[320]!.stage).toBe(4); // relieved only from a real measurement
  });

  it("direction and table are configurable", () => {
    const cfg = microgridSchema.parse({ shedding: { direction: "shed", table: [{ excessKw: 0, signal: 100 }, { excessKw: 20, signal: 50 }] } });
    const sh = { ...cfg.shedding, secondStageExcessKw: 20, holdUpS: 0 };
    expect(decideStage(INITIAL_SHED_STATE, 5, T0, sh).signal).toBe(0); // shed depth = 100 − permitted
    expect(decideStage(INITIAL_SHED_STATE, 25, T0, sh).signal).toBe(50);
    expect(() => microgridSchema.parse({ shedding: { table: [{ excessKw: 10, signal: 100 }, { excessKw: 5, signal: 90 }] } })).toThrow(/thresholds must rise/);
  });

  it("the site file's microgrid section: every mistake is an error with its path, before anything starts", () => {
    const errors = (f: (raw: Record<string, any>) => void) => {
      const raw = parseYaml(DEMO_SITE, "demo") as Record<string, any>;
      f(raw);
      try {
        parseSite(raw, loadProfiles(), "site.yaml");
        return "";
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(errors(() => {})).toBe("");
    expect(errors((r) => (r.microgrid.shedding.table = [{ excessKw: 10, signal: 100 }, { excessKw: 5, signal: 90 }]))).toMatch(/microgrid\.shedding\.table: row 2: thresholds must rise/);
    expect(errors((r) => (r.microgrid.shedding.direction = "up"))).toMatch(/microgrid\.shedding\.direction:/);
    expect(errors((r) => (r.microgrid.power = ["5B1.p_total", "NOPE.p_total"]))).toMatch(/microgrid\.power\[1\]: no device "NOPE"/);
    expect(errors((r) => (r.microgrid.power = ["5B1.p_totl"]))).toMatch(/microgrid\.power\[0\]: profile \S+ has no tag "p_totl"/);
    expect(errors((r) => (r.microgrid.bess.device = "NOPE"))).toMatch(/microgrid\.bess\.device: no device "NOPE"/);
    expect(errors((r) => (r.microgrid.bess.device = "5B1"))).toMatch(/microgrid\.bess\.device: device 5B1 \(profile \S+\) is not a BESS: no tag soc/);
  });
});

/** Independent block demand: the energy of 1 s samples in the aligned quarter hour, / 0.25 h. */
function independentBlock(samples: KwSample[], blockStartMs: number): number {
  let kwh = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    const next = samples[i + 1]?.ts ?? s.ts + 1000;
    if (next - s.ts > 10_000) continue;
    for (let t = s.ts; t < next; t += 100) if (t >= blockStartMs && t < blockStartMs + 900_000) kwh += (s.kw * 100) / 3_600_000;
  }
  return kwh / 0.25;
}

describe("15-minute demand (src/microgrid/demand.ts)", () => {
  const N = 3600;
  const profiles: [string, KwSample[]][] = [
    ["ramp", profile(N, (s) => 150 + s / 20)],
    ["step", profile(N, (s) => (s < 1500 ? 220 : 310))],
    ["oscillation", profile(N, (s) => 260 + 12 * Math.sin((2 * Math.PI * s) / 37))],
    ["comm gap", profile(N, (s) => (s > 1000 && s < 1300 ? null : 240 + (s % 7)))],
  ];
  for (const [name, samples] of profiles)
    it(`${name}: block demand matches an independent computation to 0.1 kW, incremental = batch`, () => {
      const meter = new BlockDemandMeter();
      const blocks = new Map<number, number>();
      for (const s of samples) {
        const before = meter.lastBlock?.start;
        meter.add(s.ts, s.kw);
        if (meter.lastBlock && meter.lastBlock.start !== before) blocks.set(meter.lastBlock.start, meter.lastBlock.billedKw);
      }
      expect(blocks.size).toBeGreaterThanOrEqual(3);
      for (const [start, billed] of blocks) {
        expect(start % 900_000).toBe(0); // aligned to the quarter hour
        expect(Math.abs(billed - independentBlock(samples, start)), `${name} block ${new Date(start).toISOString()}`).toBeLessThan(0.1);
        expect(Math.abs(blockDemand(samples, start + 900_000 - 1).billedKw - billed)).toBeLessThan(0.1);
      }
      // The open block: running value and projection.
      const now = samples.at(-1)!.ts + 500;
      const open = meter.at(now);
      const batch = blockDemand(samples, now);
      expect(open.runningKw).toBeCloseTo(batch.runningKw, 6);
      expect(open.projectedKw).toBeCloseTo(batch.projectedKw, 6);
      const rest = open.end - now;
      // Over the known part of the block: here the whole block was measured, so / 15 min.
      expect(open.coveredMs + rest).toBe(900_000);
      expect(open.projectedKw).toBeCloseTo((open.kwh + (samples.at(-1)!.kw * rest) / 3_600_000) / 0.25, 6);
    });

  it("the step's projection: 220 kW block, 310 kW from mid-block → the block's end is projected", () => {
    const start = Date.UTC(2026, 0, 15, 13, 0, 0);
    const samples = Array.from({ length: 600 }, (_, i) => ({ ts: start + i * 1000, kw: i < 450 ? 220 : 310 }));
    const d = blockDemand(samples, start + 600_000);
    expect(d.runningKw).toBeCloseTo((450 * 220 + 150 * 310) / 600, 6);
    expect(d.projectedKw).toBeCloseTo((450 * 220 + 450 * 310) / 900, 6);
  });

  it("a block seen only in part (Busbar started mid-block) is projected over what is known, not as zero", () => {
    const start = Date.UTC(2026, 0, 15, 13, 0, 0);
    const samples = Array.from({ length: 300 }, (_, i) => ({ ts: start + 300_000 + i * 1000, kw: 200 }));
    const d = blockDemand(samples, start + 600_000);
    expect(d.coveredMs).toBe(300_000);
    expect(d.runningKw).toBeCloseTo(200, 6);
    expect(d.projectedKw).toBeCloseTo(200, 6);
    expect(d.billedKw).toBeCloseTo(200 / 3, 6); // billed so far: energy / 15 min
  });

  it("a closed block with a gap: estimated over what was measured, unknown under half, billed only when whole", () => {
    const start = Date.UTC(2026, 0, 15, 13, 0, 0);
    const meter = new BlockDemandMeter();
    // 300 kW for the first 10 minutes, then 5B1 silent for 5 minutes (no TH40C either).
    for (let i = 0; i <= 600; i++) meter.add(start + i * 1000, 300);
    meter.at(start + 900_000 + 1000);
    const last = meter.lastBlock!;
    expect(last.coveredMs).toBe(600_000);
    expect(last.billedKw).toBeCloseTo(200, 6); // 50 kWh ÷ 15 min: the gap counted as zero
    expect(closedBlockDemand(last)).toEqual({ kw: expect.closeTo(300, 6), complete: false });
    expect(closedBlockDemand({ billedKw: 80, coveredMs: 240_000 }).kw).toBeNaN();
    expect(closedBlockDemand({ billedKw: 240, coveredMs: 900_000 })).toEqual({ kw: 240, complete: true });
  });

  it("rolling 15-minute mean", () => {
    const r = new RollingMean();
    for (let s = 0; s < 1800; s++) r.add(T0 + s * 1000, s < 900 ? 100 : 200);
    expect(r.mean(T0 + 1800_000)).toBeCloseTo(200, 6);
    expect(r.mean(T0 + 1800_000 - 450_000)).toBeCloseTo(200, 6);
    const r2 = new RollingMean();
    for (let s = 0; s < 1200; s++) r2.add(T0 + s * 1000, s < 750 ? 100 : 200);
    expect(r2.mean(T0 + 1200_000)).toBeCloseTo((450 * 100 + 450 * 200) / 900, 6);
  });
});

describe("battery dispatch (src/microgrid/dispatch.ts)", () => {
  const bess: BessInputs = { commOk: true, soc: 60, powerKw: 0, voltageV: 800, maxDischargeA: 300, contactorClosed: true, fault: false, permissive: true };
  const cfg = { socReserve: 20, maxKw: 250, marginKw: 5 };
  const base = { enabled: true, manual: false, gdpActive: true, buildingKw: 280, eventSetpointKw: 200, bess, cfg };
  it("discharges what holds the building under the event setpoint, within SOC reserve and limits", () => {
    expect(decideDispatch(base).setpointKw).toBe(85);
    expect(decideDispatch({ ...base, buildingKw: 195, bess: { ...bess, powerKw: 85 } }).setpointKw).toBe(85); // steady: the battery's own share counted
    expect(decideDispatch({ ...base, buildingKw: 600 }).setpointKw).toBe(240); // 300 A × 800 V
    expect(decideDispatch({ ...base, bess: { ...bess, soc: 20 } }).setpointKw).toBe(0);
    expect(decideDispatch({ ...base, gdpActive: false }).setpointKw).toBe(0);
    expect(decideDispatch({ ...base, bess: { ...bess, permissive: false } }).setpointKw).toBeNull(); // its own control: not written
  });
  it("interlocks, manual and disabled control never write", () => {
    expect(decideDispatch({ ...base, bess: { ...bess, commOk: false } })).toMatchObject({ setpointKw: null, interlock: "comm-loss" });
    expect(decideDispatch({ ...base, bess: { ...bess, contactorClosed: false } })).toMatchObject({ setpointKw: null, interlock: "contactor-open" });
    expect(decideDispatch({ ...base, bess: { ...bess, fault: true } })).toMatchObject({ setpointKw: null, interlock: "fault" });
    expect(decideDispatch({ ...base, manual: true }).setpointKw).toBeNull();
    expect(decideDispatch({ ...base, enabled: false }).setpointKw).toBeNull();
  });
});

describe("GDP event times", () => {
  it("local time in the site's zone, or ISO with an offset", () => {
    expect(parseEventTime("2026-01-15T06:00", "America/Toronto")).toBe(Date.UTC(2026, 0, 15, 11, 0));
    expect(parseEventTime("2026-07-15T06:00", "America/Toronto")).toBe(Date.UTC(2026, 6, 15, 10, 0));
    expect(parseEventTime("2026-01-15T06:00Z", "America/Toronto")).toBe(Date.UTC(2026, 0, 15, 6, 0));
    expect(parseEventTime("tomorrow", "UTC")).toBeNaN();
    expect(localInputValue(Date.UTC(2026, 0, 15, 11, 0), "America/Toronto")).toBe("2026-01-15T06:00");
  });
});

describe("the why panel (src/views/microgrid-page.tsx)", () => {
  /** The panel for one decision of the shedding stage, as the controller's status carries it. */
  const panel = async (prev: ShedState, excess: number, lang: "fr" | "en") => {
    const decision = decideStage(prev, excess, T0, DEFAULT_SHED_CONFIG);
    const st = {
      now: T0,
      source: { index: 0, id: "5B1.p_total", fallback: false, kw: SP + excess, ts: T0 },
      setpointKw: SP,
      normalSetpointKw: SP,
      basis: "instant",
      basisKw: SP + excess,
      excessKw: excess,
      block: blockDemand([{ ts: T0 - 60_000, kw: SP + excess }], T0),
      blockComplete: false,
      lastBlockKw: null,
      lastBlockComplete: false,
      rollingKw: SP + excess,
      decision,
      shedding: DEFAULT_SHED_CONFIG,
      gdp: { active: 0, request: false, schedStart: 0, schedEnd: 0, setpointKw: 200 },
      bess: null,
      tickMs: { last: 0, latencyMs: 0 },
    } as unknown as MicrogridStatus;
    return String(await WhyPanel({ st, trend: { t: [], kw: [], setpoint: [], signal: [] }, lang, tz: "America/Toronto" }).toString());
  };

  it("says the excess, the row's threshold and signal, and, when held, the row wanted with its threshold and the hold time", async () => {
    // At row 5 (+30 kW → 60 %) for 1 s, the excess jumps to +50 kW (row 9): held up for holdUpS.
    const atRow5: ShedState = { ...INITIAL_SHED_STATE, stage: 5, since: T0 - 1000 };
    const fr = await panel(atRow5, 50, "fr");
    expect(fr).toContain("Dépassement 50,0 kW : la ligne 9 (+50 kW) est atteinte ; maintenu à la ligne 5 (60 %)");
    expect(fr).toContain("(maintien minimal 10 s)");
    const en = await panel(atRow5, 50, "en");
    expect(en).toContain("Excess 50.0 kW reaches row 9 (+50 kW); held at row 5 (60 %)");
    // Falling under row 5's release (+27 kW) within holdDownS: held down, its release point said.
    expect(await panel(atRow5, 20, "en")).toContain("Excess 20.0 kW, under the release of row 5 (+27 kW); held at row 5 (60 %)");
    // In force: the excess beside the threshold it reached.
    expect(await panel(INITIAL_SHED_STATE, 32.4, "fr")).toContain("Dépassement 32,4 kW ≥ +30 kW (ligne 5) → 60 %");
    expect(await panel(INITIAL_SHED_STATE, 4, "en")).toContain("Excess 4.0 kW, below the first row (+10 kW): no shedding, signal 100 %");
  });
});
