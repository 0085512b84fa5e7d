import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseProfile, type Profile } from "../src/config/profile.ts";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { parseYaml } from "../src/config/yaml.ts";
import { importEnlogic } from "../src/enlogic/import.ts";
import { decodeRaw } from "../src/protocols/modbus/codec.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { TimeSyncRunner, timeSyncSpec, type TimeSyncBus } from "../src/drivers/modbus/timesync.ts";
import { startPyModbus, waitFor, type PyModbusServer } from "./helpers/peers.ts";

/**
 * Issue 9 item 17: an EnLogic map whose TagProperties default is a word swap (endian 2, as the seed's
 * mb-SATEC.io). Its text ("direct sequence", RT_TXT_DIR) and RT_DT96 clock keep their own byte
 * sequence (seed Table 6), the time sync reads the map's clock tag before writing, and the module's
 * unit, KU and KI reach the profile and the site stub. Then the imported profile is polled from
 * Debian's pymodbus by the real bus worker, and its clock is set through it.
 */
const io = (opts: { clock?: boolean; ku?: number; ki?: number } = {}) =>
  new TextEncoder().encode(`<?xml version="1.0" encoding="UTF-8"?>
<IO>
  <Module Id="42">
    <Name>ENL meter</Name>
    <Protocol>Modbus</Protocol>
    <Properties>
      <Prop Id="1" Name="Адрес модуля" Type="BYTE" Init="7"/>
      <Prop Id="4" Name="Доп.свойства" Type="BYTE" Init="3"/>
      <Prop Id="6" Name="Период синхронизации" Type="BYTE" Init="60"/>
      <Prop Id="7" Name="KU" Type="WORD" Init="${opts.ku ?? 100}"/>
      <Prop Id="8" Name="KI" Type="WORD" Init="${opts.ki ?? 5}"/>
    </Properties>
    <TagProperties>
      <Prop IdStr="Adr" Name="Адрес модбас" Type="WORD" Init="1"/>
      <Prop IdStr="Func" Name="Код функции" Type="BYTE" Init="3"/>
      <Prop IdStr="DataType" Name="Тип данных" Type="BYTE" Init="21"/>
      <Prop IdStr="K" Name="Коэффициент" Type="FLOAT" Init="1"/>
      <Prop IdStr="msk" Name="Маска" Type="WORD" Init="0xFFFF"/>
      <Prop IdStr="mn" Name="Тип множителя" Type="BYTE" Init="0"/>
      <Prop IdStr="endian" Name="Порядок следования" Type="BYTE" Init="2"/>
    </TagProperties>
    <TagTree>
      <Tag Name="Serial" Type="SI" Adr="0x0100" DataType="42" msk="16" Descr="Заводской номер"/>
      <Tag Name="Model" Type="SI" Adr="0x0110" DataType="42" msk="4" endian="1"/>
${opts.clock === false ? "" : '      <Tag Name="DT" Type="DTI" Adr="0x1100" DataType="44"/>\n'}      <Tag Name="wDT" Type="DTO" Adr="0x1100" DataType="44" Func="0x10"/>
      <Tag Name="U" Type="AIF" Adr="0x0200" DataType="23" mn="1" Measure="В"/>
      <Tag Name="I" Type="AII" Adr="0x0202" DataType="20" mn="2" K="0.001" Measure="А"/>
    </TagTree>
  </Module>
</IO>
`);

