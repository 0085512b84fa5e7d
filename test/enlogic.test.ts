import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseProfile, type Profile } from "../src/config/profile.ts";
import { loadProfiles } from "../src/config/profiles.ts";
import { importEnlogic, identifier } from "../src/enlogic/import.ts";
import { decodeRaw } from "../src/protocols/modbus/codec.ts";

/**
 * EnLogic .io import: the seed's mb-SATEC.io fragment and a map written for Busbar covering every
 * DataType of the seed's Table 6 and the four endian variants (test/fixtures/enlogic/, Windows-1251).
 * Every imported tag is checked by decoding a byte vector built here from the seed's definitions.
 */

const FIX = join(import.meta.dirname, "fixtures/enlogic");
const load = (f: string) => readFileSync(join(FIX, f));
const text = (f: string) => new TextDecoder("windows-1251").decode(load(f));

/** EnLogic endian applied to a value's big-endian bytes: 1 swaps the bytes of each word, 2 reverses the words. */
function wire(be: number[], endian = 0): Uint8Array {
  let words: number[][] = [];
  for (let i = 0; i < be.length; i += 2) words.push([be[i]!, be[i + 1] ?? 0]);
  if (endian & 1) words = words.map(([a, b]) => [b!, a!]);
  if (endian & 2) words.reverse();
  return Uint8Array.from(words.flat());
}
const be = (n: bigint, bytes: number) => Array.from({ length: bytes }, (_, i) => Number((n >> BigInt(8 * (bytes - 1 - i))) & 0xffn));
const f32 = (x: number) => {
  const d = new DataView(new ArrayBuffer(4));
  d.setFloat32(0, x);
  return [0, 1, 2, 3].map((i) => d.getUint8(i));
};
const ascii = (s: string, n: number) => Array.from({ length: n }, (_, i) => s.charCodeAt(i) || 0);

const T = Date.UTC(2020, 6, 5, 15, 10, 40); // 2020-07-05 15:10:40 UTC
const SEC = BigInt(T / 1000);

