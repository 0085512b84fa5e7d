import type { Tag } from "../config/profile.ts";
import type { DeviceConfig, Site } from "../config/site.ts";
import { bacnetStaleAfter, deviceTags } from "../drivers/bacnet/setup.ts";

/** Static facts about a point; the live value is in the shared PointTable at `index`. */
export interface PointInfo {
  index: number;
  /** `DEVICE.tag` */
  id: string;
  device: string;
  bus: string;
  tag: Tag;
  label: string;
  labelFr: string;
  /** After this long without a fresh poll, a good value is shown as stale. */
  staleAfterMs: number;
}

export interface PointRegistry {
  points: PointInfo[];
  byId: Map<string, PointInfo>;
  byDevice: Map<string, PointInfo[]>;
}

/** Allowed age before a value counts as stale: two missed cycles plus a full retry sequence. */
export function staleAfter(device: DeviceConfig, tag: Tag, timeoutMs: number, retries: number): number {
  const period = tag.slow ? device.slowPollMs : device.pollMs;
  return 2 * period + timeoutMs * (retries + 1) + 500;
}

/** Numbers every tag of every enabled device; the order is stable for a given site file. */
export function buildRegistry(site: Site): PointRegistry {
  const points: PointInfo[] = [];
  const byId = new Map<string, PointInfo>();
  const byDevice = new Map<string, PointInfo[]>();
  const buses = new Map(site.buses.map((b) => [b.id, b]));
  for (const device of site.devices) {
    if (!device.enabled) continue;
    const profile = site.profiles.get(device.profile)!;
    const bus = buses.get(device.bus)!;
    const list: PointInfo[] = [];
    const levels = profile.bacnet && new Map(profile.bacnet.points.map((p) => [p.id, p.level]));
    for (const tag of deviceTags(device, profile.tags, levels)) {
      const info: PointInfo = {
        index: points.length,
        id: `${device.id}.${tag.id}`,
        device: device.id,
        bus: device.bus,
        tag,
        label: tag.label,
        labelFr: tag.labelFr ?? tag.label,
        staleAfterMs: profile.bacnet ? bacnetStaleAfter(device, bus.timeoutMs, bus.retries) : staleAfter(device, tag, bus.timeoutMs, bus.retries),
      };
      points.push(info);
      byId.set(info.id, info);
      list.push(info);
    }
    byDevice.set(device.id, list);
  }
  return { points, byId, byDevice };
}
