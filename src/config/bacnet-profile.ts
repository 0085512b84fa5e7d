import type { Profile, Tag } from "./profile.ts";
import type { BacnetProfile } from "../protocols/bacnet/profile.ts";

/**
 * A BACnet profile in the site's profile map. The site checks (point references, alarm states,
 * topology roles) and the simulator's value store read a profile's `tags`; a BACnet profile is
 * listed there with one tag per point (the Modbus-only fields inert) and carries its object map in
 * `bacnet`, which is all the BACnet driver and the registry's BACnet source read. Nothing Modbus
 * (planner, reply cache, gateway) takes a device of a bacnet-ip bus.
 */
export function bacnetAsProfile(bp: BacnetProfile): Profile {
  const tags: Tag[] = bp.points.map((p, i) => ({
    id: p.id,
    label: p.label,
    labelFr: p.labelFr,
    address: i,
    function: 3,
    poll: true,
    type: "float32",
    order: "ABCD",
    scale: 1,
    offset: 0,
    multiplier: "none",
    unit: p.unit,
    kind: p.kind === "text" ? "text" : p.kind === "digital" ? "digital" : "analog",
    notAvailable: [],
    range: p.range,
    states: p.states,
    statesFr: p.statesFr,
    role: p.role,
    slow: false,
    readAlone: false,
    description: p.description,
    writable: p.writable,
  }));
  return {
    profile: bp.profile,
    name: bp.name,
    maker: bp.maker,
    model: bp.model,
    source: bp.source,
    addressBase: 0,
    maxRegistersPerRead: 125,
    maxBitsPerRead: 2000,
    maxGap: 0,
    defaults: {},
    tags,
    bacnet: bp,
  };
}
