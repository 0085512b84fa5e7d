/**
 * The BACnet server's object model without sockets: the site point list's defaults, stable
 * instances across site edits and restarts, Database_Revision, the persisted command state, quality
 * → Status_Flags/Reliability/Event_State, properties and their errors, and the EDE file set.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ErrorCode, EventState, ObjectType, PropertyIdentifier as P, Reliability } from "@bacnet-js/client";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseYaml } from "../src/config/profile.ts";
import { parseSite, type Site } from "../src/config/site.ts";
import { ConfigError } from "../src/config/validation.ts";
import { openDatabase } from "../src/db/database.ts";
import { DEMO_SITE } from "../src/embedded.ts";
import { buildRegistry } from "../src/drivers/index.ts";
import { siteComputedPoints } from "../src/server/runtime.ts";
import { Quality } from "../src/points/quality.ts";
import { buildObjectSet, healthOf, type ObjectSet } from "../src/bacnet-server/objects.ts";
import { BacnetStore, commandedValue } from "../src/bacnet-server/store.ts";
import { PropertyReader, utcOffsetAndDst } from "../src/bacnet-server/properties.ts";
import * as enc from "../src/bacnet-server/encode.ts";
import { edeFiles, zip } from "../src/bacnet-server/ede.ts";

const profiles = loadProfiles();
const demoRaw = () => parseYaml(DEMO_SITE, "demo") as Record<string, any>;
const site = (edit?: (raw: Record<string, any>) => void): Site => {
  const raw = demoRaw();
  edit?.(raw);
  return parseSite(raw, profiles, "demo");
};
/** The registry as the runtime builds it: the drivers' points and the site's computed ones (MICROGRID.*, ENERGY.*). */
const registryOf = (s: Site) => buildRegistry(s, siteComputedPoints(s));
const tmpDb = () => join(mkdtempSync(join(tmpdir(), "busbar-bacnet-objects-")), "b.db");

function build(s: Site, dbPath: string): { set: ObjectSet; store: BacnetStore; rev: number; close: () => void } {
  const db = openDatabase(dbPath);
  const store = new BacnetStore(db.sqlite);
  const set = buildObjectSet(s, registryOf(s), s.bacnetServer!, store);
  const rev = store.databaseRevision(set.objects.map((o) => `${o.type}:${o.instance}:${o.name}`).join(","));
  return { set, store, rev, close: () => db.close() };
}

