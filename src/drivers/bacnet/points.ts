import type { DeviceConfig, Site } from "../../config/site.ts";
import type { PointDef, PointKind, PointSource } from "../../points/registry.ts";
import type { BacnetPoint, BacnetProfile } from "../../protocols/bacnet/profile.ts";

/**
 * The BACnet driver's points: one per point of every enabled BACnet device's profile (a bit of a
 * bit-string is its own point). The object map stays in this driver; the registry gets the neutral facts.
 */

export const isBacnetBus = (bus: { kind: string }): boolean => bus.kind === "bacnet-ip";

/** Staleness: a COV point is refreshed by every renewal's notification, a polled one by each poll. */
export function bacnetStaleAfter(device: DeviceConfig, timeoutMs: number, retries: number): number {
  const poll = 2 * device.pollMs + timeoutMs * (retries + 1) + 500;
  if (device.cov === "off") return poll;
  return Math.max(poll, (device.covLifetimeS * 1000) / 2 + timeoutMs * (retries + 1) + 2000);
}

/**
 * The profile points a device carries. A UPS of a parallel system in "multi-units" mode with
 * `systemLevel: false` leaves the system's objects to the unit that carries them, so they exist once.
 */
export function devicePoints(device: DeviceConfig, profile: BacnetProfile): BacnetPoint[] {
  return device.systemLevel ? profile.points : profile.points.filter((p) => p.level !== "system");
}

const KIND: Record<BacnetPoint["kind"], PointKind> = { analog: "analog", digital: "digital", multistate: "multi-state", text: "text" };

/** The enabled devices on the site's BACnet/IP buses, in site-file order. */
export function bacnetDevices(site: Site): { device: DeviceConfig; profile: BacnetProfile; timeoutMs: number; retries: number }[] {
  const buses = new Map(site.buses.filter(isBacnetBus).map((b) => [b.id, b]));
  return site.devices.flatMap((device) => {
    const bus = buses.get(device.bus);
    const profile = site.profiles.get(device.profile)?.bacnet;
    return device.enabled && bus && profile ? [{ device, profile, timeoutMs: bus.timeoutMs, retries: bus.retries }] : [];
  });
}

export function bacnetPointSource(site: Site): PointSource {
  return {
    name: "bacnet",
    points(): PointDef[] {
      return bacnetDevices(site).flatMap(({ device, profile, timeoutMs, retries }) =>
        devicePoints(device, profile).map(
          (p): PointDef => ({
            device: device.id,
            name: p.id,
            label: p.label,
            labelFr: p.labelFr,
            unit: p.unit,
            kind: KIND[p.kind],
            states: p.states,
            statesFr: p.statesFr,
            writable: p.writable,
            range: p.range,
            role: p.role,
            staleAfterMs: bacnetStaleAfter(device, timeoutMs, retries),
            owner: { driver: "bacnet", bus: device.bus },
          }),
        ),
      );
    },
  };
}
