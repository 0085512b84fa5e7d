import { stringify } from "yaml";
import { parseYaml } from "../config/profile.ts";
import { alarmIssues, alarmsSchema, type AlarmsConfig, type Site } from "../config/site.ts";
import { zodIssues, type ConfigIssue } from "../config/validation.ts";
import type { AlarmStore } from "./store.ts";

/**
 * Alarm definitions come from the site file's `alarms:` section; an admin may replace them from the
 * alarm configuration page. The replacement is kept in the database (settings `alarms.config`, YAML)
 * and wins over the site file until the admin reverts to the site file.
 */

export const ALARM_CONFIG_KEY = "alarms.config";

const EMPTY_MESSAGE =
  "the configuration is empty: nothing was saved. To remove every configured alarm write `points: []`; to go back to the site file's alarms use “Revert to the site file”.";

export type ParsedAlarms = { ok: true; config: AlarmsConfig } | { ok: false; issues: ConfigIssue[] };

/** Validates the YAML text of an `alarms:` section (same schema and checks as the site file). */
export function parseAlarmsYaml(text: string, site: Site): ParsedAlarms {
  let data: unknown;
  try {
    data = parseYaml(text, "alarms");
  } catch (e) {
    return { ok: false, issues: [{ path: "(yaml)", message: (e as Error).message }] };
  }
  // An empty text (or only comments) would mean "no alarms" by the schema's defaults, silently:
  // removing every alarm must be said (`points: []`), and going back to the site file is "revert".
  if (data === null || data === undefined)
    return { ok: false, issues: [{ path: "(yaml)", message: EMPTY_MESSAGE }] };
  if (typeof data !== "object" || Array.isArray(data))
    return { ok: false, issues: [{ path: "(yaml)", message: "must be a mapping (points:, maxShelveMinutes:, …), as the site file's alarms: section" }] };
  const r = alarmsSchema.safeParse(data);
  if (!r.success) return { ok: false, issues: zodIssues(r.error, ["alarms"]) };
  const issues = alarmIssues({ devices: site.devices, alarms: r.data, microgrid: site.microgrid }, site.profiles);
  if (issues.length) return { ok: false, issues };
  return { ok: true, config: r.data };
}

/** The alarms in force: the admin's replacement if there is a valid one, else the site file's. */
export function effectiveAlarms(site: Site, store: AlarmStore, log?: (line: string) => void): { config: AlarmsConfig; source: "site" | "admin"; yaml: string } {
  const text = store.getSetting(ALARM_CONFIG_KEY);
  // Any saved text counts (even one that parses to little): what the page shows is what is in force.
  if (text !== undefined) {
    const p = parseAlarmsYaml(text, site);
    if (p.ok) return { config: p.config, source: "admin", yaml: text };
    log?.(`[warn] alarms: the configuration saved by an admin no longer fits this site (${p.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}); using the site file's`);
  }
  return { config: site.alarms, source: "site", yaml: alarmsYaml(site.alarms) };
}

export function alarmsYaml(config: AlarmsConfig): string {
  return stringify(config, { lineWidth: 0 });
}
