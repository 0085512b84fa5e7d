import type { BusConfig, Site } from "../config/site.ts";
import { planReads, type PlannedRead } from "../protocols/modbus/planner.ts";
import type { Tag } from "../config/profile.ts";
import { Quality } from "../points/quality.ts";
import type { PointRegistry } from "../points/registry.ts";
import type { PointTable } from "../points/table.ts";
import type { BusStats, DeviceStatus, FromWorker, ToWorker, WorkerDevice } from "./protocol.ts";

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
  for (const device of site.devices) {
    if (!device.enabled) continue;
    const profile = site.profiles.get(device.profile)!;
    const points = registry.byDevice.get(device.id) ?? [];
    plans.set(
      device.id,
      planReads(
        points.map((p) => ({ tag: p.tag, point: p.index })),
        {
          maxRegistersPerRead: device.maxRegistersPerRead ?? profile.maxRegistersPerRead,
          maxBitsPerRead: profile.maxBitsPerRead,
          maxGap: device.maxGap ?? profile.maxGap,
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
}

export class Supervisor {
  private readonly buses: BusRuntime[];
  private readonly pendingWrites = new Map<number, { resolve: (r: WriteResult) => void; bus: string }>();
  private nextWriteId = 1;
  private readonly busOfPoint = new Map<number, BusRuntime>();

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
          };
        });
      return { bus, ring: i + 1, devices, worker: undefined, stats: undefined, restarts: 0, stopping: false };
    });
    for (const b of this.buses) for (const d of b.devices) for (const p of d.points) this.busOfPoint.set(p, b);
  }

  static ringsFor(site: Site): number {
    return site.buses.length + 1;
  }

  start(): void {
    for (const b of this.buses) this.spawn(b);
  }

  private spawn(b: BusRuntime): void {
    const worker = new Worker(this.workerUrl);
    b.worker = worker;
    let exited = false;
    const onDeath = (reason: string) => {
      if (exited) return;
      exited = true;
      if (b.stopping || b.worker !== worker) return;
      b.worker = undefined;
      worker.terminate();
      this.markStale(b);
      this.failPendingWrites(b.bus.id, `bus ${b.bus.id} worker restarted`);
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
    const init: ToWorker = { type: "init", bus: b.bus, devices: b.devices, table: this.table.buffers, ring: b.ring };
    worker.postMessage(init);
  }

  /** While a bus has no worker the main thread is its points' only writer. */
  private markStale(b: BusRuntime): void {
    const now = Date.now();
    for (const d of b.devices) {
      for (const p of d.points) {
        const s = this.table.read(p);
        if (s.quality === Quality.GOOD) this.table.write(p, s.value, s.ts, Quality.STALE, MAIN_RING);
      }
    }
    void now;
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
      case "ready":
        break;
    }
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
    this.failPendingWrites("*", "stopping");
    for (const [id, p] of this.pendingWrites) {
      this.pendingWrites.delete(id);
      p.resolve({ ok: false, error: "stopping", ms: 0 });
    }
  }
}
