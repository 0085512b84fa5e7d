/**
 * EnLogic `.io` device maps → Busbar profiles (seed enlogic-modbus-map-format.ru.md).
 *
 * A `.io` file (Windows-1251 XML) holds one or more <Module>s: <Properties> (module address, map
 * offset "Карта", extra-property bits "Доп.свойства", sync period, KU/KI), <TagProperties> (the tag
 * attributes and their Init defaults: Adr, Func, DataType, K, msk, mn, endian, tuid) and a <TagTree>
 * of <Tag>s in nested <Group>s. Each module becomes one profile.
 *
 * Nothing is dropped silently: every construct the importer does not turn into profile content is
 * reported with its line (error: a tag could not be imported; warning: imported with a caveat;
 * info: module data that belongs elsewhere, e.g. the unit or KU/KI of a device in the site file).
 */
import { stringify } from "yaml";
import { parseProfile, type ProfileInput } from "../config/profile.ts";
import { ConfigError } from "../config/validation.ts";
import { ENLOGIC_DATATYPE } from "../protocols/modbus/codec.ts";
import type { DataType, WordOrder } from "../protocols/modbus/types.ts";
import { decodeIoBytes, parseXml, XmlError, type XmlElement } from "./xml.ts";

export interface ImportIssue {
  line: number;
  level: "error" | "warning" | "info";
  message: string;
}

/** An EnLogic service tag (Func=0) and the Busbar device status it corresponds to. */
export interface StatusMapping {
  tag: string;
  adr: number;
  busbar: string;
  line: number;
}

export interface ImportedModule {
  /** The module's Id attribute. */
  moduleId: string;
  name: string;
  profile: ProfileInput;
  /** Service tags mapped onto Busbar's own device status. */
  status: StatusMapping[];
  /** The module's device as a site file `devices:` entry (its unit, KU and KI), bus left to fill in. */
  siteStub: string;
  /** The profile as YAML, with a header naming its origin, the status mapping and the site stub. */
  yaml: string;
}

export interface ImportResult {
  encoding: string;
  modules: ImportedModule[];
  issues: ImportIssue[];
}

/** EnLogic DataType names (Table 6), for messages. */
export const ENLOGIC_TYPE_NAMES: Record<number, string> = {
  0: "RT_BIT", 10: "RT_INT16", 11: "RT_UINT16", 12: "RT_HEX16", 14: "RT_UINT16_LE", 15: "RT_UINT16_XY", 16: "RT_UINT16_1",
  17: "RT_16S", 18: "RT_160", 19: "RT_DS18x20_mod", 20: "RT_INT32", 21: "RT_UINT32", 22: "RT_HEX32", 23: "RT_FLOAT32",
  24: "RT_IIIF", 25: "RT_32S", 26: "RT_F32", 27: "RT_CMD", 28: "RT_F1616", 30: "RT_DT48", 32: "RT_DT48_1", 33: "RT_DT64",
  34: "RT_DT64_1", 35: "RT_DT32", 36: "RT_INT64", 37: "RT_UINT64", 38: "RT_DT32_1", 39: "RT_DT64_3", 40: "RT_EV1",
  41: "RT_TXT", 42: "RT_TXT_DIR", 43: "RT_TXT_DIR2", 44: "RT_DT96", 45: "RT_DT96_2", 46: "RT_DT48_2", 50: "RT_DS18x20",
  60: "RT_TRANZ_BMRZ", 61: "RT_TRANZ",
};

/** Func=0 service addresses (Table 5) and what Busbar keeps for every device instead. */
const SERVICE: Record<number, { what: string; busbar: string }> = {
  1: { what: "link with the device", busbar: "device communication status (ok / comm-fail) and every point's quality" },
  2: { what: "poll time", busbar: "the device's last poll cycle time (bus statistics: cycleMs) and lastGoodAt" },
  3: { what: "suspend polling", busbar: "`enabled: false` on the device in the site file" },
  4: { what: "requests in the last poll", busbar: "the device's request counter (bus statistics: requests)" },
  5: { what: "forced write of outputs", busbar: "not kept: Busbar writes a point when an operator or a master writes it" },
};

/** tuid (Table 8) → Busbar role, where Busbar has one. */
const TUID_ROLES: Record<number, string> = {
  10: "power.total", 50: "voltage.an", 51: "voltage.bn", 52: "voltage.cn", 53: "current.a", 54: "current.b", 55: "current.c",
  70: "power_factor", 74: "frequency", 100: "energy.total",
};

