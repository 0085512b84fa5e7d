/**
 * A report as CSV (scheduled reports may be CSV): one row per line and bucket, in the export
 * conventions of src/exports (UTF-8 with BOM, CRLF, ISO 8601 with the site's offset, units in the
 * header, quality in its own column). src/exports has no energy export to reuse yet, so this is the
 * minimal one, drawn from the same ReportData as the PDF.
 */
import { Flag } from "../energy/counters.ts";
import { csvFormat, type CsvFormat } from "../exports/csv.ts";
import { CSV_BOM, cell } from "../journal/csv.ts";
import { OffsetFormatter } from "../journal/time.ts";
import type { ReportData } from "./data.ts";

export function reportCsv(d: ReportData, format?: CsvFormat): string {
  const f = format ?? (csvFormat({}, d.timezone) as CsvFormat);
  const sep = f.sep;
  const time = new OffsetFormatter(d.timezone);
  const n = (v: number | null) => (v === null || !Number.isFinite(v) ? "" : f.decimal === "," ? String(Math.round(v * 1000) / 1000).replace(".", ",") : String(Math.round(v * 1000) / 1000));
  const q = (flags: number) => (flags & Flag.MISSING ? (flags & ~Flag.MISSING ? "partial" : "missing") : flags & Flag.ESTIMATED ? "estimated" : "good");
  // One header for every commodity: the unit and currency have their own columns.
  const out: string[] = [["start", "commodity", "line", "consumption", "unit", "cost", "currency", "quality"].map((c) => cell(c, sep)).join(sep)];
  for (const s of d.sections) {
    for (const l of [...s.lines.filter((x) => x.id !== s.total.id), s.total])
      d.starts.forEach((ts, i) => {
        if (ts >= Math.min(d.to, d.generatedAt)) return;
        out.push([time.format(ts), s.commodity, l.label, n(l.buckets[i]!), s.unit, n(l.costBuckets[i] ?? null), s.currency, q(l.bucketFlags[i]!)].map((c) => cell(c, sep)).join(sep));
      });
  }
  return CSV_BOM + out.join("\r\n") + "\r\n";
}
