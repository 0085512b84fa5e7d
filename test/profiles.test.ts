/**
 * The shipped device profiles (data/profiles/*.yaml): each parses, says where its map comes from,
 * carries the roles the HMI needs, and has no two tags sharing a register (except masked bits).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { parseProfileYaml, type Profile, type Tag } from "../src/config/profile.ts";
import { encodeRaw, registerCount } from "../src/protocols/modbus/codec.ts";

const DIR = join(import.meta.dirname, "..", "data", "profiles");
const files = readdirSync(DIR)
  .filter((f) => f.endsWith(".yaml"))
  .sort();
// BACnet object maps (`protocol: bacnet`) share the folder; test/bacnet-profile.test.ts covers them.
const texts = new Map(files.map((f) => [f.replace(/\.yaml$/, ""), readFileSync(join(DIR, f), "utf8")] as const).filter(([, t]) => !/^protocol: bacnet$/m.test(t)));
const profiles = new Map<string, Profile>();
for (const [id, text] of texts) profiles.set(id, parseProfileYaml(text, `${id}.yaml`));

const EXPECTED = ["asco-ats", "bess", "generator", "generic", "microgrid", "micrologic-e", "micrologic-p", "pulse-meter", "th40c"];

/** Roles the rest of Busbar knows; a typo in a profile would silently hide a point from the HMI. */
const KNOWN_ROLES = new Set([
  "breaker.closed",
  "breaker.tripped",
  "breaker.command",
  "power.total",
  "energy.total",
  "frequency",
  "voltage.ab",
  "voltage.bc",
  "voltage.ca",
  "voltage.an",
  "voltage.bn",
  "voltage.cn",
  "current.a",
  "current.b",
  "current.c",
  "ats.normal",
  "ats.emergency",
  "ats.command",
  "bess.soc",
  "bess.soh",
  "bess.power",
  "generator.running",
  "generator.command",
  "meter.accumulated",
  "meter.reset",
]);

/** Required roles per profile (and whether the tag must be writable). */
const REQUIRED: Record<string, string[]> = {
  th40c: ["power.total", "energy.total", "voltage.an", "voltage.bn", "voltage.cn", "current.a", "current.b", "current.c"],
  "micrologic-p": [
    "breaker.closed",
    "breaker.tripped",
    "breaker.command",
    "power.total",
    "energy.total",
    "frequency",
    "voltage.ab",
    "voltage.bc",
    "voltage.ca",
    "voltage.an",
    "voltage.bn",
    "voltage.cn",
    "current.a",
    "current.b",
    "current.c",
  ],
  "micrologic-e": ["breaker.closed", "breaker.tripped", "breaker.command", "power.total", "energy.total"],
  "asco-ats": ["ats.normal", "ats.emergency", "power.total", "frequency", "voltage.an", "voltage.ab", "current.a"],
  bess: ["bess.soc", "bess.soh", "bess.power"],
  generator: ["generator.running", "generator.command"],
  "pulse-meter": ["meter.accumulated", "meter.reset"],
};
const WRITABLE_ROLES = new Set(["breaker.command", "ats.command", "generator.command", "meter.reset"]);

const byRole = (p: Profile, role: string): Tag[] => p.tags.filter((t) => t.role === role);
/** Coils and discrete inputs, holding and input registers are four separate address spaces. */
const space = (t: Tag) => t.function;

