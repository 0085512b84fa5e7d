/**
 * `npm run build`: one self-contained executable, dist/busbar.
 * - Workers are extra entrypoints (a compiled binary cannot load a worker file from disk).
 * - data/ and public/ are rendered into the binary (the plugin below).
 */
import type { BunPlugin } from "bun";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderEmbedded } from "../src/embedded-files.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** src/embedded.ts reads data/ and public/ at run time from source; the binary carries them rendered in instead. */
const embedFiles: BunPlugin = {
  name: "embed-files",
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]embedded\.ts$/ }, () => ({ contents: renderEmbedded(root), loader: "ts" }));
  },
};

export const WORKER_ENTRYPOINTS = ["src/workers/modbus-bus.ts", "src/workers/bacnet-port.ts", "src/workers/history-backup.ts"];

export async function build(outfile = join(root, "dist/busbar")): Promise<string> {
  rmSync(outfile, { force: true });
  const result = await Bun.build({
    entrypoints: [join(root, "src/cli.ts"), ...WORKER_ENTRYPOINTS.map((w) => join(root, w))],
    compile: { outfile },
    minify: true,
    sourcemap: "linked",
    plugins: [embedFiles],
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error("build failed");
  }
  return outfile;
}

if (import.meta.main) {
  const out = await build();
  console.log(`built ${out}`);
}
