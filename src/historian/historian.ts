import type { Database } from "bun:sqlite";
import { Quality } from "../points/quality.ts";
import { aggregate, emptyRow, emptySamples, RunningRollup, type RollupRow, type SampleColumns, type Samples } from "./aggregate.ts";
import { retentionMs, type HistorianConfig } from "./config.ts";
import type { HistPoint } from "./points.ts";
import { OpenSamples, ValueColumn } from "./open.ts";
import { SampleLog, readSampleLog } from "./samplelog.ts";
import { encodeBlock, HistoryStore, openHistoryDb } from "./store.ts";
import { Calendar, TIERS } from "./tiers.ts";

/** Stored when Busbar was not running (clean stop, or found at start after a crash): a gap. */
export const OFFLINE = -1;
/** Commits at least this often (the bound is 1 s; half leaves room for a slow commit). */
export const FLUSH_MS = 500;
/** A minute is closed this long after it ends: samples of its last poll are drained and committed by then. */
const CLOSE_GRACE_MS = 2_000;
/** Longest a tick's close slice keeps the main thread (ms), and points between clock checks. */
export const SLICE_MS = 8;
const CLOSE_STEP = 8;

type MinuteColumns = { ts: Float64Array; v: Float64Array; q: Int32Array };

export interface HistorianOptions {
  path: string;
  points: HistPoint[];
  config: HistorianConfig;
  timeZone: string;
  /** Journals a notable event (queue overflow). */
  event?: (type: string, message: string, data: Record<string, unknown>) => void;
  now?: () => number;
  /** Commit period (default FLUSH_MS). */
  flushMs?: number;
  /** Longest a close slice may run in a tick (default SLICE_MS; 0: one step per slice, for tests). */
  sliceMs?: number;
  /** Called after each commit with the number of samples it wrote. */
  onCommit?: (samples: number) => void;
  /**
   * Reads the history of a Busbar that may be running (CLI exports): loads its closed intervals and
   * open minutes and writes nothing (no gap markers, no catch-up, the sample log left alone).
   */
  reader?: boolean;
}

export interface HistorianStats {
  queued: number;
  dropped: number;
  stored: number;
  commits: number;
  lastCommitMs: number;
  maxCommitMs: number;
}

/**
 * Change-based samples in, one batched writer out. `offer` is the hot path (called for every change
 * the live view drains): it decides in O(1) whether the change is worth storing and, if so, puts it
 * on a bounded in-memory queue. Every FLUSH_MS the queue is written in one transaction, together with
 * the 1-minute rollups of minutes that closed, the coarser tiers they complete, and the repair of
 * intervals a late sample touched.
 */
export class Historian {
  readonly db: Database;
  readonly store: HistoryStore;
  readonly calendar: Calendar;
  readonly points: HistPoint[];
  /** Stable database id per point index. */
  readonly pid: number[];
  readonly holdMs: Float64Array;
  /** Heartbeat per point (ms); Infinity for a point not stored. */
  private readonly heartbeatMs: Float64Array;
  /**
   * How much earlier than its heartbeat a point's first heartbeat after a start comes (ms, up to
   * half of it, spread by point index). Points that start together and do not move would otherwise
   * all beat in the same minute, forever: at 20,000 points, 18,000 samples, blocks and rows in one
   * minute's close every heartbeat (~10 MB of RSS at once). Earlier is within the maximum interval.
   */
  private readonly beatEarlyMs: Float32Array;
  private readonly now: () => number;

  // Sampler: the last stored sample per point.
  private readonly lastV: ValueColumn;
  private readonly lastT: Float64Array;
  private readonly lastQ: Int32Array;

  // Bounded queue (ring) of samples waiting for the next commit.
  private readonly cap: number;
  private readonly qPoint: Int32Array;
  private readonly qTs: Float64Array;
  private readonly qVal: Float64Array;
  private readonly qQual: Int32Array;
  /** Text values and nulls (rare) by queue slot; numbers live in qVal. */
  private readonly qText = new Map<number, string | null>();
  private qHead = 0;
  private qLen = 0;
  private droppedUnreported = 0;
  private lastDropReport = 0;

