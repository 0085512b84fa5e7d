import { Database } from "bun:sqlite";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { migrate } from "../db/database.ts";
import { MIGRATIONS } from "../db/migrations.ts";
import { Journal } from "../journal/journal.ts";
import { readSampleLog, removeSampleLog } from "./samplelog.ts";
import { HISTORY_MIGRATIONS, migrateHistory } from "./store.ts";
import { extractEntry, listTar, sha256File, writeTar } from "./tar.ts";

/**
 * Backup: one tar holding manifest.json, busbar.db (configuration, users, alarms, journal) and
 * history.db, each an online snapshot (`VACUUM INTO`, a read transaction: Busbar keeps polling and
 * writing meanwhile). Restore checks everything on a staged copy first and only then swaps the
 * files, so a refused backup never touches the running database.
 */

export const BACKUP_FORMAT = "busbar-backup";
export const BACKUP_FORMAT_VERSION = 1;
export const BUSBAR_VERSION: string = pkg.version;

export interface Manifest {
  format: string;
  formatVersion: number;
  busbar: string;
  schema: { main: number; history: number };
  site: string;
  createdAt: string;
  files: { name: string; bytes: number; sha256: string }[];
}

/** A database to back up: a path (file-backed) or an open connection (in-memory). */
export type Source = string | Database;

