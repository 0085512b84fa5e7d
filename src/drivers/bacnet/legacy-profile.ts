import type { Profile, Tag } from "../../config/profile.ts";
import type { BacnetProfile } from "../../protocols/bacnet/profile.ts";

/**
 * ADAPTER, to be removed once the point core is protocol-neutral (issue 15 §1, engineer "core"):
 * today's registry, alarms, topology roles and pages read a point's facts from a Modbus-shaped
 * `Tag`. A BACnet profile is presented in that shape so all of them work unchanged; the Modbus-only
 * fields hold inert values and nothing Modbus (planner, reply cache) ever sees these devices.
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
    role: p.role,
    slow: false,
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