describe("objects from the site point list", () => {
  it("generates the point list's objects with readable unique names, units and state texts", () => {
    const { set, close } = build(site(), tmpDb());
    const names = set.objects.map((o) => o.name);
    expect(new Set(names).size).toBe(names.length);
    const by = (d: string) => set.objects.filter((o) => o.point.device === d);
    expect(by("5B1")).toHaveLength(17);
    for (const f of ["2B1", "2B2", "2B3", "2B4", "2B5", "2B6", "2B7", "2B8", "2B9", "2B10", "2B11", "2B12", "2B13", "4B1"])
      expect(by(f).map((o) => o.name)).toEqual([`${f}.P_total`, `${f}.Energy_import`, `${f}.Closed`]);
    expect(by("ATS")).toHaveLength(19);
    for (const m of ["CPE-2B6", "CPE-2B11", "CPE-2B12"]) expect(by(m).map((o) => o.point.name)).toEqual(["accumulated", "last_reset", "units_code", "reset"]);
    // The point list's microgrid block (16): Busbar's controller (src/microgrid) and the energy module's monthly
    // consumption, plus the controller's GDP request.
    expect(by("MICROGRID").map((o) => o.name).slice(0, 5)).toEqual(["MICROGRID.Shed_setpoint", "MICROGRID.Shed_request", "MICROGRID.Kw_instant", "MICROGRID.Kw_avg_15min", "MICROGRID.Gdp_request"]);
    // And what the controller decides from them, read-only for the BMS (issue 12): the staged signal,
    // its second stage, the row, the setpoint in force, the kW's source, block demand, GDP event, battery.
    expect(by("MICROGRID").map((o) => o.point.name).slice(5)).toEqual(["shed_signal", "shed_stage2", "shed_stage", "setpoint_active", "kw_source", "demand_block", "demand_block_projected", "demand_block_last", "gdp_active", "bess_command", "bess_interlock"]);
    expect(set.byName.get("MICROGRID.Shed_signal")!.type).toBe(ObjectType.ANALOG_INPUT);
    expect(set.byName.get("MICROGRID.Kw_source")!.states.map((s) => s.text)).toEqual(["5B1", "TH40C"]);
    expect(set.byName.get("MICROGRID.Bess_interlock")!.type).toBe(ObjectType.MULTI_STATE_INPUT);
    expect(by("ENERGY")).toHaveLength(12);
    expect(by("TH40C")).toHaveLength(0); // not in the point list
    const p = set.byName.get("5B1.P_total")!;
    expect(p.type).toBe(ObjectType.ANALOG_INPUT);
    expect(p.units).toBe(48); // kilowatts
    expect(p.description).toBe("Puissance active totale");
    const closed = set.byName.get("2B1.Closed")!;
    expect(closed.type).toBe(ObjectType.BINARY_INPUT);
    expect(closed.states.map((s) => s.text)).toEqual(["OPEN", "CLOSED"]);
    const gen = set.byName.get("GEN.State")!;
    expect(gen.type).toBe(ObjectType.MULTI_STATE_INPUT);
    expect(gen.states.map((s) => s.text)).toEqual(["OFF", "AUTO STANDBY", "STARTING", "RUNNING", "COOLDOWN", "FAULT"]);
    // Only the list's "/Lecture-Écriture" points are writable.
    expect(set.objects.filter((o) => o.writable).map((o) => o.name).sort()).toEqual(
      ["CPE-2B11.Reset", "CPE-2B12.Reset", "CPE-2B6.Reset", "GEN.Gdp_request", "MICROGRID.Gdp_request", "MICROGRID.Shed_setpoint"].sort(),
    );
    const sp = set.byName.get("MICROGRID.Shed_setpoint")!;
    expect([sp.type, sp.commandable, sp.command!.relinquishDefault, sp.min, sp.max]).toEqual([ObjectType.ANALOG_VALUE, true, 250, 0, 5000]);
    expect(set.byName.get("CPE-2B6.Reset")!.momentary).toBe(true);
    close();
  });

  it("keeps every instance when the site is edited, never reuses a retired one, and bumps Database_Revision", () => {
    const db = tmpDb();
    const first = build(site(), db);
    const inst = new Map(first.set.objects.map((o) => [o.key, o.instance]));
    first.close();

    // Same site again: same numbers, same revision.
    const again = build(site(), db);
    expect(again.rev).toBe(first.rev);
    again.close();

    // Feeder 2B1 removed from the site, an object added, one renamed, one asking for a taken instance.
    const edited = build(
      site((raw) => {
        raw.devices = raw.devices.filter((d: { id: string }) => d.id !== "2B1");
        raw.topology.breakers = raw.topology.breakers.filter((b: { id: string }) => b.id !== "2B1");
        if (raw.energy) raw.energy.meters = raw.energy.meters.filter((m: { id: string }) => m.id !== "2B1");
        raw.bacnetServer.objects = [
          { point: "TH40C.p_total", description: "Compteur d'entrée" },
          { point: "5B1.v_ab", name: "MAIN.VAB", instance: 99 },
          { point: "2B2.p_total", remove: true },
        ];
      }),
      db,
    );
    for (const o of edited.set.objects) if (inst.has(o.key)) expect(o.instance, o.key).toBe(inst.get(o.key));
    expect(edited.set.byName.get("MAIN.VAB")!.instance).toBe(inst.get("AI:5B1.v_ab"));
    expect(edited.set.warnings.join("\n")).toMatch(/keeps instance .* \(asked 99\)/);
    const added = edited.set.byName.get("TH40C.P_total")!;
    const usedBefore = [...first.set.objects].filter((o) => o.type === ObjectType.ANALOG_INPUT).map((o) => o.instance);
    expect(usedBefore).not.toContain(added.instance);
    expect(edited.rev).toBe(first.rev + 1);
    expect(edited.set.byName.has("2B2.P_total")).toBe(false);
    edited.close();

    // 2B1 comes back: its old numbers, not new ones.
    const back = build(site(), db);
    for (const o of back.set.objects) expect(o.instance, o.key).toBe(inst.get(o.key));
    expect(back.rev).toBe(first.rev + 2);
    back.close();
  });

  it("persists a commandable object's priority array and Relinquish_Default across restarts", () => {
    const db = tmpDb();
    const a = build(site(), db);
    const sp = a.set.byName.get("MICROGRID.Shed_setpoint")!;
    sp.command!.priorities[7] = 310;
    sp.command!.relinquishDefault = 260;
    a.store.saveCommand(sp.key, sp.command!);
    a.close();
    const b = build(site(), db);
    const c = b.set.byName.get("MICROGRID.Shed_setpoint")!.command!;
    expect(commandedValue(c)).toEqual({ value: 310, priority: 8 });
    expect(c.relinquishDefault).toBe(260);
    b.close();
  });

  it("overrides name the BACnet client's points (the UPS) and computed points; what does not fit is refused with its path", () => {
    const s = site((raw) => {
      raw.bacnetServer.objects = [
        { point: "UPS.ups_output_kw", name: "ASI.P_sortie", description: "Puissance de sortie ASI", covIncrement: 0.5 },
        { point: "UPS.ups_status_unit_1_operating", name: "ASI.Unite1" }, // a bit of a bit-string value
        { point: "UPS.unit_status", type: "multi-state-value" },
        { point: "UPS.battery_status", remove: true },
        { point: "MICROGRID.shed_setpoint", description: "Consigne de délestage (Régulvar)", max: 1000 },
        { point: "ENERGY.consumption_jan", name: "Conso.Janvier" },
      ];
    });
    const { set, close } = build(s, tmpDb());
    expect(set.warnings).toEqual([]);
    const kw = set.byName.get("ASI.P_sortie")!;
    expect([kw.point.id, kw.point.owner.driver, kw.description, kw.covIncrement, kw.type]).toEqual(["UPS.ups_output_kw", "bacnet", "Puissance de sortie ASI", 0.5, ObjectType.ANALOG_INPUT]);
    expect(set.byName.get("ASI.Unite1")!.type).toBe(ObjectType.BINARY_INPUT);
    expect(set.byName.get("UPS.Unit_status")!.type).toBe(ObjectType.MULTI_STATE_VALUE);
    expect(set.objects.some((o) => o.point.id === "UPS.battery_status")).toBe(false);
    expect(set.byName.has("UPS.Ups_output_kw")).toBe(false); // renamed, not doubled
    const sp = set.byName.get("MICROGRID.Shed_setpoint")!;
    expect([sp.description, sp.max, sp.commandable]).toEqual(["Consigne de délestage (Régulvar)", 1000, true]);
    expect(set.byName.get("Conso.Janvier")!.point.id).toBe("ENERGY.consumption_jan");
    close();

    const refused = (objects: object[]) => {
      try {
        site((raw) => (raw.bacnetServer.objects = objects));
      } catch (e) {
        return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
      }
      return [];
    };
    expect(
      refused([
        { point: "UPS.ups_output_kw", writable: true },
        { point: "UPS.ups_output_v1", type: "binary-input" },
        { point: "UPS.nope" },
        { point: "MICROGRID.nope" },
        { point: "MICROGRID.shed_setpoint", type: "analog-input", writable: true },
        { point: "UPS.ups_status_unit_2_operating", type: "datetime-value" },
      ]),
    ).toEqual([
      "bacnetServer.objects[0].writable: tag ups_output_kw of profile socomec-ups is read-only: the BMS cannot write it",
      "bacnetServer.objects[1].type: tag ups_output_v1 of profile socomec-ups can be served as analog-input or analog-value, not binary-input",
      'bacnetServer.objects[2].point: profile socomec-ups has no tag "nope"',
      'bacnetServer.objects[3].point: MICROGRID has no computed point "nope"',
      "bacnetServer.objects[4].type: analog-input cannot be written: use analog-value",
      "bacnetServer.objects[5].type: tag ups_status_unit_2_operating of profile socomec-ups can be served as binary-input or binary-value or multi-state-input or multi-state-value, not datetime-value",
    ]);
  });

  it("rejects bacnetServer.objects naming what does not exist", () => {
    expect(() =>
      site((raw) => {
        raw.bacnetServer.objects = [{ point: "NOPE.x" }, { point: "5B1.nope" }, { point: "5B1.v_ab" }, { point: "5B1.v_ab" }];
      }),
    ).toThrow(ConfigError);
    try {
      site((raw) => (raw.bacnetServer.objects = [{ point: "NOPE.x" }, { point: "5B1.nope" }]));
    } catch (e) {
      expect((e as ConfigError).issues.map((i) => i.path)).toEqual(["bacnetServer.objects[0].point", "bacnetServer.objects[1].point"]);
    }
  });
});

