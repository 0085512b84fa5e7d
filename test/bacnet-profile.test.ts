import { describe, expect, test } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { ConfigError } from "../src/config/validation.ts";
import { decodePoint, deviceFactorOf, encodeWriteValue } from "../src/protocols/bacnet/decode.ts";
import { classifyFailure } from "../src/protocols/bacnet/objects.ts";
import { parseBacnetProfile, type BacnetPoint } from "../src/protocols/bacnet/profile.ts";
import { initialRpmSize, RpmSizer } from "../src/protocols/bacnet/rpm-size.ts";
import { Quality } from "../src/points/quality.ts";
import { compileAlarms } from "../src/alarms/definitions.ts";
import { buildRegistry } from "../src/drivers/index.ts";
import { parseSite } from "../src/config/site.ts";
import { statesFor } from "../src/hmi/format.ts";

/**
 * The Socomec profile against the seed's tables (socomec-ups-bacnet-interface.fr.md), as values the
 * client library hands over: formats, factor_10 only under Profile_Name factor_10, −1, states, bits.
 */

const profiles = loadProfiles();
const ups = profiles.get("socomec-ups")!.bacnet!;
const pt = (id: string): BacnetPoint => {
  const p = ups.points.find((x) => x.id === id);
  if (!p) throw new Error(`no point ${id}`);
  return p;
};
const REAL = (v: number) => [{ type: 4, value: v }];
const F10 = deviceFactorOf(ups.deviceFactor!, "factor_10");
const NOF = deviceFactorOf(ups.deviceFactor!, "no_factor");

