import type { ComputedPointDef } from "../points/computed.ts";
import type { MicrogridConfig } from "./config.ts";

/**
 * The microgrid's computed points: the site point list's "Microgrid" block, produced by Busbar
 * (src/microgrid/controller.ts) instead of a controller device. Ids are `MICROGRID.<name>` and
 * stable: the BACnet server maps them by these names (README "Microgrid control" lists them).
 */
export const MG = "MICROGRID";

/** Outputs refreshed every tick: a stopped controller shows stale, never a frozen good value. */
const LIVE_MS = 5_000;
const onOff = { 0: "OFF", 1: "ON" };

export function microgridPoints(cfg: MicrogridConfig): ComputedPointDef[] {
  const live = { staleAfterMs: LIVE_MS };
  const defs: ComputedPointDef[] = [
    { device: MG, name: "shed_setpoint", label: "Active load-shedding setpoint", labelFr: "Consigne de délestage active", unit: "kW", range: { min: 0, max: 5000 }, writable: { default: cfg.setpointKw } },
    { device: MG, name: "setpoint_active", label: "Setpoint in force (GDP event: event setpoint)", labelFr: "Consigne en vigueur (événement GDP : consigne d'événement)", unit: "kW", ...live },
    { device: MG, name: "kw_instant", label: "Instantaneous demand", labelFr: "Kw/instantané", unit: "kW", role: "power.total", ...live },
    { device: MG, name: "kw_source", label: "Demand measured at", labelFr: "Demande mesurée à", kind: "multi-state", states: Object.fromEntries(cfg.power.map((p, i) => [String(i), p.split(".")[0]!])), ...live },
    { device: MG, name: "kw_avg_15min", label: "15-minute average demand (rolling)", labelFr: "Kw/Moyens 15min (glissante)", unit: "kW", ...live },
    { device: MG, name: "demand_block", label: "15-minute block demand so far (billed)", labelFr: "Appel de puissance du bloc 15 min en cours (facturé)", unit: "kW", ...live },
    { device: MG, name: "demand_block_projected", label: "15-minute block demand projected to its end", labelFr: "Appel de puissance projeté à la fin du bloc", unit: "kW", ...live },
    { device: MG, name: "demand_block_last", label: "Last 15-minute block demand", labelFr: "Appel de puissance du dernier bloc 15 min", unit: "kW", ...live },
    { device: MG, name: "shed_request", label: "Building load-shedding request", labelFr: "Demande de délestage bâtiment", kind: "digital", states: { 0: "INACTIVE", 1: "ACTIVE" }, ...live },
    { device: MG, name: "shed_signal", label: cfg.shedding.direction === "shed" ? "Shedding signal (depth of shedding)" : "Shedding signal (permitted load)", labelFr: cfg.shedding.direction === "shed" ? "Signal de délestage (profondeur)" : "Signal de délestage (charge permise)", unit: "%", range: { min: 0, max: 100 }, ...live },
    { device: MG, name: "shed_stage", label: "Shedding stage (table row)", labelFr: "Palier de délestage (ligne du tableau)", range: { min: 0, max: cfg.shedding.table.length }, ...live },
    { device: MG, name: "shed_stage2", label: "Second shedding stage signal", labelFr: "Signal de deuxième stage de délestage", unit: "%", range: { min: 0, max: 100 }, ...live },
    { device: MG, name: "gdp_request", label: "GDP request (peak-demand event)", labelFr: "Demande GDP", kind: "digital", states: onOff, writable: { default: 0 } },
    { device: MG, name: "gdp_setpoint", label: "GDP event setpoint", labelFr: "Consigne d'événement GDP", unit: "kW", range: { min: 0, max: 5000 }, writable: { default: cfg.gdpSetpointKw } },
    { device: MG, name: "gdp_sched_start", label: "Scheduled GDP event start (Unix s, 0 = none)", labelFr: "Début d'événement GDP planifié (s Unix, 0 = aucun)", unit: "s", range: { min: 0, max: 4_102_444_800 }, writable: { default: 0 } },
    { device: MG, name: "gdp_sched_end", label: "Scheduled GDP event end (Unix s, 0 = none)", labelFr: "Fin d'événement GDP planifiée (s Unix, 0 = aucun)", unit: "s", range: { min: 0, max: 4_102_444_800 }, writable: { default: 0 } },
    { device: MG, name: "gdp_active", label: "GDP event in progress", labelFr: "Événement GDP en cours", kind: "multi-state", states: { 0: "NO", 1: "REQUEST", 2: "SCHEDULE" }, ...live },
  ];
  if (cfg.bess)
    defs.push(
      { device: MG, name: "bess_mode", label: "Battery dispatch by Busbar", labelFr: "Répartition batterie par Busbar", kind: "digital", states: { 0: "MANUAL", 1: "AUTO" }, writable: { default: 1 } },
      { device: MG, name: "bess_command", label: "Battery power asked (discharge +)", labelFr: "Puissance demandée à la batterie (décharge +)", unit: "kW", ...live },
      { device: MG, name: "bess_interlock", label: "Battery dispatch interlock", labelFr: "Verrouillage de la répartition batterie", kind: "multi-state", states: { 0: "NORMAL", 1: "COMM LOSS", 2: "CONTACTOR OPEN", 3: "FAULT", 4: "WRITE FAILED" }, ...live },
    );
  return defs;
}
