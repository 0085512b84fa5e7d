/**
 * `busbar report` — a PDF (or CSV) report from the command line, as /reports makes it: same data,
 * same pool. Reads the databases only; Busbar may be running.
 */
import { existsSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadProfiles } from "../config/profiles.ts";
import { parseYaml } from "../config/profile.ts";
import { loadSiteFile, parseSite, siteUnits } from "../config/site.ts";
import { ConfigError } from "../config/validation.ts";
import { openDatabase } from "../db/database.ts";
import { applySavedEnergy, labelMeters } from "../energy/runtime.ts";
import { validateEnergy } from "../energy/structure.ts";
import { DEMO_SITE } from "../embedded.ts";
import { historyPathFor } from "../historian/store.ts";
import { REPORT_KINDS, type ReportKind } from "../reports/data.ts";
import { closeReportPool, poolThreads, runReport } from "../reports/pool.ts";
import { reportFileName } from "../reports/schedules.ts";

export const REPORT_USAGE = `busbar report [--site FILE | --demo] [--db FILE] [--kind general|detailed] [--period month|year] [--year YYYY] [--month M] [--lang fr|en] [--item circuit:ID …] [--csv] [--out FILE]`;

export async function main(argv: string[]): Promise<number> {
  let a;
  try {
    a = parseArgs({
      args: argv,
      options: {
        ...Object.fromEntries(["site", "db", "kind", "period", "year", "month", "lang", "out", "profiles"].map((k) => [k, { type: "string" as const }])),
        item: { type: "string", multiple: true },
        demo: { type: "boolean" },
        csv: { type: "boolean" },
      },
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n${REPORT_USAGE}`);
    return 2;
  }
  const v = a.values as Record<string, string | undefined> & { item?: string[]; demo?: boolean; csv?: boolean };
  let site;
  try {
    const profiles = loadProfiles(v.profiles);
    site = v.site ? loadSiteFile(v.site, profiles) : parseSite(parseYaml(DEMO_SITE, "demo-site.yaml"), profiles);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`Invalid configuration — ${e.message}`);
      return 2;
    }
    throw e;
  }
  const dbPath = v.db ?? (v.site ? "data/busbar.db" : "data/demo.db");
  if (!existsSync(dbPath)) {
    console.error(`no database at ${dbPath} (--db FILE)`);
    return 2;
  }
  const db = openDatabase(dbPath);
  try {
    applySavedEnergy(site, db.sqlite);
  } finally {
    db.close();
  }
  const { meters } = validateEnergy(site.energy, siteUnits(site, site.profiles));
  if (!meters.length) {
    console.error("this site has no energy meters: nothing to report");
    return 2;
  }
  const hist = historyPathFor(dbPath);
  const energyDb = site.historian.enabled && existsSync(hist) ? hist : dbPath;
  const now = new Date();
  const kind = (v.kind ?? "general") as ReportKind;
  const period = v.period ?? "month";
  const year = Number(v.year ?? now.getFullYear());
  const month = Number(v.month ?? now.getMonth() + 1);
  const lang = v.lang ?? site.site.language ?? "fr";
  if (!REPORT_KINDS.includes(kind) || (period !== "month" && period !== "year") || !Number.isInteger(year) || !(month >= 1 && month <= 12) || (lang !== "fr" && lang !== "en")) {
    console.error(REPORT_USAGE);
    return 2;
  }
  const req = { kind, period, year, month, lang, items: v.item ?? [] } as const;
  const format = v.csv ? "csv" : "pdf";
  try {
    const bytes = await runReport({ dbPath: energyDb, site: site.site.name, timezone: site.site.timezone, config: site.energy, meters: labelMeters(site, meters), req, format });
    const out = v.out ?? reportFileName(site.site.name, kind, req, format);
    writeFileSync(out, bytes);
    console.log(`${out}: ${bytes.length} bytes (report pool: ${poolThreads()} thread)`);
    return 0;
  } finally {
    await closeReportPool();
  }
}