describe("Socomec UPS profile (seed §5.2)", () => {
  test("maps the Device object, AV 0–87, MV 0–9 and every named bit of BSV 0–2", () => {
    expect(ups.vendorId).toBe(591);
    const inst = (t: string) => [...new Set(ups.points.filter((p) => p.objectTypeName === t).map((p) => p.instance))].sort((a, b) => a - b);
    expect(inst("AV")).toEqual(Array.from({ length: 88 }, (_, i) => i));
    expect(inst("MSV")).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(inst("BSV")).toEqual([0, 1, 2]);
    // §6.3.3 names 31 bits b00..b30 of UnitAlarms; §6.3.2 16 of UPSAlarms; §6.3.1 9 of UPSStatus.
    expect(ups.points.filter((p) => p.objectTypeName === "BSV" && p.instance === 2).map((p) => p.bit)).toEqual(Array.from({ length: 31 }, (_, i) => i));
    expect(ups.points.filter((p) => p.instance === 1 && p.objectTypeName === "BSV")).toHaveLength(16);
    expect(pt("unit_alarms_fan_failure")).toMatchObject({ bit: 23, kind: "digital", role: "ups.alarm" });
    expect(pt("ups_output_kva")).toMatchObject({ instance: 1, unit: "kVA", useFactor: true, level: "system" });
    expect(pt("battery_i_pos")).toMatchObject({ instance: 68, unit: "A", useFactor: true, notAvailable: [] });
  });

  test("fixed formats always apply: frequency raw 500 → 50.0 Hz (the seed's example), pf raw 99 → 0.99", () => {
    expect(decodePoint(pt("ups_output_fr"), REAL(500), F10)).toEqual({ value: 50, quality: Quality.GOOD });
    expect(decodePoint(pt("ups_output_fr"), REAL(500), NOF)).toEqual({ value: 50, quality: Quality.GOOD });
    expect(decodePoint(pt("ups_output_pf1"), REAL(99), NOF).value).toBe(0.99);
    expect(decodePoint(pt("ups_output_v1"), REAL(230), F10).value).toBe(230);
    expect(decodePoint(pt("unit_tmp"), REAL(245), F10).value).toBe(24.5);
  });

  test("factor_10 divides exactly the points the seed marks, only when Profile_Name says factor_10", () => {
    expect(F10).toBe(0.1);
    expect(NOF).toBe(1);
    // Absent or N/A Profile_Name: no factor (only touch-screen UPSs announce one).
    expect(deviceFactorOf(ups.deviceFactor!, undefined)).toBe(1);
    expect(deviceFactorOf(ups.deviceFactor!, "N/A")).toBe(1);
    expect(decodePoint(pt("ups_output_kva"), REAL(425), F10).value).toBe(42.5);
    expect(decodePoint(pt("ups_output_kva"), REAL(425), NOF).value).toBe(425);
    expect(decodePoint(pt("battery_ah"), REAL(1000), F10).value).toBe(100);
    expect(decodePoint(pt("ups_output_i1"), REAL(61), F10).value).toBe(61); // UPS_OUTPUT_I1: no factor in the seed
    expect(decodePoint(pt("unit_output_i1"), REAL(61), F10).value).toBe(6.1); // UNIT_OUTPUT_I1: "Oui"
    const marked = ups.points.filter((p) => p.useFactor).map((p) => p.instance);
    expect(marked).toEqual([1, 2, 9, 10, 11, 12, 13, 14, 27, 28, 32, 33, 34, 35, 36, 37, 38, 39, 40, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 71, 82, 83, 84, 85, 86, 87]);
    // Writing back divides the other way.
    expect(encodeWriteValue(pt("ups_output_kva"), 42.5, F10)).toEqual({ type: 4, value: 425 });
  });

  test("−1 is not-available, never −1 on screen; a signed battery current keeps −1", () => {
    for (const id of ["ups_output_kw1", "unit_output_cf", "battery_tmp", "bypass_i2", "ups_output_lr"]) expect(decodePoint(pt(id), REAL(-1), F10)).toEqual({ value: NaN, quality: Quality.NOT_AVAILABLE });
    expect(decodePoint(pt("battery_i_pos"), REAL(-1), NOF)).toEqual({ value: -1, quality: Quality.GOOD });
  });

  test("multi-states carry the seed's texts; a state the device should not send is out-of-range", () => {
    const load = pt("ups_load_status");
    expect(load.states).toEqual({ 1: "ON MAINT. BYPASS", 2: "ON BATTERY", 3: "ON INVERTER", 4: "NORMAL MODE", 5: "ECO MODE", 6: "ON BYPASS", 7: "LOAD OFF" });
    expect(decodePoint(load, [{ type: 2, value: 4 }], F10)).toEqual({ value: 4, quality: Quality.GOOD });
    // DELPHYS ranges leave the UPS-level objects at 0 (seed §6.2.2).
    expect(decodePoint(load, [{ type: 2, value: 0 }], F10).quality).toBe(Quality.OUT_OF_RANGE);
    expect(Object.keys(pt("battery_status").states!)).toHaveLength(10);
  });

  test("bit strings: each bit is its own digital point; a bit the device does not send is not-available", () => {
    // UnitAlarms with OVERLOAD (b01) and FAN FAILURE (b23) set, 31 bits used.
    const bs = [{ type: 8, value: { bitsUsed: 31, value: [0b10, 0, 0b1000_0000, 0] } }];
    expect(decodePoint(pt("unit_alarms_overload"), bs, F10)).toEqual({ value: 1, quality: Quality.GOOD });
    expect(decodePoint(pt("unit_alarms_imminent_stop"), bs, F10)).toEqual({ value: 0, quality: Quality.GOOD });
    expect(decodePoint(pt("unit_alarms_fan_failure"), bs, F10).value).toBe(1);
    expect(decodePoint(pt("unit_alarms_external_input_4"), [{ type: 8, value: { bitsUsed: 16, value: [0, 0] } }], F10).quality).toBe(Quality.NOT_AVAILABLE);
  });

  test("an Error for one property, a wrong datatype and an empty value are never good", () => {
    expect(decodePoint(pt("ups_output_fr"), [{ type: 105, value: { errorClass: 1, errorCode: 31 } }], F10)).toEqual({ value: NaN, quality: Quality.DEVICE_EXCEPTION, text: "object/unknown-object" });
    expect(decodePoint(pt("ups_output_fr"), [{ type: 7, value: "x" }], F10).quality).toBe(Quality.BAD_DATA);
    expect(decodePoint(pt("ups_output_fr"), [], F10).quality).toBe(Quality.BAD_DATA);
    expect(decodePoint(pt("unit_alarms_overload"), REAL(1), F10).quality).toBe(Quality.BAD_DATA);
    expect(decodePoint(pt("ups_output_kva"), REAL(1), undefined).quality).toBe(Quality.BAD_DATA);
  });
});