describe("health and properties", () => {
  const s = site();
  const { set, close } = build(s, tmpDb());
  afterAll(close);
  const p = set.byName.get("5B1.Frequency")!;

  it("maps quality and alarms to Status_Flags, Reliability and Event_State", () => {
    const h = (q: number, v = 60, alarm?: "high" | "low" | "state") => {
      const x = healthOf(p, q, v, alarm);
      return [x.inAlarm, x.fault, x.overridden, x.reliability, x.eventState];
    };
    expect(h(Quality.GOOD)).toEqual([false, false, false, Reliability.NO_FAULT_DETECTED, EventState.NORMAL]);
    expect(h(Quality.COMM_FAIL)).toEqual([true, true, false, Reliability.COMMUNICATION_FAILURE, EventState.FAULT]);
    expect(h(Quality.STALE)).toEqual([true, true, false, Reliability.COMMUNICATION_FAILURE, EventState.FAULT]);
    expect(h(Quality.BAD_DATA)).toEqual([true, true, false, Reliability.UNRELIABLE_OTHER, EventState.FAULT]);
    expect(h(Quality.OUT_OF_RANGE, 80)).toEqual([true, true, false, Reliability.OVER_RANGE, EventState.FAULT]);
    expect(h(Quality.OUT_OF_RANGE, 20)).toEqual([true, true, false, Reliability.UNDER_RANGE, EventState.FAULT]);
    expect(h(Quality.NOT_AVAILABLE)).toEqual([true, true, false, Reliability.NO_SENSOR, EventState.FAULT]);
    expect(h(Quality.INIT)).toEqual([true, true, false, Reliability.UNRELIABLE_OTHER, EventState.FAULT]);
    expect(h(Quality.MANUAL)).toEqual([false, false, true, Reliability.NO_FAULT_DETECTED, EventState.NORMAL]);
    expect(h(Quality.GOOD, 61.5, "high")).toEqual([true, false, false, Reliability.NO_FAULT_DETECTED, EventState.HIGH_LIMIT]);
    expect(h(Quality.GOOD, 58, "low")).toEqual([true, false, false, Reliability.NO_FAULT_DETECTED, EventState.LOW_LIMIT]);
    const oos = { ...p, outOfService: true };
    expect(healthOf(oos, Quality.GOOD, 60, undefined).outOfService).toBe(true);
  });

  it("answers properties, arrays by index and the standard's errors", () => {
    const live = { value: 60.02, quality: Quality.GOOD as number };
    const reader = new PropertyReader(
      set,
      { instance: 7, name: "B", location: "", description: "", vendorId: 65535, modelName: "Busbar", firmware: "0", timezone: "America/Toronto", apduTimeoutMs: 3000, apduRetries: 3, databaseRevision: () => 4, systemStatus: () => 0, covSubscriptions: () => [] },
      { read: () => ({ ...live, ts: Date.now() }), alarm: () => undefined },
    );
    expect(reader.read(p, P.PRESENT_VALUE, undefined)).toEqual({ values: [{ type: 4, value: 60.02 }] });
    expect(reader.read(p, P.PRESENT_VALUE, 1)).toEqual({ error: [2, ErrorCode.PROPERTY_IS_NOT_AN_ARRAY] });
    expect(reader.read(p, P.PRIORITY_ARRAY, undefined)).toEqual({ error: [2, ErrorCode.UNKNOWN_PROPERTY] });
    expect(reader.read("device", P.OBJECT_LIST, 0)).toEqual({ values: [{ type: 2, value: set.objects.length + 1 }] });
    expect(reader.read("device", P.OBJECT_LIST, set.objects.length + 2)).toEqual({ error: [2, ErrorCode.INVALID_ARRAY_INDEX] });
    expect(reader.read("device", P.DATABASE_REVISION, undefined)).toEqual({ values: [{ type: 2, value: 4 }] });
    // A comm-failed value is NaN beside FAULT, never a plausible number.
    live.value = NaN;
    live.quality = Quality.COMM_FAIL;
    expect((reader.read(p, P.PRESENT_VALUE, undefined) as { values: { value: number }[] }).values[0]!.value).toBeNaN();
    const required = reader.propertyIds("device", P.REQUIRED);
    for (const x of [P.OBJECT_LIST, P.PROTOCOL_SERVICES_SUPPORTED, P.PROTOCOL_OBJECT_TYPES_SUPPORTED, P.MAX_APDU_LENGTH_ACCEPTED, P.SEGMENTATION_SUPPORTED, P.DATABASE_REVISION, P.SYSTEM_STATUS, P.APDU_TIMEOUT, P.NUMBER_OF_APDU_RETRIES])
      expect(required).toContain(x);
    expect(reader.propertyIds("device", P.OPTIONAL)).toEqual(expect.arrayContaining([P.LOCAL_DATE, P.LOCAL_TIME, P.UTC_OFFSET, P.DAYLIGHT_SAVINGS_STATUS, P.LOCATION, P.DESCRIPTION]));
  });

  it("writes Present_Value and Status_Flags straight into the reply with the generic path's octets, for every object in every quality", () => {
    const sample = { value: 0, quality: Quality.GOOD as number, ts: 0 };
    let alarm: "high" | "low" | "state" | undefined;
    const reader = new PropertyReader(
      set,
      { instance: 7, name: "B", location: "", description: "", vendorId: 65535, modelName: "Busbar", firmware: "0", timezone: "America/Toronto", apduTimeoutMs: 3000, apduRetries: 3, databaseRevision: () => 4, systemStatus: () => 0, covSubscriptions: () => [] },
      { read: () => ({ ...sample, ts: Date.now() }), alarm: () => alarm },
    );
    const hotTypes = new Set<number>([ObjectType.ANALOG_INPUT, ObjectType.ANALOG_VALUE, ObjectType.BINARY_INPUT, ObjectType.BINARY_VALUE, ObjectType.MULTI_STATE_INPUT, ObjectType.MULTI_STATE_VALUE]);
    const missed = new Set<string>();
    const hot = new Set<string>();
    for (const o of set.objects)
      for (const quality of Object.values(Quality))
        for (const value of [NaN, 0, 1, 2, 3, 60.02, -1e6])
          for (const a of [undefined, "high", "low", "state"] as const)
            for (const prop of [P.PRESENT_VALUE, P.STATUS_FLAGS]) {
              Object.assign(sample, { value, quality });
              alarm = a;
              const generic = reader.read(o, prop, undefined);
              if (!("values" in generic)) throw new Error(`${o.name} ${prop}: ${JSON.stringify(generic)}`);
              const want = Buffer.from(enc.readPropertyAck(undefined, 9, 1476, o, prop, undefined, generic.values)!);
              const b = enc.startReadPropertyAck(undefined, 9, o, prop, undefined);
              if (!reader.writeHot(b, o, prop)) {
                if (!o.command && !o.momentary && hotTypes.has(o.type)) missed.add(o.name);
                continue;
              }
              hot.add(o.name);
              expect(Buffer.from(enc.finishReadPropertyAck(1476)!).toString("hex"), `${o.name} prop ${prop} q ${quality} v ${value} ${a}`).toBe(want.toString("hex"));
            }
    // Every input and value Busbar does not command takes it; commandable and momentary ones do not.
    expect([...missed]).toEqual([]);
    expect(hot.size).toBeGreaterThan(200);
    expect(set.objects.filter((o) => (o.command || o.momentary) && hot.has(o.name))).toEqual([]);
  });

  it("gives UTC_Offset (west positive, standard time) and the DST status of the site's zone", () => {
    expect(utcOffsetAndDst("America/Toronto", Date.UTC(2026, 0, 15, 12))).toEqual({ utcOffset: 300, dst: false });
    expect(utcOffsetAndDst("America/Toronto", Date.UTC(2026, 6, 15, 12))).toEqual({ utcOffset: 300, dst: true });
    expect(utcOffsetAndDst("Europe/Paris", Date.UTC(2026, 6, 15, 12))).toEqual({ utcOffset: -60, dst: true });
    expect(utcOffsetAndDst("UTC", Date.UTC(2026, 6, 15, 12))).toEqual({ utcOffset: 0, dst: false });
  });

  it("exports the EDE file set: data points, state texts, object types, units", () => {
    const { files } = edeFiles({ instance: 4001, name: "Busbar-Demo", project: s.site.name }, set.objects, new Date(Date.UTC(2026, 11, 1)));
    const names = Object.keys(files);
    expect(names.map((n) => n.replace(/^.*?_(EDE|StateTexts|ObjTypes|Units)\.csv$/, "$1"))).toEqual(["EDE", "StateTexts", "ObjTypes", "Units"]);
    const ede = files[names[0]!]!.replace(/^\ufeff/, "").split("\r\n");
    expect(ede[0]).toBe("#Engineering-Data-Exchange - B.I.G.-EU");
    expect(ede).toContain("VERSION_OF_LAYOUT;2.3");
    const rows = ede.filter((l) => l && !l.startsWith("#") && !/^[A-Z_]+;/.test(l));
    expect(rows).toHaveLength(set.objects.length + 1);
    const sp = rows.find((r) => r.startsWith("MICROGRID.Shed_setpoint;"))!.split(";");
    const o = set.byName.get("MICROGRID.Shed_setpoint")!;
    expect(sp.slice(0, 11)).toEqual(["MICROGRID.Shed_setpoint", "4001", "MICROGRID.Shed_setpoint", "2", String(o.instance), "Consigne de délestage active", "250", "0", "5000", "Y", "Y"]);
    expect(sp[14]).toBe("48");
    const closed = rows.find((r) => r.startsWith("2B1.Closed;"))!.split(";");
    const states = files[names[1]!]!.split("\r\n");
    expect(states).toContain(`${closed[13]};OPEN;CLOSED`);
    expect(files[names[2]!]).toContain("3;Binary Input");
    expect(files[names[3]!]).toContain("48;kilowatts");
    // The ZIP: one stored entry per file, readable by unzip.
    const z = zip(files);
    expect(new DataView(z.buffer).getUint32(0, true)).toBe(0x04034b50);
    expect(Buffer.from(z).toString("latin1")).toContain(names[0]!);
  });
});