function vacuumInto(src: Source, dest: string): number {
  rmSync(dest, { force: true });
  const db = typeof src === "string" ? new Database(src, { readonly: true }) : src;
  try {
    db.query("VACUUM INTO ?").run(dest);
    return (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  } finally {
    if (typeof src === "string") db.close();
  }
}

/** Writes a backup of both databases to `out` (through a temporary file beside it); returns its manifest. */
export function createBackup(o: { main: Source; history: Source | undefined; site: string; out: string }): Manifest {
  const dir = dirname(o.out);
  mkdirSync(dir, { recursive: true });
  const work = join(dir, `.backup-${process.pid}-${Date.now()}`);
  mkdirSync(work);
  try {
    const mainFile = join(work, "busbar.db");
    const histFile = join(work, "history.db");
    const mainVersion = vacuumInto(o.main, mainFile);
    let histVersion = 0;
    if (typeof o.history === "string") {
      // The open minutes' samples live in the sample log beside the file, not in it: read first
      // (what the snapshot then lacks is at most what was committed meanwhile), copied into the
      // snapshot's h_recent, which a restored Busbar reads back as its open minutes.
      const open = readSampleLog(o.history);
      histVersion = vacuumInto(o.history, histFile);
      if (open.length) {
        const db = new Database(histFile);
        try {
          const add = db.prepare(
            "INSERT INTO h_recent (point, ts, value, quality) SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM h_raw WHERE point = ?1 AND ts = ?2) AND NOT EXISTS (SELECT 1 FROM h_recent WHERE point = ?1 AND ts = ?2)",
          );
          // A later sample at the same time wins, as in the live historian.
          const last = new Map<string, (typeof open)[number]>();
          for (const r of open) last.set(`${r.pid}:${r.ts}`, r);
          db.transaction(() => {
            for (const r of last.values()) add.run(r.pid, r.ts, r.v, r.q);
          })();
        } finally {
          db.close();
        }
      }
    } else if (o.history !== undefined) histVersion = vacuumInto(o.history, histFile);
    else {
      const empty = new Database(histFile, { create: true });
      migrateHistory(empty);
      histVersion = HISTORY_MIGRATIONS.length;
      empty.close();
    }
    const files = [mainFile, histFile].map((p) => ({ name: basename(p), bytes: statSync(p).size, sha256: sha256File(p) }));
    const manifest: Manifest = {
      format: BACKUP_FORMAT,
      formatVersion: BACKUP_FORMAT_VERSION,
      busbar: BUSBAR_VERSION,
      schema: { main: mainVersion, history: histVersion },
      site: o.site,
      createdAt: new Date().toISOString(),
      files,
    };
    const tmp = o.out + ".part";
    writeTar(tmp, [
      { name: "manifest.json", data: new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n") },
      { name: "busbar.db", path: mainFile },
      { name: "history.db", path: histFile },
    ]);
    renameSync(tmp, o.out);
    return manifest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export class RestoreRefused extends Error {}

export interface StagedRestore {
  manifest: Manifest;
  /** Checked (and migrated) copies, beside the live files, ready to be renamed over them. */
  main: string;
  history: string;
  migrated: { main: number; history: number };
  journalRows: number;
  dir: string;
}

/**
 * Checks a backup without touching the running databases: a Busbar tar, a known format and schema
 * not newer than this Busbar, every file complete with its SHA-256, `integrity_check` ok, the
 * journal's hash chain intact. An older schema is migrated on the staged copy.
 */
export function stageRestore(archive: string, stagingDir: string): StagedRestore {
  let entries;
  try {
    entries = listTar(archive);
  } catch {
    throw new RestoreRefused("not a Busbar backup (not a tar archive with a manifest)");
  }
  const m = entries.find((e) => e.name === "manifest.json");
  if (!m || !m.complete) throw new RestoreRefused(m ? "truncated backup: the manifest is incomplete" : "not a Busbar backup (no manifest.json)");
  const manifest = readManifest(archive, m.offset, m.size);
  if (manifest.format !== BACKUP_FORMAT) throw new RestoreRefused("not a Busbar backup (the manifest is not Busbar's)");
  if (manifest.formatVersion > BACKUP_FORMAT_VERSION || manifest.schema.main > MIGRATIONS.length || manifest.schema.history > HISTORY_MIGRATIONS.length)
    throw new RestoreRefused(
      `this backup was made by a newer Busbar (${manifest.busbar}, schema ${manifest.schema.main}/${manifest.schema.history}; this Busbar ${BUSBAR_VERSION} knows ${MIGRATIONS.length}/${HISTORY_MIGRATIONS.length}): upgrade Busbar first`,
    );
  rmSync(stagingDir, { recursive: true, force: true });
  mkdirSync(stagingDir, { recursive: true });
  const staged: Record<string, string> = {};
  for (const name of ["busbar.db", "history.db"]) {
    const f = manifest.files.find((x) => x.name === name);
    const e = entries.find((x) => x.name === name);
    if (!f) throw new RestoreRefused(`not a complete Busbar backup: the manifest lists no ${name}`);
    if (!e || !e.complete || e.size !== f.bytes) throw new RestoreRefused(`truncated backup: ${name} is incomplete`);
    const dest = join(stagingDir, name);
    const sha = extractEntry(archive, e, dest);
    if (sha !== f.sha256) throw new RestoreRefused(`${name} does not match its SHA-256 in the manifest: the backup was altered or damaged`);
    staged[name] = dest;
  }
  const check = (path: string, what: string) => {
    let db: Database;
    try {
      db = new Database(path);
    } catch (e) {
      throw new RestoreRefused(`${what} is not a readable SQLite database: ${(e as Error).message}`);
    }
    try {
      const rows = db.query("PRAGMA integrity_check").all() as { integrity_check: string }[];
      if (rows.length !== 1 || rows[0]!.integrity_check !== "ok")
        throw new RestoreRefused(`${what} fails integrity_check: ${rows.slice(0, 3).map((r) => r.integrity_check).join("; ")}`);
      return db;
    } catch (e) {
      db.close();
      if (e instanceof RestoreRefused) throw e;
      throw new RestoreRefused(`${what} is corrupt: ${(e as Error).message}`);
    }
  };
  const main = check(staged["busbar.db"]!, "busbar.db");
  let journalRows = 0;
  let migrated = { main: 0, history: 0 };
  try {
    // An older schema is brought up to date first (migrations never touch sealed journal rows).
    migrated.main = migrate(main);
    const v = new Journal(main).verify();
    if (!v.ok) throw new RestoreRefused(`the journal in this backup fails verification: ${v.problems.slice(0, 3).map((p) => `row ${p.id}: ${p.problem}`).join("; ")}`);
    journalRows = v.rows;
  } finally {
    main.close();
  }
  const hist = check(staged["history.db"]!, "history.db");
  try {
    migrated = { ...migrated, history: migrateHistory(hist) };
  } finally {
    hist.close();
  }
  return { manifest, main: staged["busbar.db"]!, history: staged["history.db"]!, migrated, journalRows, dir: stagingDir };
}

function readManifest(archive: string, offset: number, size: number): Manifest {
  const fd = openSync(archive, "r");
  try {
    const buf = new Uint8Array(size);
    readSync(fd, buf, 0, size, offset);
    const m = JSON.parse(new TextDecoder().decode(buf)) as Manifest;
    if (!m || typeof m !== "object" || !m.schema || !Array.isArray(m.files)) throw new Error("shape");
    return m;
  } catch {
    throw new RestoreRefused("not a Busbar backup (unreadable manifest)");
  } finally {
    closeSync(fd);
  }
}

/**
 * Puts staged files in place of the live ones (the databases must be closed). Each rename is atomic;
 * the files replaced are kept once as *.before-restore.
 */
export function swapIn(staged: StagedRestore, mainPath: string, historyPath: string): void {
  for (const [from, to] of [
    [staged.history, historyPath],
    [staged.main, mainPath],
  ] as const) {
    for (const ext of ["-wal", "-shm"]) rmSync(to + ext, { force: true });
    // The replaced history's open minutes are not the restored one's.
    if (to === historyPath) removeSampleLog(to);
    if (existsSync(to)) renameSync(to, to + ".before-restore");
    renameSync(from, to);
  }
  rmSync(staged.dir, { recursive: true, force: true });
}

/** Scheduled backups: keeps the newest `keep` files of this site in `folder`. */
export function rotate(folder: string, keep: number): string[] {
  const mine = readdirSync(folder)
    .filter((f) => f.startsWith("busbar-") && f.endsWith(".busbar.tar"))
    .sort();
  const removed = mine.slice(0, Math.max(0, mine.length - keep));
  for (const f of removed) rmSync(join(folder, f), { force: true });
  return removed;
}

export function backupFileName(site: string, at = new Date()): string {
  const safe = site.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "site";
  const ts = at.toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
  return `busbar-${safe}-${ts}.busbar.tar`;
}
