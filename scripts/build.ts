/**
 * `npm run build`: one self-contained executable, dist/busbar.
 * - Workers are extra entrypoints (a compiled binary cannot load a worker file from disk).
 * - data/ and public/ are rendered into the binary (the plugin below); piscina's worker path and the
 *   report font too (reportPool).
 */
import type { BunPlugin } from "bun";
import { readFileSync, rmSync } from "node:fs";
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

/**
 * piscina starts `__dirname/worker.js` for each pool thread: a file the binary does not have. Its
 * path becomes globalThis.__busbarPiscinaWorker (set by src/reports/pool.ts to the binary's own
 * src/workers/report-pool.ts entrypoint, which gets piscina's bootstrap put at its top); the report
 * font is rendered into src/reports/fonts.ts.
 */
const reportPool: BunPlugin = {
  name: "report-pool",
  setup(build) {
    build.onResolve({ filter: /^piscina\/dist\/worker\.js$/ }, () => ({ path: join(root, "node_modules/piscina/dist/worker.js") }));
    build.onLoad({ filter: /[\\/]piscina[\\/]dist[\\/]index\.js$/ }, (args) => {
      const src = readFileSync(args.path, "utf8");
      const from = "(0, node_path_1.resolve)(__dirname, 'worker.js')";
      if (!src.includes(from)) throw new Error("piscina changed how it finds worker.js: update scripts/build.ts");
      return { contents: src.replace(from, `(globalThis.__busbarPiscinaWorker || ${from})`), loader: "js" };
    });
    build.onLoad({ filter: /[\\/]src[\\/]workers[\\/]report-pool\.ts$/ }, (args) => ({ contents: `import "piscina/dist/worker.js";\n${readFileSync(args.path, "utf8")}`, loader: "ts" }));
    build.onLoad({ filter: /[\\/]src[\\/]reports[\\/]fonts\.ts$/ }, () => {
      const files = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"];
      const body = files.map((f) => `${JSON.stringify(f)}: Buffer.from(${JSON.stringify(readFileSync(join(root, "data/fonts", f)).toString("base64"))}, "base64")`).join(",\n");
      return { contents: `export const FONT_FILES = ${JSON.stringify(files)};\nexport function reportFonts() { return {\n${body}\n}; }\n`, loader: "ts" };
    });
  },
};

export const WORKER_ENTRYPOINTS = ["src/workers/modbus-bus.ts", "src/workers/bacnet-port.ts", "src/workers/history-backup.ts", "src/workers/report-pool.ts"];

export async function build(outfile = join(root, "dist/busbar")): Promise<string> {
  rmSync(outfile, { force: true });
  const result = await Bun.build({
    entrypoints: [join(root, "src/cli.ts"), ...WORKER_ENTRYPOINTS.map((w) => join(root, w))],
    compile: { outfile },
    minify: true,
    sourcemap: "linked",
    plugins: [embedFiles, reportPool],
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