describe("commands across a restart", () => {
  it("writes a held BMS command again when the device answers with another value, and flags a local override", async () => {
    const { BacnetServer } = await import("../src/bacnet-server/server.ts");
    const { BmsWrites } = await import("../src/bacnet-server/writes.ts");
    const s = site();
    const dbPath = tmpDb();
    // Before the restart: the BMS holds 310 kW at priority 8.
    const first = build(s, dbPath);
    const sp = first.set.byName.get("MICROGRID.Shed_setpoint")!;
    sp.command!.priorities[7] = 310;
    first.store.saveCommand(sp.key, sp.command!);
    first.close();

    const db = openDatabase(dbPath);
    const registry = registryOf(s);
    const values = new Map<number, number>();
    let listener: ((b: readonly number[]) => void) | undefined;
    const live = {
      read: (i: number) => ({ value: values.get(i) ?? NaN, quality: values.has(i) ? Quality.GOOD : Quality.INIT, ts: Date.now() }),
      alarm: () => undefined,
      subscribe: (fn: (b: readonly number[]) => void) => ((listener = fn), () => {}),
    };
    const relayed: [string, number][] = [];
    const writes = new BmsWrites(async (p, v) => (relayed.push([p.id, v]), { ok: true, ms: 1 }), db.journal, "fr");
    const server = new BacnetServer({ site: s, config: { ...s.bacnetServer!, interface: "lo" }, registry, store: new BacnetStore(db.sqlite), live, writes, version: "t", port: 0 });
    await server.start();
    try {
      const o = server.set.byName.get("MICROGRID.Shed_setpoint")!;
      // The controller came back on its own default.
      values.set(o.point.index, 250);
      listener!([o.point.index]);
      await waitUntil(() => relayed.length > 0);
      expect(relayed).toEqual([["MICROGRID.shed_setpoint", 310]]);
      const row = db.sqlite.query("SELECT actor FROM events WHERE type = 'point.write' AND source = 'MICROGRID.shed_setpoint'").get() as { actor: string };
      expect(row.actor).toBe("bacnet restore p8");
      // Only once.
      listener!([o.point.index]);
      await new Promise((r) => setTimeout(r, 20));
      expect(relayed).toHaveLength(1);
      // The device now holds 310: no override. Someone sets 280 at the panel: OVERRIDDEN once the grace is over.
      values.set(o.point.index, 310);
      expect(server.reader.health(o).overridden).toBe(false);
      values.set(o.point.index, 280);
      o.relayedAt = 0; // Busbar's own write long past
      expect(server.reader.health(o).overridden).toBe(true);
    } finally {
      server.stop();
      db.close();
    }
  });
});