  // Rollups: the last sample before the open minute, and the open minute's samples, per point.
  // Struct of arrays (no object per point, see open.ts); carryT is NaN when a point has no carry.
  private readonly carryT: Float64Array;
  private readonly carryV: ValueColumn;
  private readonly carryQ: Int32Array;
  /** Reused (nothing keeps them): the carry handed to aggregate(), a text point's minute, fillCarried's empty one. */
  private readonly scratchCarry = { ts: 0, v: null as number | string | null, q: 0 };
  private readonly scratch: Samples = emptySamples();
  /** A numeric point's minute in a close, in typed columns (reused, grown as needed; NaN: no value). */
  private minute: MinuteColumns = { ts: new Float64Array(256), v: new Float64Array(256), q: new Int32Array(256) };
  /** Reused rows for aggregate() in closes: each is written to a batch (copied) at once. */
  private readonly rowA: RollupRow = emptyRow();
  private readonly rowB: RollupRow = emptyRow();
  /**
   * Committed samples of minutes not closed yet, per point (one shared slot pool). Durable in the
   * sample log (samplelog.ts) until their minute closes and they move to h_raw: rows keyed
   * (point, ts) written twice a second would dirty one page per point per commit (MBs of WAL a
   * second at 20,000 points); moved once a minute, a point's page is written once a minute.
   */
  readonly open: OpenSamples;
  readonly log: SampleLog;
  /** h_recent holds rows (written by an older Busbar, or by a backup of the open minutes): emptied as minutes close. */
  private recentRows = false;
  /** A minute closed since the log last started a segment. */
  private rotateDue = false;
  /** End of the last closed interval, per tier. */
  readonly closed: number[];
  /**
   * End of each point's stored 1-minute rows. A minute without a sample of the point (its carried
   * value only) is not written when it closes: the rows of such minutes are written in one go when
   * the quarter hour closes (or at the next sample, or at a stop), so a close touches only the
   * points that changed (at 20,000 points, 2,000 rows a minute instead of 20,000, each on its own
   * page). Queries compute the minutes between denseTo and closed[0] from the carry (storedTo).
   */
  private readonly denseTo: Float64Array;
  /**
   * Per tier, each point's row of the open interval, summed as its finer rows are written (and
   * from the stored ones at a start): the quarter hour from 1-minute rows and the hour from quarter
   * hours (tiers 1 and 2; a day or a month closes once a day at most and is rolled up in SQL).
   */
  private readonly sums: (RunningRollup | undefined)[];
  private readonly dirty = new Map<number, [number, number]>(); // point index → [earliest, latest] late timestamp

  private timer: ReturnType<typeof setInterval> | undefined;
  /** A close in progress (closeSteps), its next slice, the minute end it is closing to and the point it is at. */
  private closer: Generator<void, void, void> | undefined;
  private sliceTimer: ReturnType<typeof setTimeout> | undefined;
  private closingTo = 0;
  private cursor = 0;
  /** Reads a point's current value for heartbeats (set by the live feed); without it only changes are stored. */
  current: ((index: number) => { v: number | string | null; q: number }) | undefined;
  readonly stats: HistorianStats = { queued: 0, dropped: 0, stored: 0, commits: 0, lastCommitMs: 0, maxCommitMs: 0 };

  constructor(readonly opts: HistorianOptions) {
    this.now = opts.now ?? Date.now;
    this.db = openHistoryDb(opts.path);
    this.store = new HistoryStore(this.db);
    this.calendar = new Calendar(opts.timeZone);
    this.points = opts.points;
    const n = opts.points.length;
    this.pid = this.store.pointIds(opts.points.map((p) => ({ name: p.name, kind: p.kind, unit: p.unit })));
    this.holdMs = Float64Array.from(opts.points, (p) => 2 * p.heartbeatMs);
    this.heartbeatMs = Float64Array.from(opts.points, (p) => (p.store ? p.heartbeatMs : Infinity));
    this.beatEarlyMs = Float32Array.from(opts.points, (p, i) => (p.store ? (p.heartbeatMs / 2) * ((i * 0.6180339887) % 1) : 0));
    this.lastV = new ValueColumn(n);
    this.lastT = new Float64Array(n);
    this.lastQ = new Int32Array(n).fill(OFFLINE);
    this.cap = opts.config.queueMax;
    this.qPoint = new Int32Array(this.cap);
    this.qTs = new Float64Array(this.cap);
    this.qVal = new Float64Array(this.cap);
    this.qQual = new Int32Array(this.cap);
    this.carryT = new Float64Array(n).fill(NaN);
    this.carryV = new ValueColumn(n);
    this.carryQ = new Int32Array(n);
    // Two samples a point to start with: the pool doubles if a minute holds more.
    this.open = new OpenSamples(n, Math.max(1024, 2 * n));
    this.closed = TIERS.map(() => 0);
    this.denseTo = new Float64Array(n);
    this.sums = TIERS.map((_, k) => (k === 1 || k === 2 ? new RunningRollup(n) : undefined));
    this.log = new SampleLog(opts.reader ? ":memory:" : opts.path);
    if (opts.reader) this.loadForReading();
    else this.recover();
    // Start-up reads are per point (20,000 at scale): collect their garbage now, not at the RSS peak.
    Bun.gc(true);
  }

  // ---- ingest -------------------------------------------------------------------------------------

  /** A change seen live: stored if it passes the point's deadband, or its quality changed. */
  offer(i: number, ts: number, v: number | string | null, q: number): boolean {
    const p = this.points[i]!;
    if (!p.store) return false;
    const lq = this.lastQ[i]!;
    if (q === lq) {
      if (q !== Quality.GOOD) return false; // still bad: nothing new to say until it recovers
      const lv = this.lastV.get(i);
      const beat = ts - this.lastT[i]! >= p.heartbeatMs - this.beatEarlyMs[i]!;
      if (p.kind === "analog" && typeof v === "number" && typeof lv === "number") {
        const db = p.deadband || p.relDeadband * Math.abs(lv);
        if (!(Math.abs(v - lv) > db) && !beat) return false;
      } else if (v === lv && !beat) return false;
      if (beat) this.beatEarlyMs[i] = 0; // this sample is the beat: the next ones keep its phase
    }
    this.accept(i, ts, v, q);
    return true;
  }

