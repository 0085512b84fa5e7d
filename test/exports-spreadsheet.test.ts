/**
 * CSV exports read by a real spreadsheet: energy and cost (by meter, circuit, zone, total) from a real
 * energy store, device history from a real historian and alarm history, written in the French
 * format (; and ,), converted by headless LibreOffice Calc (Debian libreoffice-calc) with its CSV
 * import set to `;`, UTF-8 and the French locale, to xlsx; every number cell reads back as a
 * number equal to the value this test computed on its own. Also: the shared format's rules.
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AlarmStore } from "../src/alarms/store.ts";
import { openDatabase } from "../src/db/database.ts";
import { Flag, INTERVAL_MS } from "../src/energy/counters.ts";
import { EnergyStore } from "../src/energy/store.ts";
import { energySchema, validateEnergy } from "../src/energy/structure.ts";
import { LocalClock, TariffEvaluator } from "../src/energy/tariffs.ts";
import { alarmsCsv, historyCsv } from "../src/exports/csv.ts";
import { energyCsv } from "../src/exports/energy.ts";
import { csvFormat, num, type CsvFormat } from "../src/exports/format.ts";
import { historianSchema } from "../src/historian/config.ts";
import { Historian } from "../src/historian/historian.ts";
import { Quality } from "../src/points/quality.ts";

const TZ = "Europe/Paris";
const dir = mkdtempSync(join(tmpdir(), "busbar-sheet-"));
const FR = csvFormat({}, TZ, "fr") as CsvFormat;
const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

describe("the shared CSV format", () => {
  it("defaults by language, refuses a comma for both marks with the reason, plain numbers", () => {
    expect(csvFormat({}, TZ, "fr")).toEqual({ sep: ";", decimal: ",", timeZone: TZ });
    expect(csvFormat({}, TZ, "en")).toEqual({ sep: ",", decimal: ".", timeZone: TZ });
    expect(csvFormat({}, TZ)).toEqual({ sep: ";", decimal: ",", timeZone: TZ }); // the vendor's
    expect(csvFormat({ sep: "," }, TZ, "fr")).toMatchObject({ sep: ",", decimal: "." });
    expect(csvFormat({ sep: "tab" }, TZ, "fr")).toMatchObject({ sep: "\t", decimal: "," });
    expect(csvFormat({ sep: ",", decimal: "," }, TZ)).toMatch(/comma cannot be both/);
    expect(csvFormat({ sep: "|" }, TZ)).toMatch(/^sep: /);
    expect(csvFormat({ decimal: "x" }, TZ)).toMatch(/^decimal: /);
    // Never an exponent, never "NaN", never "-0": a spreadsheet reads every cell as the same number.
    expect(num(1e-7, FR)).toBe("0,0000001");
    expect(num(1.5e21, { decimal: "." })).toBe("1500000000000000000000");
    expect(num(NaN, FR)).toBe("");
    expect(num(-0.0001, FR, 3)).toBe("0");
    expect(num(2.0004, FR, 3)).toBe("2");
  });
});

// --- An energy store: a head meter, two feeders under it (one with a 2-hour gap and an estimated
// interval), a water meter; a flat tariff of 0.1 €/kWh.
const clock = new LocalClock(TZ);
const DAY = clock.fromLocal(2026, 3, 10);
const config = energySchema.parse({
  zones: [{ id: "north", label: "North", labelFr: "Nord" }],
  meters: [
    { id: "MAIN", point: "M.e", head: true },
    { id: "F1", point: "F1.e", parent: "MAIN", circuit: "hvac", zones: ["north"] },
    { id: "F2", point: "F2.e", parent: "MAIN", circuit: "lighting", zones: ["north"] },
    { id: "W", point: "W.v", commodity: "water" },
  ],
  costs: [{ commodity: "electricity", currency: "EUR", tariffs: [{ id: "flat", name: "Base", prices: [{ price: 0.1 }] }], rules: [{ tariff: "flat" }] }],
});
const { meters, errors } = validateEnergy(config, (p) => ({ unit: p.startsWith("W") ? "m³" : "kWh" }));
const main = (k: number) => 2.5 + (k % 4) * 0.125;
const f1 = (k: number) => 1.25 + (k % 3) * 0.001;
const f2 = (k: number) => (k >= 40 && k < 48 ? undefined : 0.5); // 10:00–12:00 missing
const water = (k: number) => 0.01 + (k % 2) * 0.005;
const store = new EnergyStore(new Database(":memory:"), TZ);
const ev = new TariffEvaluator(config.costs[0]!, clock);
const ivs = (f: (k: number) => number | undefined, flag = (_k: number) => 0) =>
  Array.from({ length: 96 }, (_, k) => k)
    .filter((k) => f(k) !== undefined)
    .map((k) => ({ ts: DAY + k * INTERVAL_MS, value: f(k)!, held: 0, flags: flag(k) }));
store.write("MAIN", ivs(main), ev);
store.write("F1", ivs(f1), ev);
store.write("F2", ivs(f2, (k) => (k === 10 ? Flag.ESTIMATED : 0)), ev);
store.write("W", ivs(water), undefined);
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const sum = (f: (k: number) => number | undefined) => Array.from({ length: 96 }, (_, k) => f(k) ?? 0).reduce((a, b) => a + b, 0);

function parse(text: string, f: CsvFormat) {
  expect(text.charCodeAt(0)).toBe(0xfeff);
  const rows = text.slice(1).split("\r\n").filter(Boolean).map((l) => l.split(f.sep));
  return { head: rows[0]!, rows: rows.slice(1) };
}

describe("energy CSV", () => {
  const opts = { store, config, meters, from: DAY, to: DAY + 86_400_000 - 1, format: FR, lang: "fr" as const };
  it("by circuit per 15 minutes: units and currency in the header, the unmetered rest, a gap empty and said", () => {
    expect(errors).toEqual([]);
    const { head, rows } = parse([...energyCsv({ ...opts, by: "circuit", bucket: "15m" })].join(""), FR);
    expect(head).toEqual([
      "start",
      ...["Éclairage", "CVC", "Non mesuré (reste)"].flatMap((l) => [`${l} (kWh)`, `${l} cost (EUR)`, `${l} held bad (kWh)`, `${l} quality`]),
    ]);
    expect(rows.length).toBe(96);
    expect(rows[0]![0]).toBe("2026-03-10T00:00:00.000+01:00");
    expect(rows[0]!.slice(1, 5)).toEqual(["0,5", "0,05", "0", "good"]);
    expect(rows[10]![4]).toBe("estimated");
    // 10:00: lighting has no interval — empty cells, "missing"; the rest then cannot be known whole.
    expect(rows[40]!.slice(1, 5)).toEqual(["", "", "", "missing"]);
    expect(rows[40]![12]).toBe("incomplete");
    expect(rows[5]![9]).toBe(num(r3(main(5) - f1(5) - 0.5), FR));
  });

  it("by zone, by meter and total per day: the sums of the intervals", () => {
    const zone = parse([...energyCsv({ ...opts, by: "zone", bucket: "day" })].join(""), FR);
    expect(zone.head[1]).toBe("Nord (kWh)");
    expect(zone.rows.map((r) => r.slice(1, 3))).toEqual([[num(r3(sum(f1) + sum(f2)), FR), num(r3((sum(f1) + sum(f2)) * 0.1), FR)]]);
    const total = parse([...energyCsv({ ...opts, by: "total", bucket: "day" })].join(""), FR);
    expect(total.head).toEqual(["start", "Total électricité (kWh)", "Total électricité cost (EUR)", "Total électricité held bad (kWh)", "Total électricité quality", "Total eau (m³)", "Total eau cost", "Total eau held bad (m³)", "Total eau quality"]);
    expect(total.rows[0]!.slice(1)).toEqual([num(r3(sum(main)), FR), num(r3(sum(main) * 0.1), FR), "0", "good", num(r3(sum(water)), FR), "", "0", "good"]);
    const byMeter = parse([...energyCsv({ ...opts, by: "meter", bucket: "hour", format: csvFormat({}, TZ, "en") as CsvFormat })].join(""), { sep: ",", decimal: ".", timeZone: TZ });
    expect(byMeter.rows.length).toBe(24);
    expect(byMeter.rows[10]!.slice(9, 13)).toEqual(["", "", "", "missing"]); // F2 has no 10:00 hour
    expect(byMeter.rows[2]![5]).toBe(String(r3(f1(8) + f1(9) + f1(10) + f1(11))));
  });
});

// --- The round trip through LibreOffice Calc.

/** Number cells of the first sheet of an xlsx: "B2" → value; text cells are absent. */
function numberCells(xlsx: string): Map<string, number> {
  const xml = Bun.spawnSync(["unzip", "-p", xlsx, "xl/worksheets/sheet1.xml"]).stdout.toString();
  const out = new Map<string, number>();
  for (const m of xml.matchAll(/<c r="([A-Z]+\d+)"([^>]*?)(?:\/>|>(.*?)<\/c>)/g)) {
    const type = /t="(\w+)"/.exec(m[2]!)?.[1] ?? "n";
    const v = /<v>([^<]*)<\/v>/.exec(m[3] ?? "")?.[1];
    if (type === "n" && v !== undefined) out.set(m[1]!, Number(v));
  }
  return out;
}
const col = (i: number) => (i < 26 ? String.fromCharCode(65 + i) : String.fromCharCode(64 + Math.floor(i / 26)) + String.fromCharCode(65 + (i % 26)));