async function waitUntil(f: () => boolean, ms = 2000): Promise<void> {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("the UPS and a BBMD", () => {
  it("re-exposes every readable point of the UPS source's device, whichever driver polls it", () => {
    const s = site();
    const { set, close } = build(s, tmpDb());
    const registry = registryOf(s);
    const upsDevice = s.topology.sources.find((x) => x.kind === "ups")!.device!;
    const readable = registry.byDevice.get(upsDevice)!.filter((p) => p.readable);
    expect(readable.length).toBeGreaterThan(10);
    expect(readable[0]!.owner.driver).toBe("bacnet");
    expect(set.objects.filter((o) => o.point.device === upsDevice).map((o) => o.point.id)).toEqual(readable.map((p) => p.id));
    // Without a UPS in the topology, none of them.
    const without = build(site((raw) => (raw.topology.sources = raw.topology.sources.filter((x: { kind: string }) => x.kind !== "ups"))), tmpDb());
    expect(without.set.objects.some((o) => o.point.device === upsDevice)).toBe(false);
    without.close();
    close();
  });

  it("registers as a foreign device with the BBMD and sends its broadcasts through it", async () => {
    const { BacnetServer } = await import("../src/bacnet-server/server.ts");
    const { BmsWrites } = await import("../src/bacnet-server/writes.ts");
    // A stand-in BBMD (no BBMD peer is built here): records what Busbar sends it.
    const got: Buffer[] = [];
    const bbmd = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, m) => void got.push(Buffer.from(m)) } });
    const s = site();
    const db = openDatabase(":memory:");
    const live = { read: () => ({ value: 1, quality: Quality.GOOD as number, ts: Date.now() }), alarm: () => undefined, subscribe: () => () => {} };
    const server = new BacnetServer({
      site: s,
      config: { ...s.bacnetServer!, interface: "lo", bbmd: { host: "127.0.0.1", port: bbmd.port, ttlSeconds: 30 } },
      registry: registryOf(s),
      store: new BacnetStore(db.sqlite),
      live,
      writes: new BmsWrites(async () => ({ ok: true, ms: 0 }), db.journal, "fr"),
      version: "t",
      port: 0,
    });
    await server.start();
    try {
      await waitUntil(() => got.length >= 2);
      // Register-Foreign-Device with its TTL (J.5.2.1), then the start-up I-Am as Distribute-Broadcast-To-Network.
      expect([...got[0]!]).toEqual([0x81, 0x05, 0x00, 0x06, 0x00, 30]);
      expect([got[1]![0], got[1]![1]]).toEqual([0x81, 0x09]);
      expect(got[1]![got[1]!.length - 13]).toBe(0xc4); // the I-Am: device id, max APDU, segmentation, vendor 65535
      expect([...got[1]!.subarray(-3)]).toEqual([0x22, 0xff, 0xff]);
      // The BBMD's BVLC-Result (success) is recorded.
      const udp = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
      udp.send(Buffer.from([0x81, 0x00, 0x00, 0x06, 0x00, 0x00]), server.local.port, "127.0.0.1");
      await waitUntil(() => server.foreignRegistration !== undefined);
      expect(server.foreignRegistration!.result).toBe(0);
      udp.close();
    } finally {
      server.stop();
      bbmd.close();
      db.close();
    }
  });
});

