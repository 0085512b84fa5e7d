/**
 * The pool's thread inside the compiled binary: piscina's own worker bootstrap and the report job in
 * one entrypoint (scripts/build.ts), since the binary has no piscina/dist/worker.js on disk to start.
 * From source, piscina starts its own worker.js and loads src/reports/worker.ts.
 */
import "piscina/dist/worker.js";
export { default } from "./worker.ts";
