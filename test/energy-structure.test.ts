import { describe, expect, test } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseYaml } from "../src/config/profile.ts";
import { parseSite, siteUnits } from "../src/config/site.ts";
import { ConfigError } from "../src/config/validation.ts";
import { energySchema, validateEnergy } from "../src/energy/structure.ts";
import { DEMO_SITE } from "../src/embedded.ts";

const profiles = loadProfiles();
const demo = parseYaml(DEMO_SITE, "demo-site.yaml") as Record<string, unknown>;

describe("energy structure", () => {
  test("the demo site: TH40C head, 14 feeders counted, check meters excluded", () => {
    const site = parseSite(demo, profiles);
    const r = validateEnergy(site.energy, siteUnits(site, profiles));
    expect(r.errors).toEqual([]);
    const counted = r.meters.filter((m) => !m.excluded && !m.head).map((m) => m.id);
    expect(counted.length).toBe(14);
    expect(r.meters.filter((m) => m.excluded).map((m) => m.id)).toEqual(["5B1", "CPE-2B6", "CPE-2B11", "CPE-2B12"]);
    expect(r.meters.find((m) => m.head)!.id).toBe("TH40C");
  });

  test("the site file's errors carry their paths", () => {
    const bad = structuredClone(demo) as { energy: { meters: Record<string, unknown>[]; costs: Record<string, unknown>[] } };
    bad.energy.meters[2]!.point = "2B1.nope";
    bad.energy.meters[3]!.circuit = "sauna";
    bad.energy.meters[4]!.zones = ["roof"];
    bad.energy.meters[5]!.parent = "XX";
    bad.energy.meters[6]!.point = "2B1.p_total"; // kW is not a consumption
    bad.energy.meters[7]!.head = true;
    bad.energy.costs[0]!.currency = "CAN";
    try {
      parseSite(bad, profiles);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const paths = (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
      expect(paths).toEqual([
        'energy.meters[2].point: no point "2B1.nope"',
        'energy.meters[3].circuit: no circuit "sauna" (circuits: lighting, hvac, sockets, ev, process, other, storage)',
        'energy.meters[4].zones[0]: no zone "roof"',
        'energy.meters[5].parent: no meter "XX"',
        'energy.meters[6].point: 2B1.p_total is in "kW", not a consumption unit (Wh, kWh, MWh, m³, L)',
        "energy.meters[7].head: two head meters for electricity (also TH40C)",
        "energy.meters[7].parent: the head meter has no parent",
        'energy.costs[0].currency: "CAN" is not an ISO 4217 currency code (e.g. CAD, EUR, USD)',
      ]);
    }
  });

  test("a parent loop is refused", () => {
    const e = energySchema.parse({
      meters: [
        { id: "a", point: "X.e", parent: "b" },
        { id: "b", point: "X.e", parent: "a" },
      ],
    });
    const r = validateEnergy(e, () => ({ unit: "Wh" }));
    expect(r.errors.map((i) => i.path)).toEqual(["energy.meters[0].parent", "energy.meters[1].parent"]);
    expect(r.meters[0]!.factor).toBe(0.001);
  });

  test("water and gas meters in m³ or L; a commodity that contradicts the unit is refused", () => {
    const e = energySchema.parse({
      meters: [
        { id: "w", point: "W.v", commodity: "water" },
        { id: "g", point: "G.v", commodity: "gas" },
        { id: "x", point: "X.v", commodity: "gas" },
      ],
    });
    const r = validateEnergy(e, (p) => ({ unit: p.startsWith("W") ? "L" : p.startsWith("G") ? "m³" : "kWh" }));
    expect(r.errors.map((i) => i.path)).toEqual(["energy.meters[2].commodity"]);
    expect(r.meters.map((m) => [m.commodity, m.factor])).toEqual([["water", 0.001], ["gas", 1], ["electricity", 1]]);
  });
});
