import { Quality } from "../points/quality.ts";
import type { PointRegistry } from "../points/registry.ts";
import { MAIN_RING, type PointTable } from "../points/table.ts";
import { isCoreMessage, type BusStats, type CoreFromWorker, type CoreToWorker, type DeviceStatus, type DriverEvent, type WorkerInit } from "./protocol.ts";

/**
 * Starts one worker per bus, whatever its driver, and keeps it alive: a worker that dies is
 * restarted within a second, its points are marked stale meanwhile (the main thread is their only
 * writer while it is gone), and the restart is reported. Writes go to whoever owns the point: the
 * worker of its bus, or a main-thread owner such as the computed points.
 *
 * A driver describes each of its workers with a `WorkerSpec` (entry URL, points, init message) and
 * handles its own messages through `onMessage`; the neutral ones (../drivers/protocol.ts) are
 * handled here, the same way for every driver.
 */

export interface SupervisorEvents {
  log(level: "info" | "warn" | "error", msg: string): void;
  deviceStatus(device: string, status: DeviceStatus, error: string | null): void;
  workerRestart(bus: string, reason: string): void;
  text(point: number, value: string): void;
  /** Device events for the journal: clock settings, drift refusals (optional; logged otherwise). */
  event?(e: DriverEvent): void;
}

export interface WriteResult {
  ok: boolean;
  error?: string;
  ms: number;
}

/** One worker, as its driver describes it to the supervisor. */
export interface WorkerSpec {
  /** The bus id: names the worker in logs, the journal and the statistics. */
  id: string;
  driver: string;
  /** The bus kind, for the statistics until the worker reports. */
  kind: string;
  /** The worker's entry module (one per driver; see scripts/build.ts for the compiled binary). */
  url: URL | string;
  /** The points this worker writes: marked stale while it is down, its writes go to it. */
  points: readonly number[];
  /** The init message, built at every (re)start so it carries what the driver learned meanwhile. */
  init(base: WorkerInit): WorkerInit;
  /** The driver's own messages (the neutral ones never reach it). */
  onMessage?(msg: { type: string }): void;
  /** A worker for this spec has started; the driver may post its own messages to it. */
  attached?(worker: Worker): void;
  /** The worker died or is stopping: the driver fails whatever waits on it. */
  detached?(reason: string): void;
}

/** A main-thread owner of points, such as the computed points. */
export interface PointWriteOwner {
  owns(index: number): boolean;
  write(index: number, value: number): Promise<WriteResult>;
}

const RESTART_DELAY_MS = 200;

interface WorkerRuntime {
  spec: WorkerSpec;
  ring: number;
  worker: Worker | undefined;
  stats: BusStats | undefined;
  restarts: number;
  stopping: boolean;
}

export class Supervisor {
  private readonly runtimes: WorkerRuntime[];
  private readonly pendingWrites = new Map<number, { resolve: (r: WriteResult) => void; runtime: WorkerRuntime }>();
  private nextWriteId = 1;
  private readonly runtimeOfPoint = new Map<number, WorkerRuntime>();
  private readonly owners: PointWriteOwner[] = [];

  /** Table rings for this many workers: ring 0 is the main thread's, worker i writes ring i + 1. */
  static ringsFor(workers: number): number {
    return workers + 1;
  }

  constructor(
    private readonly registry: PointRegistry,
    private readonly table: PointTable,
    specs: readonly WorkerSpec[],
    private readonly events: SupervisorEvents,
  ) {
    this.runtimes = specs.map((spec, i) => ({ spec, ring: MAIN_RING + 1 + i, worker: undefined, stats: undefined, restarts: 0, stopping: false }));
    for (const r of this.runtimes) for (const p of r.spec.points) this.runtimeOfPoint.set(p, r);
  }

  /** Adds a main-thread owner of points (its writes are answered by it). */
  addOwner(owner: PointWriteOwner): void {
    this.owners.push(owner);
  }

  start(): void {
    for (const r of this.runtimes) this.spawn(r);
  }

