/**
 * The one CSV format every export shares (history, energy, alarms, journal; pages, CLI and reports):
 * - separator and decimal mark chosen by the user. Defaults follow the reader's language: French
 *   `;` and `,` (the vendor's default, what French Excel and LibreOffice expect), English `,` and `.`.
 *   A `,` separator with a `,` decimal mark is refused: the file could not be read back.
 * - UTF-8 with a byte-order mark (Excel shows accents right), CRLF line ends, RFC 4180 quoting;
 *   a text cell that would start a spreadsheet formula (= + - @) is defused with an apostrophe.
 * - ISO 8601 times with the site's UTC offset (journal/time.ts OffsetFormatter).
 * - Units in the header (`2B3.p_total (kW)`); quality or estimated flags in their own column.
 */

export const CSV_BOM = "\uFEFF";
export type CsvSep = ";" | "," | "\t";
export type CsvDecimal = "," | ".";

export interface CsvFormat {
  sep: CsvSep;
  decimal: CsvDecimal;
  timeZone: string;
}

/** The separator and decimal mark a reader of `lang` expects when they choose none. */
export function defaultFormat(lang?: string): { sep: CsvSep; decimal: CsvDecimal } {
  return lang === "en" ? { sep: ",", decimal: "." } : { sep: ";", decimal: "," };
}

/**
 * Parses the user's choice (`sep`: `;` `,` `tab`; `decimal`: `,` `.`; empty = default), or returns
 * the reason it cannot be used (a 400 for a route, exit 2 for the CLI). Without `lang`, the
 * vendor's `;` and `,`. A separator given alone picks its usual mark (`,` → `.`, `;` → `,`).
 */
export function csvFormat(q: { sep?: string | null; decimal?: string | null }, timeZone: string, lang?: string): CsvFormat | string {
  const dflt = defaultFormat(lang);
  const sepIn = q.sep === "tab" || q.sep === "\\t" || q.sep === "\t" ? "\t" : q.sep || undefined;
  if (sepIn !== undefined && sepIn !== ";" && sepIn !== "," && sepIn !== "\t") return `sep: ";", "," or "tab", not ${JSON.stringify(sepIn.slice(0, 20))}`;
  if (q.decimal && q.decimal !== "," && q.decimal !== ".") return `decimal: "," or ".", not ${JSON.stringify(q.decimal.slice(0, 20))}`;
  const sep = (sepIn ?? dflt.sep) as CsvSep;
  const decimal = (q.decimal || (sepIn === undefined || sep === "\t" ? dflt.decimal : sep === "," ? "." : ",")) as CsvDecimal;
  if (sep === decimal) return 'sep "," with decimal ",": a comma cannot be both; use sep ";" with decimal "," (French Excel) or sep "," with decimal "."';
  return { sep, decimal, timeZone };
}

/** One RFC 4180 text cell; a leading = + - @ (or tab, CR) is defused with an apostrophe (formula injection). */
export function cell(s: string, sep: string): string {
  let v = s;
  if (v.length && (v[0] === "=" || v[0] === "+" || v[0] === "-" || v[0] === "@" || v[0] === "\t" || v[0] === "\r")) v = "'" + v;
  if (v.includes('"') || v.includes(sep) || v.includes("\n") || v.includes("\r")) return `"${v.replace(/"/g, '""')}"`;
  return v;
}

/**
 * A number cell with the chosen decimal mark; empty for none, NaN or ±Infinity (never "NaN" in a
 * spreadsheet). Plain positional notation, no exponent and no thousands separator, so every
 * spreadsheet reads it as the same number. `digits` rounds (e.g. 3 for kWh: Wh resolution).
 */
export function num(v: number | null | undefined, f: { decimal: CsvDecimal }, digits?: number): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "";
  let x = digits === undefined ? v : Math.round(v * 10 ** digits) / 10 ** digits;
  if (Object.is(x, -0)) x = 0;
  let s = String(x);
  if (s.includes("e")) s = x.toLocaleString("en-US", { useGrouping: false, maximumFractionDigits: 20 });
  return f.decimal === "," ? s.replace(".", ",") : s;
}

/** A column title with its unit: `2B3.p_total (kW)`; no unit, no brackets. */
export function withUnit(name: string, unit: string | undefined): string {
  return unit ? `${name} (${unit})` : name;
}

/** The header line: byte-order mark, then the titles as text cells. */
export function headerLine(titles: readonly string[], sep: string): string {
  return CSV_BOM + titles.map((c) => cell(c, sep)).join(sep) + "\r\n";
}
