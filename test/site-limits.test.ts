import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseYaml } from "../src/config/profile.ts";
import { ConfigError } from "../src/config/validation.ts";

/**
 * Issue 9 item 11: hostile site files and profiles. Each is refused quickly with exit code 2 and a
 * path or a line:column, never a stack trace: alias bombs, unknown time zones, huge files and texts,
 * deep nesting, duplicate keys.
 */
const root = join(import.meta.dirname, "..");
const bun = join(root, "node_modules/.bin/bun");
const dir = mkdtempSync(join(tmpdir(), "busbar-limits-"));

const HEAD = ["site: { name: t, timezone: America/Toronto }", "buses:", "  - { id: gw, kind: modbus-tcp, host: 127.0.0.1 }", "devices:", "  - { id: M, bus: gw, unit: 1, profile: th40c }"];

const BOMB = [
  'a: &a ["x","x","x","x","x","x","x","x","x"]',
  "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]",
  "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]",
  "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]",
  "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]",
  "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]",
];

function checkSite(text: string | Buffer, name: string, extra: string[] = []) {
  const file = join(dir, name);
  writeFileSync(file, text);
  const t0 = performance.now();
  const r = spawnSync(bun, ["src/cli.ts", "check-site", file, ...extra], { cwd: root, encoding: "utf8" });
  return { ...r, ms: performance.now() - t0 };
}

function expectRefused(r: ReturnType<typeof checkSite>, line: string) {
  expect(r.stderr).toContain(line);
  expect(r.status).toBe(2);
  expect(r.stderr).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack trace
  expect(r.stdout).toBe("");
}

describe("site file limits (busbar check-site)", () => {
  it("refuses a YAML alias bomb with the alias's position", () => {
    const r = checkSite(["site: { name: bomb }", "buses: [{ id: gw, kind: modbus-tcp, host: h }]", "x:", ...BOMB.map((l) => "  " + l)].join("\n"), "bomb.yaml");
    expectRefused(r, "line 6:10: alias *b expands further aliases");
  });

  it("refuses an alias to no anchor", () => {
    expectRefused(checkSite([...HEAD, "  - { id: N, bus: gw, unit: 2, profile: *th }"].join("\n"), "alias.yaml"), "line 6:41: alias *th names no anchor before it");
  });

  it("refuses an unknown time zone and accepts real ones", () => {
    const mars = checkSite(HEAD.join("\n").replace("America/Toronto", "Mars/Olympus_Mons"), "mars.yaml");
    expectRefused(mars, "site.timezone: must be an IANA time zone such as America/Toronto or Europe/Paris");
    for (const zone of ["Europe/Paris", "UTC", "Asia/Kolkata"]) {
      const ok = checkSite(HEAD.join("\n").replace("America/Toronto", zone), "zone.yaml");
      expect(ok.stderr).toBe("");
      expect(ok.status).toBe(0);
    }
  });

  it("refuses a 50 MB label at once, from the file's size", () => {
    const big = Buffer.alloc(50 * 1024 * 1024, "x");
    const text = Buffer.concat([Buffer.from(HEAD.join("\n") + ", label: "), big, Buffer.from("\n")]);
    const r = checkSite(text, "huge.yaml");
    expectRefused(r, "(file): is 50.0 MiB; a configuration file may be at most 1.0 MiB");
    expect(r.ms).toBeLessThan(3000); // was accepted after 4.7 s; a loaded machine needs the margin
  });

  it("refuses an over-long text with its path", () => {
    const r = checkSite([...HEAD.slice(0, -1), `  - { id: M, bus: gw, unit: 1, profile: th40c, label: "${"é".repeat(3000)}" }`].join("\n"), "long.yaml");
    expectRefused(r, "devices[0].label: is 3000 characters long; at most 2000");
  });

  it("refuses deep nesting quickly, flow and block", () => {
    const flow = checkSite([...HEAD, "x: " + "[".repeat(500_000)].join("\n"), "deep.yaml");
    expectRefused(flow, "line 6:68: is nested more than 64 levels deep");
    expect(flow.ms).toBeLessThan(3000);
    const block = checkSite([...HEAD, "x:", "- ".repeat(300) + "1"].join("\n"), "block.yaml");
    expectRefused(block, "line 7:1: is nested more than 64 levels deep");
  });

  it("refuses duplicate keys instead of keeping the last", () => {
    expectRefused(checkSite([...HEAD, "site: { name: again }"].join("\n"), "dupe.yaml"), 'line 6:1: duplicate key "site"');
  });

  it("applies the same limits to a site's own profiles (--profiles)", () => {
    const pdir = join(dir, "profiles");
    mkdirSync(pdir, { recursive: true });
    writeFileSync(join(pdir, "bomb.yaml"), ["profile: bomb", "name: b", "source: test", ...BOMB, "tags: [{ id: a, label: a, address: 0 }]"].join("\n"));
    writeFileSync(join(pdir, "big.yaml"), Buffer.alloc(2 * 1024 * 1024, " "));
    const r = checkSite(HEAD.join("\n"), "site.yaml", ["--profiles", pdir]);
    expectRefused(r, `${join(pdir, "bomb.yaml")}: line 6:8: alias *b expands further aliases`);
    expect(r.stderr).toContain(`${join(pdir, "big.yaml")}: (file): is 2.0 MiB; a configuration file may be at most 1.0 MiB`);
    const missing = checkSite(HEAD.join("\n"), "site.yaml", ["--profiles", join(dir, "nope")]);
    expectRefused(missing, "(folder): cannot read the profiles folder");
  });
});

describe("parseYaml", () => {
  const issues = (text: string) => {
    try {
      parseYaml(text, "t");
    } catch (e) {
      if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
      throw e;
    }
    return [];
  };

  it("keeps anchors and aliases that expand little, and quoted brackets", () => {
    expect(issues("a: &x { timeoutMs: 500 }\nb: *x\nc: '" + "[".repeat(200) + "'\nd: \"{{{{\"\n# [[[[[\n")).toEqual([]);
    expect(parseYaml("a: &x { t: 5 }\nb: *x\n", "t")).toEqual({ a: { t: 5 }, b: { t: 5 } });
  });

  it("is not fooled by a quote inside a plain scalar", () => {
    const t0 = performance.now();
    expect(issues("a: b 'c\nx: " + "[".repeat(200_000))).toEqual(["line 2:68: is nested more than 64 levels deep"]);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("lists at most 20 syntax errors", () => {
    const list = issues(Array.from({ length: 100 }, () => "a: [b\n").join(""));
    expect(list.length).toBeLessThanOrEqual(21);
  });
});
