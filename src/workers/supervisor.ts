import type { BusConfig, Site } from "../config/site.ts";
import { planReads, type PlannedRead } from "../protocols/modbus/planner.ts";
import type { Tag } from "../config/profile.ts";
import { Quality } from "../points/quality.ts";
import type { PointRegistry } from "../points/registry.ts";
import type { PointTable } from "../points/table.ts";
import type { BusEvent, BusStats, DeviceStatus, ForwardOp, ForwardResult, FromWorker, ToWorker, WorkerDevice } from "./protocol.ts";
import { ReplyCache } from "../gateway/reply-cache.ts";
import type { ScanRequest, ScanResult } from "../protocols/modbus/rtu-scan.ts";
import { timeSyncSpec } from "../timesync/timesync.ts";
import { breakEvenGap } from "../protocols/modbus/rtu-frame.ts";
import { configuredView, type LearnedPlanView } from "../protocols/modbus/learned-plan.ts";

/**
 * Starts one worker per bus and keeps it alive: a worker that dies is restarted within a second,
 * its points are marked stale meanwhile (the main thread is their only writer while it is gone),
 * and the restart is reported.
 */

export interface SupervisorEvents {
  log(level: "info" | "warn" | "error", msg: string): void;
  deviceStatus(device: string, status: DeviceStatus, error: string | null): void;
  workerRestart(bus: string, reason: string): void;
  text(point: number, value: string): void;
  /** Device events for the journal: clock settings, drift refusals (optional; logged otherwise). */
  event?(e: BusEvent): void;
}

export interface WriteResult {
  ok: boolean;
  error?: string;
  ms: number;
}

/**
 * In the compiled binary all code shares the entry's URL (/$bunfs/root/busbar) and the worker is
 * bundled at workers/bus-worker.js below it (scripts/build.ts passes it as an extra entrypoint).
 */
export function busWorkerUrl(): URL {
  return import.meta.url.includes("$bunfs") ? new URL("./workers/bus-worker.ts", import.meta.url) : new URL("./bus-worker.ts", import.meta.url);
}

/** Ring 0 belongs to the main thread; bus i writes into ring i + 1. */
export const MAIN_RING = 0;

const RESTART_DELAY_MS = 200;

/** The request plan of every enabled device, computed once. */
export function planSite(site: Site, registry: PointRegistry): Map<string, PlannedRead[]> {
  const plans = new Map<string, PlannedRead[]>();
  const buses = new Map(site.buses.map((b) => [b.id, b]));
  for (const device of site.devices) {
    if (!device.enabled) continue;
    const profile = site.profiles.get(device.profile)!;
    const points = registry.byDevice.get(device.id) ?? [];
    // On a serial line a hole wider than the break-even gap costs more wire time read through than a
    // second request: the profile's gap is capped there (a gap set on the device itself is kept).
    const bus = buses.get(device.bus);
    const gapCap = bus && bus.kind !== "modbus-tcp" ? breakEvenGap(bus) : Infinity;
    plans.set(
      device.id,
      planReads(
        points.map((p) => ({ tag: p.tag, point: p.index })),
        {
          maxRegistersPerRead: device.maxRegistersPerRead ?? profile.maxRegistersPerRead,
          maxBitsPerRead: profile.maxBitsPerRead,
          maxGap: device.maxGap ?? Math.min(profile.maxGap, gapCap),
        },
      ),
    );
  }
  return plans;
}

interface BusRuntime {
  bus: BusConfig;
  ring: number;
  devices: WorkerDevice[];
  worker: Worker | undefined;
  stats: BusStats | undefined;
  restarts: number;
  stopping: boolean;
  /** Gateway requests waiting for this bus's worker. */
  forwards: number;
  scan: { id: number; progress: { done: number; total: number }; result?: ScanResult; resolve(r: ScanResult): void } | undefined;
}

export class Supervisor {
  private readonly buses: BusRuntime[];
  private readonly pendingWrites = new Map<number, { resolve: (r: WriteResult) => void; bus: string }>();
  private nextWriteId = 1;
  private readonly busOfPoint = new Map<number, BusRuntime>();
  private readonly pendingForwards = new Map<number, { resolve: (r: ForwardResult) => void; bus: BusRuntime }>();
  private nextForwardId = 1;
  private nextScanId = 1;
  /** Last poll replies for the gateway's cached mode (only when the site has a gateway). */
  readonly replyCache: ReplyCache | undefined;
  /** Last clock setting per device, kept across worker restarts. */
  private readonly lastTimeSync: Record<string, number> = {};
  private readonly timezone: string;
  /** Plans the workers have learned from refusals, per device (absent: the configured plan is in force). */
  private readonly learnedPlans = new Map<string, LearnedPlanView>();

