import { Database, type Statement } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { emptySamples, type RollupRow, type Samples } from "./aggregate.ts";
import { TIERS } from "./tiers.ts";

/**
 * The history database: its own SQLite file beside the main one (busbar.db → busbar.history.db).
 *
 * Why a separate file: the journal commits with synchronous=FULL (one fsync per event, power-loss
 * safe) while history commits a batch a second with synchronous=NORMAL (WAL: no fsync per commit,
 * still never corrupt after a crash, at most the last batch lost on power loss). Separate files
 * keep history's heavy WAL, checkpoints, pruning and incremental vacuum away from the journal's
 * commits, keep the main file (configuration, users, alarms, journal) small, and let each be checked
 * and restored on its own. Both go into one backup file (backup.ts).
 *
 * Tables are WITHOUT ROWID keyed (point, ts): one point's day or year is one contiguous range.
 */

export const HISTORY_MIGRATIONS: { name: string; sql: string }[] = [
  {
    name: "h0001_history",
    sql: `
      CREATE TABLE h_points (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, unit TEXT NOT NULL DEFAULT '');
      -- value: REAL for numbers, TEXT for text points, NULL when not good; quality: src/points/quality.ts (-1: historian not running)
      CREATE TABLE h_raw (point INTEGER NOT NULL, ts INTEGER NOT NULL, value, quality INTEGER NOT NULL, PRIMARY KEY (point, ts)) WITHOUT ROWID;
      ${TIERS.map(
        (t) =>
          `CREATE TABLE ${t.table} (point INTEGER NOT NULL, ts INTEGER NOT NULL, n INTEGER NOT NULL, good_ms INTEGER NOT NULL, mean REAL, min REAL, max REAL, first REAL, last REAL, PRIMARY KEY (point, ts)) WITHOUT ROWID;`,
      ).join("\n")}
      CREATE TABLE h_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      -- Samples of the minute(s) not closed yet, appended as they come (historian.ts: open).
      CREATE TABLE h_recent (point INTEGER NOT NULL, ts INTEGER NOT NULL, value, quality INTEGER NOT NULL);
    `,
  },
  {
    // A closed minute's samples of one point as one row (see encodeBlock): written once a minute
    // per point that changed, instead of a row per sample. h_raw keeps late samples and what older
    // versions stored; readers merge both (RawReader).
    name: "h0002_raw_blocks",
    sql: `CREATE TABLE h_block (point INTEGER NOT NULL, ts INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (point, ts)) WITHOUT ROWID;`,
  },
];

/**
 * One point's samples of one minute [ts, ts + 60 s), packed: a flags byte, the count (u16), then
 * the times as offsets from the minute (u16 ms, or f64 when one is not a whole ms), the qualities
 * (i8), the values (f32 when every one is exactly a float32, as register values are, else f64; NaN
 * for no value). A block with a text value is JSON instead: [[offset, value, quality], ...].
 * 60 samples of a 1 Hz float32 point: 423 bytes, where 60 rows took ~1.8 kB and 60 b-tree inserts.
 */
const F64_VALUES = 1;
const F64_TIMES = 2;