  /** Stores a sample unconditionally (heartbeats, backfill, benches); keeps each point's time monotonic. */
  private accept(i: number, ts: number, v: number | string | null, q: number): void {
    if (ts <= this.lastT[i]!) ts = this.lastT[i]! + 1;
    this.lastV.set(i, v);
    this.lastT[i] = ts;
    this.lastQ[i] = q;
    this.enqueue(i, ts, v, q);
  }

  /** Puts a sample on the queue as it is (late or out-of-order samples repair their intervals). */
  enqueue(i: number, ts: number, v: number | string | null, q: number): void {
    let slot: number;
    if (this.qLen === this.cap) {
      // Full: the oldest sample goes, counted; the hot path never waits for the disk.
      slot = this.qHead;
      this.qHead = (this.qHead + 1) % this.cap;
      this.stats.dropped++;
      this.droppedUnreported++;
    } else {
      slot = (this.qHead + this.qLen) % this.cap;
      this.qLen++;
    }
    this.qPoint[slot] = i;
    this.qTs[slot] = ts;
    if (typeof v === "number") {
      this.qVal[slot] = v;
      if (this.qText.size) this.qText.delete(slot);
    } else {
      this.qText.set(slot, v);
      this.qVal[slot] = NaN;
    }
    this.qQual[slot] = q;
    this.stats.queued++;
  }

  /** Heartbeats: a point whose last stored sample is older than its heartbeat gets one now. */
  sweepHeartbeats(now = this.now()): void {
    const cur = this.current;
    if (!cur) return;
    // Every FLUSH_MS over every point (20,000 at scale): typed columns only, no object per point.
    const hb = this.heartbeatMs;
    const early = this.beatEarlyMs;
    const lastT = this.lastT;
    for (let i = 0; i < hb.length; i++) {
      if (now - lastT[i]! < hb[i]! - early[i]!) continue;
      const c = cur(i);
      if (c.q === Quality.INIT) continue;
      this.accept(i, now, c.v, c.q);
      early[i] = 0; // this sample is the beat: the next ones keep its phase
    }
  }

  /** Samples not yet committed for one point, from `from` on (the query merges them). */
  pending(i: number, from: number): Samples {
    const s = emptySamples();
    for (let k = 0; k < this.qLen; k++) {
      const slot = (this.qHead + k) % this.cap;
      if (this.qPoint[slot] !== i || this.qTs[slot]! < from) continue;
      s.ts.push(this.qTs[slot]!);
      s.v.push(this.valueAt(slot));
      s.q.push(this.qQual[slot]!);
    }
    return s;
  }

  private valueAt(slot: number): number | string | null {
    const v = this.qVal[slot]!;
    if (v === v) return v;
    return this.qText.get(slot) ?? null;
  }

  get queueLength(): number {
    return this.qLen;
  }

  // ---- the writer ---------------------------------------------------------------------------------

  start(): void {
    this.timer = setInterval(() => this.tick(), this.opts.flushMs ?? FLUSH_MS);
  }

  /** One writer step: heartbeats, commit (closes in bounded slices), and a drop report at most once a minute. */
  tick(): void {
    try {
      const now = this.now();
      this.sweepHeartbeats(now);
      this.commit(now, this.opts.sliceMs ?? SLICE_MS);
      if (this.droppedUnreported && now - this.lastDropReport > 60_000) {
        this.lastDropReport = now;
        const n = this.droppedUnreported;
        this.droppedUnreported = 0;
        this.opts.event?.("historian.overflow", `History queue full: ${n} oldest samples dropped (queue of ${this.cap})`, { dropped: n, total: this.stats.dropped });
      }
    } catch (e) {
      console.error("historian commit failed:", e);
    }
  }

  /** Commits everything queued, then closes the minutes (and coarser intervals) that ended, all at once. */
  flush(now = this.now()): number {
    return this.commit(now, Infinity);
  }

  /** True while a close is spread over slices (tick); flush finishes it. */
  get closing(): boolean {
    return this.closer !== undefined;
  }

