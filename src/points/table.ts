import { Quality } from "./quality.ts";

/**
 * The shared point table: every point's live value in SharedArrayBuffers that bus workers write and
 * the main thread reads, without messages on the hot path.
 *
 * Per point: value (f64), source timestamp (f64 ms), quality (i32), guarded by a seqlock (i32):
 * the single writer bumps the sequence to odd, writes, bumps to even; a reader retries while the
 * sequence is odd or changed. Exactly one writer per point (the worker of its bus; ring 0 is the
 * main thread's own, for points it owns such as a dead worker's).
 *
 * Change notification: each writer owns a single-producer/single-consumer ring of point indexes.
 * A per-point `pending` flag keeps a point in at most one ring slot until the main thread drains it,
 * so a ring sized to the point count can never overflow and a burst of changes to one point costs
 * one slot. After a batch of replies the writer rings a shared doorbell; the main thread sleeps on
 * it (Atomics.waitAsync) and drains when it rings, so no fixed timer sits between a poll and the
 * pages.
 *
 * Live history: per point a ring of f32 samples on a fixed time grid (`historySlotMs`), so the
 * timestamp is implied by the slot number: 4 bytes a sample (20,000 points × 10 min at 1 s = 48 MB).
 * Samples that are not good are stored as NaN, so a trend shows a gap, never a plausible lie.
 */

/** Ring 0 belongs to the main thread (computed points, a dead worker's points); worker i writes ring i + 1. */
export const MAIN_RING = 0;

export interface PointTableOptions {
  capacity: number;
  /** Number of writer rings (ring 0 is the main thread's). */
  rings: number;
  historySlots?: number;
  historySlotMs?: number;
}

/** Everything a worker needs to attach to the same table; structured-clone safe. */
export interface PointTableBuffers {
  capacity: number;
  rings: number;
  ringSize: number;
  historySlots: number;
  historySlotMs: number;
  header: SharedArrayBuffer; // f64[0] = history epoch (ms); i32[2] = doorbell (1: changes queued since the main thread last looked)
  seq: SharedArrayBuffer;
  value: SharedArrayBuffer;
  ts: SharedArrayBuffer;
  quality: SharedArrayBuffer;
  pending: SharedArrayBuffer;
  ringIndex: SharedArrayBuffer; // per ring: [head, tail]
  ringData: SharedArrayBuffer;
  historyHead: SharedArrayBuffer; // per point: [last slot written, first slot ever written]
  history: SharedArrayBuffer;
}

export interface PointSample {
  value: number;
  ts: number;
  quality: number;
}

const HEAD = 0;
const TAIL = 1;

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p <<= 1;
  return p;
}

export class PointTable {
  readonly capacity: number;
  readonly historySlots: number;
  readonly historySlotMs: number;
  readonly historyEpoch: number;
  private readonly ringSize: number;
  private readonly ringMask: number;
  private readonly seq: Int32Array;
  private readonly value: Float64Array;
  private readonly ts: Float64Array;
  private readonly quality: Int32Array;
  private readonly pending: Int32Array;
  private readonly ringIndex: Int32Array;
  private readonly ringData: Int32Array;
  private readonly historyHead: Int32Array;
  private readonly historyData: Float32Array;
  private readonly bell: Int32Array;
  /** This writer queued changes it has not rung the doorbell for yet. */
  private unsignalled = false;
  private unsignalledSince = 0;

  static create(opts: PointTableOptions): PointTable {
    const capacity = Math.max(1, opts.capacity);
    const historySlots = opts.historySlots ?? 600;
    const historySlotMs = opts.historySlotMs ?? 1000;
    // Each ring can hold every point at once (pending flag dedupes), plus one so head never meets tail when full.
    const ringSize = nextPow2(capacity + 1);
    const sab = (bytes: number) => new SharedArrayBuffer(bytes);
    const buffers: PointTableBuffers = {
      capacity,
      rings: opts.rings,
      ringSize,
      historySlots,
      historySlotMs,
      header: sab(16),
      seq: sab(capacity * 4),
      value: sab(capacity * 8),
      ts: sab(capacity * 8),
      quality: sab(capacity * 4),
      pending: sab(capacity * 4),
      ringIndex: sab(opts.rings * 2 * 4),
      ringData: sab(opts.rings * ringSize * 4),
      historyHead: sab(capacity * 2 * 4),
      history: sab(capacity * historySlots * 4),
    };
    // Epoch a little in the past so the first slot numbers are positive and small.
    new Float64Array(buffers.header)[0] = Date.now() - historySlots * historySlotMs;
    const table = new PointTable(buffers);
    table.value.fill(NaN);
    table.historyData.fill(NaN);
    table.historyHead.fill(-1);
    return table;
  }

