/**
 * The report font: DejaVu Sans (data/fonts, Bitstream Vera licence beside it). It has every accent
 * and both spaces Intl puts between thousands in French (U+00A0, U+202F). Read from data/ when run
 * from source; the compiled binary gets the bytes rendered into this module (scripts/build.ts), as
 * pdfkit's own fonts are files the binary would not find.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const FONT_FILES = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"] as const;

export function reportFonts(): Record<string, Uint8Array> {
  const dir = join(import.meta.dirname, "../../data/fonts");
  return Object.fromEntries(FONT_FILES.map((f) => [f, readFileSync(join(dir, f))]));
}