  /**
   * One transaction: the queue, then closing work for at most `budgetMs`. At 20,000 points a
   * minute's close (and more so a quarter hour's) takes 0.1–1 s; run in one go on the main thread it
   * would stall page streams, alarms and the table drain. The tick gives it slices of SLICE_MS with
   * the event loop running between them; each slice is its own transaction, so a crash mid-close
   * leaves closed.* unchanged and the restart recomputes the interval (idempotent writes).
   */
  private commit(now: number, budgetMs: number): number {
    const t0 = performance.now();
    const n = this.qLen;
    const closedBefore = this.closed[0]!;
    let done = true;
    // On-time samples first: into the open minutes and the sample log, one write for the batch (the
    // batch is durable from here); late ones (for closed minutes) wait in their slots for the transaction.
    const late: number[] = [];
    for (let k = 0; k < n; k++) {
      const slot = (this.qHead + k) % this.cap;
      const i = this.qPoint[slot]!;
      const ts = this.qTs[slot]!;
      if (ts < this.closedAt(i)) late.push(slot);
      else this.putOpen(i, ts, this.valueAt(slot), this.qQual[slot]!);
    }
    this.log.write();
    this.db.transaction(() => {
      for (const slot of late) this.putLate(this.qPoint[slot]!, this.qTs[slot]!, this.valueAt(slot), this.qQual[slot]!);
      // Empty: start again at slot 0, so the ring's pages in use are the backlog's, not all of it (RSS).
      this.qHead = 0;
      this.qLen = 0;
      this.qText.clear();
      done = this.advanceClose(now, t0 + budgetMs);
      this.store.putMeta("last_commit", now);
    })();
    if (done) this.rotateLog();
    // A minute's close dirties a page per point: hand SQLite's transient memory back afterwards.
    if (done && this.closed[0]! !== closedBefore) this.db.exec("PRAGMA shrink_memory");
    this.stats.stored += n;
    this.stats.commits++;
    this.opts.onCommit?.(n);
    const ms = performance.now() - t0;
    this.stats.lastCommitMs = ms;
    if (ms > this.stats.maxCommitMs) this.stats.maxCommitMs = ms;
    if (!done && !this.sliceTimer) this.sliceTimer = setTimeout(() => this.nextSlice(), 0);
    return n;
  }

  /** The next slice of a close in progress (the event loop ran in between). */
  private nextSlice(): void {
    this.sliceTimer = undefined;
    if (!this.closer) return;
    try {
      const t0 = performance.now();
      let done = true;
      this.db.transaction(() => {
        done = this.advanceClose(this.now(), t0 + (this.opts.sliceMs ?? SLICE_MS));
      })();
      if (done) {
        this.rotateLog();
        this.db.exec("PRAGMA shrink_memory");
        // A close leaves short-lived values (a few MB at 20,000 points): collect them now
        // (concurrently) rather than let the heap grow to the GC's own threshold (RSS). Not
        // Bun.shrink(): it also discards all compiled code, and the JIT threads recompiled the whole
        // process after every minute's close (+0.3 % of a core at 20,000 points).
        Bun.gc(false);
      } else this.sliceTimer = setTimeout(() => this.nextSlice(), 0);
      const ms = performance.now() - t0;
      if (ms > this.stats.maxCommitMs) this.stats.maxCommitMs = ms;
    } catch (e) {
      console.error("historian close failed:", e);
    }
  }

  /**
   * Repairs late samples, then runs the close until `deadline` (performance.now()); true when
   * nothing is left to close. Repairs wait while a close is in progress: an interval half closed is
   * not one a repair can reason about.
   */
  private advanceClose(now: number, deadline: number): boolean {
    if (!this.closer) {
      this.repairDirty();
      this.closer = this.closeSteps(this.calendar.start(0, now - CLOSE_GRACE_MS));
    }
    try {
      while (!this.closer.next().done) if (performance.now() >= deadline) return false;
    } finally {
      // A slice ends inside its transaction: rows still buffered go with it.
      this.store.endBatches();
    }
    this.closer = undefined;
    this.repairDirty();
    return true;
  }

  /** A sample for a minute still open: into its buffer and the sample log (written once per commit). */
  private putOpen(i: number, ts: number, v: number | string | null, q: number): void {
    this.log.add(this.pid[i]!, ts, v, q);
    this.open.insert(i, ts, v, q);
  }

  /** A sample late for a closed minute (inside the writer's transaction): into h_raw, with a repair of the intervals it touches. */
  private putLate(i: number, ts: number, v: number | string | null, q: number): void {
    this.store.insertRaw.run(this.pid[i]!, ts, v, q);
    const d = this.dirty.get(i);
    if (d === undefined) this.dirty.set(i, [ts, ts]);
    else {
      if (ts < d[0]) d[0] = ts;
      if (ts > d[1]) d[1] = ts;
    }
    const ct = this.carryT[i]!;
    if (!(ct === ct) || ts > ct) this.setCarry(i, ts, v, q);
  }

  private setCarry(i: number, ts: number, v: number | string | null, q: number): void {
    this.carryT[i] = ts;
    this.carryV.set(i, v);
    this.carryQ[i] = q;
  }

  private clearCarry(i: number): void {
    this.carryT[i] = NaN;
    this.carryV.set(i, null);
  }

  /** Point i's carry in the reused scratch object, or undefined. */
  private carryOf(i: number): { ts: number; v: number | string | null; q: number } | undefined {
    const t = this.carryT[i]!;
    if (!(t === t)) return undefined;
    const c = this.scratchCarry;
    c.ts = t;
    c.v = this.carryV.get(i);
    c.q = this.carryQ[i]!;
    return c;
  }