  constructor(readonly buffers: PointTableBuffers) {
    this.capacity = buffers.capacity;
    this.historySlots = buffers.historySlots;
    this.historySlotMs = buffers.historySlotMs;
    this.historyEpoch = new Float64Array(buffers.header)[0]!;
    this.ringSize = buffers.ringSize;
    this.ringMask = buffers.ringSize - 1;
    this.seq = new Int32Array(buffers.seq);
    this.value = new Float64Array(buffers.value);
    this.ts = new Float64Array(buffers.ts);
    this.quality = new Int32Array(buffers.quality);
    this.pending = new Int32Array(buffers.pending);
    this.ringIndex = new Int32Array(buffers.ringIndex);
    this.ringData = new Int32Array(buffers.ringData);
    this.historyHead = new Int32Array(buffers.historyHead);
    this.historyData = new Float32Array(buffers.history);
    this.bell = new Int32Array(buffers.header, 8, 1);
  }

  /**
   * Writes one point (call only from that point's single writer) and returns whether value or quality
   * changed. A change queues the point on `ring` for the main thread. When `quality` is not GOOD the
   * previous value is kept, so a page can still show the last known value, marked with its quality.
   */
  write(index: number, value: number, ts: number, quality: number, ring: number): boolean {
    const oldValue = this.value[index]!;
    const oldQuality = this.quality[index]!;
    const keepValue = quality !== Quality.GOOD && quality !== Quality.MANUAL && quality !== Quality.OUT_OF_RANGE;
    const newValue = keepValue ? oldValue : value;
    const changed = oldQuality !== quality || !(newValue === oldValue || (newValue !== newValue && oldValue !== oldValue));

    const seq = this.seq;
    Atomics.add(seq, index, 1); // odd: write in progress
    this.value[index] = newValue;
    this.ts[index] = ts;
    this.quality[index] = quality;
    Atomics.add(seq, index, 1); // even: consistent

    this.appendHistory(index, quality === Quality.GOOD ? value : NaN, ts);
    if (changed && Atomics.exchange(this.pending, index, 1) === 0) this.push(ring, index);
    return changed;
  }

  /** A change of the point waits in a ring for the main thread's drain, which will announce it. */
  isPending(index: number): boolean {
    return Atomics.load(this.pending, index) !== 0;
  }

  /** Consistent snapshot of one point (retries while its writer is mid-write). */
  read(index: number, out: PointSample = { value: NaN, ts: 0, quality: 0 }): PointSample {
    const seq = this.seq;
    for (;;) {
      const s1 = Atomics.load(seq, index);
      if (s1 & 1) continue;
      out.value = this.value[index]!;
      out.ts = this.ts[index]!;
      out.quality = this.quality[index]!;
      if (Atomics.load(seq, index) === s1) return out;
    }
  }

  /** Quality and timestamp without the seqlock: for cheap scans where a torn pair only delays a notice by one sweep. */
  qualityOf(index: number): number {
    return this.quality[index]!;
  }

  tsOf(index: number): number {
    return this.ts[index]!;
  }

  /**
   * Writer: wakes the main thread if this writer queued changes since its last signal. Called after a
   * whole batch, so the main thread drains whole replies; only the 0 → 1 edge notifies.
   */
  signal(): void {
    if (!this.unsignalled) return;
    this.unsignalled = false;
    if (Atomics.exchange(this.bell, 0, 1) === 0) Atomics.notify(this.bell, 0);
  }

  /**
   * Writer: signals only once its oldest unsignalled change is `ms` old. A bus polling back to back
   * then wakes the main thread once per `ms` rather than once per reply (a wake-up costs tens of
   * µs); it calls `signal()` when it goes quiet, so a burst of replies arrives as one batch, and the
   * main thread's idle fallback covers a long wait (a timeout) between.
   */
  signalIfOlder(ms: number): void {
    if (this.unsignalled && performance.now() - this.unsignalledSince >= ms) this.signal();
  }

