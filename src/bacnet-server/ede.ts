import { EngineeringUnits, ObjectType } from "@bacnet-js/client/dist/lib/enum.js";
import type { ServedObject } from "./objects.ts";

/**
 * The EDE file set (Engineering Data Exchange, BIG-EU layout 2.3) a BMS integrator imports: the
 * data points, the state texts they reference, and the object-type and unit code tables. `;`
 * separated, UTF-8 with a byte-order mark (French state texts survive a spreadsheet round trip).
 */

export interface EdeDevice {
  instance: number;
  name: string;
  project: string;
}

export interface EdeFiles {
  /** file name → contents */
  files: Record<string, string>;
}

const BOM = "\ufeff";
const cell = (v: string | number | undefined): string => {
  if (v === undefined) return "";
  const s = String(v);
  return /[;"\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};
const line = (cells: (string | number | undefined)[]) => cells.map(cell).join(";");

const TYPE_TEXT: Record<number, string> = {
  [ObjectType.ANALOG_INPUT]: "Analog Input",
  [ObjectType.ANALOG_VALUE]: "Analog Value",
  [ObjectType.BINARY_INPUT]: "Binary Input",
  [ObjectType.BINARY_VALUE]: "Binary Value",
  [ObjectType.MULTI_STATE_INPUT]: "Multi-state Input",
  [ObjectType.MULTI_STATE_VALUE]: "Multi-state Value",
  [ObjectType.DATETIME_VALUE]: "DateTime Value",
  [ObjectType.DEVICE]: "Device",
};

/** "KILOWATT_HOURS" → "kilowatt-hours", as EPICS and the standard spell them. */
const unitText = (code: number): string => (EngineeringUnits[code] ?? `unit ${code}`).toLowerCase().replaceAll("_", "-");

export function edeFiles(device: EdeDevice, objects: readonly ServedObject[], now = new Date()): EdeFiles {
  const base = device.project.replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "") || "busbar";
  const stamp = now.toISOString().replace("T", " ").slice(0, 19);
  const header = [
    "#Engineering-Data-Exchange - B.I.G.-EU",
    line(["PROJECT_NAME", device.project]),
    line(["VERSION_OF_REFERENCEFILE", 1]),
    line(["TIMESTAMP_OF_LAST_CHANGE", stamp]),
    line(["AUTHOR_OF_LAST_CHANGE", "Busbar"]),
    line(["VERSION_OF_LAYOUT", "2.3"]),
    "#mandatory;mandatory;mandatory;mandatory;mandatory;optional;optional;optional;optional;optional;optional;optional;optional;optional;optional;optional",
    "# keyname;device obj.-instance;object-name;object-type;object-instance;description;present-value-default;min-present-value;max-present-value;settable;supports COV;hi-limit;low-limit;state-text-reference;unit-code;vendor-specific-address",
  ];

  // One state-text row per distinct text list.
  const stateRefs = new Map<string, number>();
  const stateRows: string[] = [];
  const stateRef = (o: ServedObject): number | undefined => {
    if (!o.states.length) return undefined;
    const texts = o.states.map((s) => s.text);
    const key = texts.join("\u0000");
    let ref = stateRefs.get(key);
    if (ref === undefined) {
      ref = stateRefs.size + 1;
      stateRefs.set(key, ref);
      stateRows.push(line([ref, ...texts]));
    }
    return ref;
  };

  const rows = [
    line([`${device.name}`, device.instance, device.name, ObjectType.DEVICE, device.instance, "Busbar", "", "", "", "N", "N", "", "", "", "", ""]),
    ...objects.map((o) => {
      const analog = o.type === ObjectType.ANALOG_INPUT || o.type === ObjectType.ANALOG_VALUE;
      return line([
        o.name,
        device.instance,
        o.name,
        o.type,
        o.instance,
        o.description,
        o.command ? o.command.relinquishDefault : "",
        analog ? o.min : undefined,
        analog ? o.max : undefined,
        o.writable ? "Y" : "N",
        o.type === ObjectType.DATETIME_VALUE ? "N" : "Y",
        "",
        "",
        stateRef(o),
        analog ? o.units : undefined,
        o.point.id,
      ]);
    }),
  ];

  const usedTypes = [...new Set([ObjectType.DEVICE, ...objects.map((o) => o.type)])].sort((a, b) => a - b);
  const usedUnits = [...new Set(objects.filter((o) => o.type === ObjectType.ANALOG_INPUT || o.type === ObjectType.ANALOG_VALUE).map((o) => o.units))].sort((a, b) => a - b);
  const crlf = (ls: string[]) => BOM + ls.join("\r\n") + "\r\n";
  return {
    files: {
      [`${base}_EDE.csv`]: crlf([...header, ...rows]),
      [`${base}_StateTexts.csv`]: crlf(["#State-Text-Table", "# Reference-Number;Text 1;Text 2;Text 3;...", ...stateRows]),
      [`${base}_ObjTypes.csv`]: crlf(["#Encoding of BACnet Object Types", "# Code;Object Type", ...usedTypes.map((t) => line([t, TYPE_TEXT[t] ?? `type ${t}`]))]),
      [`${base}_Units.csv`]: crlf(["#Encoding of BACnet Engineering Units", "# Code;Unit Text", ...usedUnits.map((u) => line([u, unitText(u)]))]),
    },
  };
}

/** A ZIP archive of the files, stored without compression (CSV of a few kB; no dependency). */
export function zip(files: Record<string, string>, now = new Date()): Uint8Array {
  const enc = new TextEncoder();
  const dosTime = ((now.getHours() << 11) | (now.getMinutes() << 5) | (now.getSeconds() >> 1)) & 0xffff;
  const dosDate = (((now.getFullYear() - 1980) << 9) | ((now.getMonth() + 1) << 5) | now.getDate()) & 0xffff;
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const n = enc.encode(name);
    const data = enc.encode(text);
    const crc = Bun.hash.crc32(data) >>> 0;
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint16(6, 0x0800, true); // UTF-8 names
    local.setUint16(8, 0, true); // stored
    local.setUint16(10, dosTime, true);
    local.setUint16(12, dosDate, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, data.length, true);
    local.setUint32(22, data.length, true);
    local.setUint16(26, n.length, true);
    local.setUint16(28, 0, true);
    const central = new DataView(new ArrayBuffer(46));
    central.setUint32(0, 0x02014b50, true);
    central.setUint16(4, 20, true);
    central.setUint16(6, 20, true);
    central.setUint16(8, 0x0800, true);
    central.setUint16(10, 0, true);
    central.setUint16(12, dosTime, true);
    central.setUint16(14, dosDate, true);
    central.setUint32(16, crc, true);
    central.setUint32(20, data.length, true);
    central.setUint32(24, data.length, true);
    central.setUint16(28, n.length, true);
    central.setUint32(42, offset, true);
    locals.push(new Uint8Array(local.buffer), n, data);
    centrals.push(new Uint8Array(central.buffer), n);
    offset += 30 + n.length + data.length;
  }
  const cdSize = centrals.reduce((s, b) => s + b.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, Object.keys(files).length, true);
  end.setUint16(10, Object.keys(files).length, true);
  end.setUint32(12, cdSize, true);
  end.setUint32(16, offset, true);
  const parts = [...locals, ...centrals, new Uint8Array(end.buffer)];
  const out = new Uint8Array(parts.reduce((s, b) => s + b.length, 0));
  let p = 0;
  for (const b of parts) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}
