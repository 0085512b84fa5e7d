/**
 * Writes src/generated/embedded.ts: data/ (profiles, demo site) and the browser assets as one module.
 * Busbar itself no longer needs it (src/embedded.ts reads the source tree; the build renders the
 * module into the binary); it is kept for code that still imports the generated file.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderEmbedded as render } from "../src/embedded-files.ts";

const root = join(import.meta.dir, "..");

export const renderEmbedded = (): string => render(root);

if (import.meta.main) {
  const out = join(root, "src/generated/embedded.ts");
  const text = renderEmbedded();
  let old = "";
  try {
    old = readFileSync(out, "utf8");
  } catch {}
  if (old !== text) {
    mkdirSync(join(root, "src/generated"), { recursive: true });
    writeFileSync(out, text);
  }
}
