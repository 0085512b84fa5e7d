import type { Database } from "bun:sqlite";
import type { Historian } from "../historian/historian.ts";
import { series, type Series } from "../historian/query.ts";
import { TIER_IDS } from "../historian/tiers.ts";
import { cell, headerLine, num, withUnit, type CsvFormat } from "./format.ts";
import { OffsetFormatter } from "../journal/time.ts";

// The shared format (format.ts), re-exported: callers of the exports import it from here too.
export { csvFormat, defaultFormat, type CsvFormat } from "./format.ts";

/**
 * CSV exports for spreadsheets: device history (raw samples or a rollup tier) and alarm history,
 * in the shared format of format.ts (separator, decimal mark, BOM, ISO 8601 with offset, units).
 * - Quality in its own column: a value that is not good is never written as if it were (its cell is
 *   empty, the quality column says why); rollups say good / partial / no-data with the coverage.
 * - Produced in time chunks (a day of raw samples, a week of minutes…): memory does not grow with
 *   the range and the caller's stream lets the event loop turn between chunks.
 */

export type ExportGroup = "raw" | (typeof TIER_IDS)[number];
export const EXPORT_GROUPS: readonly ExportGroup[] = ["raw", ...TIER_IDS];

const TIER_MS: Record<ExportGroup, number> = { raw: 60_000, "1m": 60_000, "15m": 900_000, "1h": 3_600_000, "1d": 86_400_000, "1mo": 31 * 86_400_000 };

/** How much of the range one query covers, per group: bounded rows per chunk whatever the range. */
const CHUNK_MS: Record<ExportGroup, number> = { raw: 6 * 3_600_000, "1m": 12 * 3_600_000, "15m": 7 * 86_400_000, "1h": 28 * 86_400_000, "1d": 366 * 86_400_000, "1mo": Infinity };

export interface HistoryExport {
  historian: Historian;
  indexes: number[];
  from: number;
  to: number;
  group: ExportGroup;
  format: CsvFormat;
  /** Called after each chunk with the share of the range done (progress). */
  progress?: (done: number) => void;
}

export function* historyCsv(x: HistoryExport): Generator<string> {
  const { historian: h, format: f } = x;
  const sep = f.sep;
  const fmt = new OffsetFormatter(f.timeZone);
  const pts = x.indexes.map((i) => h.points[i]!);
  const head = ["timestamp"];
  for (const p of pts) {
    if (x.group === "raw") head.push(withUnit(p.name, p.unit), `${p.name} quality`);
    else head.push(withUnit(`${p.name} mean`, p.unit), withUnit(`${p.name} min`, p.unit), withUnit(`${p.name} max`, p.unit), `${p.name} coverage (%)`, `${p.name} quality`);
  }
  yield headerLine(head, sep);
  const tier = x.group === "raw" ? -1 : TIER_IDS.indexOf(x.group);
  const cal = h.calendar;
  let a = tier < 0 ? x.from : cal.start(tier, x.from);
  /** Last value written per point (raw): a chunk's carried-in value at its start is not a new sample. */
  const last: (string | null)[] = pts.map(() => null);
  let first = true;
  // A chunk is produced in one go on the main thread: its size shrinks with the number of points so
  // that no chunk stalls polling or pages (bench/export.bench.ts measures the longest).
  const span = Math.max(TIER_MS[x.group], CHUNK_MS[x.group] * Math.min(1, 5 / Math.max(1, pts.length)));
  while (a < x.to) {
    let b = Math.min(x.to, a + span);
    if (tier >= 0 && b < x.to) b = cal.start(tier, b);
    if (b <= a) b = tier >= 0 ? cal.next(tier, a) : x.to;
    const chunk: Series[] = x.indexes.map((i) => series(h, i, a, b, tier));
    yield tier < 0 ? rawRows(chunk, fmt, f, last, first ? -Infinity : a) : rollupRows(chunk, fmt, f, (t) => cal.next(tier, t), a, b);
    first = false;
    x.progress?.(Math.min(1, (b - x.from) / Math.max(1, x.to - x.from)));
    a = b;
  }
}

