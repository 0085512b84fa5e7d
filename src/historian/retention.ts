import type { Historian } from "./historian.ts";
import { TIERS } from "./tiers.ts";

/**
 * Retention in small steps: each step deletes at most STEP_ROWS rows of one point in one table, in
 * its own short transaction, so the writer and queries never wait behind a long delete. Freed pages
 * go back to the file system with incremental vacuum, a few hundred pages per step: the file stops
 * growing once retention is reached, and nobody ever presses "Optimize".
 */
const STEP_ROWS = 5_000;
const VACUUM_PAGES = 500;
export const TABLES = ["h_raw", ...TIERS.map((t) => t.table)];

export class Retention {
  private table = 0;
  private point = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  pruned = 0;

  constructor(private readonly h: Historian) {}

  /** One step; returns the rows deleted (0 when a full pass found nothing to prune). */
  step(now = Date.now()): number {
    const h = this.h;
    const cut = h.cutoffs(now);
    let deleted = 0;
    const total = TABLES.length * h.points.length;
    for (let tried = 0; tried < total && deleted === 0; tried++) {
      const t = this.table;
      const i = this.point;
      if (++this.point >= h.points.length) {
        this.point = 0;
        this.table = (this.table + 1) % TABLES.length;
      }
      if (!Number.isFinite(cut[t]!)) continue;
      const table = TABLES[t]!;
      deleted = h.db
        .query(`DELETE FROM ${table} WHERE point = ?1 AND ts IN (SELECT ts FROM ${table} WHERE point = ?1 AND ts < ?2 ORDER BY ts LIMIT ${STEP_ROWS})`)
        .run(h.pid[i]!, cut[t]!).changes;
    }
    this.pruned += deleted;
    const free = (h.db.query("PRAGMA freelist_count").get() as { freelist_count: number }).freelist_count;
    if (free > 0) h.db.exec(`PRAGMA incremental_vacuum(${VACUUM_PAGES})`);
    return deleted;
  }

  /** Steps every 2 s while there is something to prune, then looks again every 10 minutes. */
  start(): void {
    const run = () => {
      let n = 0;
      try {
        n = this.step();
      } catch (e) {
        console.error("history pruning failed:", e);
      }
      this.timer = setTimeout(run, n > 0 ? 2_000 : 600_000);
    };
    this.timer = setTimeout(run, 30_000);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

/** Bytes per table (raw and each tier, indexes included), from SQLite's dbstat; cached a few minutes. */
export function sizes(h: Historian): { table: string; bytes: number; rows: number }[] {
  const bytes = new Map<string, number>();
  for (const r of h.db.query("SELECT name, SUM(pgsize) AS b FROM dbstat GROUP BY name").all() as { name: string; b: number }[]) bytes.set(r.name, r.b);
  return TABLES.map((table) => ({
    table,
    bytes: bytes.get(table) ?? 0,
    rows: (h.db.query(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n,
  }));
}
