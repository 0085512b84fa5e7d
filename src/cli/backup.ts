import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { openDatabase } from "../db/database.ts";
import { backupFileName, createBackup, RestoreRefused, stageRestore, swapIn } from "../historian/backup.ts";
import { historyPathFor } from "../historian/store.ts";
import { journalText, type JournalParams } from "../journal/i18n.ts";

/**
 * `busbar backup [--db FILE] [--out FILE | --folder DIR]` — an online backup (Busbar may be running).
 * `busbar restore FILE [--db FILE]` — checks the backup, then swaps it in (stop Busbar first; from
 * the browser, System → Restore does it on a running Busbar and restarts it).
 */
export async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  let values: { db?: string; out?: string; folder?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv.slice(1), allowPositionals: true, options: { db: { type: "string" }, out: { type: "string" }, folder: { type: "string" } } }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  const db = values.db ?? "data/busbar.db";
  if (!existsSync(db)) {
    process.stderr.write(`no database at ${db} (--db FILE)\n`);
    return 2;
  }
  // No site language here: stored in English, key + parameters for every reader.
  const journal = (type: string, key: string, params: JournalParams, data: Record<string, unknown>) => {
    const d = openDatabase(db);
    try {
      d.journal.append({ type, source: "cli", actor: process.env.USER ?? "", ...journalText("en", key, params), data });
    } finally {
      d.close();
    }
  };
  if (command === "backup") {
    const site = (() => {
      const d = openDatabase(db);
      try {
        const row = d.sqlite.query("SELECT source FROM events WHERE type = 'system.start' ORDER BY id DESC LIMIT 1").get() as { source: string } | null;
        return row?.source ?? "site";
      } finally {
        d.close();
      }
    })();
    const out = values.out ?? join(values.folder ?? dirname(db), backupFileName(site));
    const hist = historyPathFor(db);
    const m = createBackup({ main: db, history: existsSync(hist) ? hist : undefined, site, out });
    journal("backup.create", "journal.backup.createCli", { file: out }, { file: out, manifest: m, via: "cli" });
    console.log(`${out}\n${JSON.stringify(m, null, 2)}`);
    return 0;
  }
  if (command === "restore") {
    const file = positionals[0];
    if (!file) {
      process.stderr.write("restore needs the backup FILE\n");
      return 2;
    }
    try {
      const staged = stageRestore(file, join(dirname(db), ".restore-staging"));
      swapIn(staged, db, historyPathFor(db));
      journal("backup.restore", "journal.backup.restored", { site: staged.manifest.site, at: staged.manifest.createdAt }, { manifest: staged.manifest, migrated: staged.migrated, via: "cli" });
      console.log(`restored ${file} (${staged.manifest.site}, ${staged.manifest.createdAt}; journal ${staged.journalRows} rows verified; migrations applied: ${staged.migrated.main}/${staged.migrated.history})`);
      return 0;
    } catch (e) {
      if (e instanceof RestoreRefused) {
        process.stderr.write(`restore refused: ${e.message}\nThe database at ${db} is unchanged.\n`);
        journal("backup.restore.refused", "journal.backup.refused", { error: e.message }, { file, via: "cli" });
        return 1;
      }
      throw e;
    }
  }
  process.stderr.write("usage: busbar backup [--db FILE] [--out FILE | --folder DIR] | busbar restore FILE [--db FILE]\n");
  return 2;
}
