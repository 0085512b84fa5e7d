/**
 * 15-minute demand, as the utility bills it and as a rolling mean. Pure: no clock, no I/O, so the
 * energy reports (issue 11) and the microgrid controller compute the same number from the same
 * samples.
 *
 * Convention (Hydro-Québec, like most utilities): a block is a quarter hour aligned to the clock
 * (hh:00, :15, :30, :45 in UTC — every time zone Busbar serves is offset by a whole quarter hour),
 * and its demand is the energy drawn in it divided by 15 minutes, i.e. the time-weighted mean kW.
 * A sample holds its value until the next one (a meter's reading is the power since it was taken);
 * a hold longer than `maxGapMs` is a gap: not counted, and reported as missing coverage.
 */

export const BLOCK_MS = 15 * 60_000;

export interface KwSample {
  ts: number;
  kw: number;
}

/** Start of the quarter-hour block holding `ts`. */
export function blockStart(ts: number, blockMs = BLOCK_MS): number {
  return Math.floor(ts / blockMs) * blockMs;
}

export interface BlockDemand {
  start: number;
  end: number;
  /** kWh drawn so far in the block (gaps excluded). */
  kwh: number;
  /** Time covered by samples so far (ms). */
  coveredMs: number;
  /** Mean kW over the covered part of the block so far (NaN before any sample). */
  runningKw: number;
  /** The block's demand if the present kW holds until its end: (kWh so far + kW now × rest) / 15 min (over the known part of a partly measured block). */
  projectedKw: number;
  /** The block's demand as billed once it is over: kWh / 15 min (so far, for an open block). */
  billedKw: number;
}

/**
 * Block demand of the block holding `now`, from samples sorted by time (earlier samples are
 * ignored except the last one before the block start, which holds into it).
 */
export function blockDemand(samples: readonly KwSample[], now: number, opts: { blockMs?: number; maxGapMs?: number } = {}): BlockDemand {
  const blockMs = opts.blockMs ?? BLOCK_MS;
  const maxGap = opts.maxGapMs ?? 10_000;
  const start = blockStart(now, blockMs);
  const end = start + blockMs;
  let kwh = 0;
  let covered = 0;
  let lastKw = NaN;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (s.ts >= now) break;
    const next = i + 1 < samples.length ? Math.min(samples[i + 1]!.ts, now) : now;
    if (next - s.ts > maxGap) continue; // a gap: the value is not known over it
    const a = Math.max(s.ts, start);
    const b = Math.min(next, end);
    if (b > a) {
      kwh += (s.kw * (b - a)) / 3_600_000;
      covered += b - a;
    }
    if (s.ts >= start || next > start) lastKw = s.kw;
  }
  const rest = Math.max(0, end - now);
  const hours = blockMs / 3_600_000;
  return {
    start,
    end,
    kwh,
    coveredMs: covered,
    runningKw: covered > 0 ? (kwh * 3_600_000) / covered : NaN,
    projectedKw: projection(kwh, covered, lastKw, rest),
    billedKw: kwh / hours,
  };
}

/**
 * The block's demand at its end if the present kW holds: (kWh so far + kW × rest) over the time
 * known by then. With the whole block measured that is (kWh + kW × rest) / 15 min; a block Busbar
 * saw only part of (a start, a gap) is not taken as zero where it was not measured.
 */
function projection(kwh: number, coveredMs: number, kw: number, restMs: number): number {
  if (!Number.isFinite(kw)) return NaN;
  const known = coveredMs + restMs;
  return known > 0 ? ((kwh + (kw * restMs) / 3_600_000) * 3_600_000) / known : kw;
}

/**
 * What a closed block's demand is known to be: billed (kWh ÷ 15 min) when it was measured
 * throughout (`slackMs` at most missing), else the mean over the measured part (kWh ÷ 15 min would
 * count the gap as zero) as an estimate, and unknown (NaN) when under half of it was measured.
 */
export function closedBlockDemand(b: { billedKw: number; coveredMs: number }, blockMs = BLOCK_MS, slackMs = 5_000): { kw: number; complete: boolean } {
  if (b.coveredMs >= blockMs - slackMs) return { kw: b.billedKw, complete: true };
  if (b.coveredMs >= blockMs / 2) return { kw: (b.billedKw * blockMs) / b.coveredMs, complete: false };
  return { kw: NaN, complete: false };
}

/**
 * The same demand kept incrementally (the controller's 1 s tick must not rescan a block): feed
 * every sample in time order with `add`; `blockDemand` over the same samples gives the same numbers.
 */