const UNITS: Record<string, string> = {
  "кВт": "kW", "Вт": "W", "МВт": "MW", "кВА": "kVA", "ВА": "VA", "квар": "kvar", "кВАр": "kvar", "вар": "var", "В": "V", "кВ": "kV",
  "А": "A", "кА": "kA", "Гц": "Hz", "кВт*ч": "kWh", "кВтч": "kWh", "кВт·ч": "kWh", "Вт*ч": "Wh", "квар*ч": "kvarh", "кВАр*ч": "kvarh",
  "°C": "°C", "С": "°C", "%": "%", "с": "s", "мс": "ms", "мин": "min", "ч": "h",
};

const TRANSLIT: Record<string, string> = {
  а: "a", б: "b", в: "v", г: "g", д: "d", е: "e", ё: "e", ж: "zh", з: "z", и: "i", й: "y", к: "k", л: "l", м: "m", н: "n", о: "o",
  п: "p", р: "r", с: "s", т: "t", у: "u", ф: "f", х: "kh", ц: "ts", ч: "ch", ш: "sh", щ: "shch", ъ: "", ы: "y", ь: "", э: "e",
  ю: "yu", я: "ya",
};

/** Latin identifier from a (Russian) name: transliterated, non-alphanumerics → _. */
export function identifier(name: string): string {
  let out = "";
  for (const ch of name) {
    const lower = ch.toLowerCase();
    const t = TRANSLIT[lower];
    if (t !== undefined) out += ch !== lower && t ? t[0]!.toUpperCase() + t.slice(1) : t;
    else out += /[A-Za-z0-9]/.test(ch) ? ch : "_";
  }
  out = out.replace(/_+/g, "_").replace(/^_|_$/g, "");
  if (!/^[A-Za-z]/.test(out)) out = `t_${out}`;
  return out || "tag";
}

const ORDERS: WordOrder[] = ["ABCD", "BADC", "CDAB", "DCBA"];
/** Composes two byte orders (each a byte swap and/or a word swap). */
function compose(a: WordOrder, b: WordOrder): WordOrder {
  const i = ORDERS.indexOf(a) ^ ORDERS.indexOf(b);
  return ORDERS[i]!;
}

const TAG_TYPES = ["AII", "AIF", "AOI", "AOF", "DI", "DO", "DTI", "DTO", "SI", "SO"] as const;
type TagType = (typeof TAG_TYPES)[number];

/** Canonical tag property for an IdStr (or, when renamed, its Name). */
function canonical(idStr: string, name: string): string | undefined {
  const k = idStr.toLowerCase();
  const known: Record<string, string> = { adr: "Adr", func: "Func", datatype: "DataType", dt: "DataType", k: "K", msk: "msk", mn: "mn", endian: "endian", tuid: "tuid" };
  if (known[k]) return known[k];
  const n = name.toLowerCase();
  if (n.includes("адрес")) return "Adr";
  if (n.includes("код функции")) return "Func";
  if (n.includes("тип данных")) return "DataType";
  if (n.includes("коэффициент")) return "K";
  if (n.includes("маска")) return "msk";
  if (n.includes("множител")) return "mn";
  if (n.includes("порядок")) return "endian";
  if (n.includes("ту")) return "tuid";
  return undefined;
}

function parseNumber(s: string): number {
  const t = s.trim();
  if (/^-?0x[0-9a-f]+$/i.test(t)) return parseInt(t, 16);
  if (/^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/.test(t) || /^-?\.[0-9]+$/.test(t)) return Number(t);
  if (/^-?[0-9]+,[0-9]+$/.test(t)) return Number(t.replace(",", "."));
  return NaN;
}

interface Ctx {
  issues: ImportIssue[];
  report(line: number, level: ImportIssue["level"], message: string): void;
}

