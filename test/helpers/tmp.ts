import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";

/**
 * Temporary folders for one test file (`busbar-PREFIX-…`), each removed after the test that made
 * it, passed or not. Call at the file's top level: it registers an afterEach.
 */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), `busbar-${prefix}-`));
    dirs.push(d);
    return d;
  };
}