  constructor(
    site: Site,
    private readonly registry: PointRegistry,
    private readonly table: PointTable,
    readonly plans: Map<string, PlannedRead[]>,
    private readonly events: SupervisorEvents,
    private readonly workerUrl: URL | string = busWorkerUrl(),
  ) {
    this.buses = site.buses.map((bus, i) => {
      const devices: WorkerDevice[] = site.devices
        .filter((d) => d.bus === bus.id && d.enabled)
        .map((d) => {
          const points = registry.byDevice.get(d.id) ?? [];
          const writable: Record<number, Tag> = {};
          for (const p of points) if (p.tag.writable) writable[p.index] = p.tag;
          const profile = site.profiles.get(d.profile);
          return {
            id: d.id,
            unit: d.unit,
            pollMs: d.pollMs,
            slowPollMs: d.slowPollMs,
            ku: d.ku,
            ki: d.ki,
            reads: plans.get(d.id) ?? [],
            points: points.map((p) => p.index),
            writable,
            profile: d.profile,
            timeSync: profile ? timeSyncSpec(profile) : undefined,
            host: d.host,
            port: d.port,
          };
        });
      return { bus, ring: i + 1, devices, worker: undefined, stats: undefined, restarts: 0, stopping: false, forwards: 0, scan: undefined };
    });
    this.timezone = site.site.timezone;
    if (site.gateway) {
      const slots: Parameters<typeof ReplyCache.create>[0] = [];
      for (const b of this.buses)
        for (const d of b.devices)
          d.cacheSlots = d.reads.map((r) => {
            slots.push({ device: d.id, unit: d.unit, fc: r.fc, start: r.start, count: r.count, periodMs: r.slow ? d.slowPollMs : d.pollMs });
            return slots.length - 1;
          });
      this.replyCache = ReplyCache.create(slots);
    }
    for (const b of this.buses) for (const d of b.devices) for (const p of d.points) this.busOfPoint.set(p, b);
  }

  /**
   * Seeds the last clock setting of devices (e.g. from the journal's `device.timesync.set` events)
   * before start(), so a restarted Busbar keeps a device's "at most once a day" rule too.
   */
  setLastTimeSync(last: Record<string, number>): void {
    for (const [d, at] of Object.entries(last)) if (!(this.lastTimeSync[d]! >= at)) this.lastTimeSync[d] = at;
  }

  static ringsFor(site: Site): number {
    return site.buses.length + 1;
  }

  start(): void {
    for (const b of this.buses) this.spawn(b);
  }

  private spawn(b: BusRuntime): void {
    // smol: a bus worker holds little state; a smaller heap keeps 4+ workers inside the RSS budget.
    const worker = new Worker(this.workerUrl, { smol: true } as WorkerOptions);
    b.worker = worker;
    let exited = false;
    const onDeath = (reason: string) => {
      if (exited) return;
      exited = true;
      if (b.stopping || b.worker !== worker) return;
      b.worker = undefined;
      worker.terminate();
      this.markStale(b);
      // A new worker starts again from the configured plan.
      for (const d of b.devices) this.learnedPlans.delete(d.id);
      this.failPendingWrites(b.bus.id, `bus ${b.bus.id} worker restarted`);
      this.failPendingForwards(b, `bus ${b.bus.id} worker restarted`);
      this.endScan(b);
      b.restarts++;
      this.events.workerRestart(b.bus.id, reason);
      this.events.log("error", `bus ${b.bus.id}: worker died (${reason}); restarting`);
      setTimeout(() => {
        if (!b.stopping) this.spawn(b);
      }, RESTART_DELAY_MS);
    };
    worker.addEventListener("message", (e: MessageEvent<FromWorker>) => this.onMessage(b, e.data));
    worker.addEventListener("error", (e: ErrorEvent) => onDeath(e.message || "uncaught error"));
    worker.addEventListener("close", () => onDeath("exited"));
    const init: ToWorker = {
      type: "init",
      bus: b.bus,
      devices: b.devices,
      table: this.table.buffers,
      ring: b.ring,
      replyCache: this.replyCache?.buffers,
      timezone: this.timezone,
      lastTimeSync: this.lastTimeSync,
    };
    worker.postMessage(init);
  }