/** Imports every module of a `.io` file's bytes. */
export function importEnlogic(bytes: Uint8Array, fileName = "file.io"): ImportResult {
  const { text, encoding } = decodeIoBytes(bytes);
  const issues: ImportIssue[] = [];
  const ctx: Ctx = { issues, report: (line, level, message) => issues.push({ line, level, message }) };
  let roots: XmlElement[];
  try {
    roots = parseXml(text);
  } catch (e) {
    if (e instanceof XmlError) {
      issues.push({ line: e.line, level: "error", message: `not well-formed XML: ${e.message.replace(/^line \d+: /, "")}` });
      return { encoding, modules: [], issues };
    }
    throw e;
  }
  const modules: XmlElement[] = [];
  const findModules = (els: XmlElement[]) => {
    for (const el of els) {
      if (el.name === "Module") modules.push(el);
      else findModules(el.children);
    }
  };
  findModules(roots);
  const out: ImportedModule[] = [];
  if (!modules.length) {
    // A bare fragment (as in the seed's mb-SATEC.io example): Properties, TagProperties, TagTree.
    if (roots.some((r) => r.name === "TagTree")) {
      ctx.report(roots[0]!.line, "info", "no <Module> element: the file's top-level Properties / TagProperties / TagTree are imported as one module");
      const m = importModule({ name: "Module", attrs: new Map(), attrLines: new Map(), children: roots, text: "", line: 1 }, fileName, ctx);
      if (m) out.push(m);
    } else ctx.report(1, "error", "no <Module> and no <TagTree> found: nothing to import");
  }
  for (const m of modules) {
    const imported = importModule(m, fileName, ctx);
    if (imported) out.push(imported);
  }
  // Module ids must be unique within the file's output.
  const seen = new Map<string, number>();
  for (const m of out) {
    const n = seen.get(m.profile.profile) ?? 0;
    seen.set(m.profile.profile, n + 1);
    if (n) {
      m.siteStub = m.siteStub.replace(`profile: ${m.profile.profile}`, `profile: ${m.profile.profile}-${n + 1}`);
      m.profile.profile = `${m.profile.profile}-${n + 1}`;
      m.yaml = renderYaml(m, fileName);
    }
  }
  issues.sort((a, b) => a.line - b.line);
  return { encoding, modules: out, issues };
}

