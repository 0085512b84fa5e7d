import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { Glob } from "bun";
import { describe, expect, it } from "vitest";

/**
 * The tree's structure (issue 15 §1): no import cycles, pure protocol code that takes its own
 * options, a point core that knows no driver. Type-only imports count: they tie modules together
 * just as much for a reader and for the next refactor.
 */

const root = join(import.meta.dirname, "..");
const files = [...new Glob("src/**/*.{ts,tsx}").scanSync(root)].filter((f) => !f.startsWith("src/generated/"));

function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*"(\.{1,2}\/[^"]+)"/g)) {
    out.push(relative(root, resolve(root, dirname(file), m[1]!)));
  }
  return out;
}

const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => files.includes(t))]));

/** Strongly connected components with more than one module (Tarjan). */
function cycles(): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const f of files) if (!idx.has(f)) visit(f);
  return out;
}

const importers = (from: string, to: (target: string) => boolean) =>
  files.filter((f) => f.startsWith(from)).flatMap((f) => graph.get(f)!.filter(to).map((t) => `${f} → ${t}`));

describe("source layout", () => {
  it("has no import cycles", () => {
    expect(cycles()).toEqual([]);
  });

  it("keeps protocol code free of the site file's types", () => {
    expect(importers("src/protocols/", (t) => t.startsWith("src/config/site"))).toEqual([]);
  });

  it("keeps the point core free of any driver or protocol", () => {
    expect(importers("src/points/", (t) => t.startsWith("src/drivers/") || t.startsWith("src/protocols/") || t === "src/config/profile.ts")).toEqual([]);
  });

  it("keeps the neutral worker protocol and supervisor free of Modbus", () => {
    const modbus = (t: string) => t.startsWith("src/drivers/modbus/") || t.startsWith("src/protocols/") || t.startsWith("src/gateway/") || t === "src/config/profile.ts";
    expect([...importers("src/drivers/protocol.ts", modbus), ...importers("src/drivers/supervisor.ts", modbus)]).toEqual([]);
  });

  it("keeps thread entry points in src/workers, imported by nobody (a worker is started by its URL)", () => {
    expect(importers("src/", (t) => t.startsWith("src/workers/"))).toEqual([]);
    const entries = files.filter((f) => f.startsWith("src/workers/"));
    expect(entries.length).toBeGreaterThanOrEqual(3);
    for (const f of entries) expect(readFileSync(join(root, f), "utf8"), f).toMatch(/self\.onmessage|parentPort|export default/);
  });
});
