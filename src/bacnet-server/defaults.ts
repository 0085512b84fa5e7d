import type { Site } from "../config/site.ts";
import type { PointRegistry } from "../points/registry.ts";

/**
 * The site point list the BMS integrator asked for (seed site-point-list.fr.txt), per device
 * profile. Only the points the list marks "/Lecture-Écriture" are writable by default: the
 * load-shedding setpoint, the meters' reset channel and the GDP request. Everything else is served
 * read-only (safe by default); `bacnetServer.objects` makes more writable.
 */
export interface DefaultObject {
  point: string;
  writable?: boolean;
  relinquishDefault?: number;
}

const POINT_LIST: Record<string, { tags: string[]; writable?: Record<string, { relinquishDefault?: number }> }> = {
  // "5B1 Type P MAIN": the 16 listed points, plus the trip state (SD/SDE) beside the OF contact: a
  // BMS that sees "open" must know whether it tripped.
  "micrologic-p": {
    tags: ["v_ab", "v_bc", "v_ca", "v_an", "v_bn", "v_cn", "i_a", "i_b", "i_c", "p_a", "p_b", "p_c", "p_total", "energy_import", "closed", "tripped", "frequency"],
  },
  // "Pour chaque breaker nous désirons les 3 points suivant".
  "micrologic-e": { tags: ["p_total", "energy_import", "closed"] },
  "asco-ats": {
    tags: ["v_an", "v_bn", "v_cn", "v_ln_avg", "v_ab", "v_bc", "v_ca", "v_ll_avg", "i_a", "i_b", "i_c", "i_avg", "p_a", "p_b", "p_c", "p_total", "frequency", "on_normal", "on_emergency"],
  },
  // "Pour chaque compteur nous désirons les 4 points suivant"; "Reset Channel 1 si possible /Lecture-Écriture".
  "pulse-meter": { tags: ["accumulated", "last_reset", "units_code", "reset"], writable: { reset: {} } },
  // "Consigne de délestage active /Lecture-Écriture — 250KW valeur par défaut, réajustable par Régulvar".
  microgrid: {
    tags: [
      "shed_setpoint",
      "shed_request",
      "kw_instant",
      "kw_avg_15min",
      ...["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"].map((m) => `consumption_${m}`),
    ],
    writable: { shed_setpoint: { relinquishDefault: 250 } },
  },
  // "Demande GDP /Lecture-Écriture", "Etat Générateuse".
  generator: { tags: ["gdp_request", "state"], writable: { gdp_request: { relinquishDefault: 0 } } },
  bess: {
    tags: [
      "soc", "soh", "power", "voltage", "current", "contactor", "ac_group_on", "ac_group_startup", "grid_mode", "dispatch_mode",
      "pf_setpoint", "p_control_mode", "p_setpoint", "q_setpoint", "max_charge_current", "max_discharge_current", "dc_aux_relay",
      "sub_control_dc", "sub_control_ac", "ambient_temp_fault", "ambient_humidity_fault", "dc_output_voltage", "dc_max_output_voltage",
      "dc_control_mode", "dc_current_setpoint", "dc_power_setpoint",
    ],
  },
};

/** The microgrid controller's outputs served beside the point list's own microgrid points (issue 12). */
const MICROGRID_OUTPUTS = ["shed_signal", "shed_stage2", "shed_stage", "setpoint_active", "kw_source", "demand_block", "demand_block_projected", "demand_block_last", "gdp_active", "bess_command", "bess_interlock"];

/**
 * The default objects for a site: the point list's points of each device whose profile it names,
 * and every polled tag of the UPS (a topology source of kind `ups` with a device: "the UPS's points
 * re-exposed").
 */
export function defaultObjects(site: Site, registry: PointRegistry): DefaultObject[] {
  const out: DefaultObject[] = [];
  const upsDevices = new Set(site.topology.sources.filter((s) => s.kind === "ups" && s.device).map((s) => s.device!));
  for (const d of site.devices) {
    if (!d.enabled) continue;
    const list = POINT_LIST[d.profile];
    if (list) {
      for (const tag of list.tags) {
        if (!registry.byId.has(`${d.id}.${tag}`)) continue; // a site's own variant of the profile may lack a point
        const w = list.writable?.[tag];
        out.push({ point: `${d.id}.${tag}`, writable: w !== undefined, relinquishDefault: w?.relinquishDefault });
      }
    }
  }
  // The microgrid block computed by Busbar itself (src/microgrid, site file `microgrid:`): the
  // same list under the MICROGRID computed points, the GDP request writable like the generator's.
  if (site.microgrid) {
    const list = POINT_LIST.microgrid!;
    for (const tag of [...list.tags, "gdp_request"]) {
      // The monthly consumption is the energy module's (ENERGY.consumption_*), the rest the controller's.
      const point = [`MICROGRID.${tag}`, `ENERGY.${tag}`].find((id) => registry.byId.has(id));
      if (!point) continue;
      const w = tag === "gdp_request" ? { relinquishDefault: 0 } : list.writable?.[tag];
      out.push({ point, writable: w !== undefined, relinquishDefault: w?.relinquishDefault });
    }
    // What the controller decides from them, for the BMS to act on and to judge: the staged signal
    // and its second stage (the list's table), the row, the setpoint in force and where the kW is
    // measured (fallback), the billed block demand, the GDP event, the battery interlock.
    for (const tag of MICROGRID_OUTPUTS) if (registry.byId.has(`MICROGRID.${tag}`)) out.push({ point: `MICROGRID.${tag}`, writable: false });
  }
  // The UPS from its points in the registry, whichever driver polls it (a BACnet device need not
  // be among the Modbus `devices`).
  const listed = new Set(out.map((o) => o.point));
  for (const ups of upsDevices) for (const p of registry.byDevice.get(ups) ?? []) if (p.readable && !listed.has(p.id)) out.push({ point: p.id });
  return out;
}
