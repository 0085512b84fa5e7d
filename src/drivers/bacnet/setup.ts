import type { Tag } from "../../config/profile.ts";
import type { BacnetBusConfig, DeviceConfig, Site } from "../../config/site.ts";
import type { PointRegistry } from "../../points/registry.ts";
import type { BacnetPortConfig, BacnetWorkerDevice } from "./messages.ts";

/**
 * What the main thread gives a BACnet port's worker: the port settings and, per device, its points
 * with their table index (from the registry, so both sides agree on the numbering).
 */

/** In the compiled binary the worker is bundled at drivers/bacnet/worker.js (scripts/build.ts). */
export function bacnetWorkerUrl(): URL {
  return import.meta.url.includes("$bunfs") ? new URL("./drivers/bacnet/worker.ts", import.meta.url) : new URL("./worker.ts", import.meta.url);
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
  const out: BacnetWorkerDevice[] = [];
  for (const d of site.devices) {
    if (d.bus !== busId || !d.enabled) continue;
    const bp = site.profiles.get(d.profile)?.bacnet;
    if (!bp) continue;
    const byId = new Map(bp.points.map((p) => [p.id, p]));
    out.push({
      id: d.id,
      instance: d.instance!,
      address: d.address,
      pollMs: d.pollMs,
      cov: d.cov,
      covLifetimeS: d.covLifetimeS,
      vendorId: bp.vendorId,
      deviceFactor: bp.deviceFactor,
      points: (registry.byDevice.get(d.id) ?? []).map((info) => ({ index: info.index, point: byId.get(info.tag.id)! })),
    });
  }
  return out;
}

/**
 * The tags of a device that become points. A BACnet UPS in "multi-units" mode with
 * `systemLevel: false` leaves the parallel system's objects to the unit that carries them, so the
 * system's values exist once.
 */
export function deviceTags(device: DeviceConfig, tags: Tag[], bacnetLevels?: Map<string, string>): Tag[] {
  if (device.systemLevel || !bacnetLevels) return tags;
  return tags.filter((t) => bacnetLevels.get(t.id) !== "system");
}

/** Staleness for a BACnet point: COV points are refreshed by each renewal's notification, not by polls. */
export function bacnetStaleAfter(device: DeviceConfig, timeoutMs: number, retries: number): number {
  const poll = 2 * device.pollMs + timeoutMs * (retries + 1) + 500;
  if (device.cov === "off") return poll;
  return Math.max(poll, (device.covLifetimeS * 1000) / 2 + timeoutMs * (retries + 1) + 2000);
}