/** Tag → [wire bytes, expected raw value]. */
const VECTORS: Record<string, [Uint8Array, number | string]> = {
  INT16: [wire([0xff, 0xfe]), -2],
  UINT16: [wire([0x12, 0x34]), 0x1234],
  HEX16: [wire([0xbe, 0xef]), 0xbeef],
  UINT16_LE: [Uint8Array.of(0x34, 0x12), 0x1234], // "reversed" 16-bit: low byte first
  UINT16_XY: [wire([0x14, 0x06]), 2006], // the seed's own example: 0x1406 = 2006
  UINT16_1: [wire([0x00, 0x07]), 7],
  S16: [wire([0x80, 0x00]), -32768],
  S160: [wire([0x80, 0x01]), 1], // 8000h offset: 0x8000 = 0
  INT32: [wire([0xff, 0xff, 0xff, 0xfe]), -2],
  UINT32: [wire([0x00, 0x01, 0x00, 0x00]), 65536],
  HEX32: [wire([0xde, 0xad, 0xbe, 0xef]), 0xdeadbeef],
  FLOAT32: [wire(f32(230.5)), 230.5],
  IIIF: [wire([0x00, 0x00, 0x01, 0x80]), 1.5], // III + F/256
  S32: [wire([0x80, 0, 0, 0]), -2147483648],
  F32: [wire(f32(230.5), 2), 230.5], // RT_F32: the other (word-swapped) float order
  F1616: [wire([0x00, 0x01, 0x80, 0x00]), 1.5],
  INT64: [wire([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]), -2],
  UINT64: [wire(be(1n << 32n, 8)), 2 ** 32],
  DT48: [wire(be(BigInt(T + 123), 6)), T + 123],
  DT48_1: [wire([0x07, 0x14, 0x0f, 0x05, 0x28, 0x0a]), T], // MM YY | HH DD | SS mm
  DT64: [wire([0x00, 0x14, 0x07, 0x05, 0x0f, 0x0a, 0x9c, 0xbb]), T + 123], // year | month day | hour min | ms 40123
  DT64_1: [wire([0x00, 0x0c, 0x28, 0x0a, 0x0f, 0x05, 0x07, 0x14]), T + 120], // cs | SS MM | HH DD | MM YY
  DT32: [wire(be(SEC, 4)), T],
  DT32local: [wire(be(SEC, 4)), T],
  DT32_1: [wire([0x07, 0xe4, 0x07, 0x05, 0x0f, 0x0a, 0x9c, 0xbb]), T + 123], // year | month day | hour min | ms
  DT64_3: [wire([0x14, 0x07, 0x05, 0x0f, 0x0a, 0x28, 0x00, 0x7b]), T + 123], // YY MM | DD HH | mm SS | ms
  DT96: [wire([0x28, 0x0a, 0x0f, 0x05, 0x07, 0x14]), T], // sec min hour day month year
  DT96_2: [wire([0x0a, 0x0f, 0x28, 0x05, 0x07, 0x14]), T], // min hour sec day month year
  DT48_2: [wire([...be(SEC + 2208988800n, 4), 0x00, 0x7b]), T + 123], // seconds since 1900 + ms
  TXT: [Uint8Array.of(0x42, 0x41, 0x44, 0x43), "ABCD"], // "LE character sequence"
  TXT_DIR: [wire(ascii("Hello", 6)), "Hello"],
  FLOAT32_e1: [wire(f32(230.5), 1), 230.5],
  FLOAT32_e2: [wire(f32(230.5), 2), 230.5],
  FLOAT32_e3: [wire(f32(230.5), 3), 230.5],
  INT32_e1: [wire(be(BigInt.asUintN(32, -123456n), 4), 1), -123456],
  INT32_e2: [wire(be(BigInt.asUintN(32, -123456n), 4), 2), -123456],
  INT32_e3: [wire(be(BigInt.asUintN(32, -123456n), 4), 3), -123456],
  UINT16_e1: [wire([0x12, 0x34], 1), 0x1234],
  UINT16_LE_e1: [Uint8Array.of(0x12, 0x34), 0x1234], // reversed twice
  UINT64_e2: [wire(be(0x0102030405060708n, 8), 2), Number(0x0102030405060708n)],
  UINT64_e3: [wire(be(0x0102030405060708n, 8), 3), Number(0x0102030405060708n)],
  DT48_e2: [wire(be(BigInt(T + 123), 6), 2), T + 123],
  F32_e2: [wire(f32(230.5)), 230.5], // word-swapped type, words swapped again: as is
  TXT_DIR_e1: [wire(ascii("ABCD", 4), 1), "ABCD"],
  Tok_A: [wire([0x00, 0x7b]), 123],
  P: [wire(f32(1500)), 1500],
  Maskirovannyy: [wire([0x12, 0x34]), 0x0230],
  Vkhod_3: [wire([0x00, 0x04]), 1],
  Vkhod_3_2: [wire([0x00, 0x04]), 0],
};

function linesOf(file: string, re: RegExp): number[] {
  return text(file)
    .split("\n")
    .flatMap((l, i) => (re.test(l) ? [i + 1] : []));
}

