import type { Site } from "../config/site.ts";
import type { ComputedPoints } from "../points/computed.ts";
import type { LiveView } from "../points/live.ts";
import { Quality } from "../points/quality.ts";
import type { PointInfo, PointRegistry } from "../points/registry.ts";
import type { PointTable } from "../points/table.ts";
import type { Journal } from "../journal/journal.ts";
import { t, type Lang } from "../i18n/index.ts";
import type { MicrogridConfig } from "./config.ts";
import { BlockDemandMeter, closedBlockDemand, RollingMean, type BlockDemand } from "./demand.ts";
import { decideDispatch, type DispatchDecision, type Interlock } from "./dispatch.ts";
import { MG } from "./points.ts";
import { decideStage, INITIAL_SHED_STATE, type ShedConfig, type ShedDecision, type ShedState } from "./shedding.ts";
import { journalText } from "../journal/i18n.ts";

/**
 * The microgrid controller: once a second, and as soon as the building's kW changes (a fresh 5B1
 * reading reaches the main thread), it computes demand, the shedding stage and signal, the GDP
 * event state and the battery command, and writes them as computed points (src/microgrid/points.ts).
 * The decisions themselves are pure functions: the stage in shedding.ts, demand in demand.ts, the
 * battery in dispatch.ts; this file reads inputs, keeps state, journals and writes.
 */

export interface DeviceWriter {
  write(point: number, value: number): Promise<{ ok: boolean; error?: string; ms: number }>;
}

const INTERLOCK_CODE: Record<Interlock | "write-failed", number> = { "comm-loss": 1, "contactor-open": 2, fault: 3, "write-failed": 4 };
const TICK_MS = 1000;
/** A BESS answer to a new setpoint is taken as settled this long after the write. */
const SETTLE_MS = 500;
/** A BESS reading older than this is a communication loss even before the driver says comm-fail. */
const COMM_LOSS_MS = 10_000;
/** A block counts as fully measured when no more than this is missing (a reading's own lag). */
const COVER_SLACK_MS = 5_000;

export interface MicrogridStatus {
  now: number;
  source: { index: number; id: string | null; fallback: boolean; kw: number; ts: number };
  setpointKw: number;
  normalSetpointKw: number;
  basis: "instant" | "projected";
  basisKw: number;
  excessKw: number;
  block: BlockDemand;
  /** The open block is measured throughout so far (else the demand shown is an estimate). */
  blockComplete: boolean;
  lastBlockKw: number | null;
  lastBlockComplete: boolean;
  /** A block has closed since the start (its demand may still be unknown: measured under half). */
  lastBlockSeen: boolean;
  rollingKw: number;
  decision: ShedDecision;
  shedding: ShedConfig;
  gdp: { active: 0 | 1 | 2; request: boolean; schedStart: number; schedEnd: number; setpointKw: number };
  bess: (Omit<DispatchDecision, "interlock"> & { interlock: Interlock | "write-failed" | null; manual: boolean; enabled: boolean; soc: number; powerKw: number; commandKw: number | null; unconfirmed: boolean; device: string }) | null;
  tickMs: { last: number; latencyMs: number };
}

export class MicrogridController {
  private readonly shed: ShedConfig;
  private state: ShedState = INITIAL_SHED_STATE;
  private readonly block = new BlockDemandMeter();
  private readonly rolling = new RollingMean();
  private readonly power: PointInfo[];
  private readonly inputs: Set<number>;
  private lastSampleTs = 0;
  /** Timestamp of the building kW sample used by the present tick. */
  private sampleTs = 0;
  private sourceIndex = -2;
  private gdpActive: 0 | 1 | 2 = 0;
  private gdpSetpointSeen = NaN;
  private timer: ReturnType<typeof setInterval> | undefined;
  private unsubscribe: (() => void) | undefined;
  private pending = false;
  private status_: MicrogridStatus | null = null;
  // Battery.
  private interlock: Interlock | "write-failed" | null = null;
  private commandKw: number | null = null;
  private lastWriteAt = 0;
  /** When the last dispatch write failed: a WRITE FAILED interlock for 10 s, then a retry. */
  private writeFailedAt = -Infinity;
  /**
   * The BESS may hold a setpoint other than `commandKw`: its comms were lost (the zero could not
   * be told) or a write failed. The command then shows comm-fail, and the first write allowed
   * afterwards goes at once, deadband or not (a BESS left discharging when its comms return).
   */
  private deviceUnknown = false;
  private writing = false;
  /** Writes sent (for tests: "Busbar stops writing"). */
  writes = 0;
  /** Latency from a 5B1 reading's timestamp to its signal being in the table, per tick that used a new reading. */
  readonly latencies: number[] = [];
  readonly tickCpuMs: number[] = [];