const T = Date.UTC(2020, 6, 5, 15, 10, 40); // 2020-07-05 15:10:40
/** RT_DT96 as stored: sec, min, hour, day, month, year (two digits), one byte each. */
const DT96 = [40, 10, 15, 5, 7, 20];
const words = (bytes: number[]) => Array.from({ length: bytes.length / 2 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
/** A 32-bit value low word first: the map's default endian 2. */
const swapped32 = (hi: number, lo: number) => [lo, hi];
const f32words = (x: number) => {
  const d = new DataView(new ArrayBuffer(4));
  d.setFloat32(0, x);
  return [d.getUint16(0), d.getUint16(2)];
};

describe("EnLogic import with a word-swap default", () => {
  const r = importEnlogic(io(), "enl.io");
  const m = r.modules[0]!;
  const p: Profile = parseProfile(m.profile);
  const tag = (id: string) => p.tags.find((t) => t.id === id)!;
  const bytesOf = (w: number[]) => Uint8Array.from(w.flatMap((x) => [x >> 8, x & 0xff]));

  it("reads a direct-sequence text as stored: ENL-0123456789AB, not AB8967452301L-EN", () => {
    expect(tag("Serial")).toMatchObject({ type: "text", length: 16, order: "ABCD" });
    expect(decodeRaw(bytesOf(words(ascii("ENL-0123456789AB"))), 0, tag("Serial"))).toBe("ENL-0123456789AB");
    expect(r.issues.find((i) => /Serial: the TagProperties default endian 2 is not applied/.test(i.message))).toBeDefined();
    // An endian written on the tag itself still applies.
    expect(tag("Model")).toMatchObject({ order: "BADC" });
    expect(decodeRaw(Uint8Array.of(0x4e, 0x45, 0x2d, 0x4c), 0, tag("Model"))).toBe("ENL-");
  });

  it("reads the RT_DT96 clock as stored, and numbers with the default word swap", () => {
    expect(tag("DT")).toMatchObject({ type: "dt96", order: "ABCD" });
    expect(decodeRaw(Uint8Array.from(DT96), 0, tag("DT"))).toBe(T);
    expect(tag("I")).toMatchObject({ type: "int32", order: "CDAB", multiplier: "KI", scale: 0.001 });
    expect(decodeRaw(bytesOf(swapped32(0, 1234)), 0, tag("I"))).toBe(1234);
  });

  it("links the map's clock tag to the time sync", () => {
    expect(p.timeSync).toMatchObject({ tag: "wDT", clock: "DT", periodMin: 60 });
  });

  it("carries KU/KI into the profile and the site stub, and says so loudly", () => {
    expect(p.multipliers).toEqual({ ku: 100, ki: 5 });
    expect(m.siteStub).toBe("- { id: ENL_meter, bus: BUS, unit: 7, profile: enl-meter, ku: 100, ki: 5 }");
    expect(m.yaml).toContain(`#   ${m.siteStub}`);
    const warnings = r.issues.filter((i) => i.level === "warning").map((i) => i.message);
    expect(warnings).toContainEqual(expect.stringMatching(/^KU = 100 \(1 tag\(s\) use it\): written as the profile's default `multipliers.ku`/));
    expect(warnings).toContainEqual(expect.stringMatching(/^KI = 5 \(1 tag\(s\) use it\)/));
    // The YAML loads; a device that does not say takes the profile's multipliers, one that does keeps its own.
    const loaded = parseProfile(parseYaml(m.yaml, "enl-meter.yaml"), "enl-meter.yaml");
    expect(loaded.multipliers).toEqual({ ku: 100, ki: 5 });
    const profiles = new Map([...loadProfiles(), ["enl-meter", loaded]]);
    const site = parseSite(
      {
        site: { name: "x" },
        buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1" }],
        devices: [
          { id: "A", bus: "gw", unit: 7, profile: "enl-meter" },
          { id: "B", bus: "gw", unit: 8, profile: "enl-meter", ku: 1, ki: 1 },
          { id: "C", bus: "gw", unit: 9, profile: "th40c" },
        ],
      },
      profiles,
    );
    expect(site.devices.map((d) => [d.id, d.ku, d.ki])).toEqual([["A", 100, 5], ["B", 1, 1], ["C", 1, 1]]);
  });

  it("writes no time sync when the map has no clock to read, and says why", () => {
    const noClock = importEnlogic(io({ clock: false }), "enl.io");
    expect(noClock.modules[0]!.profile.timeSync).toBeUndefined();
    expect(noClock.issues.find((i) => i.level === "warning" && /no readable date-time input \(DTI\).*never sets a clock it cannot read first/.test(i.message))).toBeDefined();
  });

  it("warns when tags use KU/KI and the map leaves them at 1", () => {
    const ones = importEnlogic(io({ ku: 1, ki: 1 }), "enl.io");
    expect(ones.modules[0]!.profile.multipliers).toBeUndefined();
    expect(ones.issues.find((i) => i.level === "warning" && /2 tag\(s\) use KU\/KI \(mn\) but the map gives KU = KI = 1/.test(i.message))).toBeDefined();
  });
});

describe("time sync without a clock", () => {
  it("never writes: an old profile without a clock gets an event instead", async () => {
    const imported = importEnlogic(io(), "enl.io").modules[0]!.profile;
    const p = parseProfile(imported);
    const spec = { ...timeSyncSpec(p)!, clock: null, clockParts: null };
    const events: string[] = [];
    let writes = 0;
    const bus: TimeSyncBus = {
      read: async () => new Uint8Array(6),
      writeRegisters: async () => void writes++,
      wireMs: () => 0,
      isFailed: () => false,
      event: (e) => events.push(e.kind),
      synced: () => {},
    };
    const runner = new TimeSyncRunner([{ device: "A", unit: 7, spec }], "UTC", {}, 0);
    await runner.runDue(bus, Date.now() + 10_000);
    expect(writes).toBe(0);
    expect(events).toEqual(["timesync.no-clock"]);
    expect(runner.nextDue()).toBe(Infinity);
  });
});

describe("the imported profile against pymodbus", () => {
  let server: PyModbusServer;
  let busbar: Busbar;
  const point = (id: string) => busbar.live.value(busbar.registry.byId.get(id)!);

  beforeAll(async () => {
    const m = importEnlogic(io(), "enl.io").modules[0]!;
    const profile = parseProfile(parseYaml(m.yaml, "enl-meter.yaml"), "enl-meter.yaml");
    const hr: Record<number, number> = {};
    // pymodbus' sparse block refuses reads over holes: the planner reads Serial and Model at once.
    for (let a = 0x100; a < 0x114; a++) hr[a] = 0;
    words(ascii("ENL-0123456789AB")).forEach((w, i) => (hr[0x100 + i] = w));
    words(ascii("ENL-")).forEach((w, i) => (hr[0x110 + i] = ((w & 0xff) << 8) | (w >> 8)));
    words(DT96).forEach((w, i) => (hr[0x1100 + i] = w));
    const [uh, ul] = f32words(2.305); // 2.305 V on the secondary × KU 100
    hr[0x200] = ul!;
    hr[0x201] = uh!;
    hr[0x202] = 1234; // 1.234 A × KI 5, low word first
    hr[0x203] = 0;
    server = await startPyModbus({ 7: { hr } });
    const site = parseSite(
      {
        site: { name: "enl" },
        buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: server.port, timeoutMs: 500 }],
        devices: [{ id: "ENL", bus: "gw", unit: 7, profile: "enl-meter", pollMs: 300, slowPollMs: 300 }],
      },
      new Map([...loadProfiles(), ["enl-meter", profile]]),
    );
    busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
  });

  afterAll(async () => {
    await busbar?.stop();
    await server?.stop();
  });

  it("reads the text, the clock and the multiplied values right", async () => {
    // Text values reach the main thread beside the point table, so wait for them, not only for quality.
    await waitFor("ENL values", () => ["ENL.Serial", "ENL.Model", "ENL.DT", "ENL.U", "ENL.I"].every((id) => point(id).quality === "good" && point(id).value !== null), 10_000).catch((e) => {
      throw new Error(`${e.message}: ${JSON.stringify(["Serial", "Model", "DT", "U", "I"].map((t) => point(`ENL.${t}`)))} ${JSON.stringify(busbar.supervisor.stats())}`);
    });
    expect(point("ENL.Serial").value).toBe("ENL-0123456789AB");
    expect(point("ENL.Model").value).toBe("ENL-");
    expect(Math.abs((point("ENL.U").value as number) - 230.5)).toBeLessThan(0.01);
    expect(point("ENL.I").value).toBeCloseTo(6.17, 6);
  });

  it("sets the clock after reading it: the device then shows the time it was given", async () => {
    const clockNow = () => point("ENL.DT").value as number;
    // The clock read 2020 before; the first setting runs 5 s after start, once it has been read.
    await waitFor("clock set", () => point("ENL.DT").quality === "good" && Math.abs(clockNow() - Date.now()) < 5000, 15_000, 200);
  }, 20_000);
});

describe("EnLogic import: what the fuzzer found (test/fuzz)", () => {
  const oneLine = (tags: string) =>
    new TextEncoder().encode(
      `<IO><Module Id="1"><Name>M</Name><Protocol>Modbus</Protocol><Properties><Prop Id="6" Init="10"/></Properties><TagProperties><Prop IdStr="Adr" Init="1"/><Prop IdStr="DataType" Init="21"/></TagProperties><TagTree>${tags}</TagTree></Module></IO>`,
    );

  it("links the time sync by tag, when every tag is on one line", () => {
    const r = importEnlogic(oneLine('<Tag Name="DT" Type="DTI" Adr="0x1100" DataType="44"/><Tag Name="wDT" Type="DTO" Adr="0x1100" DataType="44" Func="0x10"/><Tag Name="In" Type="DI" Adr="0x33" msk="0x4"/>'), "one.io");
    expect(r.modules[0]!.profile.timeSync).toMatchObject({ tag: "wDT", clock: "DT" });
    parseProfile(r.modules[0]!.profile);
  });

  it("reports a character reference that is no character, instead of throwing", () => {
    for (const ref of ["&#99999999;", "&#xD800;", "&#0;"]) {
      const r = importEnlogic(oneLine(`<Tag Name="U${ref}" Type="AIF" Adr="1"/>`), "ref.io");
      expect(r.modules).toEqual([]);
      expect(r.issues[0]).toMatchObject({ line: 1, level: "error" });
      expect(r.issues[0]!.message).toContain(`character reference ${ref} is not a character`);
    }
  });

  it("keeps a tag name with a line break inside the YAML's comments", () => {
    const r = importEnlogic(oneLine('<Tag Name="S&#10;vc" Type="DI" Adr="1" Func="0"/><Tag Name="U" Type="AIF" Adr="2"/>'), "nl.io");
    const m = r.modules[0]!;
    expect(m.yaml).toContain('#   "S\\nvc" (Adr 1)');
    expect(parseProfile(parseYaml(m.yaml, "nl.yaml"), "nl.yaml").tags.map((t) => t.id)).toEqual(["U"]);
  });

  it("never returns a profile that fails validation: a bad time sync is left out and said", () => {
    // The only date-time output is written with FC6 (one register) though RT_DT96 needs three.
    const r = importEnlogic(oneLine('<Tag Name="DT" Type="DTI" Adr="0x10" DataType="44"/><Tag Name="wDT" Type="DTO" Adr="0x10" DataType="44" Func="6"/>'), "bad.io");
    for (const m of r.modules) parseProfile(m.profile);
  });
});
