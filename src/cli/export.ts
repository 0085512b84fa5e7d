/**
 * `busbar export history|energy|alarms|journal` — the same CSV files the /export page downloads,
 * from the command line (a cron job, a report script), in the same format (src/exports/format.ts).
 * Default separator and decimal mark: `--lang`'s, else the site's language's, else the vendor's
 * `;` and `,`. Reads the databases; Busbar may be running. On a terminal, progress goes to stderr.
 */
import { createWriteStream } from "node:fs";
import { parseArgs } from "node:util";
import { loadProfiles } from "../config/profiles.ts";
import { loadSiteFile } from "../config/site.ts";
import { ConfigError } from "../config/validation.ts";
import { openDatabase } from "../db/database.ts";
import { alarmsCsv, csvFormat, EXPORT_GROUPS, historyCsv, type ExportGroup } from "../exports/csv.ts";
import { ENERGY_BUCKETS, ENERGY_BY, energyCsv, energyGroups, type EnergyBucket, type EnergyBy } from "../exports/energy.ts";
import { applySavedEnergy, siteMeters } from "../energy/runtime.ts";
import { EnergyStore } from "../energy/store.ts";
import { openHistoryDb } from "../historian/store.ts";
import { csvPieces } from "../journal/csv.ts";
import { Journal } from "../journal/journal.ts";
import { Historian } from "../historian/historian.ts";
import { histPoints } from "../historian/points.ts";
import { historyPathFor } from "../historian/store.ts";
import { parseTimeFilter } from "../journal/time.ts";
import { buildRegistry } from "../drivers/index.ts";
import { energyPointDefs } from "../energy/service.ts";

export const EXPORT_USAGE = `busbar export history --site FILE --points A.x,B.y [--group raw|1m|15m|1h|1d|1mo] [common options]
busbar export energy --site FILE [--by meter|circuit|zone|total] [--bucket 15m|hour|day|month] [common options]
busbar export alarms [--site FILE | --tz ZONE] [--device ID] [--priority P] [common options]
busbar export journal [--site FILE | --tz ZONE] [--device ID] [common options]
common options: [--from DATE] [--to DATE] [--db FILE] [--out FILE] [--sep ';'|','|tab] [--decimal ','|'.'] [--lang fr|en]`;

export async function main(argv: string[]): Promise<number> {
  let a;
  try {
    a = parseArgs({
      args: argv,
      allowPositionals: true,
      options: Object.fromEntries(["site", "db", "out", "from", "to", "points", "group", "sep", "decimal", "device", "priority", "tz", "profiles", "by", "bucket", "lang"].map((k) => [k, { type: "string" as const }])),
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n${EXPORT_USAGE}`);
    return 2;
  }
  const v = a.values as Record<string, string | undefined>;
  const what = a.positionals[0];
  if (what !== "history" && what !== "alarms" && what !== "energy" && what !== "journal") {
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
  if (v.lang && v.lang !== "fr" && v.lang !== "en") {
    console.error("--lang: fr or en");
    return 2;
  }
  const lang = (v.lang ?? site?.site.language) as "fr" | "en" | undefined;
  const format = csvFormat({ sep: v.sep, decimal: v.decimal }, tz, lang);
  if (typeof format === "string") {
    console.error(format);
    return 2;
  }
  const now = Date.now();
  const from = v.from ? parseTimeFilter(v.from, tz) : now - (what === "history" ? 1 : 31) * 86_400_000;
  const to = v.to ? parseTimeFilter(v.to, tz, true) : now;
  if (from === undefined || to === undefined || Number.isNaN(from) || Number.isNaN(to) || to <= from) {
    console.error("--from/--to: dates (YYYY-MM-DD), date-times or ms since 1970, to after from");
    return 2;
  }
  const dbPath = v.db ?? "data/busbar.db";
  const out = v.out ? createWriteStream(v.out) : process.stdout;
  const write = (s: string) => new Promise<void>((res, rej) => (out.write(s, (e) => (e ? rej(e) : res())) ? undefined : undefined));
  // Progress on a terminal only (a cron job's mail stays clean).
  const progress = process.stderr.isTTY ? (d: number) => process.stderr.write(`\r${what}: ${Math.round(d * 100)} %${d >= 1 ? "\n" : ""}`) : undefined;
  if (what === "alarms" || what === "journal") {
    const db = openDatabase(dbPath);
    try {
      const pieces = what === "alarms" ? alarmsCsv({ sqlite: db.sqlite, from, to, device: v.device, priority: v.priority, format, progress }) : csvPieces(new Journal(db.sqlite), { from, to, device: v.device }, { timeZone: tz, sep: format.sep, lang });
      for (const piece of pieces) await write(piece);
    } finally {
      db.close();
    }
  } else if (what === "energy") {
    if (!site) {
      console.error(`energy needs --site FILE (its meters, circuits and zones)\n${EXPORT_USAGE}`);
      return 2;
    }
    const by = (v.by ?? "circuit") as EnergyBy;
    const bucket = (v.bucket ?? "day") as EnergyBucket;
    if (!ENERGY_BY.includes(by) || !ENERGY_BUCKETS.includes(bucket)) {
      console.error(`--by: ${ENERGY_BY.join(", ")}; --bucket: ${ENERGY_BUCKETS.join(", ")}`);
      return 2;
    }
    const db = openDatabase(dbPath);
    // Where the running Busbar keeps them: beside the history when the historian runs.
    const edb = site.historian.enabled ? openHistoryDb(historyPathFor(dbPath)) : db.sqlite;
    try {
      applySavedEnergy(site, db.sqlite);
      const { meters } = siteMeters(site);
      if (!meters.length) {
        console.error("energy: the site has no energy meters");
        return 2;
      }
      if (!energyGroups({ config: site.energy, meters, by, lang }).length) {
        console.error(`--by ${by}: this site has no ${by} with meters`);
        return 2;
      }
      const store = new EnergyStore(edb, tz);
      for (const piece of energyCsv({ store, config: site.energy, meters, by, bucket, from, to, format, lang, progress })) await write(piece);
    } finally {
      if (edb !== db.sqlite) edb.close();
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
    const h = new Historian({ path: historyPathFor(dbPath), points: histPoints(registry.points, site.historian), config: site.historian, timeZone: tz, reader: true });
    try {
      for (const piece of historyCsv({ historian: h, indexes, from, to, group, format, progress })) await write(piece);
    } finally {
      // Not stop(): a reader records nothing; gaps and checkpoints are the running Busbar's business.
      h.db.close();
    }
  }
  if (out !== process.stdout) await new Promise<void>((r) => (out as ReturnType<typeof createWriteStream>).end(r));
  return 0;
}
