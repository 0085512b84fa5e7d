import type { Journal, JournalFilter, JournalRow } from "./journal.ts";
import { OffsetFormatter } from "./time.ts";
import { journalMessage } from "./i18n.ts";
import type { Lang } from "../i18n/index.ts";

/**
 * The journal as CSV: UTF-8 with a byte-order mark (so Excel shows accents right), ISO 8601 times
 * with the site's UTC offset, RFC 4180 quoting, and cells that would start a spreadsheet formula
 * (= + - @) prefixed with an apostrophe. Produced chunk by chunk: memory stays flat and the event
 * loop turns between chunks, whatever the size of the range.
 */

export const CSV_BOM = "\uFEFF";
export const CSV_COLUMNS = ["id", "timestamp", "type", "source", "device", "user", "message", "data", "hash"];

export interface CsvOptions {
  timeZone: string;
  /** `,` (RFC 4180, default) or `;` (Excel with a French list separator). */
  sep?: "," | ";";
  chunkRows?: number;
  /** Messages in this language where the row allows it (src/journal/i18n.ts); default: as stored. */
  lang?: Lang;
}

function cell(s: string, sep: string): string {
  let v = s;
  if (v.length && (v[0] === "=" || v[0] === "+" || v[0] === "-" || v[0] === "@" || v[0] === "\t" || v[0] === "\r")) v = "'" + v;
  if (v.includes('"') || v.includes(sep) || v.includes("\n") || v.includes("\r")) return `"${v.replace(/"/g, '""')}"`;
  return v;
}

export function csvHeader(sep = ","): string {
  return CSV_BOM + CSV_COLUMNS.join(sep) + "\r\n";
}

export function csvRows(rows: readonly JournalRow[], fmt: OffsetFormatter, sep = ",", lang?: Lang): string {
  let out = "";
  for (const r of rows) {
    out +=
      r.id +
      sep +
      fmt.format(r.ts) +
      sep +
      cell(r.type, sep) +
      sep +
      cell(r.source, sep) +
      sep +
      cell(r.device, sep) +
      sep +
      cell(r.actor, sep) +
      sep +
      cell(lang ? journalMessage(r, lang) : r.message, sep) +
      sep +
      cell(r.data ?? "", sep) +
      sep +
      (r.hash ?? "") +
      "\r\n";
  }
  return out;
}

/** Text pieces of the export, header first (for the CLI and tests). */
export function* csvPieces(journal: Journal, filter: JournalFilter, opts: CsvOptions): Generator<string> {
  const sep = opts.sep ?? ",";
  const fmt = new OffsetFormatter(opts.timeZone);
  yield csvHeader(sep);
  for (const rows of journal.chunks(filter, opts.chunkRows ?? 2000)) yield csvRows(rows, fmt, sep, opts.lang);
}

/** A byte stream for an HTTP response; pulls one chunk at a time and yields the event loop between chunks. */
export function csvStream(journal: Journal, filter: JournalFilter, opts: CsvOptions): ReadableStream<Uint8Array> {
  const pieces = csvPieces(journal, filter, opts);
  const enc = new TextEncoder();
  let first = true;
  return new ReadableStream<Uint8Array>(
    {
      async pull(ctrl) {
        // Let timers, sockets and SSE run between chunks, even when the reader is as fast as we are.
        if (!first) await new Promise<void>((r) => setImmediate(r));
        first = false;
        const next = pieces.next();
        if (next.done) ctrl.close();
        else ctrl.enqueue(enc.encode(next.value));
      },
      cancel() {
        pieces.return(undefined);
      },
    },
    { highWaterMark: 1 },
  );
}