  /**
   * Closes every minute that ended before `until` from the in-memory buffers, then the coarser
   * intervals they complete; yields every CLOSE_STEP points (advanceClose decides when to pause).
   * While minute [a, b) is half closed, points below `cursor` count as closed up to b (put, closedAt).
   */
  private *closeSteps(until: number): Generator<void, void, void> {
    // Rows and blocks batched (store.ts): written by the slice's end (advanceClose) at the latest.
    const start = this.closed[0]!;
    // Coarser intervals left open by a crash mid-close first, so their sums restart in time.
    yield* this.closeCoarser();
    while (this.closed[0]! < until) {
      const a = this.closed[0]!;
      const b = a + 60_000;
      this.closingTo = b;
      for (let i = 0; i < this.points.length; i++) {
        this.cursor = i;
        if (i % CLOSE_STEP === 0) yield;
        this.closeMinuteOf(i, a, b);
      }
      this.closed[0] = b;
      this.closingTo = 0;
      this.cursor = 0;
      this.store.putMeta("closed.1m", b);
      // Coarser intervals this minute completes, before the next minute's rows (RunningRollup).
      yield* this.closeCoarser();
    }
    if (this.closed[0]! > start) {
      // The moved samples leave the log once this close is committed (rotateLog), and h_recent's
      // rows (if any) in bounded steps.
      this.rotateDue = true;
      if (this.recentRows) {
        while ((this.store.dropRecentSome.run(this.closed[0]!, 4 * CLOSE_STEP * 8).changes as number) > 0) yield;
        this.recentRows = this.db.query("SELECT 1 FROM h_recent LIMIT 1").get() !== null;
      }
    }
  }

  /**
   * Point i's minute [a, b): its 1-minute row and its samples' block. A plain method, not inline in
   * the generator: JSC optimizes a generator's body less, and this loop runs 120,000 samples a minute
   * at 20,000 points.
   */
  private closeMinuteOf(i: number, a: number, b: number): void {
    const open = this.open;
    // No sample in the minute: its row (the carried value) waits for fillCarried.
    const f = open.first(i);
    if (f < 0 || open.tsAt(f) >= b) return;
    if (this.denseTo[i]! < a) this.fillCarried(i, a);
    const c = this.carryOf(i);
    const text = this.points[i]!.kind === "text";
    // The minute's samples of point i into reused columns: typed for numbers (no JS array pushes,
    // 120,000 samples a minute at 20,000 points), arrays for a text point's strings.
    let s: SampleColumns;
    let hi = 0;
    if (text) {
      const t = this.scratch;
      t.ts.length = t.v.length = t.q.length = 0;
      for (let k = f; k >= 0 && open.tsAt(k) < b; k = open.after(k)) {
        t.ts.push(open.tsAt(k));
        t.v.push(open.valueAt(k));
        t.q.push(open.qualityAt(k));
      }
      hi = t.ts.length;
      s = t;
    } else {
      let m = this.minute;
      for (let k = f; k >= 0 && open.tsAt(k) < b; k = open.after(k), hi++) {
        if (hi === m.ts.length) m = this.growMinute();
        m.ts[hi] = open.tsAt(k);
        m.v[hi] = open.numAt(k);
        m.q[hi] = open.qualityAt(k);
      }
      s = m;
      const r = aggregate(c, s, 0, hi, a, b, this.holdMs[i]!, this.rowA);
      if (r) {
        this.store.minuteBatch.addRow(this.pid[i]!, r);
        this.sums[1]!.fold(i, r);
      }
    }
    this.denseTo[i] = b;
    if (hi > 0) {
      // One row for the point's minute (h_block), not a row per sample.
      this.store.blockBatch.add4(this.pid[i]!, a, hi, encodeBlock(a, s.ts, s.v, s.q, hi));
      const v = s.v[hi - 1]!;
      this.setCarry(i, s.ts[hi - 1]!, v === v ? v : null, s.q[hi - 1]!);
      for (let k = 0; k < hi; k++) open.shift(i);
    } else if (c && c.ts + this.holdMs[i]! <= b) this.clearCarry(i);
  }

  private growMinute(): MinuteColumns {
    const m = this.minute;
    const n = m.ts.length * 2;
    const grown = { ts: new Float64Array(n), v: new Float64Array(n), q: new Int32Array(n) };
    grown.ts.set(m.ts);
    grown.v.set(m.v);
    grown.q.set(m.q);
    return (this.minute = grown);
  }

  /**
   * After a committed close: the log starts a new segment with the samples still open, and drops
   * the older segments once a checkpoint has put the WAL (with the close) into the database file
   * itself, synced: at synchronous=NORMAL a commit survives kill -9 but not necessarily a power
   * loss, and the deleted segment must not be the only copy of a minute's samples.
   */
  private rotateLog(): void {
    if (!this.rotateDue || !this.log.enabled) return;
    this.rotateDue = false;
    const ck = this.db.query("PRAGMA wal_checkpoint(PASSIVE)").get() as { busy: number; log: number; checkpointed: number };
    const durable = ck.busy === 0 && ck.log === ck.checkpointed;
    const o = this.open;
    this.log.rotate(() => {
      for (let i = 0; i < this.points.length; i++) {
        if (!o.length(i)) continue;
        const pid = this.pid[i]!;
        for (let k = o.first(i); k >= 0; k = o.after(k)) this.log.add(pid, o.tsAt(k), o.valueAt(k), o.qualityAt(k));
      }
    }, durable);
  }

