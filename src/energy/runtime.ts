import type { Database } from "bun:sqlite";
import { siteUnits, type Site } from "../config/site.ts";
import type { Journal } from "../journal/journal.ts";
import type { LiveView } from "../points/live.ts";
import type { ComputedPoints } from "../points/computed.ts";
import { Quality } from "../points/quality.ts";
import { EnergyService } from "./service.ts";
import { EnergyStore } from "./store.ts";
import { validateEnergy } from "./structure.ts";
import { costSchema, validateTariffs } from "./tariffs.ts";
import * as z from "zod";

/** The running energy part: its service (live feed, computed values) and store (the pages' data). */
export interface Energy {
  service: EnergyService;
  store: EnergyStore;
  stop(): void;
}

/**
 * Starts consumption tracking for the site's meters. The tables live beside the history (same
 * file, same backups) when the historian runs, else in the main database. A site without meters
 * gets no energy part.
 */
export function startEnergy(o: { site: Site; db: Database; settings: Database; live: LiveView; journal: Journal; computed?: ComputedPoints }): Energy | undefined {
  const e = o.site.energy;
  if (!e.meters.length) return undefined;
  // Tariffs saved from the admin page win over the site file's, if they still validate.
  const saved = o.settings.query("SELECT value FROM settings WHERE key = 'energy.costs'").get() as { value: string } | null;
  if (saved) {
    const parsed = z.array(costSchema).safeParse(JSON.parse(saved.value));
    if (parsed.success && parsed.data.every((c) => validateTariffs(c).errors.length === 0)) e.costs = parsed.data;
    else o.journal.append({ type: "energy.config", message: "saved tariffs no longer valid: the site file's are in force" });
  }
  // The site loader already refused errors; this resolves units and sub-meter exclusions.
  const { meters } = validateEnergy(e, siteUnits(o.site, o.site.profiles));
  const store = new EnergyStore(o.db, o.site.site.timezone);
  const service = new EnergyService({ config: e, meters, store, timeZone: o.site.site.timezone, journal: o.journal, settings: o.settings });
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