  /**
   * Main thread: resolves when a writer signals (or after `timeoutMs`); undefined when a signal is
   * already waiting. Clear it with `takeSignal()` before draining, so a write during the drain rings again.
   */
  nextSignal(timeoutMs: number): Promise<unknown> | undefined {
    const r = Atomics.waitAsync(this.bell, 0, 0, timeoutMs);
    return r.async ? r.value : undefined;
  }

  takeSignal(): void {
    Atomics.store(this.bell, 0, 0);
  }

  /** Main thread: ends a pending `nextSignal` now (on stop). */
  wakeWaiter(): void {
    Atomics.notify(this.bell, 0);
  }

  /** Main thread: hands every changed point index of `ring` to `onChange`. Returns how many. */
  drain(ring: number, onChange: (index: number) => void): number {
    const base = ring * 2;
    const head = Atomics.load(this.ringIndex, base + HEAD);
    let tail = Atomics.load(this.ringIndex, base + TAIL);
    let n = 0;
    const offset = ring * this.ringSize;
    while (tail !== head) {
      const index = this.ringData[offset + (tail & this.ringMask)]!;
      tail = (tail + 1) | 0;
      // Clear before reading so a write racing with this drain queues the point again.
      Atomics.store(this.pending, index, 0);
      onChange(index);
      n++;
    }
    Atomics.store(this.ringIndex, base + TAIL, tail);
    return n;
  }

  drainAll(onChange: (index: number) => void): number {
    let n = 0;
    for (let r = 0; r < this.buffers.rings; r++) n += this.drain(r, onChange);
    return n;
  }

  private push(ring: number, index: number): void {
    const base = ring * 2;
    const head = Atomics.load(this.ringIndex, base + HEAD);
    // Cannot overflow: `pending` admits each point once and the ring holds capacity + 1.
    this.ringData[ring * this.ringSize + (head & this.ringMask)] = index;
    Atomics.store(this.ringIndex, base + HEAD, (head + 1) | 0);
    if (!this.unsignalled) {
      this.unsignalled = true;
      this.unsignalledSince = performance.now();
    }
  }

  private slotOf(ts: number): number {
    return Math.floor((ts - this.historyEpoch) / this.historySlotMs);
  }

  private appendHistory(index: number, value: number, ts: number): void {
    const slot = this.slotOf(ts);
    if (slot < 0) return;
    const head = this.historyHead[2 * index]!;
    if (slot < head) return; // clock stepped back: keep the ring monotonic
    if (head < 0) Atomics.store(this.historyHead, 2 * index + 1, slot);
    const n = this.historySlots;
    const base = index * n;
    // Slots skipped since the last sample had no reading: mark them as gaps.
    if (head >= 0) for (let s = Math.max(head + 1, slot - n + 1); s < slot; s++) this.historyData[base + (s % n)] = NaN;
    this.historyData[base + (slot % n)] = value;
    Atomics.store(this.historyHead, 2 * index, slot);
  }

  /**
   * The live history of one point between `from` and `to` (ms): one entry per slot that holds a
   * sample (gaps as NaN, only inside the range that was written). Timestamps are slot starts.
   */
  history(index: number, from = -Infinity, to = Infinity): { t: number[]; v: number[] } {
    const head = Atomics.load(this.historyHead, 2 * index);
    const firstWritten = Atomics.load(this.historyHead, 2 * index + 1);
    const t: number[] = [];
    const v: number[] = [];
    if (head < 0) return { t, v };
    const n = this.historySlots;
    const first = Math.max(firstWritten, head - n + 1, Math.ceil((from - this.historyEpoch) / this.historySlotMs));
    const last = Math.min(head, Math.floor((to - this.historyEpoch) / this.historySlotMs));
    const base = index * n;
    for (let s = first; s <= last; s++) {
      t.push(this.historyEpoch + s * this.historySlotMs);
      v.push(this.historyData[base + (s % n)]!);
    }
    return { t, v };
  }

  /** Bytes of shared memory the table holds. */
  get bytes(): number {
    const b = this.buffers;
    return [b.header, b.seq, b.value, b.ts, b.quality, b.pending, b.ringIndex, b.ringData, b.historyHead, b.history].reduce(
      (sum, x) => sum + x.byteLength,
      0,
    );
  }
}