export function encodeBlock(minute: number, ts: ArrayLike<number>, v: ArrayLike<number | string | null>, q: ArrayLike<number>, n: number): Uint8Array | string {
  let flags = 0;
  for (let k = 0; k < n; k++) {
    const x = v[k];
    if (typeof x === "string") {
      const rows: [number, number | string | null, number][] = [];
      for (let j = 0; j < n; j++) rows.push([ts[j]! - minute, v[j]!, q[j]!]);
      return JSON.stringify(rows);
    }
    if (typeof x === "number" && x === x && Math.fround(x) !== x) flags |= F64_VALUES; // NaN (no value) fits a float32
    const off = ts[k]! - minute;
    if (!Number.isInteger(off) || off < 0 || off > 65535) flags |= F64_TIMES;
  }
  const tBytes = flags & F64_TIMES ? 8 : 2;
  const vBytes = flags & F64_VALUES ? 8 : 4;
  const out = new Uint8Array(3 + n * (tBytes + 1 + vBytes));
  out[0] = flags;
  out[1] = n & 0xff;
  out[2] = n >>> 8;
  // Bytes written directly and floats through a typed scratch copied in one go, not DataView calls:
  // 120,000 samples a minute at 20,000 points, and JSC called out to DataView's setters for each.
  let o = 3;
  if (tBytes === 2) {
    for (let k = 0; k < n; k++, o += 2) {
      const off = ts[k]! - minute;
      out[o] = off & 0xff;
      out[o + 1] = off >>> 8;
    }
  } else {
    const t = scratch64(n);
    for (let k = 0; k < n; k++) t[k] = ts[k]! - minute;
    o = copyLE(out, o, t, n);
  }
  for (let k = 0; k < n; k++) out[o + k] = q[k]!; // int8: a Uint8Array keeps the two's complement byte
  o += n;
  const f = vBytes === 4 ? scratch32(n) : scratch64(n);
  for (let k = 0; k < n; k++) {
    const x = v[k];
    f[k] = typeof x === "number" ? x : NaN;
  }
  copyLE(out, o, f, n);
  return out;
}

let f32 = new Float32Array(256);
let f64 = new Float64Array(256);
const scratch32 = (n: number) => (f32.length >= n ? f32 : (f32 = new Float32Array(n)));
const scratch64 = (n: number) => (f64.length >= n ? f64 : (f64 = new Float64Array(n)));
const HOST_LE = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Copies the first n floats of `src` into `out` at `at`, little-endian (the format's order); returns the end. */
function copyLE(out: Uint8Array, at: number, src: Float32Array | Float64Array, n: number): number {
  const w = src.BYTES_PER_ELEMENT;
  const end = at + n * w;
  out.set(new Uint8Array(src.buffer, 0, n * w), at);
  if (!HOST_LE) for (let k = at; k < end; k += w) out.subarray(k, k + w).reverse();
  return end;
}

/** Appends a block's samples with from ≤ ts < to to `out` (see encodeBlock). */
export function decodeBlock(minute: number, data: Uint8Array | string, out: Samples, from = -Infinity, to = Infinity): void {
  if (typeof data === "string") {
    for (const [off, v, q] of JSON.parse(data) as [number, number | string | null, number][]) {
      const t = minute + off;
      if (t < from || t >= to) continue;
      out.ts.push(t);
      out.v.push(v);
      out.q.push(q);
    }
    return;
  }
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const flags = dv.getUint8(0);
  const n = dv.getUint16(1, true);
  const tBytes = flags & F64_TIMES ? 8 : 2;
  const vBytes = flags & F64_VALUES ? 8 : 4;
  const qAt = 3 + n * tBytes;
  const vAt = qAt + n;
  for (let k = 0; k < n; k++) {
    const t = minute + (tBytes === 2 ? dv.getUint16(3 + 2 * k, true) : dv.getFloat64(3 + 8 * k, true));
    if (t < from || t >= to) continue;
    const x = vBytes === 4 ? dv.getFloat32(vAt + 4 * k, true) : dv.getFloat64(vAt + 8 * k, true);
    out.ts.push(t);
    out.v.push(x === x ? x : null);
    out.q.push(dv.getInt8(qAt + k));
  }
}

/** The history file that goes with a main database path. */
export function historyPathFor(mainPath: string): string {
  if (mainPath === ":memory:") return ":memory:";
  return mainPath.endsWith(".db") ? mainPath.slice(0, -3) + ".history.db" : mainPath + ".history";
}

export function openHistoryDb(path: string): Database {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { create: true, strict: true });
  // Must precede the first table: lets pruning hand pages back with incremental_vacuum.
  db.exec("PRAGMA auto_vacuum = INCREMENTAL");
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA busy_timeout = 5000");
  // Bounded memory (the RSS budget at 20,000 points is tight): a 1 MB page cache per connection
  // (long reads lean on the OS page cache), no memory-mapped I/O (mapped pages count in RSS).
  db.exec("PRAGMA cache_size = -1024");
  db.exec("PRAGMA mmap_size = 0");
  // Temporary storage in memory: it is mostly the statement journal of each batched insert (the
  // pages a 64-row statement changes, ~260 kB, freed when it ends). On disk it spilled past 64 kB to
  // a temporary file, ~5,000 writes a minute at 20,000 points, ~10 % of the historian's CPU. The
  // other temporary b-trees are bounded: retention's IN list (5,000 keys), the size page's GROUP BY.
  db.exec("PRAGMA temp_store = MEMORY");
  migrateHistory(db);
  return db;
}

