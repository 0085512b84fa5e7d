import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { storedSamples } from "./helpers/hist-stored.ts";

/**
 * kill -9 under ingest, 20 times on the same database: after each kill the file opens,
 * integrity_check is ok, every sample a commit reported is there, and at most about the last second
 * (the open batch) is missing. Each run also reopens the historian on the crashed file (recovery,
 * gap marker, rollup catch-up) before ingesting again.
 */

const dir = mkdtempSync(join(tmpdir(), "busbar-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const helper = join(import.meta.dirname, "helpers", "hist-ingest.ts");

it("survives 20 kill -9 during ingest without corruption or loss of committed samples", async () => {
  const path = join(dir, "h.db");
  for (let run = 1; run <= 20; run++) {
    const child = Bun.spawn([process.execPath, helper, path, String(run)], { stdout: "pipe", stderr: "inherit" });
    const reader = child.stdout.getReader();
    const dec = new TextDecoder();
    let buf = "";
    let committed = 0;
    let commits = 0;
    const want = 1 + (run % 2); // kill after 1 or 2 commits, at different points of a batch
    while (commits < want) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`run ${run}: the ingest process ended early`);
      buf += dec.decode(value);
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith("ready") && process.env.CRASH_VERBOSE) console.log(`run ${run}: ${line}`);
        const m = /^committed (\d+)/.exec(line);
        if (m) {
          committed = Number(m[1]);
          commits++;
        }
      }
    }
    // Somewhere inside the next batch.
    await Bun.sleep((run * 37) % 200);
    const killedAt = Date.now();
    child.kill(9);
    await child.exited;
    const db = new Database(path);
    try {
      expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
      const base = run * 1e9;
      // Stored = h_raw plus the open minutes' samples in the sample log (moved to h_raw as minutes close).
      const mine = storedSamples(db, path).filter((r) => (r.v as number) > base && (r.v as number) < base + 1e9);
      const stored = { n: mine.length, max: mine.reduce((m, r) => Math.max(m, r.v as number), 0), ts: mine.reduce((m, r) => Math.max(m, r.ts), 0) };
      // No committed sample lost: numbers 1..committed are all there (and nothing is invented).
      expect(mine.filter((r) => (r.v as number) <= base + committed).length, `run ${run}`).toBe(committed);
      expect(stored.n).toBe(stored.max - base);
      // At most the open batch is lost: the newest stored sample is from the last second or so.
      expect(killedAt - stored.ts, `run ${run}: newest stored sample age`).toBeLessThan(1500);
    } finally {
      db.close();
    }
  }
}, 120_000);