  /** While a bus has no worker the main thread is its points' only writer. */
  private markStale(b: BusRuntime): void {
    for (const d of b.devices) {
      for (const p of d.points) {
        const s = this.table.read(p);
        if (s.quality === Quality.GOOD) this.table.write(p, s.value, s.ts, Quality.STALE, MAIN_RING);
      }
    }
    this.table.signal();
  }

  private onMessage(b: BusRuntime, msg: FromWorker): void {
    switch (msg.type) {
      case "stats":
        b.stats = msg.stats;
        break;
      case "write-result": {
        const pending = this.pendingWrites.get(msg.id);
        if (pending) {
          this.pendingWrites.delete(msg.id);
          pending.resolve({ ok: msg.ok, error: msg.error, ms: msg.ms });
        }
        break;
      }
      case "device-status":
        this.events.deviceStatus(msg.device, msg.status, msg.error);
        break;
      case "text":
        this.events.text(msg.point, msg.value);
        break;
      case "log":
        this.events.log(msg.level, msg.msg);
        break;
      case "forward-result": {
        const pending = this.pendingForwards.get(msg.id);
        if (pending) {
          this.pendingForwards.delete(msg.id);
          pending.bus.forwards--;
          const { type: _t, id: _i, ...result } = msg;
          pending.resolve(result as ForwardResult);
        }
        break;
      }
      case "scan-progress":
        if (b.scan?.id === msg.id) b.scan.progress = { done: msg.done, total: msg.total };
        break;
      case "scan-done":
        if (b.scan?.id === msg.id) {
          b.scan.result = msg.result;
          b.scan.resolve(msg.result);
        }
        break;
      case "event":
        if (this.events.event) this.events.event(msg.event);
        else this.events.log("info", msg.event.message);
        break;
      case "time-synced":
        for (const d of msg.devices) this.lastTimeSync[d] = msg.at;
        break;
      case "plan": {
        const before = this.learnedPlans.get(msg.device);
        if (msg.plan.learned) this.learnedPlans.set(msg.device, msg.plan);
        else this.learnedPlans.delete(msg.device);
        const refused = msg.plan.refused.join(", ");
        if (!msg.plan.learned ? before : refused !== (before?.refused.join(", ") ?? ""))
          this.events.log(
            "info",
            msg.plan.learned
              ? `${msg.device}: request plan learned: ${msg.plan.reads.length} reads${refused ? `; registers refused by the device: ${refused}` : ""}`
              : `${msg.device}: request plan back to the configured one`,
          );
        break;
      }
      case "ready":
        break;
    }
  }