function importModule(mod: XmlElement, fileName: string, ctx: Ctx): ImportedModule | undefined {
  const moduleId = mod.attrs.get("Id") ?? "";
  for (const [a, line] of mod.attrLines) if (a !== "Id") ctx.report(line, "warning", `<Module> attribute ${a} is not used`);
  let name = "";
  let cfgName = "";
  let descr = "";
  let group = "";
  let props: XmlElement | undefined;
  let tagProps: XmlElement | undefined;
  let tree: XmlElement | undefined;
  for (const c of mod.children) {
    switch (c.name) {
      case "Name":
        name = c.text.trim();
        break;
      case "CfgName":
        cfgName = c.text.trim();
        break;
      case "Descr":
        descr = c.text.trim();
        break;
      case "sModGroupName":
        group = c.text.trim();
        break;
      case "Protocol":
        if (c.text.trim().toLowerCase() !== "modbus") ctx.report(c.line, "error", `protocol "${c.text.trim()}" is not Modbus: only Modbus modules can become Busbar profiles`);
        break;
      case "Properties":
        props = c;
        break;
      case "TagProperties":
        tagProps = c;
        break;
      case "TagTree":
        tree = c;
        break;
      default:
        ctx.report(c.line, "warning", `<${c.name}> in a module is not known to the importer; ignored`);
    }
  }
  if (!tree) {
    ctx.report(mod.line, "error", `module ${moduleId || name || "(unnamed)"} has no <TagTree>: not imported`);
    return undefined;
  }

  // ---- module properties
  let addressBase: 0 | 1 = 0;
  let endianBit = false;
  let syncMin = 0;
  let unitAddr: number | undefined;
  const multipliers = { ku: 1, ki: 1 };
  const multiplierLines: Partial<Record<"ku" | "ki", number>> = {};
  for (const p of props?.children ?? []) {
    if (p.name !== "Prop") {
      ctx.report(p.line, "warning", `<${p.name}> in <Properties> is not a <Prop>; ignored`);
      continue;
    }
    const id = Number(p.attrs.get("Id"));
    const init = p.attrs.get("Init") ?? "";
    const v = parseNumber(init);
    const pname = p.attrs.get("Name") ?? "";
    switch (id) {
      case 1:
        unitAddr = Number.isInteger(v) && v >= 0 && v <= 255 ? v : undefined;
        ctx.report(p.line, "info", `module address (unit) ${init || "1"}: set each device's unit in the site file (see the site stub in the profile's header)`);
        break;
      case 2:
        if (v === 1) ctx.report(p.line, "error", "ASCII transmission mode: Busbar speaks Modbus RTU and TCP only");
        break;
      case 3:
        if (v === 1) addressBase = 1;
        else if (init && v !== 0) ctx.report(p.line, "warning", `map offset "Карта" = ${init}: only 0 and 1 are defined; 0 used`);
        break;
      case 4:
        endianBit = (v & 1) !== 0;
        if (v & 4) ctx.report(p.line, "warning", `extra property bit 4 ("вместо регистров 1 параметр") is set: its meaning is not documented; tags are imported register by register`);
        if (v & ~7) ctx.report(p.line, "warning", `extra property bits 0x${(v & ~7).toString(16)} are not documented; ignored`);
        break;
      case 6:
        syncMin = Number.isFinite(v) ? v : 0;
        break;
      case 7:
      case 8: {
        const key = id === 7 ? "ku" : "ki";
        if (Number.isFinite(v) && v > 0) {
          multipliers[key] = v;
          multiplierLines[key] = p.line;
        } else if (init) ctx.report(p.line, "warning", `${key.toUpperCase()} = "${init}" is not a positive number; 1 used`);
        break;
      }
      case 9:
      case 254:
        ctx.report(p.line, "info", `${pname || `property ${id}`}: a per-device value, not part of a profile`);
        break;
      case 10:
      case 11:
        ctx.report(p.line, "info", `${pname || `property ${id}`}: set the bus's host/port in the site file`);
        break;
      default:
        ctx.report(p.line, "warning", `module property Id=${p.attrs.get("Id")} ("${pname}") is not known to the importer; ignored`);
    }
  }

  // ---- tag property defaults
  const defaults: Record<string, string> = { Func: "3", DataType: "11", K: "1", msk: "0xFFFF", mn: "0", endian: "0", tuid: "0" };
  /** Attribute name on <Tag> → canonical property. */
  const attrMap = new Map<string, string>();
  for (const p of tagProps?.children ?? []) {
    if (p.name !== "Prop") {
      ctx.report(p.line, "warning", `<${p.name}> in <TagProperties> is not a <Prop>; ignored`);
      continue;
    }
    const idStr = p.attrs.get("IdStr") ?? "";
    const c = canonical(idStr, p.attrs.get("Name") ?? "");
    if (!c) {
      ctx.report(p.line, "warning", `tag property ${idStr} ("${p.attrs.get("Name") ?? ""}") is not known to the importer; its values are ignored`);
      attrMap.set(idStr, `?${idStr}`);
      continue;
    }
    attrMap.set(idStr, c);
    if (p.attrs.has("Init")) defaults[c] = p.attrs.get("Init")!;
  }
  for (const k of ["Adr", "Func", "DataType", "K", "msk", "mn", "endian", "tuid"]) if (![...attrMap.values()].includes(k)) attrMap.set(k, k);

  // ---- tags
  const tags: Record<string, unknown>[] = [];
  const status: StatusMapping[] = [];
  const ids = new Map<string, number>();
  let writeDt: { id: string; line: number; type: DataType; address: number } | undefined;
  /** Readable date-time tags: the device clock a time sync reads before it writes. */
  const clocks: { id: string; line: number; type: DataType; address: number }[] = [];
  let syncCandidates = 0;

  const walk = (el: XmlElement, path: string[]) => {
    for (const c of el.children) {
      if (c.name === "Group") {
        for (const [a, line] of c.attrLines) if (a !== "Name") ctx.report(line, "warning", `<Group> attribute ${a} is not used`);
        walk(c, [...path, c.attrs.get("Name") ?? ""]);
      } else if (c.name === "Tag") {
        const t = importTag(c, path);
        if (t) tags.push(t);
      } else ctx.report(c.line, "warning", `<${c.name}> in the tag tree is not known to the importer; ignored`);
    }
  };

  const importTag = (tag: XmlElement, path: string[]): Record<string, unknown> | undefined => {
    const line = tag.line;
    const name = tag.attrs.get("Name") ?? "";
    const label = name || `tag on line ${line}`;
    const values: Record<string, string> = { ...defaults };
    const known = new Set(["Name", "Type", "Descr", "Measure"]);
    for (const [a, v] of tag.attrs) {
      const c = attrMap.get(a);
      if (c && !c.startsWith("?")) values[c] = v;
      else if (!known.has(a)) ctx.report(tag.attrLines.get(a)!, "warning", `${label}: attribute ${a}="${v}" is not a declared tag property; ignored`);
    }
    const num = (k: string): number => {
      const v = parseNumber(values[k] ?? "");
      return v;
    };
    const typeCode = tag.attrs.get("Type") ?? "";
    if (!(TAG_TYPES as readonly string[]).includes(typeCode)) {
      ctx.report(line, "error", `${label}: tag type "${typeCode}" is not one of ${TAG_TYPES.join(", ")}; not imported`);
      return undefined;
    }
    const ttype = typeCode as TagType;
    const adr = num("Adr");
    const func = num("Func");
    if (!Number.isInteger(adr) || adr < 0 || adr > 0xffff) {
      ctx.report(line, "error", `${label}: address Adr="${values.Adr ?? ""}" is not a number 0..0xFFFF; not imported`);
      return undefined;
    }
    if (func === 0) {
      const s = SERVICE[adr];
      if (!s) ctx.report(line, "error", `${label}: service tag (Func=0) with unknown Adr=${adr}; not imported`);
      else {
        status.push({ tag: name, adr, busbar: s.busbar, line });
        ctx.report(line, "info", `${label}: service tag "${s.what}" → ${s.busbar}`);
      }
      return undefined;
    }
    if (![1, 2, 3, 4, 5, 6, 15, 16].includes(func)) {
      ctx.report(line, "error", `${label}: function code Func="${values.Func}" is not a Modbus function Busbar uses (1-6, 15, 16); not imported`);
      return undefined;
    }
    const dtCode = num("DataType");
    const dt = ENLOGIC_DATATYPE[dtCode];
    if (!dt) {
      const n = ENLOGIC_TYPE_NAMES[dtCode];
      ctx.report(line, "error", `${label}: DataType ${values.DataType}${n ? ` (${n})` : ""} has no Busbar equivalent; not imported`);
      return undefined;
    }
    const isOutput = ttype === "AOI" || ttype === "AOF" || ttype === "DO" || ttype === "DTO" || ttype === "SO";
    const writeFc = func === 5 || func === 6 || func === 15 || func === 16 ? func : undefined;
    if (writeFc && !isOutput) ctx.report(line, "warning", `${label}: an input (${ttype}) with write function ${func}: imported as writable`);
    const readFc: 1 | 2 | 3 | 4 = writeFc ? (writeFc === 5 || writeFc === 15 ? 1 : 3) : (func as 1 | 2 | 3 | 4);
    let type: DataType = dt.type;
    const mskRaw = num("msk");
    const msk = Number.isInteger(mskRaw) && mskRaw !== 0xffff && mskRaw !== 0 ? mskRaw : undefined;
    const K = num("K");
    const mn = num("mn");
    const endian = num("endian");
    const out: Record<string, unknown> = { id: "", label };
    const note: string[] = [];
    // Discrete tags on registers: a bit selected by the mask.
    const discrete = ttype === "DI" || ttype === "DO";
    if (discrete && type !== "bit" && readFc >= 3) {
      type = "bit";
      out.mask = msk ?? 0xffff;
    } else if (type === "bit" && readFc >= 3) {
      out.mask = msk ?? 0xffff;
    } else if (type === "bit" || readFc <= 2) {
      if (readFc >= 3) type = "bit";
      else if (type !== "bit") {
        ctx.report(line, "warning", `${label}: function ${readFc} reads bits; DataType ${ENLOGIC_TYPE_NAMES[dtCode]} ignored`);
        type = "bit";
      }
      if (msk !== undefined) ctx.report(line, "warning", `${label}: mask 0x${msk.toString(16)} on a coil/discrete input is meaningless; ignored`);
    } else if (type === "text") {
      // RT_TXT*: the character count is in msk.
      if (!Number.isInteger(mskRaw) || mskRaw < 1 || mskRaw > 250) {
        ctx.report(line, "error", `${label}: ${ENLOGIC_TYPE_NAMES[dtCode]} needs its character count (1..250) in msk, not "${values.msk}"; not imported`);
        return undefined;
      }
      out.length = mskRaw;
    } else if (msk !== undefined) {
      if (["int16", "uint16", "int32", "uint32"].includes(type)) out.mask = msk;
      else ctx.report(line, "warning", `${label}: mask 0x${msk.toString(16)} does not apply to ${ENLOGIC_TYPE_NAMES[dtCode]}; ignored`);
    }
    // Byte order: the type's own (RT_TXT, RT_F32, RT_UINT16_LE) composed with the tag's endian.
    // Table 6 spells out the byte sequence of the text and date-time types themselves ("direct
    // sequence", "6 bytes: sec, min, hour, …"), and says nothing of endian for them: so the
    // TagProperties default (SATEC's word swap, meant for its 32-bit numbers) is not inherited; only
    // an endian written on the tag itself changes them. Otherwise they are read as stored.
    let order: WordOrder = dt.order ?? "ABCD";
    const explicitEndian = [...tag.attrs.keys()].some((a) => attrMap.get(a) === "endian");
    const ownSequence = type === "text" || type.startsWith("dt");
    if (Number.isInteger(endian) && endian >= 0 && endian <= 3) {
      if (endian !== 0 && ownSequence && !explicitEndian)
        ctx.report(line, "info", `${label}: the TagProperties default endian ${endian} is not applied to ${ENLOGIC_TYPE_NAMES[dtCode]}: its byte sequence is the type's own (read as stored)`);
      else {
        if (endian !== 0 && !endianBit && !explicitEndian) ctx.report(line, "info", `${label}: endian ${endian} from the TagProperties default`);
        order = compose(order, ORDERS[endian]!);
      }
    } else ctx.report(line, "warning", `${label}: endian="${values.endian}" is not 0..3; 0 used`);
    // Scale: K applies to numbers. For RT_DT32, K=2 means UTC, otherwise local time.
    const isDt = type.startsWith("dt");
    if (dtCode === 35) {
      if (K !== 2) {
        note.push("EnLogic K≠2: the device counts local time; Busbar decodes RT_DT32 as UTC");
        ctx.report(line, "warning", `${label}: RT_DT32 with K≠2 is the device's local time; Busbar shows it as UTC (offset by the site's time zone)`);
      }
    } else if (isDt || type === "text" || type === "bit") {
      if (Number.isFinite(K) && K !== 1) ctx.report(line, "warning", `${label}: K=${values.K} does not apply to ${ENLOGIC_TYPE_NAMES[dtCode]}; ignored`);
    } else if (Number.isFinite(K) && K !== 0) {
      if (K !== 1) out.scale = K;
    } else ctx.report(line, "warning", `${label}: K="${values.K}" is not a usable factor; 1 used`);
    if (Number.isInteger(mn) && mn >= 0 && mn <= 3) {
      if (mn) out.multiplier = ["none", "KU", "KI", "KU*KI"][mn];
    } else ctx.report(line, "warning", `${label}: mn="${values.mn}" is not 0..3; no multiplier`);
    // Kind from the tag type, checked against the data type. No `states`/`statesFr`: the EnLogic
    // map format (seed, Table 7 and the <Tag> attributes) has no state or enumeration texts in any
    // language, only Name and Descr ("Вход 1"), so there is nothing to translate; a digital tag
    // shows its value until the site's profile names its states (then STATE_WORDS_FR applies).
    const kind = ttype.startsWith("DT") ? "datetime" : ttype === "SI" || ttype === "SO" ? "text" : discrete ? "digital" : "analog";
    if (kind === "datetime" && !isDt) ctx.report(line, "warning", `${label}: a date-time tag (${ttype}) with DataType ${ENLOGIC_TYPE_NAMES[dtCode]}`);
    if (kind !== "datetime" && isDt) ctx.report(line, "warning", `${label}: DataType ${ENLOGIC_TYPE_NAMES[dtCode]} is a date-time on a ${ttype} tag`);
    if (kind === "text" && type !== "text") ctx.report(line, "warning", `${label}: a text tag (${ttype}) with DataType ${ENLOGIC_TYPE_NAMES[dtCode]}`);
    out.address = adr;
    if (readFc !== 3) out.function = readFc;
    out.type = type;
    if (order !== "ABCD") out.order = order;
    if (writeFc) {
      // Written with its own function: a command or setpoint, not read back.
      out.write = writeFc;
      out.poll = false;
    } else if (isOutput) {
      // An output read with a read function: polled, and written with the matching write function.
      out.write = type === "bit" ? (readFc <= 2 ? 5 : 6) : registerWords(type, out.length as number | undefined) > 1 ? 16 : 6;
    }
    const unit = tag.attrs.get("Measure");
    if (unit) out.unit = UNITS[unit] ?? unit;
    out.kind = kind;
    const tuid = num("tuid");
    if (tuid && TUID_ROLES[tuid]) out.role = TUID_ROLES[tuid];

    // The tag's id: transliterated name, unique in the profile.
    let id = identifier(name || `tag_${adr.toString(16)}`);
    const n = ids.get(id.toLowerCase()) ?? 0;
    ids.set(id.toLowerCase(), n + 1);
    if (n) id = `${id}_${n + 1}`;
    out.id = id;
    // Time sync candidates, by the id just given (several tags may share a line).
    if (isDt && (ttype === "DTO" || writeFc)) {
      syncCandidates++;
      writeDt ??= { id, line, type, address: adr };
    } else if (isDt) clocks.push({ id, line, type, address: adr });
    const descr = tag.attrs.get("Descr");
    const origin = `EnLogic ${ttype} Adr=0x${adr.toString(16).toUpperCase()} Func=${func} DataType=${dtCode} (${ENLOGIC_TYPE_NAMES[dtCode]})${Number.isInteger(endian) && endian ? ` endian=${endian}` : ""}`;
    out.description = [descr, path.filter(Boolean).length ? `group: ${path.filter(Boolean).join(" / ")}` : "", origin, ...note].filter(Boolean).join(". ");
    return out;
  };

  walk(tree, []);
  if (!tags.length) {
    ctx.report(tree.line, "error", `module ${moduleId || name}: no tag could be imported; no profile written`);
    return undefined;
  }

  const base = fileName.split("/").pop()!.replace(/\.io$/i, "").replace(/^mb-/i, "");
  const profileId = (identifier(cfgName || name || base || `enlogic-${moduleId}`).toLowerCase().replace(/_/g, "-").replace(/^t-/, "") || "enlogic").replace(/^[^a-z0-9]+/, "");
  const profile: ProfileInput = {
    profile: profileId,
    name: name || cfgName || (moduleId ? `EnLogic module ${moduleId}` : `${base} (EnLogic)`),
    source: `EnLogic device map ${fileName.split("/").pop()}${moduleId ? `, module Id ${moduleId}` : ""} (imported by busbar import-enlogic)`,
    addressBase,
    defaults: {},
    tags: tags as ProfileInput["tags"],
  };
  if (group || descr) profile.model = [descr, group].filter(Boolean).join(" — ");
  if (syncMin > 0) {
    if (!writeDt) ctx.report(props!.line, "warning", `synchronisation period ${syncMin} min but no date-time output tag (DTO) to write: no time sync`);
    else {
      if (syncCandidates > 1) ctx.report(writeDt.line, "warning", `synchronisation period ${syncMin} min: several date-time outputs; the first (${writeDt.id}) is written`);
      // The clock to read first: the date-time input at the output's address (SATEC: DT and wDT at
      // 0x1100), else one of the output's type, else the only one. EnLogic writes blind; Busbar never does.
      const clock =
        clocks.find((c) => c.address === writeDt!.address && c.type === writeDt!.type) ??
        (clocks.filter((c) => c.type === writeDt!.type).length === 1 ? clocks.find((c) => c.type === writeDt!.type) : undefined) ??
        (clocks.length === 1 ? clocks[0] : undefined);
      if (clock) {
        profile.timeSync = { tag: writeDt.id, periodMin: syncMin, clock: clock.id };
        ctx.report(writeDt.line, "info", `time sync every ${syncMin} min through ${writeDt.id}, reading the device clock ${clock.id} first (drift reported with each setting)`);
      } else
        ctx.report(
          writeDt.line,
          "warning",
          `synchronisation period ${syncMin} min, but ${clocks.length ? `${clocks.length} date-time inputs and none is clearly the device clock` : "no readable date-time input (DTI) holds the device clock"}: no time sync — Busbar never sets a clock it cannot read first; add \`timeSync: { tag: ${writeDt.id}, periodMin: ${syncMin}, clock: … }\` by hand`,
        );
    }
  }
  // KU / KI: the profile's default multipliers, so a device the site file leaves without ku/ki does
  // not read 100× low; loud, since they belong to one installation's transformers.
  const multiplied = tags.filter((t) => t.multiplier !== undefined && t.multiplier !== "none");
  if (multipliers.ku !== 1 || multipliers.ki !== 1) {
    profile.multipliers = { ku: multipliers.ku, ki: multipliers.ki };
    for (const key of ["ku", "ki"] as const)
      if (multipliers[key] !== 1)
        ctx.report(
          multiplierLines[key] ?? props?.line ?? mod.line,
          "warning",
          `${key.toUpperCase()} = ${multipliers[key]} (${multiplied.filter((t) => String(t.multiplier).includes(key.toUpperCase())).length} tag(s) use it): written as the profile's default \`multipliers.${key}\`; set \`${key}\` on each device in the site file if its transformers differ`,
        );
  } else if (multiplied.length)
    ctx.report(props?.line ?? mod.line, "warning", `${multiplied.length} tag(s) use KU/KI (mn) but the map gives KU = KI = 1: set \`ku\` / \`ki\` on each device in the site file to its transformer ratios`);
  // Validate against Busbar's own profile rules; report what they reject and leave it out (a tag,
  // the time sync), until what is left is a valid profile: nothing invalid is ever written.
  for (let attempt = 0; ; attempt++) {
    try {
      parseProfile(profile, profileId);
      break;
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const current = profile.tags as Record<string, unknown>[];
      for (const i of e.issues) {
        const m = /^tags\[(\d+)\]/.exec(i.path);
        const bad = m ? current[Number(m[1])] : undefined;
        const what = bad ? "not imported" : i.path.startsWith("timeSync") ? "no time sync" : "not imported";
        ctx.report(bad ? lineOf(tree, String(bad.label)) : mod.line, "error", `${bad ? `${bad.label}: ` : ""}${i.path}: ${i.message}; ${what}`);
      }
      const badIdx = new Set(e.issues.map((i) => /^tags\[(\d+)\]/.exec(i.path)?.[1]).filter((x) => x !== undefined).map(Number));
      profile.tags = current.filter((_, i) => !badIdx.has(i)) as ProfileInput["tags"];
      const syncIssue = e.issues.some((i) => i.path.startsWith("timeSync"));
      if (syncIssue || (profile.timeSync && !profile.tags.some((t) => t.id === profile.timeSync!.tag))) delete profile.timeSync;
      if (!profile.tags.length || attempt >= 3 || (!badIdx.size && !syncIssue)) {
        if (profile.tags.length) ctx.report(mod.line, "error", `module ${moduleId || name}: the profile is still invalid; not imported`);
        return undefined;
      }
    }
  }
  const ratios = [profile.multipliers ? `ku: ${profile.multipliers.ku}, ki: ${profile.multipliers.ki}` : "", multiplied.length && !profile.multipliers ? "ku: 1, ki: 1" : ""].filter(Boolean).join("");
  const siteStub = `- { id: ${identifier(name || cfgName || profileId)}, bus: BUS, unit: ${unitAddr ?? 1}, profile: ${profileId}${ratios ? `, ${ratios}` : ""} }`;
  const result: ImportedModule = { moduleId, name: profile.name, profile, status, siteStub, yaml: "" };
  result.yaml = renderYaml(result, fileName);
  return result;
}