export class BlockDemandMeter {
  private start = NaN;
  private kwh = 0;
  private covered = 0;
  private last: KwSample | null = null;
  /** The last completed block's billed demand, and its start. */
  lastBlock: { start: number; billedKw: number; coveredMs: number } | null = null;

  constructor(
    private readonly blockMs = BLOCK_MS,
    private readonly maxGapMs = 10_000,
  ) {}

  add(ts: number, kw: number): void {
    const prev = this.last;
    if (prev && ts <= prev.ts) return; // out of order or repeated: already counted
    if (Number.isNaN(this.start)) this.start = blockStart(ts, this.blockMs);
    if (prev && ts - prev.ts <= this.maxGapMs) this.integrate(prev.kw, prev.ts, ts);
    this.roll(ts);
    this.last = Number.isFinite(kw) ? { ts, kw } : null;
  }

  /** The open block at `now` (the last sample held up to `now` if it is not too old). */
  at(now: number): BlockDemand {
    this.roll(now);
    let kwh = this.kwh;
    let covered = this.covered;
    const l = this.last;
    if (l && now > l.ts && now - l.ts <= this.maxGapMs) {
      const a = Math.max(l.ts, this.start);
      kwh += (l.kw * (now - a)) / 3_600_000;
      covered += now - a;
    }
    const end = this.start + this.blockMs;
    const hours = this.blockMs / 3_600_000;
    const lastKw = l && now - l.ts <= this.maxGapMs ? l.kw : NaN;
    return {
      start: this.start,
      end,
      kwh,
      coveredMs: covered,
      runningKw: covered > 0 ? (kwh * 3_600_000) / covered : NaN,
      projectedKw: projection(kwh, covered, lastKw, Math.max(0, end - now)),
      billedKw: kwh / hours,
    };
  }

  /** Adds `kw` held from `a` to `b`, closing blocks crossed on the way. */
  private integrate(kw: number, a: number, b: number): void {
    let t = a;
    while (t < b) {
      const end = this.start + this.blockMs;
      const until = Math.min(b, end);
      if (until > t) {
        this.kwh += (kw * (until - t)) / 3_600_000;
        this.covered += until - t;
      }
      t = until;
      if (t >= end) this.closeBlock();
    }
  }

  private roll(now: number): void {
    // Blocks passed without samples close empty.
    while (!Number.isNaN(this.start) && now >= this.start + this.blockMs) this.closeBlock();
  }

  private closeBlock(): void {
    this.lastBlock = { start: this.start, billedKw: this.kwh / (this.blockMs / 3_600_000), coveredMs: this.covered };
    this.start += this.blockMs;
    this.kwh = 0;
    this.covered = 0;
  }
}

/**
 * Rolling 15-minute mean: time-weighted over the last `windowMs`, from one sample a tick.
 * Kept as a ring of (ts, kw) with a running kWh so a tick costs O(1) amortized.
 */
export class RollingMean {
  private readonly ts: Float64Array;
  private readonly kw: Float64Array;
  private head = 0;
  private size = 0;

  constructor(
    private readonly windowMs = BLOCK_MS,
    capacity = 2048,
    private readonly maxGapMs = 10_000,
  ) {
    this.ts = new Float64Array(capacity);
    this.kw = new Float64Array(capacity);
  }

  add(ts: number, kw: number): void {
    if (this.size && ts <= this.ts[(this.head + this.size - 1) % this.ts.length]!) return;
    if (this.size === this.ts.length) {
      this.head = (this.head + 1) % this.ts.length;
      this.size--;
    }
    const i = (this.head + this.size) % this.ts.length;
    this.ts[i] = ts;
    this.kw[i] = Number.isFinite(kw) ? kw : NaN;
    this.size++;
  }

  /** Mean kW over (now − window, now], gaps excluded; NaN when nothing is covered. */
  mean(now: number): number {
    const from = now - this.windowMs;
    // Drop samples whose hold ended before the window.
    while (this.size > 1 && this.ts[(this.head + 1) % this.ts.length]! <= from) {
      this.head = (this.head + 1) % this.ts.length;
      this.size--;
    }
    let kwh = 0;
    let covered = 0;
    for (let k = 0; k < this.size; k++) {
      const i = (this.head + k) % this.ts.length;
      const t0 = this.ts[i]!;
      const t1 = k + 1 < this.size ? this.ts[(i + 1) % this.ts.length]! : now;
      const v = this.kw[i]!;
      if (t1 - t0 > this.maxGapMs || Number.isNaN(v)) continue;
      const a = Math.max(t0, from);
      const b = Math.min(t1, now);
      if (b > a) {
        kwh += v * (b - a);
        covered += b - a;
      }
    }
    return covered > 0 ? kwh / covered : NaN;
  }
}