describe("duplicate requests", () => {
  it("a WriteProperty resent with the same invoke id while the device is written is written once, answered once", async () => {
    const { BacnetServer } = await import("../src/bacnet-server/server.ts");
    const { BmsWrites } = await import("../src/bacnet-server/writes.ts");
    const s = site();
    const db = openDatabase(":memory:");
    const live = { read: () => ({ value: 250, quality: Quality.GOOD as number, ts: Date.now() }), alarm: () => undefined, subscribe: () => () => {} };
    let relays = 0;
    // A device that takes 1 s to answer: the resend below arrives well within it, however loaded the machine.
    const slow = async () => (relays++, await new Promise((r) => setTimeout(r, 1000)), { ok: true, ms: 1000 });
    const server = new BacnetServer({ site: s, config: { ...s.bacnetServer!, interface: "lo", writeClients: ["127.0.0.1"] }, registry: registryOf(s), store: new BacnetStore(db.sqlite), live, writes: new BmsWrites(slow, db.journal, "fr"), version: "t", port: 0 });
    await server.start();
    const got: Buffer[] = [];
    const c = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, m) => void got.push(Buffer.from(m)) } });
    try {
      const sp = server.set.byName.get("MICROGRID.Shed_setpoint")!;
      const oid = (sp.type * 0x400000 + sp.instance) >>> 0;
      // 81 0a len | 01 04 | 00 05 invoke=9 0f | 0c oid | 19 55 | 3e 44 <300.0f> 3f | 49 08
      const wp = Buffer.from([0x81, 0x0a, 0x00, 0x1a, 0x01, 0x04, 0x00, 0x05, 0x09, 0x0f, 0x0c, oid >>> 24, (oid >>> 16) & 0xff, (oid >>> 8) & 0xff, oid & 0xff, 0x19, 0x55, 0x3e, 0x44, 0x43, 0x96, 0x00, 0x00, 0x3f, 0x49, 0x08]);
      c.send(wp, server.local.port, "127.0.0.1");
      await waitUntil(() => relays === 1, 3000);
      c.send(wp, server.local.port, "127.0.0.1");
      await waitUntil(() => got.length >= 1, 5000);
      await new Promise((r) => setTimeout(r, 300));
      expect(relays).toBe(1);
      expect(got.map((m) => [m[6], m[7], m[8]])).toEqual([[0x20, 9, 0x0f]]); // one Simple-ACK
      expect(commandedValue(sp.command!)).toEqual({ value: 300, priority: 8 });
    } finally {
      c.close();
      server.stop();
      db.close();
    }
  });
});