  /**
   * Writes point i's carried 1-minute rows from denseTo up to `to` (≤ closed[0]). Those minutes
   * have no sample of the point (a sample would have written its minute's row and moved denseTo),
   * so each is the carry held on, until its hold runs out.
   */
  private fillCarried(i: number, to: number): void {
    const from = this.denseTo[i]!;
    this.denseTo[i] = to;
    const c = this.carryOf(i);
    if (!c || this.points[i]!.kind === "text") return;
    const hold = this.holdMs[i]!;
    const s = this.scratch;
    s.ts.length = s.v.length = s.q.length = 0;
    const batch = this.store.minuteBatch;
    // Every minute the hold covers whole is the same row but for its time: computed once.
    let full: RollupRow | undefined;
    for (let a = from; a < to; a += 60_000) {
      const whole = c.ts + hold >= a + 60_000;
      // The whole-minute row in rowB (kept across minutes), a partial one in rowA.
      const r = whole && full ? full : aggregate(c, s, 0, 0, a, a + 60_000, hold, whole ? this.rowB : this.rowA);
      if (!r) break; // the hold ran out: nothing covers the minutes after either
      if (whole) full = r;
      r.ts = a;
      batch.addRow(this.pid[i]!, r);
      this.sums[1]!.fold(i, r);
    }
    // Rows still buffered are written before a rollup reads them, and at the end of each slice (advanceClose).
  }

  /** End of point i's stored rows of tier k (beyond, queries compute them: see denseTo). */
  storedTo(k: number, i: number): number {
    return k === 0 ? Math.min(this.closed[0]!, this.denseTo[i]!) : this.closed[k]!;
  }

  /** End of the closed minutes for point i (further for points a close in progress has passed). */
  private closedAt(i: number): number {
    return this.closingTo && i < this.cursor ? this.closingTo : this.closed[0]!;
  }

  /**
   * Coarser tiers whose interval the finer tier has now closed, for every point. A quarter hour's
   * or an hour's row comes from the sums of the finer rows the close wrote (RunningRollup: no read;
   * the SQL rollup was ~60 µs a point, 1.2 s of CPU a quarter hour at 20,000 points). Otherwise a
   * point whose last sample (its carry) is before the interval only held that value through it:
   * its row is the carry's, computed here; the rest (a day, a month, an interval whose finer rows
   * were not all summed: a repair rewrote some) is rolled up in SQL.
   */
  private *closeCoarser(): Generator<void, void, void> {
    const empty = emptySamples();
    for (let k = 1; k < TIERS.length; k++) {
      for (;;) {
        const a = this.closed[k]!;
        const b = this.calendar.next(k, a);
        if (b > this.closed[k - 1]!) break;
        const st = this.store.rollFrom[k]!;
        const sums = this.sums[k];
        const up = this.sums[k + 1];
        // Sums start for the next interval only if none of its finer rows is written yet.
        const restart = this.closed[k - 1] === b;
        for (let i = 0; i < this.points.length; i++) {
          if (i % CLOSE_STEP === 0) yield;
          if (this.points[i]!.kind === "text") continue;
          // The quarter's carried minutes first: 1-minute rows are whole up to each quarter hour.
          if (k === 1 && this.denseTo[i]! < b) this.fillCarried(i, b);
          let r: RollupRow | undefined;
          const summed = sums !== undefined && sums.valid(i, a);
          if (summed) r = sums.row(i, this.rowA);
          if (sums && restart) sums.reset(i, b);
          else sums?.invalidate(i);
          const ct = this.carryT[i]!;
          if (!summed && ct === ct && ct < a) r = aggregate(this.carryOf(i), empty, 0, 0, a, b, this.holdMs[i]!, this.rowA);
          else if (!summed) {
            this.store.tierBatch[k - 1]!.end(); // the finer rows it reads
            st.run(this.pid[i]!, a, b);
            up?.invalidate(i); // a row the next tier's sums do not see
            continue;
          }
          if (r) {
            this.store.tierBatch[k]!.addRow(this.pid[i]!, r);
            up?.fold(i, r);
          }
        }
        this.store.tierBatch[k]!.end(); // read by the next tier's rollup
        this.closed[k] = b;
        this.store.putMeta(`closed.${TIERS[k]!.id}`, b);
        if (k === 1) this.store.putMeta("dense.1m", b);
      }
    }
  }

  /** Late samples: recompute the minutes they touch from the database, then the coarser tiers above. */
  private repairDirty(): void {
    if (!this.dirty.size) return;
    for (const [i, [from, latest]] of this.dirty) {
      const pid = this.pid[i]!;
      const next = this.store.rawAfter(pid, latest);
      // The latest late value holds until the next sample (or its hold ends): those minutes change too.
      let until = Math.min(this.closed[0]!, this.calendar.start(0, Math.min(next ?? Infinity, latest + this.holdMs[i]!)) + 60_000);
      // Carried minutes not written yet (from denseTo) are recomputed from raw too: rows are whole again up to `until`.
      const start = Math.min(this.calendar.start(0, from), this.denseTo[i]!);
      until = Math.max(until, this.denseTo[i]!);
      this.recompute(i, start, until);
      this.denseTo[i] = until;
    }
    this.dirty.clear();
  }

