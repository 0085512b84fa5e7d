import type { Tag } from "../../config/profile.ts";
import type { BusConfig, ModbusBusConfig, Site } from "../../config/site.ts";
import { ReplyCache } from "../../gateway/reply-cache.ts";
import type { PointRegistry } from "../../points/registry.ts";
import { planReads, type PlannedRead } from "../../protocols/modbus/planner.ts";
import { breakEvenGap } from "../../protocols/modbus/rtu-frame.ts";
import type { ScanRequest, ScanResult } from "../../protocols/modbus/rtu-scan.ts";
import { configuredView, type LearnedPlanView } from "../../protocols/modbus/learned-plan.ts";
import type { WorkerInit } from "../protocol.ts";
import type { WorkerSpec } from "../supervisor.ts";
import { deviceTags, isModbusBus } from "./points.ts";
import type { ForwardOp, ForwardResult, ModbusFromWorker, ModbusInit, ToWorker, WorkerDevice } from "./protocol.ts";
import { timeSyncSpec, type TimeSyncSpec } from "./timesync.ts";

/**
 * The Modbus driver's main-thread side: the request plan of every device, one worker per Modbus
 * bus (described to the supervisor as a WorkerSpec), and what only Modbus has — the gateway's reply
 * cache and forwarded requests, the unit scanner, the memory of device clock settings, the plans
 * the workers learned from devices' refusals.
 */

export interface ModbusDriverOptions {
  log?: (level: "info" | "warn" | "error", msg: string) => void;
  workerUrl?: URL | string;
}

/**
 * In the compiled binary all code shares the entry's URL (/$bunfs/root/busbar) and the worker is
 * bundled at workers/modbus-bus.js below it (scripts/build.ts passes src/workers/modbus-bus.ts as an
 * extra entrypoint).
 */
export function modbusWorkerUrl(): URL {
  return import.meta.url.includes("$bunfs") ? new URL("./workers/modbus-bus.ts", import.meta.url) : new URL("../../workers/modbus-bus.ts", import.meta.url);
}

/** The request plan of every enabled Modbus device, computed once. */
export function planSite(site: Site, registry: PointRegistry): Map<string, PlannedRead[]> {
  const plans = new Map<string, PlannedRead[]>();
  const buses = new Map(site.buses.map((b) => [b.id, b]));
  for (const device of site.devices) {
    const bus = buses.get(device.bus);
    if (!device.enabled || !bus || !isModbusBus(bus)) continue;
    const profile = site.profiles.get(device.profile)!;
    // On a serial line a hole wider than the break-even gap costs more wire time read through than a
    // second request: the profile's gap is capped there (a gap set on the device itself is kept).
    const gapCap = bus.kind !== "modbus-tcp" ? breakEvenGap(bus) : Infinity;
    plans.set(
      device.id,
      planReads(deviceTags(site, registry, device), {
        maxRegistersPerRead: device.maxRegistersPerRead ?? profile.maxRegistersPerRead,
        maxBitsPerRead: profile.maxBitsPerRead,
        maxGap: device.maxGap ?? Math.min(profile.maxGap, gapCap),
      }),
    );
  }
  return plans;
}

interface ModbusBus {
  bus: ModbusBusConfig;
  devices: WorkerDevice[];
  worker: Worker | undefined;
  /** Gateway requests waiting for this bus's worker. */
  forwards: number;
  scan: { id: number; progress: { done: number; total: number }; result?: ScanResult; resolve(r: ScanResult): void } | undefined;
}

export class ModbusDriver {
  readonly plans: Map<string, PlannedRead[]>;
  /** Last poll replies for the gateway's cached mode (only when the site has a gateway). */
  readonly replyCache: ReplyCache | undefined;
  private readonly buses: ModbusBus[];
  private readonly pendingForwards = new Map<number, { resolve: (r: ForwardResult) => void; bus: ModbusBus }>();
  private nextForwardId = 1;
  private nextScanId = 1;
  /** Last clock setting per device, kept across worker restarts. */
  private readonly lastTimeSync: Record<string, number> = {};
  private readonly timezone: string;
  /** Plans the workers have learned from refusals, per device (absent: the configured plan is in force). */
  private readonly learnedPlans = new Map<string, LearnedPlanView>();

  private readonly workerUrl: URL | string;
  private readonly log: NonNullable<ModbusDriverOptions["log"]>;