  private spawn(r: WorkerRuntime): void {
    // smol: a worker holds little state; a smaller heap keeps 4+ workers inside the RSS budget.
    const worker = new Worker(r.spec.url, { smol: true } as WorkerOptions);
    r.worker = worker;
    const id = r.spec.id;
    let exited = false;
    const onDeath = (reason: string) => {
      if (exited) return;
      exited = true;
      if (r.stopping || r.worker !== worker) return;
      r.worker = undefined;
      worker.terminate();
      this.markStale(r);
      this.failPendingWrites(r, `bus ${id} worker restarted`);
      r.spec.detached?.(`bus ${id} worker restarted`);
      r.restarts++;
      this.events.workerRestart(id, reason);
      this.events.log("error", `bus ${id}: worker died (${reason}); restarting`);
      setTimeout(() => {
        if (!r.stopping) this.spawn(r);
      }, RESTART_DELAY_MS);
    };
    worker.addEventListener("message", (e: MessageEvent<{ type: string }>) => this.onMessage(r, e.data));
    worker.addEventListener("error", (e: ErrorEvent) => onDeath(e.message || "uncaught error"));
    worker.addEventListener("close", () => onDeath("exited"));
    r.spec.attached?.(worker);
    worker.postMessage(r.spec.init({ type: "init", table: this.table.buffers, ring: r.ring }));
  }

  /** While a bus has no worker the main thread is its points' only writer. */
  private markStale(r: WorkerRuntime): void {
    for (const p of r.spec.points) {
      const s = this.table.read(p);
      if (s.quality === Quality.GOOD) this.table.write(p, s.value, s.ts, Quality.STALE, MAIN_RING);
    }
    this.table.signal();
  }

  private onMessage(r: WorkerRuntime, msg: { type: string }): void {
    if (!isCoreMessage(msg)) {
      r.spec.onMessage?.(msg);
      return;
    }
    const m: CoreFromWorker = msg;
    switch (m.type) {
      case "stats":
        r.stats = m.stats;
        break;
      case "write-result": {
        const pending = this.pendingWrites.get(m.id);
        if (pending) {
          this.pendingWrites.delete(m.id);
          pending.resolve({ ok: m.ok, error: m.error, ms: m.ms });
        }
        break;
      }
      case "device-status":
        this.events.deviceStatus(m.device, m.status, m.error);
        break;
      case "text":
        this.events.text(m.point, m.value);
        break;
      case "log":
        this.events.log(m.level, m.msg);
        break;
      case "event":
        if (this.events.event) this.events.event(m.event);
        else this.events.log("info", m.event.message);
        break;
      case "ready":
        break;
    }
  }

  private failPendingWrites(r: WorkerRuntime, error: string): void {
    for (const [id, p] of this.pendingWrites) {
      if (p.runtime !== r) continue;
      this.pendingWrites.delete(id);
      p.resolve({ ok: false, error, ms: 0 });
    }
  }

  /** Sends a write to the point's owner (its bus worker, or a main-thread owner); resolves with the outcome. */
  write(point: number, value: number, timeoutMs = 10_000): Promise<WriteResult> {
    const info = this.registry.points[point];
    const r = this.runtimeOfPoint.get(point);
    const owner = r ? undefined : this.owners.find((o) => o.owns(point));
    if (!info || (!r && !owner)) return Promise.resolve({ ok: false, error: "unknown point", ms: 0 });
    if (!info.writable) return Promise.resolve({ ok: false, error: `${info.id} is not writable`, ms: 0 });
    if (owner) return owner.write(point, value);
    if (!r!.worker) return Promise.resolve({ ok: false, error: `bus ${r!.spec.id} is restarting`, ms: 0 });
    const id = this.nextWriteId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.pendingWrites.delete(id)) resolve({ ok: false, error: "no result from the bus in time", ms: timeoutMs });
      }, timeoutMs);
      this.pendingWrites.set(id, {
        runtime: r!,
        resolve: (res) => {
          clearTimeout(timer);
          resolve(res);
        },
      });
      r!.worker!.postMessage({ type: "write", id, point, value } satisfies CoreToWorker);
    });
  }

  /** Fault injection: makes a bus worker throw (tests and drills). */
  crash(busId: string): void {
    this.runtimes.find((r) => r.spec.id === busId)?.worker?.postMessage({ type: "crash" } satisfies CoreToWorker);
  }

  stats(): (BusStats | { bus: string; kind: string; connected: false; restarting: true; restarts: number })[] {
    return this.runtimes.map((r) =>
      r.stats ? { ...r.stats, restarts: r.restarts } : { bus: r.spec.id, kind: r.spec.kind, connected: false, restarting: true, restarts: r.restarts },
    );
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.runtimes.map(async (r) => {
        r.stopping = true;
        const w = r.worker;
        if (!w) return;
        w.postMessage({ type: "stop" } satisfies CoreToWorker);
        await new Promise((res) => setTimeout(res, 50));
        w.terminate();
      }),
    );
    for (const r of this.runtimes) r.spec.detached?.("stopping");
    for (const [id, p] of this.pendingWrites) {
      this.pendingWrites.delete(id);
      p.resolve({ ok: false, error: "stopping", ms: 0 });
    }
  }
}
