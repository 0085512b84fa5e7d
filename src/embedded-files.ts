import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The files Busbar carries: device profiles and the demo site (data/), the page assets (public/ and
 * the pinned browser packages). Read from the source tree by src/embedded.ts; rendered as a module
 * into the compiled binary by scripts/build.ts, so the executable needs nothing beside it.
 */
export interface EmbeddedFiles {
  PROFILES: Record<string, string>;
  DEMO_SITE: string;
  ASSETS: Record<string, { type: string; body: string }>;
}

export function readEmbeddedFiles(root: string): EmbeddedFiles {
  const read = (p: string) => readFileSync(join(root, p), "utf8");
  const PROFILES: Record<string, string> = {};
  for (const f of readdirSync(join(root, "data/profiles")).sort()) {
    if (f.endsWith(".yaml")) PROFILES[f.replace(/\.yaml$/, "")] = read(`data/profiles/${f}`);
  }
  const ASSETS: Record<string, { type: string; body: string }> = {
    "htmx.min.js": { type: "text/javascript", body: read("node_modules/htmx.org/dist/htmx.min.js") },
    "uPlot.iife.min.js": { type: "text/javascript", body: read("node_modules/uplot/dist/uPlot.iife.min.js") },
    "uPlot.min.css": { type: "text/css", body: read("node_modules/uplot/dist/uPlot.min.css") },
  };
  for (const f of readdirSync(join(root, "public")).sort()) {
    const type = f.endsWith(".css") ? "text/css" : f.endsWith(".js") ? "text/javascript" : f.endsWith(".svg") ? "image/svg+xml" : "";
    if (type) ASSETS[f] = { type, body: read(`public/${f}`) };
  }
  return { PROFILES, DEMO_SITE: read("data/demo-site.yaml"), ASSETS };
}

/** The same files as a TypeScript module (the binary's src/embedded.ts, and src/generated/embedded.ts). */
export function renderEmbedded(root: string): string {
  const { PROFILES, DEMO_SITE, ASSETS } = readEmbeddedFiles(root);
  return (
    "// Generated from data/, public/ and the pinned browser packages (src/embedded-files.ts). Do not edit.\n" +
    `export const PROFILES: Record<string, string> = ${JSON.stringify(PROFILES, null, 1)};\n` +
    `export const DEMO_SITE: string = ${JSON.stringify(DEMO_SITE)};\n` +
    `export const ASSETS: Record<string, { type: string; body: string }> = ${JSON.stringify(ASSETS)};\n`
  );
}
