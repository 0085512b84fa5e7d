import type { Historian } from "./historian.ts";
import { TIERS } from "./tiers.ts";

/**
 * Retention in small steps: each step deletes at most STEP_ROWS rows of one point in one table, in
 * its own short transaction, so the writer and queries never wait behind a long delete. Freed pages
 * go back to the file system with incremental vacuum, a few hundred pages per step: the file stops
 * growing once retention is reached, and nobody ever presses "Optimize".
 */
const STEP_ROWS = 5_000;
/**
 * Point ids looked at per step, in one query (an index seek each). One DELETE statement per
 * (table, point) probed, as before, cost ~10 µs each: at 20,000 points a pass never ended, and
 * retention alone took ~0.5 % of a core, all the time, with nothing to delete.
 */
const STEP_PROBES = 2_000;
const VACUUM_PAGES = 500;
/** What the system page lists: raw (rows and blocks together), then the tiers. */
export const TABLES = ["h_raw", ...TIERS.map((t) => t.table)];
/** What retention prunes, with the index of its cut-off (h_block is raw: a block is keyed by its minute's start). */
const PRUNED: [table: string, cut: number][] = [["h_raw", 0], ["h_block", 0], ...TIERS.map((t, k): [string, number] => [t.table, k + 1])];

export class Retention {
  private table = 0;
  /** Next point id (h_points: every point ever stored, including those no longer in the site). */
  private point = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  pruned = 0;

  constructor(private readonly h: Historian) {}

  /** Rows deleted since the current pass over every (table, point) began. */
  private passDeleted = 0;

  /**
   * One step: the first of the next STEP_PROBES point ids of one table with rows to delete, and up
   * to STEP_ROWS of them. Returns whether to keep stepping (false once a whole pass found nothing:
   * look again later).
   */
  step(now = Date.now()): boolean {
    const h = this.h;
    const cut = h.cutoffs(now);
    let deleted = 0;
    let passEnded = false;
    const maxId = (h.db.query("SELECT COALESCE(MAX(id), 0) AS m FROM h_points").get() as { m: number }).m;
    const [table, k] = PRUNED[this.table]!;
    const from = this.point;
    let found: number | undefined;
    if (Number.isFinite(cut[k]!)) {
      // A block goes when its whole minute is before the cut-off (ts + 60 s ≤ cut).
      const before = table === "h_block" ? cut[k]! - 60_000 + 1 : cut[k]!;
      found = (
        h.db
          .query(`SELECT id FROM h_points WHERE id >= ?1 AND id < ?2 AND EXISTS (SELECT 1 FROM ${table} WHERE point = h_points.id AND ts < ?3) ORDER BY id LIMIT 1`)
          .get(from, from + STEP_PROBES, before) as { id: number } | null
      )?.id;
      if (found !== undefined)
        deleted = h.db
          .query(`DELETE FROM ${table} WHERE point = ?1 AND ts IN (SELECT ts FROM ${table} WHERE point = ?1 AND ts < ?2 ORDER BY ts LIMIT ${STEP_ROWS})`)
          .run(found, before).changes;
    }
    // Stay on a point while it has rows to delete; else on to the next ids, then the next table.
    if (found !== undefined) this.point = found;
    else if ((this.point = from + STEP_PROBES) > maxId) {
      this.point = 0;
      this.table = (this.table + 1) % PRUNED.length;
      if (this.table === 0) passEnded = true;
    }
    this.pruned += deleted;
    this.passDeleted += deleted;
    const free = (h.db.query("PRAGMA freelist_count").get() as { freelist_count: number }).freelist_count;
    if (free > 0) h.db.exec(`PRAGMA incremental_vacuum(${VACUUM_PAGES})`);
    if (passEnded) {
      const any = this.passDeleted > 0;
      this.passDeleted = 0;
      return any || free > VACUUM_PAGES;
    }
    return true;
  }

  /** A step every 2 s through a pass; after a pass with nothing to prune, the next in 10 minutes. */
  start(): void {
    const run = () => {
      let more = false;
      try {
        more = this.step();
      } catch (e) {
        console.error("history pruning failed:", e);
      }
      this.timer = setTimeout(run, more ? 2_000 : 600_000);
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
  const count = (sql: string) => (h.db.query(sql).get() as { n: number }).n;
  return TABLES.map((table) =>
    table === "h_raw"
      ? // Raw samples: rows, and blocks by the samples they hold.
        { table, bytes: (bytes.get("h_raw") ?? 0) + (bytes.get("h_block") ?? 0), rows: count("SELECT COUNT(*) AS n FROM h_raw") + count("SELECT COALESCE(SUM(n), 0) AS n FROM h_block") }
      : { table, bytes: bytes.get(table) ?? 0, rows: count(`SELECT COUNT(*) AS n FROM ${table}`) },
  );
}