  constructor(site: Site, registry: PointRegistry, opts: ModbusDriverOptions = {}) {
    this.workerUrl = opts.workerUrl ?? modbusWorkerUrl();
    this.log = opts.log ?? (() => {});
    this.plans = planSite(site, registry);
    this.buses = site.buses.filter((b): b is ModbusBusConfig => isModbusBus(b)).map((bus) => {
      const devices: WorkerDevice[] = site.devices
        .filter((d) => d.bus === bus.id && d.enabled)
        .map((d) => {
          const tags = deviceTags(site, registry, d);
          const writable: Record<number, Tag> = {};
          for (const t of tags) if (t.tag.writable) writable[t.point] = t.tag;
          const profile = site.profiles.get(d.profile);
          return {
            id: d.id,
            unit: d.unit,
            pollMs: d.pollMs,
            slowPollMs: d.slowPollMs,
            ku: d.ku,
            ki: d.ki,
            reads: this.plans.get(d.id) ?? [],
            points: tags.map((t) => t.point),
            writable,
            profile: d.profile,
            timeSync: profile ? timeSyncSpec(profile) : undefined,
            host: d.host,
            port: d.port,
          };
        });
      return { bus, devices, worker: undefined, forwards: 0, scan: undefined };
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
  }

  /** One worker per Modbus bus, for the supervisor. */
  workers(): WorkerSpec[] {
    return this.buses.map(
      (b): WorkerSpec => ({
        id: b.bus.id,
        driver: "modbus",
        kind: b.bus.kind,
        url: this.workerUrl,
        points: b.devices.flatMap((d) => d.points),
        init: (base: WorkerInit): ModbusInit => ({
          ...base,
          bus: b.bus,
          devices: forWorker(b.devices),
          replyCache: this.replyCache?.buffers,
          timezone: this.timezone,
          lastTimeSync: this.lastTimeSync,
        }),
        onMessage: (msg) => this.onMessage(b, msg as ModbusFromWorker),
        attached: (worker) => (b.worker = worker),
        detached: (reason) => {
          b.worker = undefined;
          // A new worker starts again from the configured plan.
          for (const d of b.devices) this.learnedPlans.delete(d.id);
          this.failPendingForwards(b, reason);
          this.endScan(b);
        },
      }),
    );
  }

  /**
   * Seeds the last clock setting of devices (e.g. from the journal's `device.timesync.set` events)
   * before start(), so a restarted Busbar keeps a device's "at most once a day" rule too.
   */
  setLastTimeSync(last: Record<string, number>): void {
    for (const [d, at] of Object.entries(last)) if (!(this.lastTimeSync[d]! >= at)) this.lastTimeSync[d] = at;
  }

  private onMessage(b: ModbusBus, msg: ModbusFromWorker): void {
    switch (msg.type) {
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
      case "time-synced":
        for (const d of msg.devices) this.lastTimeSync[d] = msg.at;
        break;
      case "plan": {
        const before = this.learnedPlans.get(msg.device);
        if (msg.plan.learned) this.learnedPlans.set(msg.device, msg.plan);
        else this.learnedPlans.delete(msg.device);
        const refused = msg.plan.refused.join(", ");
        if (!msg.plan.learned ? before : refused !== (before?.refused.join(", ") ?? ""))
          this.log(
            "info",
            msg.plan.learned
              ? `${msg.device}: request plan learned: ${msg.plan.reads.length} reads${refused ? `; registers refused by the device: ${refused}` : ""}`
              : `${msg.device}: request plan back to the configured one`,
          );
        break;
      }
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

  private failPendingForwards(b: ModbusBus, error: string): void {
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

  private onScanDone(b: ModbusBus, cb: (r: ScanResult) => void): void {
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

  private endScan(b: ModbusBus): void {
    const s = b.scan;
    if (!s || s.result) return;
    s.result = { bus: b.bus.id, from: 0, to: 0, probes: 0, hits: [], missing: [], durationMs: 0, cancelled: true, startedAt: Date.now() };
    s.resolve(s.result);
  }

  /** The request plan in force for a device: what its worker learned, else the configured plan. */
  plan(device: string): LearnedPlanView | undefined {
    const learned = this.learnedPlans.get(device);
    if (learned) return learned;
    const reads = this.plans.get(device);
    return reads ? configuredView(reads) : undefined;
  }

  busConfigs(): { bus: BusConfig; devices: WorkerDevice[] }[] {
    return this.buses.map((b) => ({ bus: b.bus, devices: b.devices }));
  }
}

/**
 * The devices as a worker gets them: its tags without their texts (labels, description, unit,
 * state names, role), which a worker never shows. A worker holds every tag of its bus, copied by the
 * structured clone: 20,000 tags are 1.7 MB lighter so. Built at each (re)start and dropped once
 * posted, so the main thread keeps one copy of each tag. A tag shared by reads, writes and clock
 * setting stays one object (the clone keeps shared references shared).
 */
function forWorker(devices: WorkerDevice[]): WorkerDevice[] {
  const slim = new Map<Tag, Tag>();
  const tag = (t: Tag): Tag => {
    let s = slim.get(t);
    if (!s) {
      const { label: _l, labelFr: _lf, description: _d, unit: _u, states: _s, statesFr: _sf, role: _r, ...rest } = t;
      slim.set(t, (s = { ...rest, label: "", unit: "" }));
    }
    return s;
  };
  const spec = (ts: TimeSyncSpec | undefined): TimeSyncSpec | undefined =>
    ts && {
      ...ts,
      write: tag(ts.write),
      clock: ts.clock && tag(ts.clock),
      clockParts: ts.clockParts && (Object.fromEntries(Object.entries(ts.clockParts).map(([k, t]) => [k, tag(t)])) as TimeSyncSpec["clockParts"]),
    };
  return devices.map((d) => ({
    ...d,
    reads: d.reads.map((r) => ({ ...r, items: r.items.map((i) => ({ ...i, tag: tag(i.tag) })) })),
    writable: Object.fromEntries(Object.entries(d.writable).map(([p, t]) => [p, tag(t)])),
    timeSync: spec(d.timeSync),
  }));
}

