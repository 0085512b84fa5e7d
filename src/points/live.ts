import { Quality, qualityName } from "./quality.ts";
import type { PointInfo, PointRegistry } from "./registry.ts";
import type { PointTable } from "./table.ts";

/**
 * The main thread's view of the live table: drains the workers' change rings, derives staleness
 * (a good value older than its point's limit is shown stale) and fans changes out to subscribers
 * (pages' SSE streams, later alarms and the historian). Subscribers get each drained batch once.
 */

export interface PointValue {
  id: string;
  device: string;
  tag: string;
  label: string;
  value: number | string | null;
  unit: string;
  quality: string;
  ts: number | null;
}

export type ChangeListener = (indexes: readonly number[]) => void;

/** Drains run when a worker signals a written reply; this is only the fallback for unsignalled writes. */
const IDLE_DRAIN_MS = 100;
/**
 * Drains are paced by a token bucket: DRAIN_BURST drains at once, then one per DRAIN_PERIOD_MS. A
 * bus that polls a burst and goes quiet gets its replies out at once; a site polling flat out is
 * drained 50 times a second, as often as the old timer (each drain and wake-up costs tens of µs).
 */
const DRAIN_BURST = 4;
const DRAIN_PERIOD_MS = 20;
const STALE_SWEEP_MS = 250;

export class LiveView {
  private readonly listeners = new Set<ChangeListener>();
  /** Quality last announced per point, including derived staleness. */
  private readonly shownQuality: Int32Array;
  private readonly staleAfter: Float64Array;
  private readonly texts = new Map<number, string>();
  private draining = false;
  private drainTokens = DRAIN_BURST;
  private tokensAt = 0;
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private gcTimer: ReturnType<typeof setInterval> | undefined;
  private readonly batch: number[] = [];
  private readonly sample = { value: NaN, ts: 0, quality: 0 };

  constructor(
    readonly registry: PointRegistry,
    readonly table: PointTable,
  ) {
    this.shownQuality = new Int32Array(registry.points.length);
    this.staleAfter = Float64Array.from(registry.points, (p) => p.staleAfterMs);
  }

  start(): void {
    this.draining = true;
    void this.drainLoop();
    this.sweepTimer = setInterval(() => this.sweepStale(), STALE_SWEEP_MS);
    // An asynchronous collection now and then keeps the heap near its live size (RSS budget).
    this.gcTimer = setInterval(() => Bun.gc(false), 30_000);
  }

  stop(): void {
    this.draining = false;
    this.table.wakeWaiter();
    clearInterval(this.sweepTimer);
    clearInterval(this.gcTimer);
  }

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A text point's string (it travels by message, beside the table): announced as a change. */
  setText(point: number, value: string): void {
    if (this.texts.get(point) === value) return;
    this.texts.set(point, value);
    this.emit([point]);
  }

  /**
   * Drains when a worker signals what it wrote, rather than on a timer: a bus that polls a burst and
   * goes quiet has it on the pages within a wake-up (tens of µs) instead of up to a timer period
   * later, and an idle site wakes the main thread 10 times a second instead of 50 (see DRAIN_BURST
   * for a site polling flat out).
   */
  private async drainLoop(): Promise<void> {
    while (this.draining) {
      const signalled = this.table.nextSignal(IDLE_DRAIN_MS);
      if (signalled) await signalled;
      if (!this.draining) return;
      const now = performance.now();
      this.drainTokens = Math.min(DRAIN_BURST, this.drainTokens + (now - this.tokensAt) / DRAIN_PERIOD_MS);
      this.tokensAt = now;
      if (this.drainTokens < 1) {
        await new Promise((r) => setTimeout(r, (1 - this.drainTokens) * DRAIN_PERIOD_MS));
        if (!this.draining) return;
        continue; // refill, then drain
      }
      this.drainTokens--;
      this.table.takeSignal();
      try {
        this.drain();
      } catch (e) {
        console.error("drain failed:", e);
      }
    }
  }

  /** Drains every ring now; returns the number of changed points. */
  drain(): number {
    const batch = this.batch;
    batch.length = 0;
    const now = Date.now();
    this.table.drainAll((i) => {
      batch.push(i);
      this.shownQuality[i] = this.quickQuality(i, now);
    });
    if (batch.length) this.emit(batch);
    return batch.length;
  }

  private emit(batch: readonly number[]): void {
    for (const l of this.listeners) {
      try {
        l(batch);
      } catch (e) {
        console.error("change listener failed:", e);
      }
    }
  }

  /** Points whose value has aged past their limit change quality without any write: announce them. */
  private sweepStale(): void {
    const changed: number[] = [];
    const n = this.registry.points.length;
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      // A point written since the last drain is the drain's to announce (once, with its quality):
      // announced here too, a page got the same change twice.
      if (this.table.isPending(i)) continue;
      const q = this.quickQuality(i, now);
      if (q !== this.shownQuality[i]) {
        this.shownQuality[i] = q;
        changed.push(i);
      }
    }
    if (changed.length) this.emit(changed);
  }

  /** Quality with staleness, read without the seqlock (a torn pair is corrected by the next sweep). */
  private quickQuality(index: number, now: number): number {
    const q = this.table.qualityOf(index);
    return q === Quality.GOOD && now - this.table.tsOf(index) > this.staleAfter[index]! ? Quality.STALE : q;
  }

  effectiveQuality(index: number, now = Date.now()): number {
    const s = this.table.read(index, this.sample);
    if (s.quality === Quality.GOOD && now - s.ts > this.staleAfter[index]!) return Quality.STALE;
    return s.quality;
  }

  /** The value as pages and the API show it. */
  value(info: PointInfo, now = Date.now()): PointValue {
    const s = this.table.read(info.index, { value: NaN, ts: 0, quality: 0 });
    let quality = s.quality;
    if (quality === Quality.GOOD && now - s.ts > info.staleAfterMs) quality = Quality.STALE;
    const text = info.kind === "text" ? (this.texts.get(info.index) ?? null) : undefined;
    return {
      id: info.id,
      device: info.device,
      tag: info.name,
      label: info.label,
      value: text !== undefined ? text : Number.isNaN(s.value) ? null : s.value,
      unit: info.unit,
      quality: qualityName(quality),
      ts: s.ts > 0 ? s.ts : null,
    };
  }
}