  /** Recomputes one point's closed 1-minute rows in [from, to) from raw, and the coarser rows above them. */
  recompute(i: number, from: number, to: number): void {
    if (to <= from || this.points[i]!.kind === "text") return;
    // Its rows change outside the close: its open intervals are rolled up in SQL.
    for (const sums of this.sums) sums?.invalidate(i);
    const pid = this.pid[i]!;
    const hold = this.holdMs[i]!;
    const before = this.store.rawBefore(pid, from);
    const s = this.store.raw(pid, from, to);
    let carry = before ?? undefined;
    let k = 0;
    const up = this.store.upsertRow[0]!;
    // Prepared once in the store: one statement per call would keep 20,000 of them alive until a GC
    // when a restart catches up every point.
    const del = this.store.deleteMinute;
    for (let a = from; a < to; a += 60_000) {
      const b = a + 60_000;
      let hi = k;
      while (hi < s.ts.length && s.ts[hi]! < b) hi++;
      if (!carry && hi === k) continue;
      const sub: Samples = { ts: s.ts.slice(k, hi), v: s.v.slice(k, hi), q: s.q.slice(k, hi) };
      const r = aggregate(carry, sub, 0, sub.ts.length, a, b, hold);
      if (r) up.run(pid, r.ts, r.n, r.goodMs, r.mean, r.min, r.max, r.first, r.last);
      else del.run(pid, a);
      if (hi > k) carry = { ts: s.ts[hi - 1]!, v: s.v[hi - 1]!, q: s.q[hi - 1]! };
      else if (carry && carry.ts + hold <= b) carry = undefined;
      k = hi;
    }
    // Coarser intervals overlapping [from, to) that are already closed, finest first.
    for (let t = 1; t < TIERS.length; t++) {
      for (let a = this.calendar.start(t, from); a < to; ) {
        const b = this.calendar.next(t, a);
        if (b > this.closed[t]!) break;
        this.store.rollFrom[t]!.run(pid, a, b);
        a = b;
      }
    }
  }

  // ---- start and stop -----------------------------------------------------------------------------

  /**
   * After a stop or a crash: the time Busbar was not running becomes a recorded gap (an OFFLINE
   * sample at the last commit), minutes not rolled up yet are computed from raw, and the open
   * minute's samples are reloaded: from the sample log, and from h_recent (an older Busbar's table,
   * or a backup's copy of the open minutes).
   */
  private recover(): void {
    const now = this.now();
    const lastCommit = Number(this.store.meta("last_commit") ?? NaN);
    const closed1m = Number(this.store.meta("closed.1m") ?? NaN);
    const open = this.calendar.start(0, now);
    this.db.transaction(() => {
      for (let k = 0; k < TIERS.length; k++) {
        const v = Number(this.store.meta(`closed.${TIERS[k]!.id}`) ?? NaN);
        this.closed[k] = Number.isFinite(v) ? v : this.calendar.start(k, now);
      }
      // Samples of minutes that ended while Busbar was down go to h_raw now; the open minute's stay.
      this.db.query("INSERT OR REPLACE INTO h_raw (point, ts, value, quality) SELECT point, ts, value, quality FROM h_recent WHERE ts < ?").run(open);
      this.store.dropRecent.run(open);
      const byPid = new Map(this.pid.map((p, i) => [p, i]));
      for (const r of this.db.query("SELECT point, ts, value AS v, quality AS q FROM h_recent ORDER BY point, ts").all() as { point: number; ts: number; v: number | string | null; q: number }[]) {
        this.recentRows = true;
        const i = byPid.get(r.point);
        if (i === undefined) continue;
        this.open.insert(i, r.ts, r.v, r.q);
      }
      // The log in write order (a later sample at the same time wins, as it did live). A point no
      // longer in the site keeps its samples: straight to h_raw.
      const raw = this.store.rawBatch;
      for (const r of readSampleLog(this.opts.path)) {
        const i = byPid.get(r.pid);
        if (r.ts < open || i === undefined) raw.add4(r.pid, r.ts, r.v, r.q);
        else this.open.insert(i, r.ts, r.v, r.q);
      }
      raw.end();
      const lastOf = (i: number) => {
        const k = this.open.last(i);
        if (k >= 0) return { ts: this.open.tsAt(k), v: this.open.valueAt(k), q: this.open.qualityAt(k) };
        return this.store.rawBefore(this.pid[i]!, Number.MAX_SAFE_INTEGER) ?? undefined;
      };
      // From the last point where every 1-minute row was written (a crash leaves carried minutes unwritten).
      const dense = Number(this.store.meta("dense.1m") ?? NaN);
      const catchFrom = Number.isFinite(dense) && dense < closed1m ? dense : closed1m;
      const catchUp = Number.isFinite(catchFrom) && catchFrom < open;
      if (catchUp) this.closed[0] = closed1m;
      for (let i = 0; i < this.points.length; i++) {
        const last = lastOf(i);
        if (!last) continue;
        this.lastT[i] = last.ts;
        this.lastV.set(i, last.v);
        this.lastQ[i] = last.q;
        if (last.q !== OFFLINE && Number.isFinite(lastCommit)) {
          // The time Busbar was not running is a recorded gap, from its last commit on.
          const ts = Math.max(last.ts + 1, lastCommit + 1);
          if (ts < open) this.store.insertRaw.run(this.pid[i]!, ts, null, OFFLINE);
          else this.putOpen(i, ts, null, OFFLINE);
          this.lastT[i] = ts;
          this.lastV.set(i, null);
          this.lastQ[i] = OFFLINE;
        }
      }
      if (catchUp) {
        for (let i = 0; i < this.points.length; i++) this.recompute(i, catchFrom, open);
        this.closed[0] = open;
        this.denseTo.fill(open);
        for (const _ of this.closeCoarser());
        this.store.endBatches();
      }
      this.store.putMeta("closed.1m", this.closed[0]!);
      this.store.putMeta("dense.1m", this.closed[0]!);
      this.denseTo.fill(this.closed[0]!); // recomputed (or nothing to recompute) up to here
      for (let i = 0; i < this.points.length; i++) {
        const c = this.store.rawBefore(this.pid[i]!, this.closed[0]!);
        if (c && c.ts + this.holdMs[i]! > this.closed[0]!) this.setCarry(i, c.ts, c.v, c.q);
        else this.clearCarry(i);
      }
    })();
    this.loadSums();
    // The open minutes (with the gap markers) start a new segment; the replayed ones go.
    this.rotateDue = true;
    this.rotateLog();
  }

