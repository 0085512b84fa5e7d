import type { Journal, JournalFilter, JournalRow } from "./journal.ts";
import { OffsetFormatter } from "./time.ts";
import { journalMessage } from "./i18n.ts";
import type { Lang } from "../i18n/index.ts";
import { cell, headerLine, type CsvSep } from "../exports/format.ts";

/**
 * The journal as CSV: UTF-8 with a byte-order mark (so Excel shows accents right), ISO 8601 times
 * with the site's UTC offset, RFC 4180 quoting, and cells that would start a spreadsheet formula
 * (= + - @) prefixed with an apostrophe. Produced chunk by chunk: memory stays flat and the event
 * loop turns between chunks, whatever the size of the range.
 */

// The shared CSV format (src/exports/format.ts), re-exported for the journal's existing callers.
export { CSV_BOM, cell } from "../exports/format.ts";
export const CSV_COLUMNS = ["id", "timestamp", "type", "source", "device", "user", "message", "data", "hash"];

export interface CsvOptions {
  timeZone: string;
  /** `,` (RFC 4180, default), `;` (Excel with a French list separator) or a tab. */
  sep?: CsvSep;
  chunkRows?: number;
  /** Messages in this language where the row allows it (src/journal/i18n.ts); default: as stored. */
  lang?: Lang;
}

export function csvHeader(sep = ","): string {
  return headerLine(CSV_COLUMNS, sep);
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
  return piecesStream(csvPieces(journal, filter, opts));
}

/** Any generator of text pieces as a byte stream, one piece per pull, the event loop turning between. */
export function piecesStream(pieces: Generator<string>): ReadableStream<Uint8Array> {
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