describe("device profiles", () => {
  it("ships the expected profiles", () => {
    expect([...texts.keys()]).toEqual(EXPECTED);
  });

  describe.each(EXPECTED)("%s", (id) => {
    const p = profiles.get(id)!;
    const text = texts.get(id)!;

    it("parses, and its id is its file name", () => {
      expect(p).toBeDefined();
      expect(p.profile).toBe(id);
    });

    it("starts with a comment header saying where the map comes from", () => {
      const header = text.split("\n").filter((l) => l.startsWith("#"));
      expect(text.startsWith("#")).toBe(true);
      expect(header.join("\n")).toMatch(/seed|Schneider|DOCA|Busbar-defined map — no public map found; the simulator implements it|manual/);
      expect(p.source.length).toBeGreaterThan(10);
    });

    it("has the roles the HMI needs, writable where they are commands", () => {
      for (const role of REQUIRED[id] ?? []) {
        const tags = byRole(p, role);
        expect(tags.length, `role ${role}`).toBe(1);
        if (WRITABLE_ROLES.has(role)) expect(tags[0]!.writable, `${role} writable`).toBe(true);
      }
      for (const t of p.tags) if (t.role) expect(KNOWN_ROLES.has(t.role), `unknown role ${t.role} on ${t.id}`).toBe(true);
      for (const t of p.tags) if (t.role && WRITABLE_ROLES.has(t.role)) expect(t.writable, `${t.id} writable`).toBe(true);
    });

    it("breaker states: closed = 1, tripped = 1", () => {
      for (const t of byRole(p, "breaker.closed")) expect(t.states?.["1"]).toBe("CLOSED");
      for (const t of byRole(p, "breaker.tripped")) expect(t.states?.["1"]).toBe("TRIPPED");
    });

    it("tag ids are snake_case, labels English + French, digital tags name their states", () => {
      for (const t of p.tags) {
        expect(t.id, t.id).toMatch(/^[a-z][a-z0-9_]*$/);
        expect(t.labelFr, `${t.id} labelFr`).toBeTruthy();
        if (t.kind === "digital") expect(t.states, `${t.id} states`).toBeDefined();
      }
    });

    it("units are from the agreed set", () => {
      const units = new Set(["", "V", "A", "kW", "kWh", "Hz", "%", "°C", "kvar", "kVA", "kvarh"]);
      for (const t of p.tags) expect(units.has(t.unit), `${t.id}: ${t.unit}`).toBe(true);
    });

    it("every tag fits in one read and its type encodes", () => {
      for (const t of p.tags) {
        expect(registerCount(t), t.id).toBeLessThanOrEqual(p.maxRegistersPerRead);
        expect(t.address + registerCount(t), t.id).toBeLessThanOrEqual(65536);
        const sample = t.type === "text" ? "" : t.type.startsWith("dt") ? Date.UTC(2024, 0, 1) : 0;
        expect(encodeRaw(sample, t).length, t.id).toBe(registerCount(t) * 2);
      }
    });

    it("no two tags overlap in registers unless one is a masked bit of the other", () => {
      const tags = p.tags;
      for (let i = 0; i < tags.length; i++)
        for (let j = i + 1; j < tags.length; j++) {
          const a = tags[i]!;
          const b = tags[j]!;
          if (space(a) !== space(b)) continue;
          const overlap = a.address < b.address + registerCount(b) && b.address < a.address + registerCount(a);
          if (!overlap) continue;
          const maskedBitOfSameRegister =
            a.address === b.address && registerCount(a) === 1 && registerCount(b) === 1 && (a.mask !== undefined || b.mask !== undefined);
          expect(maskedBitOfSameRegister, `${a.id} overlaps ${b.id}`).toBe(true);
        }
    });
  });

  it("the TH40C map has the manual's addresses and the time-set tag", () => {
    const p = profiles.get("th40c")!;
    const at = (id: string) => p.tags.find((t) => t.id === id)!;
    expect(at("energy_import").address).toBe(0x8010);
    expect(at("energy_export").address).toBe(0x8020);
    expect(at("v_an").address).toBe(0xa612);
    expect(at("i_a").address).toBe(0xa622);
    expect(at("p_total").address).toBe(0xa630);
    expect(at("pf_total").address).toBe(0xa650);
    expect(at("clock_year").address).toBe(0x1040);
    const ts = at("time_set");
    expect([ts.address, ts.write, ts.type, ts.order, ts.poll]).toEqual([0x7000, 16, "dt96", "DCBA", false]);
    expect(p.serial).toEqual({ baud: 9600, parity: "none", stopBits: 1 });
  });

  it("Schneider profiles use register numbers (addressBase 1): status 32001 is 0x7D00 on the wire", () => {
    for (const id of ["micrologic-p", "micrologic-e"]) {
      const p = profiles.get(id)!;
      expect(p.addressBase).toBe(1);
      const closed = byRole(p, "breaker.closed")[0]!;
      expect([closed.address, closed.mask]).toEqual([0x7d00, 0x0001]);
      expect(byRole(p, "breaker.tripped")[0]!.mask).toBe(0x0006);
      expect(byRole(p, "power.total")[0]!.address).toBe(32077);
    }
  });
});
