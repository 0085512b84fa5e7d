import type { Tag } from "../../config/profile.ts";
import type { DeviceConfig, Site } from "../../config/site.ts";
import type { PointDef, PointRegistry, PointSource } from "../../points/registry.ts";

/**
 * The Modbus driver's points: one per tag of every enabled device's profile. The register map
 * (`Tag`: address, function, type, scaling) stays in this driver; the registry gets the neutral facts.
 */

export const MODBUS_BUS_KINDS = ["modbus-tcp", "modbus-rtu", "modbus-rtu-tcp"] as const;

export function isModbusBus<B extends { kind: string }>(bus: B): bus is Exclude<B, { kind: "bacnet-ip" }> {
  return (MODBUS_BUS_KINDS as readonly string[]).includes(bus.kind);
}

/** Allowed age before a value counts as stale: two missed cycles plus a full retry sequence. */
export function staleAfter(device: DeviceConfig, tag: Tag, timeoutMs: number, retries: number): number {
  const period = tag.slow ? device.slowPollMs : device.pollMs;
  return 2 * period + timeoutMs * (retries + 1) + 500;
}

/** The enabled devices on the site's Modbus buses, in site-file order. */
function modbusDevices(site: Site): { device: DeviceConfig; timeoutMs: number; retries: number }[] {
  const buses = new Map(site.buses.filter(isModbusBus).map((b) => [b.id, b]));
  return site.devices.flatMap((device) => {
    const bus = buses.get(device.bus);
    return device.enabled && bus ? [{ device, timeoutMs: bus.timeoutMs, retries: bus.retries }] : [];
  });
}

export function modbusPointSource(site: Site): PointSource {
  return {
    name: "modbus",
    points(): PointDef[] {
      // One owner object per bus, shared by its points.
      const owners = new Map<string, PointDef["owner"]>();
      return modbusDevices(site).flatMap(({ device, timeoutMs, retries }) => {
        let owner = owners.get(device.bus);
        if (!owner) owners.set(device.bus, (owner = { driver: "modbus", bus: device.bus }));
        return site.profiles.get(device.profile)!.tags.map(
          (tag): PointDef => ({
            device: device.id,
            name: tag.id,
            label: tag.label,
            labelFr: tag.labelFr,
            unit: tag.unit,
            kind: tag.kind,
            states: tag.states,
            statesFr: tag.statesFr,
            writable: tag.writable,
            readable: tag.poll,
            range: tag.range,
            role: tag.role,
            staleAfterMs: staleAfter(device, tag, timeoutMs, retries),
            owner: owner!,
          }),
        );
      });
    },
  };
}

/** A device's tags with their point numbers (the registry is built from the same profiles). */
export function deviceTags(site: Site, registry: PointRegistry, device: DeviceConfig): { tag: Tag; point: number }[] {
  const profile = site.profiles.get(device.profile);
  if (!profile) return [];
  return profile.tags.flatMap((tag) => {
    const info = registry.byId.get(`${device.id}.${tag.id}`);
    return info ? [{ tag, point: info.index }] : [];
  });
}