  constructor(
    private readonly deps: {
      site: Site;
      cfg: MicrogridConfig;
      registry: PointRegistry;
      table: PointTable;
      live: LiveView;
      computed: ComputedPoints;
      writer: DeviceWriter;
      journal: Journal;
      lang: Lang;
      log?: (line: string) => void;
    },
  ) {
    const { cfg, registry } = deps;
    this.shed = { ...cfg.shedding, secondStageExcessKw: cfg.shedding.secondStageExcessKw ?? cfg.shedding.table[cfg.shedding.table.length - 1]!.excessKw };
    this.power = cfg.power.map((id) => {
      const p = registry.byId.get(id);
      if (!p) throw new Error(`microgrid.power: no point "${id}" on this site`);
      return p;
    });
    if (cfg.bess) for (const n of ["soc", "power", "voltage", "contactor", "p_setpoint"]) if (!registry.byId.get(`${cfg.bess.device}.${n}`)) throw new Error(`microgrid.bess: device "${cfg.bess.device}" has no point ${n} (profile bess)`);
    // A tick runs at once on a new building reading (latency) and on a change of the BESS's
    // interlock and permissive states or their quality (an interlock stops writing in the drain
    // that brings it, not at the next 1 s tick).
    const bessStates = cfg.bess ? ["contactor", "ac_group_startup", "ambient_temp_fault", "ambient_humidity_fault", "p_control_mode"].map((n) => registry.byId.get(`${cfg.bess!.device}.${n}`)).filter((p) => p !== undefined) : [];
    this.inputs = new Set([...this.power, ...bessStates].map((p) => p.index));
  }

  start(): void {
    this.gdpSetpointSeen = this.num(`${MG}.gdp_setpoint`);
    this.tick();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    // React to a fresh building reading (latency target < 100 ms) or a BESS state at once, coalesced per drain.
    this.unsubscribe = this.deps.live.subscribe((changed) => {
      if (this.pending) return;
      for (const i of changed)
        if (this.inputs.has(i)) {
          this.pending = true;
          queueMicrotask(() => {
            this.pending = false;
            this.tick();
          });
          return;
        }
    });
  }