describe("System_Status", () => {
  it("is OPERATIONAL while every bus answers and NON_OPERATIONAL when a whole bus is silent", async () => {
    const { BacnetServer } = await import("../src/bacnet-server/server.ts");
    const { BmsWrites } = await import("../src/bacnet-server/writes.ts");
    const s = site();
    const db = openDatabase(":memory:");
    const registry = registryOf(s);
    let silentBus: string | undefined;
    const live = {
      read: (i: number) => ({ value: 1, quality: registry.points[i]!.owner.bus === silentBus ? Quality.COMM_FAIL : i % 5 === 0 ? Quality.COMM_FAIL : Quality.GOOD, ts: Date.now() }),
      alarm: () => undefined,
      subscribe: () => () => {},
    };
    const server = new BacnetServer({ site: s, config: s.bacnetServer!, registry, store: new BacnetStore(db.sqlite), live, writes: new BmsWrites(async () => ({ ok: true, ms: 0 }), db.journal, "fr"), version: "t" });
    const status = () => (server.reader.read("device", P.SYSTEM_STATUS, undefined) as { values: { value: number }[] }).values[0]!.value;
    expect(status()).toBe(0); // operational: some devices failing is each object's FAULT, not the device's
    silentBus = "gw-energy";
    (server as unknown as { systemStatusCache: { at: number } }).systemStatusCache.at = 0;
    expect(status()).toBe(4); // non-operational
    db.close();
  });
});