function registerWords(type: DataType, length?: number): number {
  if (type === "text") return Math.ceil((length ?? 2) / 2);
  if (["int16", "uint16", "uint16_xy", "int16_offset", "bit"].includes(type)) return 1;
  if (["int32", "uint32", "float32", "fixed24_8", "fixed16_16", "dt32"].includes(type)) return 2;
  if (["dt48_ms", "dt48_1", "dt48_2", "dt96", "dt96_2"].includes(type)) return 3;
  return 4;
}

function lineOf(tree: XmlElement, label: string): number {
  let found = tree.line;
  const walk = (el: XmlElement) => {
    for (const c of el.children) {
      if (c.name === "Tag" && c.attrs.get("Name") === label) found = c.line;
      walk(c);
    }
  };
  walk(tree);
  return found;
}

/** The profile as YAML: a header (origin, service tags), then one flow mapping per tag. */
function renderYaml(m: ImportedModule, fileName: string): string {
  const p = m.profile;
  const lines = [
    `# ${p.name}: imported from the EnLogic device map ${fileName.split("/").pop()}${m.moduleId ? ` (module Id ${m.moduleId})` : ""} by busbar import-enlogic.`,
    "# Check it against the maker's register map before use; the import report lists every caveat by line.",
  ];
  lines.push("# This module's device in the site file (devices:), with the map's unit, KU and KI:", `#   ${m.siteStub}`);
  if (m.status.length) {
    lines.push("# EnLogic service tags (Func=0) — Busbar keeps these for every device by itself:");
    for (const s of m.status) lines.push(`#   ${JSON.stringify(s.tag)} (Adr ${s.adr}) → ${s.busbar}`);
  }
  // A name from the map must not end a comment line early (the rest would be read as YAML).
  for (let i = 0; i < lines.length; i++) lines[i] = lines[i]!.replace(/[\r\n\u0085\u2028\u2029]+/g, " ");
  const { tags, defaults: _d, ...head } = p;
  lines.push(stringify(head, { lineWidth: 0 }).trimEnd());
  lines.push("tags:");
  const KEYS = ["id", "label", "address", "function", "type", "order", "mask", "length", "scale", "offset", "multiplier", "unit", "write", "poll", "kind", "role"];
  for (const t of tags) {
    const entries = Object.entries(t).sort(([a], [b]) => (KEYS.indexOf(a) < 0 ? 99 : KEYS.indexOf(a)) - (KEYS.indexOf(b) < 0 ? 99 : KEYS.indexOf(b)));
    const parts = entries.map(([k, v]) => {
      if (k === "address" || k === "mask") return `${k}: 0x${(v as number).toString(16).toUpperCase().padStart(4, "0")}`;
      if (typeof v === "string") return `${k}: ${JSON.stringify(v)}`;
      return `${k}: ${JSON.stringify(v)}`;
    });
    lines.push(`  - { ${parts.join(", ")} }`);
  }
  return lines.join("\n") + "\n";
}