describe("LibreOffice Calc, French settings", () => {
  it("reads every number of the energy, history and alarm CSV back as the same number", { timeout: 90_000 }, async () => {
    const h = new Historian({
      path: join(dir, "h.history.db"),
      points: [{ index: 0, name: "2B3.p_total", device: "2B3", kind: "analog", unit: "kW", deadband: 0, relDeadband: 0, heartbeatMs: 60_000, store: true }],
      config: historianSchema.parse({}),
      timeZone: TZ,
    });
    cleanup.push(() => h.stop());
    const T0 = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
    const samples = [12345.678, -3.125, 0.0625, 600.25];
    samples.forEach((v, k) => h.offer(0, T0 + k * 60_000, v, Quality.GOOD));
    h.offer(0, T0 + 4 * 60_000, null, Quality.COMM_FAIL);
    h.flush(Date.now());
    const db = openDatabase(join(dir, "a.db"));
    cleanup.push(() => db.close());
    const alarms = new AlarmStore(db);
    const t0 = Date.parse("2026-03-10T08:00:00+01:00");
    alarms.cleared(alarms.raise({ alarmId: "5B1.f.HH", device: "5B1", point: "5B1.frequency", priority: "critical", message: "Fréquence; haute", value: 50.75, raisedAt: t0 }), t0 + 90_500);

    const files = {
      energy: [...energyCsv({ store, config, meters, by: "meter", bucket: "15m", from: DAY, to: DAY + 86_400_000 - 1, format: FR, lang: "fr" })].join(""),
      history: [...historyCsv({ historian: h, indexes: [0], from: T0, to: T0 + 5 * 60_000, group: "raw", format: FR })].join(""),
      alarms: [...alarmsCsv({ sqlite: db.sqlite, from: t0 - 1, to: t0 + 1, format: FR })].join(""),
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, `${name}.csv`), text);
    // CSV import: `;` (59), `"` (34), UTF-8 (76), from line 1, standard columns, French (1036), no
    // quoted-as-text, no special-number detection. One soffice start for the three files; its own profile.
    const p = Bun.spawn(
      ["soffice", `-env:UserInstallation=file://${join(dir, "lo-profile")}`, "--headless", "--norestore", "--infilter=CSV:59,34,76,1,,1036,false,false", "--convert-to", "xlsx", "--outdir", dir, ...Object.keys(files).map((n) => join(dir, `${n}.csv`))],
      { stdout: "pipe", stderr: "pipe" },
    );
    expect(await p.exited, await new Response(p.stderr).text()).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith(".xlsx")).sort()).toEqual(["alarms.xlsx", "energy.xlsx", "history.xlsx"]);

    // Energy per meter per 15 min: columns MAIN, F1, F2, W × (value, cost, held, quality).
    const e = numberCells(join(dir, "energy.xlsx"));
    const series = [main, f1, f2, water];
    let checked = 0;
    for (let k = 0; k < 96; k++)
      series.forEach((f, m) => {
        const v = f(k);
        const row = k + 2;
        if (v === undefined) expect(e.has(`${col(1 + m * 4)}${row}`)).toBe(false);
        else {
          expect(e.get(`${col(1 + m * 4)}${row}`)).toBeCloseTo(r3(v), 9);
          if (m < 3) expect(e.get(`${col(2 + m * 4)}${row}`)).toBeCloseTo(r3(v * 0.1), 9);
          checked++;
        }
      });
    expect(checked).toBe(96 * 4 - 8);
    // History: raw samples, the comm-fail sample's value empty (not 0).
    const hs = numberCells(join(dir, "history.xlsx"));
    samples.forEach((v, k) => expect(hs.get(`B${k + 2}`)).toBe(v));
    expect(hs.has("B6")).toBe(false);
    // Alarms: value and duration (s) with their decimals.
    const as = numberCells(join(dir, "alarms.xlsx"));
    expect(as.get("G2")).toBe(50.75);
    expect(as.get("N2")).toBe(90.5);
  });
});
