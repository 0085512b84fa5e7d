import { pointForRole, type Site } from "../config/site.ts";
import type { LiveView, PointValue } from "../points/live.ts";
import type { PointInfo } from "../points/registry.ts";

/**
 * What a command will do, from the site's topology and the live values, for the confirm screen:
 * the breaker's actual state (its status point, not the write-only command), the load it carries
 * now, and everything downstream of it. For a setpoint: the process value it is compared with.
 */

export interface BreakerConsequence {
  breaker: string;
  label: string;
  /** Status points (`breaker.closed`, `breaker.tripped`) and the power through it. */
  closed?: { info: PointInfo; value: PointValue };
  tripped?: { info: PointInfo; value: PointValue };
  power?: { info: PointInfo; value: PointValue };
  /** Loads and nodes fed through it (feeder loads by name, busbars and their breakers). */
  feeds: string[];
}

export function breakerOfDevice(site: Site, device: string) {
  return site.topology.breakers.find((b) => b.device === device);
}

/** Every load and node below `nodeId`, in topology order (bounded: a site file is a tree). */
export function fedFrom(site: Site, nodeId: string, depth = 0): string[] {
  if (depth > 32) return [];
  const out: string[] = [];
  const bus = site.topology.busbars.find((b) => b.id === nodeId);
  if (bus) out.push(bus.label ?? bus.id);
  for (const b of site.topology.breakers) {
    if (b.from !== nodeId) continue;
    const dev = b.device ? site.devices.find((d) => d.id === b.device) : undefined;
    const name = b.load ? `${b.id} ${b.load}` : `${b.id}${dev?.label ? " " + dev.label : ""}`;
    out.push(name);
    if (b.to) out.push(...fedFrom(site, b.to, depth + 1));
  }
  const ats = site.topology.ats.filter((a) => a.normal === nodeId || a.emergency === nodeId);
  for (const a of ats) {
    out.push(a.label ?? a.id);
    out.push(...fedFrom(site, a.id, depth + 1));
  }
  return out;
}

export function breakerConsequence(site: Site, live: LiveView, device: string): BreakerConsequence | undefined {
  const b = breakerOfDevice(site, device);
  if (!b) return undefined;
  const pick = (ref: string | undefined, role: string) => {
    const id = ref ?? pointForRole(site, device, role);
    const info = id ? live.registry.byId.get(id) : undefined;
    return info ? { info, value: live.value(info) } : undefined;
  };
  const dev = site.devices.find((d) => d.id === device);
  return {
    breaker: b.id,
    label: b.load ?? dev?.label ?? b.label ?? b.id,
    closed: pick(b.closed, "breaker.closed"),
    tripped: pick(b.tripped, "breaker.tripped"),
    power: pick(b.power, "power.total"),
    feeds: b.to ? fedFrom(site, b.to) : b.load ? [b.load] : [],
  };
}

/**
 * The measurement a setpoint acts on: the device's `power.total` point in the setpoint's unit
 * (the shedding setpoint against the building's demand). Undefined when there is none.
 */
export function processValueFor(live: LiveView, info: PointInfo): { info: PointInfo; value: PointValue } | undefined {
  if (!info.unit || info.states) return undefined;
  const pv = (live.registry.byDevice.get(info.device) ?? []).find((p) => p !== info && p.readable && p.role === "power.total" && p.unit === info.unit);
  return pv ? { info: pv, value: live.value(pv) } : undefined;
}