/** Samples of several points merged on time: a row per instant, each point's cells only where it has a sample. */
function rawRows(chunk: Series[], fmt: OffsetFormatter, f: CsvFormat, last: (string | null)[], carryAt: number): string {
  const sep = f.sep;
  const pos = chunk.map(() => 0);
  let out = "";
  for (;;) {
    let ts = Infinity;
    for (let k = 0; k < chunk.length; k++) if (pos[k]! < chunk[k]!.t.length) ts = Math.min(ts, chunk[k]!.t[pos[k]!]!);
    if (ts === Infinity) return out;
    let row = "";
    let any = false;
    for (let k = 0; k < chunk.length; k++) {
      const s = chunk[k]!;
      if (pos[k]! < s.t.length && s.t[pos[k]!] === ts) {
        const v = s.v[pos[k]!]!;
        const q = s.q![pos[k]!]!;
        pos[k]!++;
        const text = typeof v === "number" ? num(v, f) : v === null ? "" : cell(v, sep);
        const key = `${text}\u0000${q}`;
        // The series repeats the value holding at a chunk's start: already written, not a sample.
        if (ts === carryAt && last[k] === key) {
          row += sep + sep;
          continue;
        }
        last[k] = key;
        row += sep + text + sep + q;
        any = true;
      } else row += sep + sep;
    }
    if (any) out += fmt.format(ts) + row + "\r\n";
  }
}

/** Every interval of [a, b), data or not: a spreadsheet's rows line up with the calendar, gaps say no-data. */
function rollupRows(chunk: Series[], fmt: OffsetFormatter, f: CsvFormat, next: (t: number) => number, a: number, b: number): string {
  const sep = f.sep;
  const idx = chunk.map((s) => new Map(s.t.map((t, k) => [t, k])));
  let out = "";
  for (let ts = a; ts < b; ts = next(ts)) {
    let row = fmt.format(ts);
    for (let k = 0; k < chunk.length; k++) {
      const s = chunk[k]!;
      const j = idx[k]!.get(ts);
      if (j === undefined) {
        row += sep + sep + sep + sep + sep + "no-data";
        continue;
      }
      const cov = s.coverage![j]!;
      const q = cov >= 0.999 ? "good" : cov > 0 ? "partial" : "no-data";
      row += sep + num(s.v[j] as number | null, f) + sep + num(s.min![j], f) + sep + num(s.max![j], f) + sep + num(Math.round(cov * 1000) / 10, f) + sep + q;
    }
    out += row + "\r\n";
  }
  return out;
}

export interface AlarmExport {
  sqlite: Database;
  from: number;
  to: number;
  device?: string;
  priority?: string;
  format: CsvFormat;
  /** Called after each page of rows with the share done (progress). */
  progress?: (done: number) => void;
}

const ALARM_COLUMNS = ["raised", "alarm", "device", "point", "priority", "message", "value", "acknowledged", "acknowledged by", "comment", "cleared", "closed", "close reason", "duration (s)"];

/** The alarm activations raised in [from, to), oldest first, read by id in pages of 2,000. */
export function* alarmsCsv(x: AlarmExport): Generator<string> {
  const f = x.format;
  const sep = f.sep;
  const fmt = new OffsetFormatter(f.timeZone);
  const time = (t: number | null) => (t === null ? "" : fmt.format(t));
  yield headerLine(ALARM_COLUMNS, sep);
  const q = x.sqlite.prepare(
    `SELECT * FROM alarm_activations WHERE id > ? AND raised_at >= ? AND raised_at < ?${x.device ? " AND device = ?" : ""}${x.priority ? " AND priority = ?" : ""} ORDER BY id LIMIT 2000`,
  );
  const filters: (string | number)[] = [];
  if (x.device) filters.push(x.device);
  if (x.priority) filters.push(x.priority);
  const total = x.progress
    ? (x.sqlite.prepare(`SELECT COUNT(*) AS n FROM alarm_activations WHERE raised_at >= ? AND raised_at < ?${x.device ? " AND device = ?" : ""}${x.priority ? " AND priority = ?" : ""}`).get(x.from, x.to, ...filters) as { n: number }).n
    : 0;
  let after = 0;
  let written = 0;
  for (;;) {
    const args: (string | number)[] = [after, x.from, x.to, ...filters];
    const rows = q.all(...args) as {
      id: number; alarm_id: string; device: string; point: string; priority: string; message: string; value: number | null;
      raised_at: number; acked_at: number | null; acked_by: string | null; ack_comment: string | null; cleared_at: number | null; closed_at: number | null; close_reason: string | null;
    }[];
    if (!rows.length) return;
    let out = "";
    for (const r of rows) {
      const end = r.cleared_at ?? r.closed_at;
      out +=
        [time(r.raised_at), cell(r.alarm_id, sep), cell(r.device, sep), cell(r.point, sep), r.priority, cell(r.message, sep), num(r.value, f), time(r.acked_at), cell(r.acked_by ?? "", sep), cell(r.ack_comment ?? "", sep), time(r.cleared_at), time(r.closed_at), cell(r.close_reason ?? "", sep), end === null ? "" : num((end - r.raised_at) / 1000, f)].join(sep) + "\r\n";
    }
    yield out;
    written += rows.length;
    x.progress?.(total ? Math.min(1, written / total) : 1);
    after = rows[rows.length - 1]!.id;
  }
}