export function migrateHistory(db: Database): number {
  const current = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (current > HISTORY_MIGRATIONS.length)
    throw new Error(`history database schema version ${current} is newer than this Busbar (${HISTORY_MIGRATIONS.length}); refusing to run`);
  for (let v = current; v < HISTORY_MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(HISTORY_MIGRATIONS[v]!.sql);
      db.exec(`PRAGMA user_version = ${v + 1}`);
    })();
  }
  return HISTORY_MIGRATIONS.length - current;
}

/**
 * Rows written ROWS to a statement: the minute's move to h_raw and the h_recent appends are ~4,000
 * rows a second at 20,000 points, and one statement call per row costs more in the JS↔SQLite
 * crossing than in SQLite. `add` buffers into one reused argument array; `end` writes the rest.
 * The array is handed over as it is (`run(args)`), never spread: `run(...args)` copied its 576
 * values into a fresh array per call, ~4.6 kB of garbage a statement, ~30 MB (RSS) at a
 * quarter-hour close that writes 270,000 carried 1-minute rows at 20,000 points.
 * Rows keep their order (INSERT OR REPLACE: the later of two equal keys wins, as row by row).
 */
export class BatchInsert {
  static readonly ROWS = 64;
  private readonly many: Statement;
  private readonly one: Statement;
  private readonly args: (number | string | null | Uint8Array)[];
  /** One row's arguments for `end` (reused). */
  private readonly row: (number | string | null | Uint8Array)[];
  private n = 0;

  constructor(db: Database, verb: string, table: string, private readonly width: number) {
    const row = `(${Array(width).fill("?").join(",")})`;
    this.many = db.prepare(`${verb} INTO ${table} VALUES ${Array(BatchInsert.ROWS).fill(row).join(",")}`);
    this.one = db.prepare(`${verb} INTO ${table} VALUES ${row}`);
    this.args = new Array(width * BatchInsert.ROWS).fill(null);
    this.row = new Array(width).fill(null);
  }

  add4(a: number, b: number, c: number | string | null, d: number | string | Uint8Array): void {
    const o = this.n * 4;
    this.args[o] = a;
    this.args[o + 1] = b;
    this.args[o + 2] = c;
    this.args[o + 3] = d;
    if (++this.n === BatchInsert.ROWS) {
      this.many.run(this.args);
      this.n = 0;
    }
  }

  /** A 1-minute row: (point, ts, n, good_ms, mean, min, max, first, last) for a 9-wide batch. */
  addRow(point: number, r: RollupRow): void {
    const o = this.n * 9;
    const a = this.args;
    a[o] = point;
    a[o + 1] = r.ts;
    a[o + 2] = r.n;
    a[o + 3] = r.goodMs;
    a[o + 4] = r.mean;
    a[o + 5] = r.min;
    a[o + 6] = r.max;
    a[o + 7] = r.first;
    a[o + 8] = r.last;
    if (++this.n === BatchInsert.ROWS) {
      this.many.run(a);
      this.n = 0;
    }
  }

  end(): void {
    for (let k = 0; k < this.n; k++) {
      for (let j = 0; j < this.width; j++) this.row[j] = this.args[k * this.width + j]!;
      this.one.run(this.row);
    }
    this.n = 0;
  }
}