  /**
   * Runs a gateway client's request on the bus of `busId` (between polls), to `unit`. Resolves with
   * the answer or an exception code: 0x0A when the bus is down or restarting, 0x06 when its queue is full.
   */
  forward(busId: string, unit: number, device: string | undefined, op: ForwardOp, maxQueue = 64, timeoutMs = 30_000): Promise<ForwardResult> {
    const b = this.buses.find((x) => x.bus.id === busId);
    if (!b?.worker) return Promise.resolve({ ok: false, exception: 0x0a, error: `bus ${busId} is restarting`, busMs: 0 });
    if (b.forwards >= maxQueue) return Promise.resolve({ ok: false, exception: 0x06, error: `bus ${busId}: ${b.forwards} requests already waiting`, busMs: 0 });
    const id = this.nextForwardId++;
    b.forwards++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.pendingForwards.delete(id)) {
          b.forwards--;
          resolve({ ok: false, exception: 0x0b, error: "no result from the bus in time", busMs: 0 });
        }
      }, timeoutMs);
      this.pendingForwards.set(id, {
        bus: b,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
      b.worker!.postMessage({ type: "forward", id, unit, device, op } satisfies ToWorker);
    });
  }

  private failPendingForwards(b: BusRuntime, error: string): void {
    for (const [id, p] of this.pendingForwards) {
      if (p.bus !== b) continue;
      this.pendingForwards.delete(id);
      b.forwards--;
      p.resolve({ ok: false, exception: 0x0a, error, busMs: 0 });
    }
  }

  /**
   * Scans unit ids on a bus (commissioning), interleaved with its polls. One scan per bus at a time:
   * a second call while one runs returns the running one.
   */
  scan(busId: string, request: ScanRequest): { id: number; done: Promise<ScanResult> } | { error: string } {
    const b = this.buses.find((x) => x.bus.id === busId);
    if (!b) return { error: `no bus "${busId}"` };
    if (b.scan && !b.scan.result) return { id: b.scan.id, done: new Promise((r) => this.onScanDone(b, r)) };
    if (!b.worker) return { error: `bus ${busId} is restarting` };
    const id = this.nextScanId++;
    let resolve!: (r: ScanResult) => void;
    const done = new Promise<ScanResult>((r) => (resolve = r));
    b.scan = { id, progress: { done: 0, total: request.to - request.from + 1 }, resolve };
    b.worker.postMessage({ type: "scan", id, request } satisfies ToWorker);
    return { id, done };
  }

  private onScanDone(b: BusRuntime, cb: (r: ScanResult) => void): void {
    const s = b.scan!;
    const prev = s.resolve;
    s.resolve = (r) => {
      prev(r);
      cb(r);
    };
  }

  /** The running or last scan of a bus. */
  scanState(busId: string): { id: number; running: boolean; done: number; total: number; result?: ScanResult } | undefined {
    const s = this.buses.find((x) => x.bus.id === busId)?.scan;
    return s && { id: s.id, running: !s.result, done: s.progress.done, total: s.progress.total, result: s.result };
  }

  cancelScan(busId: string): void {
    const b = this.buses.find((x) => x.bus.id === busId);
    if (b?.scan && !b.scan.result) b.worker?.postMessage({ type: "scan-cancel", id: b.scan.id } satisfies ToWorker);
  }

  private endScan(b: BusRuntime): void {
    const s = b.scan;
    if (!s || s.result) return;
    s.result = { bus: b.bus.id, from: 0, to: 0, probes: 0, hits: [], missing: [], durationMs: 0, cancelled: true, startedAt: Date.now() };
    s.resolve(s.result);
  }

  private failPendingWrites(bus: string, error: string): void {
    for (const [id, p] of this.pendingWrites) {
      if (p.bus !== bus) continue;
      this.pendingWrites.delete(id);
      p.resolve({ ok: false, error, ms: 0 });
    }
  }

  /** Sends a write to the point's bus worker; resolves with the device's answer. */
  write(point: number, value: number, timeoutMs = 10_000): Promise<WriteResult> {
    const b = this.busOfPoint.get(point);
    const info = this.registry.points[point];
    if (!b || !info) return Promise.resolve({ ok: false, error: "unknown point", ms: 0 });
    if (!info.tag.writable) return Promise.resolve({ ok: false, error: `${info.id} is not writable`, ms: 0 });
    if (!b.worker) return Promise.resolve({ ok: false, error: `bus ${b.bus.id} is restarting`, ms: 0 });
    const id = this.nextWriteId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.pendingWrites.delete(id)) resolve({ ok: false, error: "no result from the bus in time", ms: timeoutMs });
      }, timeoutMs);
      this.pendingWrites.set(id, {
        bus: b.bus.id,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
      b.worker!.postMessage({ type: "write", id, point, value } satisfies ToWorker);
    });
  }

  /** Fault injection: makes a bus worker throw (tests and drills). */
  crash(busId: string): void {
    this.buses.find((b) => b.bus.id === busId)?.worker?.postMessage({ type: "crash" } satisfies ToWorker);
  }

  /** The request plan in force for a device: what its worker learned, else the configured plan. */
  plan(device: string): LearnedPlanView | undefined {
    const learned = this.learnedPlans.get(device);
    if (learned) return learned;
    const reads = this.plans.get(device);
    return reads ? configuredView(reads) : undefined;
  }

  stats(): (BusStats | { bus: string; kind: string; connected: false; restarting: true; restarts: number })[] {
    return this.buses.map((b) =>
      b.stats ? { ...b.stats, restarts: b.restarts } : { bus: b.bus.id, kind: b.bus.kind, connected: false, restarting: true, restarts: b.restarts },
    );
  }

  busConfigs(): { bus: BusConfig; devices: WorkerDevice[] }[] {
    return this.buses.map((b) => ({ bus: b.bus, devices: b.devices }));
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.buses.map(async (b) => {
        b.stopping = true;
        const w = b.worker;
        if (!w) return;
        w.postMessage({ type: "stop" } satisfies ToWorker);
        await new Promise((r) => setTimeout(r, 50));
        w.terminate();
      }),
    );
    for (const b of this.buses) {
      this.failPendingForwards(b, "stopping");
      this.endScan(b);
    }
    for (const [id, p] of this.pendingWrites) {
      this.pendingWrites.delete(id);
      p.resolve({ ok: false, error: "stopping", ms: 0 });
    }
  }
}
