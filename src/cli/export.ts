/**
 * `busbar export history|alarms` — the same CSV files the /export page downloads, from the command
 * line (a cron job, a report script). Reads the databases only; Busbar may be running.
 */
import { createWriteStream } from "node:fs";
import { parseArgs } from "node:util";
import { loadProfiles } from "../config/profiles.ts";
import { loadSiteFile } from "../config/site.ts";
import { ConfigError } from "../config/validation.ts";
import { openDatabase } from "../db/database.ts";
import { alarmsCsv, csvFormat, EXPORT_GROUPS, historyCsv, type ExportGroup } from "../exports/csv.ts";
import { Historian } from "../historian/historian.ts";
import { histPoints } from "../historian/points.ts";
import { historyPathFor } from "../historian/store.ts";
import { parseTimeFilter } from "../journal/time.ts";
import { buildRegistry } from "../drivers/index.ts";
import { energyPointDefs } from "../energy/service.ts";

export const EXPORT_USAGE = `busbar export history --site FILE --points A.x,B.y [--group raw|1m|15m|1h|1d|1mo] [--from DATE] [--to DATE] [--db FILE] [--out FILE] [--sep ';'] [--decimal ',']
busbar export alarms [--site FILE] [--tz ZONE] [--from DATE] [--to DATE] [--device ID] [--priority P] [--db FILE] [--out FILE] [--sep ';'] [--decimal ',']`;

export async function main(argv: string[]): Promise<number> {
  let a;
  try {
    a = parseArgs({
      args: argv,
      allowPositionals: true,
      options: Object.fromEntries(["site", "db", "out", "from", "to", "points", "group", "sep", "decimal", "device", "priority", "tz", "profiles"].map((k) => [k, { type: "string" as const }])),
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n${EXPORT_USAGE}`);
    return 2;
  }
  const v = a.values as Record<string, string | undefined>;
  const what = a.positionals[0];
  if (what !== "history" && what !== "alarms") {
    console.error(EXPORT_USAGE);
    return 2;
  }
  let site;
  try {
    site = v.site ? loadSiteFile(v.site, loadProfiles(v.profiles)) : undefined;
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`Invalid configuration — ${e.message}`);
      return 2;
    }
    throw e;
  }
  const tz = v.tz ?? site?.site.timezone ?? "UTC";
  const format = csvFormat({ sep: v.sep, decimal: v.decimal }, tz);
  if (typeof format === "string") {
    console.error(format);
    return 2;
  }
  const now = Date.now();
  const from = v.from ? parseTimeFilter(v.from, tz) : now - (what === "alarms" ? 31 : 1) * 86_400_000;
  const to = v.to ? parseTimeFilter(v.to, tz, true) : now;
  if (from === undefined || to === undefined || to <= from) {
    console.error("--from/--to: dates (YYYY-MM-DD), date-times or ms since 1970, to after from");
    return 2;
  }
  const dbPath = v.db ?? "data/busbar.db";
  const out = v.out ? createWriteStream(v.out) : process.stdout;
  const write = (s: string) => new Promise<void>((res, rej) => (out.write(s, (e) => (e ? rej(e) : res())) ? undefined : undefined));
  if (what === "alarms") {
    const db = openDatabase(dbPath);
    try {
      for (const piece of alarmsCsv({ sqlite: db.sqlite, from, to, device: v.device, priority: v.priority, format })) await write(piece);
    } finally {
      db.close();
    }
  } else {
    if (!site) {
      console.error(`history needs --site FILE (which points exist and their units)\n${EXPORT_USAGE}`);
      return 2;
    }
    const group = (v.group ?? "15m") as ExportGroup;
    if (!EXPORT_GROUPS.includes(group)) {
      console.error(`--group: ${EXPORT_GROUPS.join(", ")}`);
      return 2;
    }
    // The same points as a running Busbar (the energy totals are computed points with history too).
    const computed = site.energy.meters.length ? energyPointDefs(site.energy, site.energy.costs.find((c) => c.commodity === "electricity")?.currency) : [];
    const registry = buildRegistry(site, computed);
    const ids = (v.points ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    const indexes = ids.map((id) => registry.byId.get(id)?.index ?? -1);
    if (!ids.length || indexes.includes(-1)) {
      console.error(`--points: point ids of the site, comma-separated (unknown: ${ids.filter((_, k) => indexes[k] === -1).join(", ") || "none given"})`);
      return 2;
    }
    const h = new Historian({ path: historyPathFor(dbPath), points: histPoints(registry.points, site.historian), config: site.historian, timeZone: tz });
    try {
      for (const piece of historyCsv({ historian: h, indexes, from, to, group, format })) await write(piece);
    } finally {
      // Not stop(): that records a stop gap and checkpoints, which is the running Busbar's business.
      h.db.close();
    }
  }
  if (out !== process.stdout) await new Promise<void>((r) => (out as ReturnType<typeof createWriteStream>).end(r));
  return 0;
}
