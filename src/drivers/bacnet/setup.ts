import type { Site } from "../../config/site.ts";
import type { PointRegistry } from "../../points/registry.ts";
import type { BacnetBusConfig } from "../../config/site.ts";
import type { BacnetPortConfig, BacnetWorkerDevice } from "./messages.ts";
import { bacnetDevices } from "./points.ts";

/**
 * What the main thread gives a BACnet port's worker: the port settings and, per device, its points
 * with their table index (from the registry, so both sides agree on the numbering).
 */

/** The port's thread entry, src/workers/bacnet-port.ts; in the compiled binary bundled at workers/bacnet-port.js (scripts/build.ts). */
export function bacnetWorkerUrl(): URL {
  return import.meta.url.includes("$bunfs") ? new URL("./workers/bacnet-port.ts", import.meta.url) : new URL("../../workers/bacnet-port.ts", import.meta.url);
}

export function portConfig(bus: BacnetBusConfig): BacnetPortConfig {
  return {
    id: bus.id,
    kind: "bacnet-ip",
    interface: bus.interface,
    port: bus.port,
    broadcast: bus.broadcast,
    bbmd: bus.bbmd,
    timeoutMs: bus.timeoutMs,
    retries: bus.retries,
    backoffMs: bus.backoffMs,
  };
}

export function bacnetWorkerDevices(site: Site, registry: PointRegistry, busId: string): BacnetWorkerDevice[] {
  return bacnetDevices(site)
    .filter(({ device }) => device.bus === busId)
    .map(({ device: d, profile: bp }) => {
      const byId = new Map(bp.points.map((p) => [p.id, p]));
      return {
        id: d.id,
        instance: d.instance!,
        address: d.address,
        pollMs: d.pollMs,
        cov: d.cov,
        covLifetimeS: d.covLifetimeS,
        vendorId: bp.vendorId,
        deviceFactor: bp.deviceFactor,
        points: (registry.byDevice.get(d.id) ?? []).map((info) => ({ index: info.index, point: byId.get(info.name)! })),
      };
    });
}