describe("EnLogic import: the seed's mb-SATEC.io fragment", () => {
  const r = importEnlogic(load("mb-SATEC.io"), "mb-SATEC.io");
  const m = r.modules[0]!;
  const p: Profile = parseProfile(m.profile);

  it("reads Windows-1251 and imports the fragment as one profile", () => {
    expect(r.encoding).toBe("windows-1251");
    expect(r.modules.length).toBe(1);
    expect(r.issues.filter((i) => i.level === "error")).toEqual([]);
    expect(p.profile).toBe("satec");
    expect(p.tags.map((t) => t.id)).toEqual(["DT", "wDT", "P", "Pa", "Pb", "Pc"]);
  });

  it("applies the TagProperties defaults: DataType 21 … and endian 2 for every numeric tag", () => {
    const P = p.tags.find((t) => t.id === "P")!;
    expect(P).toMatchObject({ address: 0x3800, function: 3, type: "int32", order: "CDAB", scale: 0.001, multiplier: "KU*KI", unit: "kW", role: "power.total" });
    // 123456 (0x0001E240) low word first → 123.456 kW at KU = KI = 1.
    expect(decodeRaw(wire(be(123456n, 4), 2), 0, P)).toBe(123456);
    const DT = p.tags.find((t) => t.id === "DT")!;
    // Date-time types keep their own byte sequence: the default word swap is for the numbers (issue 9 item 17).
    expect(DT).toMatchObject({ type: "dt96", order: "ABCD", kind: "datetime", writable: false });
    expect(decodeRaw(wire([0x28, 0x0a, 0x0f, 0x05, 0x07, 0x14]), 0, DT)).toBe(T);
    expect(p.tags.find((t) => t.id === "wDT")).toMatchObject({ type: "dt96", write: 16, writable: true });
  });

  it("maps the service tags onto Busbar's device status and reports them by line", () => {
    expect(m.status.map((s) => [s.tag, s.adr])).toEqual([
      ["Связь", 1],
      ["ЗапретОпроса", 3],
    ]);
    const [link] = linesOf("mb-SATEC.io", /Name="Связь"/);
    expect(r.issues.find((i) => i.line === link)?.message).toMatch(/communication status/);
    expect(m.yaml).toMatch(/"ЗапретОпроса" \(Adr 3\) → `enabled: false`/);
  });
});

