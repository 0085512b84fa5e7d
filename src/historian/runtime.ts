import type { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Site } from "../config/site.ts";
import type { BusbarDb } from "../db/database.ts";
import { t, type Lang } from "../i18n/index.ts";
import type { Journal } from "../journal/journal.ts";
import type { LiveView } from "../points/live.ts";
import { backupFileName, createBackup, RestoreRefused, rotate, stageRestore, swapIn, type Manifest, type StagedRestore } from "./backup.ts";
import { Historian } from "./historian.ts";
import { feedFromLive } from "./live.ts";
import { histPoints } from "./points.ts";
import { multiSeries, DEFAULT_MAX, type Series } from "./query.ts";
import { Retention, sizes } from "./retention.ts";
import { historyPathFor } from "./store.ts";
import { journalText } from "../journal/i18n.ts";

/** The historian as a running Busbar has it: writer, live feed, retention, backups, restore. */
export interface History {
  historian: Historian;
  retention: Retention;
  /** Series of several points over [from, to), at most `max` points each. */
  query(ids: string[], from: number, to: number, max?: number): Series[];
  sizes(): { table: string; bytes: number; rows: number }[];
  /** An online backup to `out` (default: a temporary file); journaled with its actor. */
  backup(actor: string, out?: string): Promise<{ file: string; manifest: Manifest }>;
  /** Checks `archive`, then restarts Busbar on it. Throws RestoreRefused (running data untouched). */
  restore(actor: string, archive: string): Promise<StagedRestore>;
  stop(): void;
}

export interface HistoryOptions {
  site: Site;
  dbPath: string;
  live: LiveView;
  db: BusbarDb;
  journal: Journal;
  lang: Lang;
  log: (line: string) => void;
  restart?: Restart;
}

/** Stops Busbar, runs `swap` with every database closed, starts Busbar again and calls `after` with its journal. */
export type Restart = (swap: () => Promise<void> | void, after?: (journal: Journal) => void) => Promise<void>;

function workerUrl(): URL {
  return import.meta.url.includes("$bunfs") ? new URL("./workers/history-backup.ts", import.meta.url) : new URL("../workers/history-backup.ts", import.meta.url);
}

/** One job in a fresh worker (a backup a day does not deserve a resident thread). */
function inWorker<T>(msg: Record<string, unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerUrl(), { smol: true } as WorkerOptions);
    w.onmessage = (e: MessageEvent) => {
      w.terminate();
      const r = e.data as { ok: boolean; result: T; refused: boolean; message: string };
      if (r.ok) resolve(r.result);
      else reject(r.refused ? new RestoreRefused(r.message) : new Error(r.message));
    };
    w.onerror = (e) => {
      w.terminate();
      reject(new Error(e.message));
    };
    w.postMessage({ id: 1, ...msg });
  });
}

export function startHistory(o: HistoryOptions): History {
  const { site, live, journal, lang } = o;
  const memory = o.dbPath === ":memory:";
  const historyPath = historyPathFor(o.dbPath);
  const points = histPoints(live.registry.points, site.historian);
  const historian = new Historian({
    path: historyPath,
    points,
    config: site.historian,
    timeZone: site.site.timezone,
    event: (type, message, data) => journal.append({ type, source: "historian", message, data }),
  });
  const unfeed = feedFromLive(live, historian);
  historian.start();
  const retention = new Retention(historian);
  retention.start();
  let sizeCache: { at: number; v: ReturnType<typeof sizes> } | undefined;
  const tmpDir = memory ? join(process.env.TMPDIR ?? "/tmp", `busbar-${process.pid}`) : join(dirname(o.dbPath), "backups-tmp");

  const backup = async (actor: string, out?: string) => {
    const file = out ?? join(tmpDir, backupFileName(site.site.name));
    mkdirSync(dirname(file), { recursive: true });
    historian.flush();
    const manifest = memory
      ? createBackup({ main: o.db.sqlite, history: historian.db as Database, site: site.site.name, out: file })
      : await inWorker<Manifest>({ op: "backup", main: o.dbPath, history: historyPath, site: site.site.name, out: file });
    journal.append({
      type: "backup.create",
      source: site.site.name,
      actor,
      ...journalText(lang, "journal.backup.create", { file: file.split("/").pop()!, size: String(manifest.files.reduce((s, f) => s + f.bytes, 0)) }),
      data: { file, manifest },
    });
    return { file, manifest };
  };

  // Scheduled backups into a folder, the oldest beyond `keep` removed.
  let schedule: ReturnType<typeof setInterval> | undefined;
  if (site.backup) {
    const { folder, everyHours, keep } = site.backup;
    schedule = setInterval(
      () => {
        void backup("", join(folder, backupFileName(site.site.name)))
          .then(() => rotate(folder, keep))
          .catch((e) => {
            o.log(`[error] scheduled backup failed: ${(e as Error).message}`);
            journal.append({ type: "backup.failed", source: site.site.name, ...journalText(lang, "journal.backup.failed", { error: (e as Error).message }) });
          });
      },
      everyHours * 3_600_000,
    );
  }

  return {
    historian,
    retention,
    query(ids, from, to, max = DEFAULT_MAX) {
      const indexes = ids.map((id) => live.registry.byId.get(id)!.index);
      return multiSeries(historian, indexes, from, to, max, (i, a, b) => live.table.history(i, a, b));
    },
    sizes() {
      if (!sizeCache || Date.now() - sizeCache.at > 300_000) sizeCache = { at: Date.now(), v: sizes(historian) };
      return sizeCache.v;
    },
    backup,
    async restore(actor, archive) {
      if (memory || !o.restart) throw new RestoreRefused("this Busbar runs on an in-memory database: there is nothing to restore into");
      const staging = join(dirname(o.dbPath), ".restore-staging");
      let staged: StagedRestore;
      try {
        staged = await inWorker<StagedRestore>({ op: "stage", archive, staging });
      } catch (e) {
        journal.append({ type: "backup.restore.refused", source: site.site.name, actor, ...journalText(lang, "journal.backup.refused", { error: (e as Error).message }) });
        throw e;
      }
      journal.append({
        type: "backup.restore.start",
        source: site.site.name,
        actor,
        ...journalText(lang, "journal.backup.restoreStart", { site: staged.manifest.site, at: staged.manifest.createdAt }),
        data: { manifest: staged.manifest },
      });
      // Answer first, then stop, swap the files and start again on them.
      setTimeout(() => {
        const after = (j: Journal) =>
          j.append({
            type: "backup.restore",
            source: site.site.name,
            actor,
            ...journalText(lang, "journal.backup.restored", { site: staged.manifest.site, at: staged.manifest.createdAt }),
            data: { manifest: staged.manifest, migrated: staged.migrated, journalRows: staged.journalRows },
          });
        void o.restart!(() => swapIn(staged, o.dbPath, historyPath), after).catch((e) => o.log(`[error] restart after restore failed: ${(e as Error).message}`));
      }, 200);
      return staged;
    },
    stop() {
      clearInterval(schedule);
      retention.stop();
      unfeed();
      historian.stop();
    },
  };
}
