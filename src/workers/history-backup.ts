/**
 * Backups and restore checks off the main thread: VACUUM INTO, SHA-256 and integrity_check of a
 * multi-GB history take seconds, during which pages and the historian's writer must keep running.
 */
import { createBackup, RestoreRefused, stageRestore } from "../historian/backup.ts";

declare const self: Worker;

self.onmessage = (e: MessageEvent) => {
  const m = e.data as { id: number; op: "backup" | "stage"; main: string; history?: string; site: string; out: string; archive: string; staging: string };
  try {
    const result = m.op === "backup" ? createBackup({ main: m.main, history: m.history, site: m.site, out: m.out }) : stageRestore(m.archive, m.staging);
    self.postMessage({ id: m.id, ok: true, result });
  } catch (err) {
    self.postMessage({ id: m.id, ok: false, refused: err instanceof RestoreRefused, message: (err as Error).message });
  }
};