  stop(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  status(): MicrogridStatus | null {
    return this.status_;
  }

  private pt(id: string): PointInfo {
    return this.deps.registry.byId.get(id)!;
  }
  private num(id: string): number {
    return this.deps.table.read(this.pt(id).index).value;
  }

  tick(now = Date.now()): void {
    const t0 = performance.now();
    const { cfg, computed, table, live, journal, lang } = this.deps;

    // 1. Building kW: the first source with a good value.
    let idx = -1;
    let kw = NaN;
    let ts = 0;
    for (let i = 0; i < this.power.length; i++) {
      const p = this.power[i]!;
      if (live.effectiveQuality(p.index, now) !== Quality.GOOD) continue;
      const s = table.read(p.index);
      idx = i;
      kw = s.value;
      ts = s.ts;
      break;
    }
    if (idx !== this.sourceIndex) {
      if (this.sourceIndex !== -2)
        journal.append({
          type: "microgrid.source",
          source: `${MG}.kw_instant`,
          ...journalText(lang, idx < 0 ? "journal.mg.noSource" : "journal.mg.source", { point: this.power[idx]?.id ?? "", points: cfg.power.join(", ") }),
          data: { source: this.power[idx]?.id ?? null },
        });
      this.sourceIndex = idx;
    }
    this.sampleTs = idx >= 0 ? ts : 0;
    const fresh = idx >= 0 && ts > this.lastSampleTs;
    if (fresh) {
      this.lastSampleTs = ts;
      this.block.add(ts, kw);
      this.rolling.add(ts, kw);
    }
    const block = this.block.at(now);
    const rollingKw = this.rolling.mean(now);

    // 2. GDP event: the BMS's or an operator's request, or the schedule.
    const request = this.num(`${MG}.gdp_request`) === 1;
    const sStart = this.num(`${MG}.gdp_sched_start`) * 1000;
    const sEnd = this.num(`${MG}.gdp_sched_end`) * 1000;
    const scheduled = sStart > 0 && sEnd > sStart && now >= sStart && now < sEnd;
    const active: 0 | 1 | 2 = request ? 1 : scheduled ? 2 : 0;
    const gdpSp = this.num(`${MG}.gdp_setpoint`);
    if (active !== this.gdpActive) {
      const key = active === 0 ? "journal.mg.gdpEnd" : this.gdpActive === 0 ? "journal.mg.gdpStart" : "journal.mg.gdpChange";
      journal.append({ type: "microgrid.gdp", source: `${MG}.gdp_active`, ...journalText(lang, key, { by: { key: active === 2 || (active === 0 && this.gdpActive === 2) ? "mg.by.schedule" : "mg.by.request" }, kw: gdpSp }), data: { active, was: this.gdpActive, setpointKw: gdpSp } });
      this.gdpActive = active;
    } else if (active && gdpSp !== this.gdpSetpointSeen) {
      journal.append({ type: "microgrid.gdp", source: `${MG}.gdp_setpoint`, ...journalText(lang, "journal.mg.gdpSetpoint", { old: this.gdpSetpointSeen, kw: gdpSp }), data: { active, setpointKw: gdpSp } });
    }
    this.gdpSetpointSeen = gdpSp;
    const normalSp = this.num(`${MG}.shed_setpoint`);
    const setpoint = active ? gdpSp : normalSp;

    // 3. The stage (shedding.ts).
    const basisKw = cfg.basis === "projected" ? block.projectedKw : kw;
    const excess = idx >= 0 ? basisKw - setpoint : NaN;
    const before = this.state;
    const decision = decideStage(this.state, excess, now, this.shed);
    this.state = decision.state;
    if (before.stage !== this.state.stage || before.second !== this.state.second)
      journal.append({
        type: "microgrid.stage",
        source: `${MG}.shed_stage`,
        ...journalText(lang, "journal.mg.stage", { from: before.stage, to: this.state.stage, signal: decision.signal, second: this.state.second ? "100" : "0", excess: excess.toFixed(1), setpoint }),
        data: { from: before.stage, to: this.state.stage, signal: decision.signal, second: this.state.second, excessKw: excess, setpointKw: setpoint },
      });

    // 4. Outputs. Without a measurement the values are comm-fail and the stage is held.
    const q = idx >= 0 ? Quality.GOOD : Quality.COMM_FAIL;
    const set = (n: string, v: number, quality: number = q) => computed.set(`${MG}.${n}`, v, quality, now);
    set("kw_instant", kw);
    set("kw_source", Math.max(0, idx));
    set("setpoint_active", setpoint, Quality.GOOD);
    set("kw_avg_15min", rollingKw, Number.isFinite(rollingKw) ? q : Quality.COMM_FAIL);
    // Block demand is only good over a fully measured block: a gap (or a start mid-block) makes it
    // an estimate, and the billed value of a block with a gap is too low, never to be shown as good.
    const blockQ = !Number.isFinite(block.runningKw) ? Quality.COMM_FAIL : block.coveredMs >= now - block.start - COVER_SLACK_MS ? Quality.GOOD : Quality.ESTIMATED;
    set("demand_block", block.runningKw, blockQ);
    set("demand_block_projected", block.projectedKw, !Number.isFinite(block.projectedKw) || idx < 0 ? Quality.COMM_FAIL : blockQ);
    const last = this.block.lastBlock;
    // A block measured in part is an estimate, under half of it measured unknown (demand.ts).
    const closed = last ? closedBlockDemand(last) : null;
    const lastKw = closed ? closed.kw : NaN;
    const lastQ = !closed || !Number.isFinite(closed.kw) ? Quality.COMM_FAIL : closed.complete ? Quality.GOOD : Quality.ESTIMATED;
    set("demand_block_last", lastKw, lastQ);
    set("shed_request", this.state.stage > 0 ? 1 : 0);
    set("shed_signal", decision.signal);
    set("shed_stage", this.state.stage);
    set("shed_stage2", this.state.second ? 100 : 0);
    set("gdp_active", active, Quality.GOOD);

    // 5. The battery (dispatch.ts).
    const bess = cfg.bess ? this.dispatch(now, kw, active !== 0, gdpSp) : null;

    const cpu = performance.now() - t0;
    if (this.tickCpuMs.length < 100_000) this.tickCpuMs.push(cpu);
    const latencyMs = fresh ? Date.now() - ts : NaN;
    if (fresh && this.latencies.length < 100_000) this.latencies.push(latencyMs);
    this.status_ = {
      now,
      source: { index: idx, id: this.power[idx]?.id ?? null, fallback: idx > 0, kw, ts },
      setpointKw: setpoint,
      normalSetpointKw: normalSp,
      basis: cfg.basis,
      basisKw,
      excessKw: excess,
      block,
      blockComplete: blockQ === Quality.GOOD,
      lastBlockKw: Number.isFinite(lastKw) ? lastKw : null,
      lastBlockComplete: lastQ === Quality.GOOD,
      lastBlockSeen: last !== null,
      rollingKw,
      decision,
      shedding: this.shed,
      gdp: { active, request, schedStart: sStart, schedEnd: sEnd, setpointKw: gdpSp },
      bess,
      tickMs: { last: cpu, latencyMs },
    };
  }

  private dispatch(now: number, buildingKw: number, gdpActive: boolean, eventSp: number): MicrogridStatus["bess"] {
    const b = this.deps.cfg.bess!;
    const d = b.device;
    const ids = ["soc", "power", "voltage", "contactor", "ac_group_startup", "p_control_mode", "max_discharge_current"].map((n) => `${d}.${n}`);
    // Communication loss is the driver's verdict (comm-fail, exception…) or a reading older than
    // COMM_LOSS_MS; a poll a little overdue on a busy bus (stale) is not one.
    const commOk = ids.every((id) => {
      const i = this.pt(id).index;
      const q = this.deps.table.qualityOf(i);
      return (q === Quality.GOOD || q === Quality.STALE) && now - this.deps.table.tsOf(i) <= COMM_LOSS_MS;
    });
    const fault = this.num(`${d}.ac_group_startup`) === 3 || this.num(`${d}.ambient_temp_fault`) === 1 || this.num(`${d}.ambient_humidity_fault`) === 1;
    const inputs = {
      commOk,
      soc: this.num(`${d}.soc`),
      powerKw: this.num(`${d}.power`),
      voltageV: this.num(`${d}.voltage`),
      maxDischargeA: this.num(`${d}.max_discharge_current`),
      contactorClosed: this.num(`${d}.contactor`) === 1,
      fault,
      permissive: this.num(`${d}.ac_group_startup`) === 2 && this.num(`${d}.p_control_mode`) === 1,
    };
    const manual = this.num(`${MG}.bess_mode`) === 0;
    // Never heard yet (start-up): not a communication loss — nothing is written and nothing alarmed.
    if (ids.some((id) => this.deps.table.qualityOf(this.pt(id).index) === Quality.INIT)) {
      this.deps.computed.set(`${MG}.bess_interlock`, 0, Quality.GOOD, now);
      this.deps.computed.set(`${MG}.bess_command`, this.commandKw ?? NaN, Quality.INIT, now);
      return { setpointKw: null, interlock: null, reason: { key: "mg.reason.waiting" }, manual, enabled: b.control, soc: inputs.soc, powerKw: inputs.powerKw, commandKw: this.commandKw, unconfirmed: this.deviceUnknown, device: d };
    }
    const decision = decideDispatch({ enabled: b.control, manual, gdpActive, buildingKw, eventSetpointKw: eventSp, bess: inputs, cfg: b });
    const { journal, lang, computed } = this.deps;

    // Interlocks latch the command at zero and stop writing until they clear.
    const il = decision.interlock ?? (now - this.writeFailedAt < 10_000 ? "write-failed" : null);
    if (il !== this.interlock) {
      journal.append({
        type: "microgrid.interlock",
        source: `${MG}.bess_interlock`,
        device: d,
        ...journalText(lang, il ? "journal.mg.interlock" : "journal.mg.interlockClear", { device: d, reason: il ?? "" }),
        data: { interlock: il, was: this.interlock },
      });
      if (il && il !== "comm-loss" && decision.interlock && this.commandKw !== 0 && b.control && !manual) {
        // Contactor open or fault: the device still answers, so it is told zero once, then left alone.
        void this.send(0, true);
      }
      if (il === "comm-loss") this.deviceUnknown = true;
      if (il) this.commandKw = 0;
      this.interlock = il;
    }
    if (b.control) computed.set(`${MG}.bess_interlock`, this.interlock ? INTERLOCK_CODE[this.interlock] : 0, Quality.GOOD, now);
    else computed.set(`${MG}.bess_interlock`, 0, Quality.GOOD, now);
    // After a new setpoint, wait until both the 5B1 and the BESS have been read since the battery
    // settled (its ramp is well under 0.5 s): the two buses are polled apart, and a 5B1 value with
    // the new discharge beside a BESS power from before it would make the loop hunt.
    const settledAt = this.lastWriteAt + SETTLE_MS;
    const settled = this.sampleTs > settledAt && this.deps.table.tsOf(this.pt(`${d}.power`).index) > settledAt;
    // A zero from a state (event over, reserve reached, no permissive) goes at once; the loop's own
    // numbers wait for settled readings.
    const fromLoop = decision.reason.key.startsWith("mg.reason.event");
    if (!this.interlock && decision.setpointKw !== null && (settled || !fromLoop)) {
      const sp = decision.setpointKw;
      const moved = this.commandKw === null || this.deviceUnknown || Math.abs(sp - this.commandKw) >= b.deadbandKw || (sp === 0 && this.commandKw !== 0);
      if (moved || now - this.lastWriteAt >= b.keepaliveS * 1000) void this.send(sp, false);
    }
    computed.set(`${MG}.bess_command`, this.commandKw ?? NaN, this.commandKw === null ? Quality.INIT : this.deviceUnknown ? Quality.COMM_FAIL : Quality.GOOD, now);
    const reason = this.interlock === "write-failed" ? { key: "mg.reason.write-failed" } : decision.reason;
    return { ...decision, interlock: this.interlock, reason, manual, enabled: b.control, soc: inputs.soc, powerKw: inputs.powerKw, commandKw: this.commandKw, unconfirmed: this.deviceUnknown, device: d };
  }

  /**
   * The normal write path for the control's own writes: its right to write (the site file enables
   * control of this one point), the owner's result, and a journal row with actor "control".
   */
  private async send(kw: number, interlockZero: boolean): Promise<void> {
    if (this.writing && !interlockZero) return;
    const b = this.deps.cfg.bess!;
    const info = this.pt(`${b.device}.p_setpoint`);
    if (!b.control || !info.writable) return; // the control's role: only what the site file enables
    this.writing = true;
    const sentAt = Date.now();
    this.lastWriteAt = sentAt;
    this.writes++;
    const old = this.commandKw;
    this.commandKw = kw;
    try {
      const r = await this.deps.writer.write(info.index, kw);
      this.deps.journal.append({
        type: "point.write",
        source: info.id,
        device: info.device,
        actor: "control",
        ...journalText(this.deps.lang, r.ok ? "journal.write.ok" : "journal.write.failed", { user: "control", point: info.id, old: `${old ?? "—"} kW`, new: `${kw} kW`, error: r.error ?? "", ms: Math.round(r.ms) }),
        data: { old, new: kw, ok: r.ok, error: r.error ?? null, ms: r.ms, reason: interlockZero ? "interlock" : "dispatch", sentAt },
      });
      // The next tick raises WRITE FAILED (journaled, alarmed) and, once it clears, resends.
      if (!r.ok && !interlockZero) this.writeFailedAt = Date.now();
      // Only the answer of the latest write says what the BESS holds.
      if (this.commandKw === kw) this.deviceUnknown = !r.ok;
    } finally {
      this.writing = false;
    }
  }
}