describe("EnLogic import: every data type and endian variant", () => {
  const r = importEnlogic(load("mb-alltypes.io"), "mb-alltypes.io");
  const m = r.modules[0]!;
  const p: Profile = parseProfile(m.profile);
  const tag = (id: string) => p.tags.find((t) => t.id === id)!;

  it("decodes known byte vectors for every imported tag", () => {
    const failures: string[] = [];
    for (const [id, [bytes, expected]] of Object.entries(VECTORS)) {
      const t = tag(id);
      if (!t) {
        failures.push(`${id}: not imported`);
        continue;
      }
      const got = decodeRaw(bytes, 0, t);
      if (typeof expected === "number" ? !(Math.abs((got as number) - expected) < 1e-9) : got !== expected) failures.push(`${id} (${t.type} ${t.order}): ${got} ≠ ${expected}`);
    }
    expect(failures).toEqual([]);
    // Every numeric and date-time type of Table 6 is covered.
    expect(new Set(p.tags.map((t) => t.type))).toEqual(
      new Set(["int16", "uint16", "uint16_xy", "int16_offset", "int32", "uint32", "float32", "fixed24_8", "fixed16_16", "int64", "uint64", "dt48_ms", "dt48_1", "dt64", "dt64_1", "dt32", "dt64_2", "dt64_3", "dt96", "dt96_2", "dt48_2", "text", "bit"]),
    );
  });

  it("carries K, mn, Measure, tuid, masks, functions and outputs over", () => {
    expect(tag("Tok_A")).toMatchObject({ label: "Ток A", scale: 0.1, multiplier: "KI", unit: "A", role: "current.a", type: "int16" });
    expect(tag("P")).toMatchObject({ scale: 0.001, multiplier: "KU*KI", unit: "kW", role: "power.total" });
    expect(tag("Maskirovannyy")).toMatchObject({ type: "uint16", mask: 0x0ff0 });
    expect(tag("Vkhod_3")).toMatchObject({ type: "bit", mask: 0x0004, function: 3, address: 0x33, kind: "digital" });
    expect(tag("DI_coil")).toMatchObject({ type: "bit", function: 2, writable: false });
    expect(tag("DO_coil")).toMatchObject({ type: "bit", function: 1, write: 5, poll: false });
    expect(tag("DO_reg")).toMatchObject({ type: "bit", mask: 1, write: 6, poll: false });
    expect(tag("Ustavka")).toMatchObject({ type: "float32", write: 16, poll: false, kind: "analog" });
    expect(tag("Ustavka16")).toMatchObject({ type: "int16", write: 6 });
    expect(tag("Tekst")).toMatchObject({ type: "text", length: 8, write: 16, kind: "text" });
    expect(tag("TXT")).toMatchObject({ type: "text", length: 4, order: "BADC" });
    // Adr in decimal and in hex.
    expect(tag("UINT16").address).toBe(17);
    expect(tag("HEX16").address).toBe(0x12);
    // Groups survive in the description.
    expect(tag("DT96").description).toMatch(/group: Типы \/ Дата-время/);
  });

  it("turns the sync period and the date-time output into the profile's time sync", () => {
    expect(p.timeSync).toMatchObject({ tag: "wDT", periodMin: 60 });
    expect(tag("wDT")).toMatchObject({ type: "dt96", write: 16, kind: "datetime" });
  });

  it("reports every construct it does not carry over, by line", () => {
    const at = (re: RegExp) => linesOf("mb-alltypes.io", re)[0]!;
    const errors = r.issues.filter((i) => i.level === "error").map((i) => i.line);
    for (const name of ["DS18mod", "CMD", "EV1", "TXT_DIR2", "TXTnolen", "DS18", "TRANZ_BMRZ", "TRANZ", "Unknown99", "Плохой", "Func7", "Служебный9"])
      expect(errors, name).toContain(at(new RegExp(`Name="${name}"`)));
    const warn = (re: RegExp) => r.issues.find((i) => i.line === at(re) && i.level === "warning");
    expect(warn(/foo="1"/)?.message).toMatch(/foo/);
    expect(warn(/<Bogus/)?.message).toMatch(/Bogus/);
    expect(warn(/Prop Id="77"/)?.message).toMatch(/77/);
    expect(warn(/Name="DT32local"/)?.message).toMatch(/local time/);
    expect(r.issues.find((i) => i.line === at(/Prop Id="7"/))?.message).toMatch(/KU = 100/);
    // Nothing is dropped silently: every <Tag> is in the profile or named in the report at its line.
    const src = text("mb-alltypes.io").split("\n");
    const labels = new Set(p.tags.map((t) => `${t.label}@${t.address}`));
    src.forEach((l, i) => {
      const mt = /<Tag Name="([^"]+)".*Adr="([^"]+)"/.exec(l);
      if (!mt) return;
      const adr = Number(mt[2]);
      const reported = r.issues.some((x) => x.line === i + 1);
      expect(labels.has(`${mt[1]}@${adr}`) || reported, `line ${i + 1}: ${mt[1]}`).toBe(true);
    });
  });

  it("writes YAML that loads as a Busbar profile, from the command line too", () => {
    const dir = mkdtempSync(join(tmpdir(), "busbar-enlogic-"));
    const cli = join(import.meta.dirname, "../src/cli.ts");
    const run = spawnSync(process.execPath, [cli, "import-enlogic", join(FIX, "mb-alltypes.io"), "--out", dir], { encoding: "utf8" });
    expect(run.status).toBe(1); // imported, with tags left out
    expect(run.stderr).toMatch(/mb-alltypes\.io:\d+: error: DS18mod: DataType 19 \(RT_DS18x20_mod\)/);
    const sat = spawnSync(process.execPath, [cli, "import-enlogic", join(FIX, "mb-SATEC.io"), "--out", dir], { encoding: "utf8" });
    expect(sat.status).toBe(0);
    const profiles = loadProfiles(dir);
    expect(profiles.get("testall")!.tags.length).toBe(p.tags.length);
    expect(profiles.get("satec")!.tags.find((t) => t.id === "P")).toMatchObject({ order: "CDAB", scale: 0.001 });
  });

  it("makes Latin ids from Russian names", () => {
    expect(identifier("Ток фазы A")).toBe("Tok_fazy_A");
    expect(identifier("ЗапретОпроса")).toBe("ZapretOprosa");
    expect(identifier("1-й вход")).toBe("t_1_y_vkhod");
  });

  it("reports malformed XML by line", () => {
    const bad = new TextEncoder().encode('<Module Id="1">\n<TagTree>\n<Tag Name="x" Adr="1"\n</TagTree>\n</Module>\n');
    const res = importEnlogic(bad, "bad.io");
    expect(res.modules).toEqual([]);
    expect(res.issues[0]).toMatchObject({ line: 3, level: "error" });
  });
});
