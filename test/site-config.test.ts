import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { parseYaml } from "../src/config/profile.ts";
import { ConfigError } from "../src/config/validation.ts";
import { DEMO_SITE } from "../src/embedded.ts";

const profiles = loadProfiles();
const root = join(import.meta.dirname, "..");
const bun = join(root, "node_modules/.bin/bun");

function issuesOf(doc: unknown): string[] {
  try {
    parseSite(doc, profiles, "t.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  return [];
}

const bus = { id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: 502 };

describe("site file validation", () => {
  it("accepts the demo site", () => {
    const site = parseSite(parseYaml(DEMO_SITE, "demo"), profiles, "demo");
    expect(site.devices).toHaveLength(23);
    expect(site.devices.find((d) => d.id === "UPS")).toMatchObject({ bus: "bacnet", instance: 1338, profile: "socomec-ups", cov: "confirmed" });
    expect(site.topology.breakers.map((b) => b.id)).toContain("2B13");
  });

  it("lists every shape error with its path", () => {
    const issues = issuesOf({
      site: { name: "x" },
      buses: [bus, { id: "b2", kind: "modbus-tcp", host: "h", port: 70000 }],
      devices: [
        { id: "A", bus: "gw", unit: 1, profile: "th40c" },
        { id: "B", bus: "gw", unit: 2, profile: "th40c" },
        { id: "C", bus: "gw", unit: 3, profile: "th40c" },
        { id: "D", bus: "gw", unit: 300, profile: "th40c", pollMs: "fast" },
      ],
    });
    expect(issues).toContain("buses[1].port: must be 1..65535");
    expect(issues).toContain("devices[3].unit: must be 0..255");
    expect(issues.some((i) => i.startsWith("devices[3].pollMs:"))).toBe(true);
    expect(issues.length).toBeGreaterThanOrEqual(3);
  });

  it("says unit 0 and 248 must be 1..247 on a serial bus", () => {
    const rtu = { id: "rs", kind: "modbus-rtu", port: "/dev/ttyUSB0" };
    expect(issuesOf({ site: { name: "x" }, buses: [rtu], devices: [{ id: "A", bus: "rs", unit: 248, profile: "th40c" }, { id: "B", bus: "rs", unit: 0, profile: "th40c" }] })).toEqual([
      "devices[0].unit: must be 1..247 on a serial bus (bus rs is modbus-rtu; 0..255 only on modbus-tcp)",
      "devices[1].unit: must be 1..247 on a serial bus (bus rs is modbus-rtu; 0..255 only on modbus-tcp)",
    ]);
  });

  it("lists every reference error: unknown bus, profile, duplicate unit, topology nodes and points", () => {
    const issues = issuesOf({
      site: { name: "x" },
      buses: [bus],
      devices: [
        { id: "A", bus: "nope", unit: 1, profile: "th40c" },
        { id: "B", bus: "gw", unit: 2, profile: "no-such-profile" },
        { id: "C", bus: "gw", unit: 2, profile: "th40c" },
        { id: "C", bus: "gw", unit: 4, profile: "th40c" },
      ],
      topology: {
        busbars: [{ id: "mdp" }],
        breakers: [
          { id: "Q1", from: "nowhere", to: "mdp", device: "Z" },
          { id: "Q2", from: "mdp", load: "L", power: "C.no_tag" },
          { id: "Q3", from: "mdp" },
        ],
      },
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        'devices[0].bus: no bus "nope" (buses: gw)',
        expect.stringMatching(/^devices\[1\]\.profile: no profile "no-such-profile" \(known: .*th40c.*\)$/),
        "devices[2].unit: unit 2 is already used on bus gw by B",
        'devices[3].id: duplicate id "C" (also devices[2])',
        'topology.breakers[0].device: no device "Z"',
        'topology.breakers[0].from: no topology node "nowhere"',
        'topology.breakers[1].power: profile th40c has no tag "no_tag"',
        "topology.breakers[2]: needs `to` (a node) or `load` (a feeder's load name)",
      ]),
    );
  });

  it("reports YAML syntax errors with line and column", () => {
    try {
      parseYaml("site:\n  name: x\n buses: [", "bad.yaml");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).issues[0]!.path).toMatch(/^line \d+:\d+$/);
    }
  });
});

describe("busbar check-site (CLI)", () => {
  const dir = mkdtempSync(join(tmpdir(), "busbar-site-"));

  it("exits non-zero listing every error with its path and no stack trace", () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(
      file,
      [
        "site: { name: bad }",
        "buses:",
        "  - { id: gw, kind: modbus-tcp, host: 127.0.0.1, port: 502 }",
        "  - { id: rs, kind: modbus-rtu, port: /dev/ttyUSB0 }",
        "devices:",
        "  - { id: A, bus: gw, unit: 1, profile: th40c }",
        "  - { id: B, bus: gw, unit: 2, profile: th40c }",
        "  - { id: C, bus: gw, unit: 3, profile: th40c }",
        "  - { id: D, bus: rs, unit: 0, profile: th40c }",
        "  - { id: E, bus: gx, unit: 5, profile: th40c }",
      ].join("\n"),
    );
    const r = spawnSync(bun, ["src/cli.ts", "check-site", file], { cwd: root, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("devices[3].unit: must be 1..247");
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
    expect(r.stdout).toBe("");
  });

  it("prints the request plan of each device for a valid file", () => {
    const file = join(dir, "good.yaml");
    writeFileSync(
      file,
      ["site: { name: good }", "buses:", "  - { id: gw, kind: modbus-tcp, host: 127.0.0.1, port: 502 }", "devices:", "  - { id: M, bus: gw, unit: 1, profile: th40c }"].join("\n"),
    );
    const r = spawnSync(bun, ["src/cli.ts", "check-site", file], { cwd: root, encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("OK");
    // The TH40C's instantaneous floats 0xA612..0xA667 fit one read; energies another (slow).
    expect(r.stdout).toMatch(/FC3 holding registers 42514 \(0xA612\) ×86: v_an/);
    expect(r.stdout).toMatch(/\[slow\]/);
  });
});
