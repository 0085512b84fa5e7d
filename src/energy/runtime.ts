import type { Database } from "bun:sqlite";
import { siteUnits, type Site } from "../config/site.ts";
import type { Journal } from "../journal/journal.ts";
import type { LiveView } from "../points/live.ts";
import type { ComputedPoints } from "../points/computed.ts";
import { Quality } from "../points/quality.ts";
import { EnergyService } from "./service.ts";
import { EnergyStore } from "./store.ts";
import { energySchema, validateEnergy, type ResolvedMeter } from "./structure.ts";
import { costSchema } from "./tariffs.ts";
import * as z from "zod";
import { journalText } from "../journal/i18n.ts";

/** The running energy part: its service (live feed, computed values) and store (the pages' data). */
export interface Energy {
  service: EnergyService;
  store: EnergyStore;
  stop(): void;
}

/** A meter without its own label is named after its device, as the operator knows it ("2B6 PE-2/PE-3"). */
export function labelMeters(site: Site, meters: ResolvedMeter[]): ResolvedMeter[] {
  const deviceLabels = new Map(site.devices.map((d) => [d.id, d.label]));
  for (const m of meters) {
    const dl = deviceLabels.get(m.point.split(".")[0]!);
    if (!m.label && dl) m.label = dl.includes(m.id) ? dl : `${m.id} ${dl}`;
  }
  return meters;
}

/**
 * Starts consumption tracking for the site's meters. The tables live beside the history (same
 * file, same backups) when the historian runs, else in the main database. A site without meters
 * gets no energy part.
 */
export function startEnergy(o: { site: Site; db: Database; settings: Database; live: LiveView; journal: Journal; computed?: ComputedPoints }): Energy | undefined {
  const e = o.site.energy;
  if (!e.meters.length) return undefined;
  const { meters, warnings } = siteMeters(o.site);
  // Warnings never stop a start (the site file was accepted), but someone must read them.
  const lang = o.site.site.language;
  for (const w of warnings) o.journal.append({ type: "energy.config", ...journalText(lang, "journal.energy.warning", { path: w.path, message: w.message }) });
  const store = new EnergyStore(o.db, o.site.site.timezone);
  const service = new EnergyService({ config: e, meters, store, timeZone: o.site.site.timezone, journal: o.journal, settings: o.settings, lang });
  // Published as ENERGY.<name> computed points: alarms, trends, the gateway and the BMS read them
  // like any point. A value that cannot be known (no tariff) is not-available, never 0.
  const publish = () => {
    for (const [name, v] of service.pointValues())
      o.computed?.set(`ENERGY.${name}`, v.value ?? NaN, v.value === null || Number.isNaN(v.value) ? Quality.NOT_AVAILABLE : v.quality);
  };
  service.onCompute = publish;
  const detach = service.attach(o.live);
  service.flush();
  return { service, store, stop: detach };
}

/** The site's meters resolved (units, sub-meter exclusions) and named (also for the CLI's export). */
export function siteMeters(site: Site): ReturnType<typeof validateEnergy> {
  // The site loader already refused errors; this resolves units and sub-meter exclusions.
  const r = validateEnergy(site.energy, siteUnits(site, site.profiles));
  labelMeters(site, r.meters);
  return r;
}

/**
 * The energy section an admin saved (`/admin/energy`) replaces the site file's at start, before the
 * point registry is built (its circuits name computed points) — if it still validates against this
 * site; else the site file's stays and the journal says why.
 */
export function applySavedEnergy(site: Site, settings: Database, journal?: Journal): void {
  const row = (key: string) => (settings.query("SELECT value FROM settings WHERE key = ?").get(key) as { value: string } | null)?.value;
  const structure = row("energy.structure");
  const costs = row("energy.costs");
  let candidate = site.energy;
  try {
    if (structure) candidate = energySchema.parse(JSON.parse(structure));
    if (costs) candidate = { ...candidate, costs: z.array(costSchema).parse(JSON.parse(costs)) };
  } catch {
    journal?.append({ type: "energy.config", ...journalText(site.site.language, "journal.energy.savedUnreadable") });
    return;
  }
  if (candidate === site.energy) return;
  const r = validateEnergy(candidate, siteUnits(site, site.profiles));
  if (r.errors.length) {
    journal?.append({ type: "energy.config", ...journalText(site.site.language, "journal.energy.savedInvalid", { path: r.errors[0]!.path, message: r.errors[0]!.message }) });
    return;
  }
  site.energy = candidate;
}