  /**
   * The open quarter hour's and hour's sums from their finer rows already stored (all written by
   * now, up to closed[0]): the first intervals after a start close from their sums too, rather
   * than with a SQL rollup of every point (2.5 s of CPU at 20,000 points when both close at once).
   */
  private loadSums(): void {
    const row = emptyRow();
    for (const k of [1, 2]) {
      const sums = this.sums[k]!;
      const from = this.closed[k]!;
      const to = this.closed[k - 1]!;
      const st = this.store.tierRange[k - 1]!;
      for (let i = 0; i < this.points.length; i++) {
        sums.reset(i, from);
        if (this.points[i]!.kind === "text" || to <= from) continue;
        for (const r of st.values(this.pid[i]!, from, to) as [number, number, number, number | null, number | null, number | null, number | null, number | null][]) {
          row.ts = r[0];
          row.n = r[1];
          row.goodMs = r[2];
          row.mean = r[3];
          row.min = r[4];
          row.max = r[5];
          row.first = r[6];
          row.last = r[7];
          sums.fold(i, row);
        }
      }
    }
  }

  private loadForReading(): void {
    for (let k = 0; k < TIERS.length; k++) {
      const v = Number(this.store.meta(`closed.${TIERS[k]!.id}`) ?? NaN);
      this.closed[k] = Number.isFinite(v) ? v : this.calendar.start(k, this.now());
    }
    // Rows are whole up to dense.1m; the running writer may not have written carried minutes since.
    const dense = Number(this.store.meta("dense.1m") ?? NaN);
    this.denseTo.fill(Number.isFinite(dense) ? Math.min(dense, this.closed[0]!) : this.closed[0]!);
    const byPid = new Map(this.pid.map((p, i) => [p, i]));
    const recent = this.db.query("SELECT point AS pid, ts, value AS v, quality AS q FROM h_recent ORDER BY point, ts").all() as { pid: number; ts: number; v: number | string | null; q: number }[];
    for (const r of [...recent, ...readSampleLog(this.opts.path)]) {
      const i = byPid.get(r.pid);
      if (i !== undefined && r.ts >= this.closed[0]!) this.open.insert(i, r.ts, r.v, r.q);
    }
  }

  /** Commits what is queued and records the stop as a gap from now on. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    clearTimeout(this.sliceTimer);
    this.sliceTimer = undefined;
    const now = this.now();
    for (let i = 0; i < this.points.length; i++) if (this.lastQ[i] !== OFFLINE && this.lastT[i]! > 0) this.accept(i, now, null, OFFLINE);
    this.flush(now);
    // Every point's 1-minute rows written up to the last closed minute: the next start need not recompute them.
    this.db.transaction(() => {
      for (let i = 0; i < this.points.length; i++) if (this.denseTo[i]! < this.closed[0]!) this.fillCarried(i, this.closed[0]!);
      this.store.minuteBatch.end();
      this.store.putMeta("dense.1m", this.closed[0]!);
    })();
    this.log.close();
    this.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    this.db.close();
  }

  /** Retention cut-off per tier ("raw" first) at `now`: rows older are pruned. */
  cutoffs(now = this.now()): number[] {
    const r = this.opts.config.retention;
    return [r.rawDays, r.minuteDays, r.quarterDays, r.hourDays, r.dayDays, r.monthDays].map((d) => now - retentionMs(d));
  }
}