describe("BACnet profiles: validation", () => {
  const base = { profile: "x", protocol: "bacnet", name: "X", source: "test" };
  test("every mistake is reported with its path", () => {
    try {
      parseBacnetProfile({ ...base, points: [{ id: "a", object: "AV:1", label: "A" }, { id: "a", object: "AV:1", label: "B" }, { id: "b", object: "BSV:0", label: "B" }, { id: "c", object: "XX:1", label: "C" }, { id: "d", object: "AI:0", label: "D", writable: true, useFactor: true }] }, "x.yaml");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const issues = (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
      expect(issues.some((i) => i.startsWith("points[3].object"))).toBe(true);
    }
    try {
      parseBacnetProfile({ ...base, points: [{ id: "a", object: "AV:1", label: "A" }, { id: "a", object: "AV:1", label: "B" }, { id: "b", object: "BSV:0", label: "B" }, { id: "d", object: "AI:0", label: "D", writable: true, useFactor: true }] }, "x.yaml");
      expect.unreachable();
    } catch (e) {
      const paths = (e as ConfigError).issues.map((i) => i.path);
      expect(paths).toEqual(expect.arrayContaining(["points[1].object", "points[1]", "points[2].bits", "points[3].useFactor", "points[3].writable"]));
    }
  });

  test("a site puts BACnet devices on bacnet-ip buses only, with an instance", () => {
    const site = (devices: unknown[]) => () =>
      parseSite({ site: { name: "t" }, buses: [{ id: "bn", kind: "bacnet-ip" }, { id: "tcp", kind: "modbus-tcp", host: "127.0.0.1" }], devices }, profiles, "t");
    expect(site([{ id: "UPS", bus: "bn", instance: 1338, profile: "socomec-ups" }])).not.toThrow();
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`).join("\n");
      }
      return "";
    };
    expect(err(site([{ id: "UPS", bus: "bn", profile: "socomec-ups" }]))).toMatch(/devices\[0\]\.instance: .*instance/);
    expect(err(site([{ id: "UPS", bus: "tcp", unit: 3, profile: "socomec-ups" }]))).toMatch(/devices\[0\]\.profile: .*BACnet object map/);
    expect(err(site([{ id: "M", bus: "bn", instance: 3, profile: "th40c" }]))).toMatch(/devices\[0\]\.profile: .*Modbus register map/);
    expect(err(site([{ id: "M", bus: "tcp", profile: "th40c" }]))).toMatch(/devices\[0\]\.unit: required/);
  });

  test("UPS alarm bits and on-battery / on-bypass / load-off states become alarms by role", () => {
    const s = parseSite({ site: { name: "t" }, buses: [{ id: "bn", kind: "bacnet-ip" }], devices: [{ id: "UPS", bus: "bn", instance: 1, profile: "socomec-ups", label: "ASI" }] }, profiles, "t");
    const defs = compileAlarms(s, buildRegistry(s));
    const byId = new Map(defs.map((d) => [d.id, d]));
    expect(byId.get("UPS.ups_load_status.on_battery")).toMatchObject({ priority: "high", state: 2 });
    expect(byId.get("UPS.ups_load_status.on_bypass")).toMatchObject({ priority: "medium", state: 6 });
    expect(byId.get("UPS.ups_load_status.load_off")).toMatchObject({ priority: "critical", state: 7 });
    expect(byId.get("UPS.unit_alarms_imminent_stop")).toMatchObject({ priority: "critical", state: 1 });
    expect(byId.get("UPS.unit_alarms_fan_failure")).toMatchObject({ priority: "high", state: 1 });
    expect(byId.get("UPS.ups_alarms_redundancy_lost")).toMatchObject({ priority: "high" });
    expect(byId.has("UPS.ups_alarms_ups_overload")).toBe(false); // the unit's OVERLOAD raises it once
    expect(byId.get("UPS.comm-loss")).toBeDefined();
  });

  test("French state texts reach the UPS's points (profile statesFr, else the built-in words) and its alarms", () => {
    const s = parseSite({ site: { name: "t" }, buses: [{ id: "bn", kind: "bacnet-ip" }], devices: [{ id: "UPS", bus: "bn", instance: 1, profile: "socomec-ups", label: "ASI" }] }, profiles, "t");
    const r = buildRegistry(s);
    const battery = r.byId.get("UPS.battery_status")!;
    expect(battery.states?.["7"]).toBe("ALARM");
    expect(statesFor(battery, "fr")?.["7"]).toBe("ALARME BATTERIE");
    expect(statesFor(battery, "en")?.["7"]).toBe("ALARM");
    expect(statesFor(r.byId.get("UPS.ups_load_status")!, "fr")?.["2"]).toBe("SUR BATTERIE");
    // A bit point has only OFF/ON: the built-in French words.
    const bit = r.points.find((p) => p.device === "UPS" && p.kind === "digital")!;
    expect(statesFor(bit, "fr")).toEqual({ "0": "ARRÊT", "1": "MARCHE" });
    const onBattery = compileAlarms(s, r).find((d) => d.id === "UPS.ups_load_status.on_battery")!;
    expect(onBattery.stateNameFr).toBe("SUR BATTERIE");
  });

  test("multi-units: a unit without the system level has no UPS_* points", () => {
    const s = parseSite({ site: { name: "t" }, buses: [{ id: "bn", kind: "bacnet-ip" }], devices: [{ id: "U1", bus: "bn", instance: 1, profile: "socomec-ups" }, { id: "U2", bus: "bn", instance: 2, profile: "socomec-ups", systemLevel: false }] }, profiles, "t");
    const r = buildRegistry(s);
    expect(r.byId.has("U1.ups_output_kva")).toBe(true);
    expect(r.byId.has("U2.ups_output_kva")).toBe(false);
    expect(r.byId.has("U2.unit_output_kva")).toBe(true);
    expect(r.byId.has("U2.ups_load_status")).toBe(false);
  });
});

describe("RPM sizing", () => {
  test("starts from max APDU and segmentation, halves on refusal, gives up at one", () => {
    expect(initialRpmSize(1476, false)).toBe(91);
    expect(initialRpmSize(480, false)).toBe(29);
    expect(initialRpmSize(206, false)).toBe(12);
    expect(initialRpmSize(50, false)).toBe(2);
    expect(initialRpmSize(480, true)).toBe(52);
    const s = new RpmSizer(1476, false);
    expect(s.shrink(91, "abort")).toBe(true);
    expect(s.size).toBe(45);
    s.shrink(45, "abort");
    expect(s.size).toBe(22);
    s.shrink(2, "abort");
    expect(s.size).toBe(1);
    expect(s.shrink(1, "reject unrecognized-service")).toBe(false);
    expect(s.useRpm).toBe(false);
  });

  test("the library's errors become a clear reason", () => {
    expect(classifyFailure(new Error("BacnetError - Class:1 - Code:31"))).toMatchObject({ kind: "error", text: "object/unknown-object" });
    expect(classifyFailure(new Error("BacnetAbort - Reason:4"))).toMatchObject({ kind: "abort-or-reject", text: "abort segmentation-not-supported / reject invalid-tag" });
    expect(classifyFailure(new Error("ERR_TIMEOUT"))).toMatchObject({ kind: "timeout" });
    expect(classifyFailure(new Error("INVALID_DECODING"))).toMatchObject({ kind: "bad-reply" });
  });
});

describe("generated inputs", () => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const pick = <T,>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const junk = (): unknown => pick<unknown>([undefined, null, 0, -1, 1.5, NaN, "", "x", "AV:1", "ZZ:9", [], {}, [1, 2], { a: 1 }, true, 1e12, "present-value", -0]);

  test("a mangled profile is a ConfigError with paths, never another exception", () => {
    const good = { profile: "x", protocol: "bacnet", name: "X", source: "s", deviceFactor: { property: "profile-name", values: { f: 0.1 } }, points: [{ id: "a", object: "AV:1", label: "A", useFactor: true }, { id: "b", object: "BSV:0", label: "B", bits: [{ bit: 0, id: "z", label: "Z" }] }] };
    for (let i = 0; i < 2000; i++) {
      const doc = structuredClone(good) as any;
      for (let k = 0; k < 3; k++) {
        const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Object.isFrozen(x);
        const targets = [doc, doc.points?.[0], doc.points?.[1], doc.points?.[1]?.bits?.[0], doc.deviceFactor].filter(isObj);
        const target = pick(targets);
        target[pick(Object.keys(target).concat(["extra", "bit", "states", "decimals"]))] = junk();
      }
      try {
        parseBacnetProfile(doc, "fuzz");
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect((e as ConfigError).issues.length).toBeGreaterThan(0);
      }
    }
  });

  test("any decoded value gives a number and a quality, never a throw and never good NaN", () => {
    const points = ups.points;
    for (let i = 0; i < 20_000; i++) {
      const p = pick(points);
      const v = pick<unknown>([undefined, [], [{ type: Math.floor(rnd() * 120), value: junk() }], [{ type: 8, value: { bitsUsed: Math.floor(rnd() * 40), value: [Math.floor(rnd() * 256)] } }], [{ type: 8, value: junk() }], [{ type: 105, value: junk() }], [{ type: 4, value: rnd() * 2000 - 1000 }]]);
      const d = decodePoint(p, v as any, pick([undefined, 0.1, 1]));
      expect(typeof d.value).toBe("number");
      if (d.quality === Quality.GOOD) expect(Number.isFinite(d.value)).toBe(true);
    }
  });
});
