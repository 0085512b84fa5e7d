/**
 * Where the shedding stage is decided. Pure: the controller calls `decideStage` once a tick with the
 * excess of the building's kW over the setpoint in force, and keeps the returned state.
 *
 * What the signal means (the site point list's table, resolved): the signal is the PERMITTED LOAD
 * of the building's sheddable loads, in %. 100 % = they may run fully, 0 % = all of them off. The
 * table maps "excess over the setpoint" to it, falling as the excess rises (site list default:
 * +10 kW → 100 %, +15 → 90 %, … +60 → 0 %): reaching +10 kW opens stage 1 (request active, signal
 * still 100 %: the BMS prepares), every further 5 kW takes 10 % more away. `direction: "shed"`
 * sends the complement instead (0 % = nothing to shed, 100 % = shed everything) for a BMS that
 * expects a shedding depth. The second stage is a separate 0/100 % signal: the building is still
 * too high with the first stage at its last row (site list: "si le kW du bâtiment est trop élevé,
 * envoyer un signal 100 % en deuxième stage de délestage").
 *
 * It never chatters: a row is entered when the excess reaches its threshold and left only when
 * the excess falls below threshold − hysteresis; a stage is kept at least `holdUpS` before going
 * further up and `holdDownS` before stepping down (one row at a time on the way down: loads come
 * back gradually, as a demand controller restores them).
 */

export interface ShedRow {
  /** kW above the setpoint at which this row starts. */
  excessKw: number;
  /** Permitted load of the sheddable loads at this row, %. */
  signal: number;
}

export interface ShedConfig {
  table: ShedRow[];
  hysteresisKw: number;
  holdUpS: number;
  holdDownS: number;
  /** "permit" (default): the signal is the permitted load; "shed": 100 − permitted (depth of shedding). */
  direction: "permit" | "shed";
  /** Second stage: excess at or above this (default: the last row's threshold) … */
  secondStageExcessKw: number;
  /** … for this long turns it on; it goes off below the threshold − hysteresis after holdDownS. */
  secondStageDelayS: number;
}

/** The site point list's table: +10 kW → 100 %, then 10 % less per 5 kW, +60 kW → 0 %. */
export const SITE_LIST_TABLE: ShedRow[] = Array.from({ length: 11 }, (_, i) => ({ excessKw: 10 + 5 * i, signal: 100 - 10 * i }));

export const DEFAULT_SHED_CONFIG: ShedConfig = {
  table: SITE_LIST_TABLE,
  hysteresisKw: 3,
  holdUpS: 10,
  holdDownS: 60,
  direction: "permit",
  secondStageExcessKw: 60,
  secondStageDelayS: 60,
};

export interface ShedState {
  /** 0 = no shedding; k = row k − 1 of the table is in force. */
  stage: number;
  /** When the stage last changed (ms). */
  since: number;
  second: boolean;
  secondSince: number;
  /** Since when the excess has been at or above the second stage threshold (NaN: it is not). */
  highSince: number;
}

export const INITIAL_SHED_STATE: ShedState = { stage: 0, since: -Infinity, second: false, secondSince: -Infinity, highSince: NaN };

/** Why the stage is what it is, for the page's "why" panel and the journal. */
export interface ShedDecision {
  state: ShedState;
  /** The signal sent (direction applied), %. */
  signal: number;
  /** Permitted load, % (direction not applied). */
  permitted: number;
  /** The rule that fired: e.g. "excess 23.4 kW ≥ +20 kW (row 3) → 80 %". */
  rule: RuleFired;
}

export type RuleFired =
  | { kind: "none"; nextKw: number }
  | { kind: "row"; row: number; thresholdKw: number; signal: number; nextKw: number | null; releaseKw: number }
  | { kind: "held"; wanted: number; untilMs: number; row: number }
  | { kind: "no-data"; row: number };

/** The table row (1-based stage) the excess reaches, with no memory: 0 below the first threshold. */
export function rowFor(table: readonly ShedRow[], excessKw: number): number {
  let stage = 0;
  for (let i = 0; i < table.length; i++) if (excessKw >= table[i]!.excessKw) stage = i + 1;
  return stage;
}

function permittedOf(table: readonly ShedRow[], stage: number): number {
  return stage === 0 ? 100 : table[stage - 1]!.signal;
}

/**
 * One tick. `excessKw` NaN (no measurement) holds the stage: shedding is never relieved on a
 * missing value, and never started by one.
 */
export function decideStage(prev: ShedState, excessKw: number, now: number, cfg: ShedConfig): ShedDecision {
  const t = cfg.table;
  const out = (state: ShedState, rule: RuleFired): ShedDecision => {
    const permitted = permittedOf(t, state.stage);
    return { state, permitted, signal: cfg.direction === "shed" ? 100 - permitted : permitted, rule };
  };
  if (!Number.isFinite(excessKw)) return out(prev, { kind: "no-data", row: prev.stage });

  // Where the excess would put us, with hysteresis against the row we are in.
  const raw = rowFor(t, excessKw);
  let target = prev.stage;
  if (raw > prev.stage) target = raw;
  else if (prev.stage > 0 && excessKw < t[prev.stage - 1]!.excessKw - cfg.hysteresisKw) target = prev.stage - 1;

  let state = prev;
  let held: RuleFired | null = null;
  if (target > prev.stage) {
    const until = prev.since + cfg.holdUpS * 1000;
    if (now >= until) state = { ...prev, stage: target, since: now };
    else held = { kind: "held", wanted: target, untilMs: until, row: prev.stage };
  } else if (target < prev.stage) {
    const until = prev.since + cfg.holdDownS * 1000;
    if (now >= until) state = { ...prev, stage: target, since: now };
    else held = { kind: "held", wanted: target, untilMs: until, row: prev.stage };
  }

  // Second stage: too high for long enough, released like a row.
  const high = excessKw >= cfg.secondStageExcessKw;
  const highSince = high ? (Number.isNaN(prev.highSince) ? now : prev.highSince) : NaN;
  let { second, secondSince } = state;
  if (!second && high && now - highSince >= cfg.secondStageDelayS * 1000) [second, secondSince] = [true, now];
  else if (second && excessKw < cfg.secondStageExcessKw - cfg.hysteresisKw && now >= secondSince + cfg.holdDownS * 1000) [second, secondSince] = [false, now];
  state = { ...state, second, secondSince, highSince };

  if (held) return out(state, held);
  if (state.stage === 0) return out(state, { kind: "none", nextKw: t[0]?.excessKw ?? Infinity });
  const row = t[state.stage - 1]!;
  return out(state, {
    kind: "row",
    row: state.stage,
    thresholdKw: row.excessKw,
    signal: row.signal,
    nextKw: state.stage < t.length ? t[state.stage]!.excessKw : null,
    releaseKw: row.excessKw - cfg.hysteresisKw,
  });
}

/** Checks a configured table: thresholds rising, signals 0..100. */
export function tableProblem(table: readonly ShedRow[]): string | null {
  if (!table.length) return "the table needs at least one row";
  for (let i = 0; i < table.length; i++) {
    const r = table[i]!;
    if (!(r.signal >= 0 && r.signal <= 100)) return `row ${i + 1}: signal must be 0..100 %`;
    if (i > 0 && !(r.excessKw > table[i - 1]!.excessKw)) return `row ${i + 1}: thresholds must rise (${table[i - 1]!.excessKw} then ${r.excessKw} kW)`;
  }
  return null;
}