/** Prepared statements over one history database. */
export class HistoryStore {
  readonly insertRaw: Statement;
  readonly insertRecent: Statement;
  /** Batched forms (point, ts, value, quality): see BatchInsert. */
  readonly rawBatch: BatchInsert;
  readonly recentBatch: BatchInsert;
  /** 1-minute rows, batched (the carried minutes a quarter-hour close writes: up to 15 per point). */
  readonly minuteBatch: BatchInsert;
  /**
   * Rows of each tier, batched (index 0 is minuteBatch): a close computes a coarser row for every
   * point (20,000 at a quarter hour), and a statement call per row left an argument array and a
   * result object each (MBs of garbage per close) besides the JS↔SQLite crossing.
   */
  readonly tierBatch: BatchInsert[];
  readonly dropRecent: Statement;
  /** Up to ?2 rows of closed minutes (the oldest rowids come first in the scan): a bounded step. */
  readonly dropRecentSome: Statement;
  readonly upsertRow: Statement[];
  /** Drops one point's 1-minute row (a repair found nothing covering it): (point, ts). */
  readonly deleteMinute: Statement;
  /** Recomputes one point's coarser row from its finer rows: (point, a, b, point, a, b, point, a, b). */
  readonly rollFrom: Statement[];
  /** h_raw rows only (late samples, older versions); the raw* methods read rows and blocks together. */
  private readonly rowRange: Statement;
  private readonly rowBefore: Statement;
  private readonly rowAfter: Statement;
  private readonly rowCount: Statement;
  readonly putBlock: Statement;
  /** A closed minute's blocks, batched (point, ts, n, data): ~2,000 a minute at scale. */
  readonly blockBatch: BatchInsert;
  private readonly blockRange: Statement;
  private readonly blockBefore: Statement;
  private readonly blockFrom: Statement;
  private readonly blockInner: Statement;
  readonly tierRange: Statement[];
  /** What a trend draws, as arrays (ts, good_ms, mean, min, max): the long-range read path. */
  readonly tierView: Statement[];
  private readonly getMeta: Statement;
  private readonly setMeta: Statement;