describe("a subscriber that is gone", () => {
  it("notifications to a closed port (ICMP unreachable) never throw; the server keeps answering", async () => {
    const { BacnetServer } = await import("../src/bacnet-server/server.ts");
    const { BmsWrites } = await import("../src/bacnet-server/writes.ts");
    const s = site();
    const db = openDatabase(":memory:");
    let v = 0;
    const live = { read: () => ({ value: v, quality: Quality.GOOD as number, ts: Date.now() }), alarm: () => undefined, subscribe: () => () => {} };
    const logs: string[] = [];
    const server = new BacnetServer({ site: s, config: { ...s.bacnetServer!, interface: "lo" }, registry: registryOf(s), store: new BacnetStore(db.sqlite), live, writes: new BmsWrites(async () => ({ ok: true, ms: 0 }), db.journal, "fr"), version: "t", port: 0, log: (_l, m) => logs.push(m) });
    await server.start();
    const errors: unknown[] = [];
    const onErr = (e: unknown) => errors.push(e);
    process.on("uncaughtException", onErr);
    try {
      const o = server.set.objects[0]!;
      // A subscriber on a port nobody listens on any more.
      const gone = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
      const port = gone.port;
      gone.close();
      server.covs.subscribe({ address: "127.0.0.1", port }, undefined, { processId: 1, object: { type: o.type, instance: o.instance }, cancel: false, confirmed: false, lifetime: 60 }, o);
      for (let i = 0; i < 20; i++) {
        v = i * 10;
        server.covs.onObjectChanged(o);
        await new Promise((r) => setTimeout(r, 5));
      }
      await new Promise((r) => setTimeout(r, 100));
      expect(errors).toEqual([]);
      // Still answering.
      const got: Buffer[] = [];
      const c = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, m) => void got.push(Buffer.from(m)) } });
      const dev = s.bacnetServer!.instance;
      const oid = (8 * 0x400000 + dev) >>> 0;
      c.send(Buffer.from([0x81, 0x0a, 0x00, 0x11, 0x01, 0x04, 0x00, 0x05, 0x01, 0x0c, 0x0c, oid >>> 24, (oid >>> 16) & 0xff, (oid >>> 8) & 0xff, oid & 0xff, 0x19, 0x4d]), server.local.port, "127.0.0.1");
      await waitUntil(() => got.length > 0, 3000);
      expect(got[0]![6]).toBe(0x30);
      c.close();
    } finally {
      process.off("uncaughtException", onErr);
      server.stop();
      db.close();
    }
  });
});
