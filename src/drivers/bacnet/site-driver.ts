import type { BacnetBusConfig, Site } from "../../config/site.ts";
import type { PointRegistry } from "../../points/registry.ts";
import type { WorkerInit } from "../protocol.ts";
import type { WorkerSpec, WriteResult } from "../supervisor.ts";
import type { BacnetInit, BacnetWorkerDevice, FromBacnetWorker, IAmInfo, ToBacnetWorker } from "./messages.ts";
import { bacnetWorkerDevices, bacnetWorkerUrl, portConfig } from "./setup.ts";

/**
 * The BACnet driver's main-thread side: one worker per BACnet/IP port for the supervisor, the
 * admin's Who-Is scan, and writes with an explicit priority or a relinquish (the supervisor's
 * neutral write carries a number and uses the point's default priority).
 */

interface Port {
  bus: BacnetBusConfig;
  devices: BacnetWorkerDevice[];
  worker: Worker | undefined;
  whois: Map<number, (heard: IAmInfo[]) => void>;
  writes: Map<number, (r: WriteResult) => void>;
}

export class BacnetSiteDriver {
  private readonly ports: Port[];
  private nextId = 1;
  /** RPM sizes the devices taught their workers, handed to the next worker after a restart. */
  private readonly learned: Record<string, { size: number; reason: string | null }> = {};

  constructor(
    site: Site,
    private readonly registry: PointRegistry,
    private readonly workerUrl: URL | string = bacnetWorkerUrl(),
  ) {
    this.ports = site.buses
      .filter((b): b is BacnetBusConfig => b.kind === "bacnet-ip")
      .map((bus) => ({ bus, devices: bacnetWorkerDevices(site, registry, bus.id), worker: undefined, whois: new Map(), writes: new Map() }));
  }

  workers(): WorkerSpec[] {
    return this.ports.map(
      (p): WorkerSpec => ({
        id: p.bus.id,
        driver: "bacnet",
        kind: p.bus.kind,
        url: this.workerUrl,
        points: p.devices.flatMap((d) => d.points.map((x) => x.index)),
        init: (base: WorkerInit): BacnetInit => ({ ...base, bus: portConfig(p.bus), devices: p.devices, learned: this.learned }),
        onMessage: (msg) => this.onMessage(p, msg as FromBacnetWorker),
        attached: (worker) => (p.worker = worker),
        detached: (reason) => {
          p.worker = undefined;
          for (const done of p.whois.values()) done([]);
          p.whois.clear();
          for (const done of p.writes.values()) done({ ok: false, error: reason, ms: 0 });
          p.writes.clear();
        },
      }),
    );
  }

  private onMessage(p: Port, msg: FromBacnetWorker): void {
    if (msg.type === "whois-done") {
      p.whois.get(msg.id)?.(msg.heard);
      p.whois.delete(msg.id);
    } else if (msg.type === "rpm-learned") {
      this.learned[msg.device] = { size: msg.size, reason: msg.reason };
    } else if (msg.type === "bacnet-write-result") {
      p.writes.get(msg.id)?.({ ok: msg.ok, error: msg.error, ms: msg.ms });
      p.writes.delete(msg.id);
    }
  }

  /** Is this a BACnet/IP port of the site? */
  hasPort(busId: string): boolean {
    return this.ports.some((p) => p.bus.id === busId);
  }

  /** Who-Is on a port: every I-Am heard within `waitMs`, in instance order. */
  whoIs(busId: string, low?: number, high?: number, waitMs = 3000): Promise<IAmInfo[] | { error: string }> {
    const p = this.ports.find((x) => x.bus.id === busId);
    if (!p) return Promise.resolve({ error: `no BACnet/IP bus "${busId}"` });
    if (!p.worker) return Promise.resolve({ error: `bus ${busId} is restarting` });
    const id = this.nextId++;
    return new Promise((resolve) => {
      p.whois.set(id, resolve);
      p.worker!.postMessage({ type: "whois", id, low, high, waitMs } satisfies ToBacnetWorker);
    });
  }

  /** The priority a write of this point uses when none is given: its profile's (8, manual operator, by default). */
  defaultPriority(point: number): number | undefined {
    for (const p of this.ports) for (const d of p.devices) for (const x of d.points) if (x.index === point) return x.point.priority;
    return undefined;
  }

  /**
   * WriteProperty at `priority` (1–16), or relinquish it (`value: null`). Callers do the role check,
   * confirmation and journal, as for any write (the operate route).
   */
  write(point: number, value: number | null, priority?: number, timeoutMs = 10_000): Promise<WriteResult> {
    const info = this.registry.points[point];
    const p = this.ports.find((x) => x.bus.id === info?.owner.bus);
    if (!info || !p || info.owner.driver !== "bacnet") return Promise.resolve({ ok: false, error: "not a BACnet point", ms: 0 });
    if (!info.writable) return Promise.resolve({ ok: false, error: `${info.id} is not writable`, ms: 0 });
    if (priority !== undefined && !(Number.isInteger(priority) && priority >= 1 && priority <= 16)) return Promise.resolve({ ok: false, error: "priority must be 1..16", ms: 0 });
    if (!p.worker) return Promise.resolve({ ok: false, error: `bus ${p.bus.id} is restarting`, ms: 0 });
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (p.writes.delete(id)) resolve({ ok: false, error: "no result from the bus in time", ms: timeoutMs });
      }, timeoutMs);
      p.writes.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      p.worker!.postMessage({ type: "bacnet-write", id, point, value, priority } satisfies ToBacnetWorker);
    });
  }
}