  constructor(readonly db: Database) {
    this.insertRaw = db.prepare("INSERT OR REPLACE INTO h_raw (point, ts, value, quality) VALUES (?, ?, ?, ?)");
    this.insertRecent = db.prepare("INSERT INTO h_recent (point, ts, value, quality) VALUES (?, ?, ?, ?)");
    this.dropRecent = db.prepare("DELETE FROM h_recent WHERE ts < ?");
    this.rawBatch = new BatchInsert(db, "INSERT OR REPLACE", "h_raw (point, ts, value, quality)", 4);
    this.recentBatch = new BatchInsert(db, "INSERT", "h_recent (point, ts, value, quality)", 4);
    this.tierBatch = TIERS.map((t) => new BatchInsert(db, "INSERT OR REPLACE", `${t.table} (point, ts, n, good_ms, mean, min, max, first, last)`, 9));
    this.minuteBatch = this.tierBatch[0]!;
    this.dropRecentSome = db.prepare("DELETE FROM h_recent WHERE rowid IN (SELECT rowid FROM h_recent WHERE ts < ? LIMIT ?)");
    this.upsertRow = TIERS.map((t) =>
      db.prepare(`INSERT OR REPLACE INTO ${t.table} (point, ts, n, good_ms, mean, min, max, first, last) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    );
    this.deleteMinute = db.prepare(`DELETE FROM ${TIERS[0]!.table} WHERE point = ? AND ts = ?`);
    this.rollFrom = TIERS.map((t, i) => {
      if (i === 0) return db.prepare("SELECT 1");
      const f = TIERS[i - 1]!.table;
      // Bare first/last columns come from the row min(ts)/max(ts) picks among good children (SQLite rule).
      return db.prepare(`
        INSERT OR REPLACE INTO ${t.table} (point, ts, n, good_ms, mean, min, max, first, last)
        SELECT ?1, ?2, SUM(n), SUM(good_ms), MIN(MAX(SUM(mean * good_ms) / NULLIF(SUM(CASE WHEN mean IS NOT NULL THEN good_ms END), 0), MIN(min)), MAX(max)), MIN(min), MAX(max),
          (SELECT first FROM ${f} WHERE point = ?1 AND ts >= ?2 AND ts < ?3 AND good_ms > 0 AND mean IS NOT NULL ORDER BY ts LIMIT 1),
          (SELECT last FROM ${f} WHERE point = ?1 AND ts >= ?2 AND ts < ?3 AND good_ms > 0 AND mean IS NOT NULL ORDER BY ts DESC LIMIT 1)
        FROM ${f} WHERE point = ?1 AND ts >= ?2 AND ts < ?3 HAVING COUNT(*) > 0`);
    });
    this.rowRange = db.prepare("SELECT ts, value AS v, quality AS q FROM h_raw WHERE point = ? AND ts >= ? AND ts < ? ORDER BY ts");
    this.rowBefore = db.prepare("SELECT ts, value AS v, quality AS q FROM h_raw WHERE point = ? AND ts < ? ORDER BY ts DESC LIMIT 1");
    this.rowAfter = db.prepare("SELECT ts FROM h_raw WHERE point = ? AND ts > ? ORDER BY ts LIMIT 1");
    this.rowCount = db.prepare("SELECT COUNT(*) AS n FROM (SELECT 1 FROM h_raw WHERE point = ? AND ts >= ? AND ts < ? LIMIT ?)");
    this.putBlock = db.prepare("INSERT OR REPLACE INTO h_block (point, ts, n, data) VALUES (?, ?, ?, ?)");
    this.blockBatch = new BatchInsert(db, "INSERT OR REPLACE", "h_block (point, ts, n, data)", 4);
    this.blockRange = db.prepare("SELECT ts, data FROM h_block WHERE point = ? AND ts >= ? AND ts < ? ORDER BY ts");
    this.blockBefore = db.prepare("SELECT ts, data FROM h_block WHERE point = ? AND ts < ? ORDER BY ts DESC LIMIT 2");
    this.blockFrom = db.prepare("SELECT ts, data FROM h_block WHERE point = ? AND ts >= ? ORDER BY ts LIMIT 2");
    this.blockInner = db.prepare("SELECT COALESCE(SUM(n), 0) AS n FROM h_block WHERE point = ? AND ts >= ? AND ts <= ?");
    this.tierRange = TIERS.map((t) =>
      db.prepare(`SELECT ts, n, good_ms AS goodMs, mean, min, max, first, last FROM ${t.table} WHERE point = ? AND ts >= ? AND ts < ? ORDER BY ts`),
    );
    this.tierView = TIERS.map((t) => db.prepare(`SELECT ts, good_ms, mean, min, max FROM ${t.table} WHERE point = ? AND ts >= ? AND ts < ? ORDER BY ts`));
    this.getMeta = db.prepare("SELECT value FROM h_meta WHERE key = ?");
    this.setMeta = db.prepare("INSERT INTO h_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  }

  /** Writes every row still buffered (before a read of the tables, and before each commit). */
  endBatches(): void {
    this.rawBatch.end();
    this.blockBatch.end();
    for (const b of this.tierBatch) b.end();
  }

  /** Raw samples of [from, to), rows and blocks merged in time order (a row wins over a block sample at the same time). */
  raw(pid: number, from: number, to: number): Samples {
    const s = emptySamples();
    for (const b of this.blockRange.values(pid, Math.floor(from / 60_000) * 60_000, to) as [number, Uint8Array | string][]) decodeBlock(b[0], b[1], s, from, to);
    const rows = this.rowRange.values(pid, from, to) as [number, number | string | null, number][];
    if (!rows.length) return s;
    if (!s.ts.length) {
      for (const r of rows) {
        s.ts.push(r[0]);
        s.v.push(r[1]);
        s.q.push(r[2]);
      }
      return s;
    }
    const out = emptySamples();
    let k = 0;
    for (const r of rows) {
      while (k < s.ts.length && s.ts[k]! < r[0]) {
        out.ts.push(s.ts[k]!);
        out.v.push(s.v[k]!);
        out.q.push(s.q[k]!);
        k++;
      }
      if (k < s.ts.length && s.ts[k] === r[0]) k++;
      out.ts.push(r[0]);
      out.v.push(r[1]);
      out.q.push(r[2]);
    }
    for (; k < s.ts.length; k++) {
      out.ts.push(s.ts[k]!);
      out.v.push(s.v[k]!);
      out.q.push(s.q[k]!);
    }
    return out;
  }

  /** The last raw sample before `t`, or null. */
  rawBefore(pid: number, t: number): { ts: number; v: number | string | null; q: number } | null {
    const row = this.rowBefore.get(pid, t) as { ts: number; v: number | string | null; q: number } | null;
    let best = row;
    const s = emptySamples();
    // The newest block before t may hold only samples from t on (t inside its minute): then the one before.
    for (const b of this.blockBefore.values(pid, t) as [number, Uint8Array | string][]) {
      decodeBlock(b[0], b[1], s, -Infinity, t);
      if (s.ts.length) break;
    }
    const n = s.ts.length;
    if (n && (!best || s.ts[n - 1]! > best.ts)) best = { ts: s.ts[n - 1]!, v: s.v[n - 1]!, q: s.q[n - 1]! };
    return best;
  }

  /** Time of the first raw sample after `t`, or null. */
  rawAfter(pid: number, t: number): number | null {
    const row = (this.rowAfter.get(pid, t) as { ts: number } | null)?.ts ?? null;
    const s = emptySamples();
    let blk: number | null = null;
    for (const b of this.blockFrom.values(pid, Math.floor(t / 60_000) * 60_000) as [number, Uint8Array | string][]) {
      s.ts.length = s.v.length = s.q.length = 0;
      decodeBlock(b[0], b[1], s);
      blk = s.ts.find((x) => x > t) ?? null;
      if (blk !== null) break;
    }
    return row === null ? blk : blk === null ? row : Math.min(row, blk);
  }

  /** Raw samples in [from, to), counted up to `limit` (enough to choose a tier). */
  rawCount(pid: number, from: number, to: number, limit: number): number {
    let n = (this.rowCount.get(pid, from, to, limit) as { n: number }).n;
    // Whole minutes by their counts, the partial first and last minutes decoded.
    const first = Math.ceil(from / 60_000) * 60_000;
    const last = Math.floor(to / 60_000) * 60_000 - 60_000;
    if (last >= first) n += (this.blockInner.get(pid, first, last) as { n: number }).n;
    const edge = emptySamples();
    for (const m of new Set([Math.floor(from / 60_000) * 60_000, Math.floor(to / 60_000) * 60_000])) {
      if (m >= first && m <= last) continue;
      for (const b of this.blockRange.values(pid, m, m + 1) as [number, Uint8Array | string][]) decodeBlock(b[0], b[1], edge, from, to);
    }
    return n + edge.ts.length;
  }

  meta(key: string): string | undefined {
    return (this.getMeta.get(key) as { value: string } | null)?.value;
  }

  putMeta(key: string, value: string | number): void {
    this.setMeta.run(key, String(value));
  }

  /** Stable ids for point names (history survives reordering or removing devices in the site file). */
  pointIds(points: readonly { name: string; kind: string; unit: string }[]): number[] {
    const known = () => new Map((this.db.query("SELECT name, id FROM h_points").values() as [string, number][]).map(([n, id]) => [n, id]));
    let ids = known();
    const missing = points.filter((p) => !ids.has(p.name));
    if (missing.length) {
      const add = this.db.prepare("INSERT INTO h_points (name, kind, unit) VALUES (?, ?, ?)");
      // In chunks: one huge first-start transaction would hold its pages (RSS) for nothing.
      for (let i = 0; i < missing.length; i += 2000)
        this.db.transaction(() => {
          for (const p of missing.slice(i, i + 2000)) add.run(p.name, p.kind, p.unit);
        })();
      ids = known();
    }
    return points.map((p) => ids.get(p.name)!);
  }
}
