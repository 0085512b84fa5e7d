/**
 * A report as CSV (scheduled reports may be CSV): one row per line and bucket, in the export
 * conventions of src/exports (UTF-8 with BOM, CRLF, ISO 8601 with the site's offset, units in the
 * header, quality in its own column), with the shared format module. It is the report's own table
 * (its lines × its buckets, drawn from the same ReportData as the PDF), which the energy export
 * (src/exports/energy.ts: by meter, circuit, zone or total) does not have; "partial" marks a bucket
 * the report's line was only partly measured in.
 */
import { Flag } from "../energy/counters.ts";
import { CSV_BOM, cell, csvFormat, num, type CsvFormat } from "../exports/format.ts";
import { OffsetFormatter } from "../journal/time.ts";
import type { ReportData } from "./data.ts";

export function reportCsv(d: ReportData, format?: CsvFormat): string {
  const f = format ?? (csvFormat({}, d.timezone) as CsvFormat);
  const sep = f.sep;
  const time = new OffsetFormatter(d.timezone);
  const n = (v: number | null) => num(v, f, 3);
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
