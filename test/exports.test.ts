/**
 * CSV exports: device history from a real historian (raw and per minute), alarm history from the
 * alarm store; the user's separator and decimal mark, BOM, ISO 8601 with offset, units in the
 * header, quality in its own column; values parse back to what went in. Routes: maintenance only,
 * bad parameters refused with the reason, each download journaled.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AlarmStore } from "../src/alarms/store.ts";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { openDatabase } from "../src/db/database.ts";
import { alarmsCsv, csvFormat, historyCsv, type CsvFormat } from "../src/exports/csv.ts";
import { historianSchema } from "../src/historian/config.ts";
import { Historian } from "../src/historian/historian.ts";
import { Quality } from "../src/points/quality.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { freePort } from "./helpers/peers.ts";
import { artifact, launchChromium, newPage, SIZES } from "./helpers/browser.ts";

const dir = mkdtempSync(join(tmpdir(), "busbar-exports-"));
const TZ = "America/Toronto";
const FR = csvFormat({}, TZ) as CsvFormat;
const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

/** Parses what we wrote (no quoted separators in these files), decimal mark back to a number. */
function parse(text: string, f: CsvFormat) {
  expect(text.charCodeAt(0)).toBe(0xfeff);
  const lines = text.slice(1).split("\r\n").filter(Boolean);
  const rows = lines.map((l) => l.split(f.sep));
  const n = (s: string) => (s === "" ? null : Number(f.decimal === "," ? s.replace(",", ".") : s));
  return { head: rows[0]!, rows: rows.slice(1), n };
}

describe("history CSV", () => {
  const T0 = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
  const h = new Historian({
    path: join(dir, "h.history.db"),
    points: [
      { index: 0, name: "2B3.p_total", device: "2B3", kind: "analog", unit: "kW", deadband: 0, relDeadband: 0, heartbeatMs: 60_000, store: true },
      { index: 1, name: "5B1.v_ab", device: "5B1", kind: "analog", unit: "V", deadband: 0, relDeadband: 0, heartbeatMs: 60_000, store: true },
    ],
    config: historianSchema.parse({}),
    timeZone: TZ,
  });
  cleanup.push(() => h.stop());
  h.offer(0, T0, 12.5, Quality.GOOD);
  h.offer(1, T0, 600.25, Quality.GOOD);
  h.offer(0, T0 + 60_000, -3.125, Quality.GOOD);
  h.offer(0, T0 + 90_000, null, Quality.COMM_FAIL);
  h.offer(0, T0 + 120_000, 7, Quality.GOOD);
  h.offer(1, T0 + 120_000, 601.5, Quality.GOOD);
  h.flush(Date.now());

  it("raw: one row per instant, units in the header, quality beside each value, ; and , by default", () => {
    const text = [...historyCsv({ historian: h, indexes: [0, 1], from: T0, to: T0 + 180_000, group: "raw", format: FR })].join("");
    const { head, rows, n } = parse(text, FR);
    expect(head).toEqual(["timestamp", "2B3.p_total (kW)", "2B3.p_total quality", "5B1.v_ab (V)", "5B1.v_ab quality"]);
    expect(rows[0]![0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000-0[45]:00$/);
    expect(Date.parse(rows[0]![0]!)).toBe(T0);
    expect(rows[0]!.slice(1)).toEqual(["12,5", "good", "600,25", "good"]);
    expect(n(rows[1]![1]!)).toBe(-3.125);
    expect(rows[1]![3]).toBe(""); // 5B1 had no sample then: empty, not repeated
    // A comm-fail sample: no value, its quality said.
    expect(rows[2]!.slice(1, 3)).toEqual(["", "comm-fail"]);
    expect(rows[3]!.slice(1)).toEqual(["7", "good", "601,5", "good"]);
  });

  it("per minute with , and . : mean, min, max, coverage and a partial minute called partial", () => {
    const f = csvFormat({ sep: ",", decimal: "." }, TZ) as CsvFormat;
    const text = [...historyCsv({ historian: h, indexes: [0], from: T0, to: T0 + 180_000, group: "1m", format: f })].join("");
    const { head, rows, n } = parse(text, f);
    expect(head).toEqual(["timestamp", "2B3.p_total mean (kW)", "2B3.p_total min (kW)", "2B3.p_total max (kW)", "2B3.p_total coverage (%)", "2B3.p_total quality"]);
    expect(rows.length).toBe(3);
    expect(rows[0]!.slice(1)).toEqual(["12.5", "12.5", "12.5", "100", "good"]);
    // Second minute: 30 s of -3.125, then comm-fail.
    expect(n(rows[1]![1]!)).toBe(-3.125);
    expect(rows[1]![4]).toBe("50");
    expect(rows[1]![5]).toBe("partial");
  });

  it("refuses a separator equal to the decimal mark", () => {
    expect(csvFormat({ sep: ",", decimal: "," }, TZ)).toMatch(/^sep "," with decimal ",": a comma cannot be both/);
    expect(csvFormat({ sep: "|" }, TZ)).toMatch(/sep/);
  });
});

describe("alarm history CSV", () => {
  it("one row per activation with its acknowledgement and duration; message text quoted and defused", () => {
    const db = openDatabase(join(dir, "a.db"));
    cleanup.push(() => db.close());
    const store = new AlarmStore(db);
    const t0 = Date.parse("2026-03-08T01:30:00-05:00");
    const id = store.raise({ alarmId: "2B3.tripped", device: "2B3", point: "2B3.tripped", priority: "critical", message: "=Disjoncteur 2B3; déclenché", value: 1, raisedAt: t0 });
    store.ack(id, t0 + 60_000, "maint", "vu");
    store.cleared(id, t0 + 90_500);
    const text = [...alarmsCsv({ sqlite: db.sqlite, from: t0 - 1, to: t0 + 1, format: FR })].join("");
    const lines = text.slice(1).split("\r\n").filter(Boolean);
    expect(lines[0]).toBe("raised;alarm;device;point;priority;message;value;acknowledged;acknowledged by;comment;cleared;closed;close reason;duration (s)");
    expect(lines[1]).toBe(`2026-03-08T01:30:00.000-05:00;2B3.tripped;2B3;2B3.tripped;critical;"'=Disjoncteur 2B3; déclenché";1;2026-03-08T01:31:00.000-05:00;maint;vu;2026-03-08T01:31:30.500-05:00;;;90,5`);
  });
});

describe("busbar export (CLI)", () => {
  it("writes the alarm history with the chosen separator and decimal mark", async () => {
    const dbPath = join(dir, "cli.db");
    const db = openDatabase(dbPath);
    const store = new AlarmStore(db);
    const t0 = Date.parse("2026-02-10T08:00:00-05:00");
    const id = store.raise({ alarmId: "5B1.frequency.HH", device: "5B1", point: "5B1.frequency", priority: "critical", message: "Fréquence haute", value: 61.25, raisedAt: t0 });
    store.cleared(id, t0 + 2500);
    db.close();
    const out = join(dir, "alarms.csv");
    const p = Bun.spawn([process.execPath, join(import.meta.dirname, "../src/cli.ts"), "export", "alarms", "--db", dbPath, "--tz", TZ, "--from", "2026-02-10", "--to", "2026-02-10", "--sep", ",", "--decimal", ".", "--out", out], { stderr: "pipe" });
    expect(await p.exited).toBe(0);
    const text = await Bun.file(out).text();
    expect(text.split("\r\n")[1]).toBe("2026-02-10T08:00:00.000-05:00,5B1.frequency.HH,5B1,5B1.frequency,critical,Fréquence haute,61.25,,,,2026-02-10T08:00:02.500-05:00,,,2.5");
  });
});

describe("export routes", () => {
  let busbar: Busbar;
  let rawSite: Record<string, unknown>;
  it("maintenance downloads, an operator is refused, bad parameters say why, downloads are journaled", { timeout: 30_000 }, async () => {
    rawSite = {
      site: { name: "exports", timezone: TZ },
      buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: await freePort(), timeoutMs: 100, retries: 0 }],
      devices: [{ id: "F1", bus: "gw", unit: 1, profile: "micrologic-e" }],
      energy: { meters: [{ id: "F1", point: "F1.energy_import", circuit: "hvac" }] },
    };
    const site = parseSite(structuredClone(rawSite), loadProfiles());
    busbar = await startBusbar({ site, dbPath: join(dir, "r.db"), httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
    cleanup.push(() => busbar.stop());
    const m = await busbar.auth.users.create("maint", "maintenance", "maint-password-1");
    const o = await busbar.auth.users.create("op", "operator", "op-password-1");
    const cookie = (id: number, role: "maintenance" | "operator") => `busbar_session=${busbar.auth.sessions.create(id, "password", role, "127.0.0.1", 600_000, 3_600_000).token}`;
    const get = (path: string, c: string) => fetch(busbar.url + path.replace(/^\//, ""), { headers: { cookie: c } });
    const point = busbar.registry.points.find((p) => busbar.history!.historian.points[p.index]?.store)!.id;
    const ok = await get(`/export/history.csv?points=${point}&group=15m&from=2026-01-01&to=2026-01-02`, cookie(m.id, "maintenance"));
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    const bytes = new Uint8Array(await ok.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const body = new TextDecoder().decode(bytes);
    expect(body.split("\r\n")[1]).toMatch(/^2026-01-01T00:00:00\.000-05:00;;;;;no-data$/);
    // "to" is a day, inclusive (as on the journal): two days of quarter hours.
    expect(body.split("\r\n").filter(Boolean).length).toBe(1 + 2 * 96);
    expect((await get(`/export/history.csv?points=${point}`, cookie(o.id, "operator"))).status).toBe(403);
    const page = await (await get("/export", cookie(m.id, "maintenance"))).text();
    expect(page).toContain(`value="${point}"`);
    // The page's multiple select sends points=A&points=B.
    const two = busbar.registry.points.filter((p) => busbar.history!.historian.points[p.index]?.store).slice(0, 2).map((p) => p.id);
    const multi = await (await get(`/export/history.csv?points=${two[0]}&points=${two[1]}&group=1d&from=2026-01-01&to=2026-01-01`, cookie(m.id, "maintenance"))).text();
    expect(multi.split("\r\n")[0]).toContain(`${two[1]} mean`);
    const bad = await get(`/export/history.csv?points=nope.x`, cookie(m.id, "maintenance"));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain("nope.x");
    expect((await get(`/export/alarms.csv?sep=,&decimal=,`, cookie(m.id, "maintenance"))).status).toBe(400);
    expect((await get(`/export/alarms.csv`, cookie(m.id, "maintenance"))).status).toBe(200);
    // Both files in one zip, checked by Info-ZIP's unzip: same bytes as the single downloads.
    const q = `points=${two[0]},${two[1]}&group=1d&from=2026-01-01&to=2026-01-01`;
    const zipRes = await get(`/export/bundle.zip?${q}`, cookie(m.id, "maintenance"));
    expect(zipRes.headers.get("content-type")).toBe("application/zip");
    const zipFile = join(dir, "bundle.zip");
    await Bun.write(zipFile, await zipRes.arrayBuffer());
    const test = Bun.spawnSync(["unzip", "-t", zipFile]);
    expect(test.stdout.toString()).toContain("No errors detected");
    const inside = Bun.spawnSync(["unzip", "-p", zipFile, "history-1d-2026-01-01.csv"]).stdout;
    const single = new Uint8Array(await (await get(`/export/history.csv?${q}`, cookie(m.id, "maintenance"))).arrayBuffer());
    expect(Buffer.from(inside).equals(Buffer.from(single))).toBe(true);
    // Any of the files in one zip; the journal only for an admin; a file unknown is named.
    const three = await get(`/export/bundle.zip?${q}&files=history&files=energy,alarms`, cookie(m.id, "maintenance"));
    await Bun.write(zipFile, await three.arrayBuffer());
    expect(Bun.spawnSync(["unzip", "-Z1", zipFile]).stdout.toString().trim().split("\n")).toEqual(["history-1d-2026-01-01.csv", "energy-circuit-day-2026-01-01.csv", "alarms-2026-01-01.csv"]);
    expect((await get(`/export/bundle.zip?${q}&files=alarms,journal`, cookie(m.id, "maintenance"))).status).toBe(403);
    expect(await (await get(`/export/bundle.zip?${q}&files=alarms,pics`, cookie(m.id, "maintenance"))).json()).toEqual({ error: "files: one or more of history, energy, alarms, journal" });
    const j = busbar.db.sqlite.query("SELECT actor, message FROM events WHERE type = 'export.csv' AND json_extract(data, '$.zip') IS NULL").all();
    expect(j).toEqual([
      { actor: "maint", message: "maint a téléchargé le CSV de l’historique" },
      { actor: "maint", message: "maint a téléchargé le CSV de l’historique" },
      { actor: "maint", message: "maint a téléchargé le CSV de l’historique des alarmes" },
      { actor: "maint", message: "maint a téléchargé le CSV de l’historique" },
    ]);
  });

  it("energy CSV, defaults by language, bad fields are a 400 naming them, progress of a download for its user only", { timeout: 30_000 }, async () => {
    const m = busbar.auth.users.byName("maint")!;
    const o = await busbar.auth.users.create("maint2", "maintenance", "maint-password-2");
    const cookie = (id: number) => `busbar_session=${busbar.auth.sessions.create(id, "password", "maintenance", "127.0.0.1", 600_000, 3_600_000).token}`;
    const get = (path: string, c: string, lang = "fr") => fetch(busbar.url + path.replace(/^\//, ""), { headers: { cookie: c, "accept-language": lang } });
    // Byte-order mark kept (Response.text() drops it).
    const text = async (r: Response) => new TextDecoder("utf-8", { ignoreBOM: true }).decode(await r.arrayBuffer());
    const en = await get(`/export/energy.csv?by=meter&bucket=day&from=2026-01-01&to=2026-01-02`, cookie(m.id), "en");
    expect(en.status).toBe(200);
    const lines = (await text(en)).split("\r\n");
    expect(lines[0]).toBe("\uFEFFstart,F1 (kWh),F1 cost,F1 held bad (kWh),F1 quality");
    expect(lines[1]).toBe("2026-01-01T00:00:00.000-05:00,,,,missing");
    const fr = await text(await get(`/export/energy.csv?bucket=month&from=2026-01-01&to=2026-01-31`, cookie(m.id)));
    expect(fr.split("\r\n")[0]).toBe("\uFEFFstart;CVC (kWh);CVC cost;CVC held bad (kWh);CVC quality");
    for (const [path, error] of [
      ["/export/energy.csv?by=floor", "by: meter, circuit, zone, total"],
      ["/export/energy.csv?bucket=week", "bucket: 15m, hour, day, month"],
      ["/export/energy.csv?by=zone", "by: this site has no zone with meters"],
      ["/export/alarms.csv?sep=,&decimal=,", 'sep "," with decimal ",": a comma cannot be both; use sep ";" with decimal "," (French Excel) or sep "," with decimal "."'],
      ["/export/alarms.csv?sep=%7C", 'sep: ";", "," or "tab", not "|"'],
      ["/export/alarms.csv?from=yesterday", "from: not a date (YYYY-MM-DD), date-time or ms since 1970"],
      ["/export/alarms.csv?from=2026-02-01&to=2026-01-01", "to must be after from"],
      ["/export/alarms.csv?priority=urgent", "priority: critical, high, medium, low"],
      ["/export/history.csv?group=week&points=x", "group: raw, 1m, 15m, 1h, 1d, 1mo"],
    ] as const) {
      const r = await get(path, cookie(m.id));
      expect([path, r.status, await r.json()]).toEqual([path, 400, { error }]);
    }
    // The journal's download: the same format rules (an admin's).
    const a = await busbar.auth.users.create("adm", "admin", "admin-password-1");
    const admin = `busbar_session=${busbar.auth.sessions.create(a.id, "password", "admin", "127.0.0.1", 600_000, 3_600_000).token}`;
    expect(await (await get("/journal/export.csv?sep=,&decimal=,", admin)).json()).toEqual({ error: expect.stringMatching(/comma cannot be both/) });
    expect((await text(await get("/journal/export.csv", admin))).split("\r\n")[0]).toBe("\uFEFFid;timestamp;type;source;device;user;message;data;hash");
    expect((await text(await get("/journal/export.csv", admin, "en"))).split("\r\n")[0]).toBe("\uFEFFid,timestamp,type,source,device,user,message,data,hash");
    // The page's job id: the download's progress, then done with its rows; another user sees nothing.
    const point = busbar.registry.points.find((p) => busbar.history!.historian.points[p.index]?.store)!.id;
    const body = await text(await get(`/export/history.csv?points=${point}&group=1h&from=2026-01-01&to=2026-01-10&job=job-abcdef12`, cookie(m.id)));
    const p = await get("/export/progress?job=job-abcdef12", cookie(m.id));
    expect(await p.json()).toMatchObject({ id: "job-abcdef12", what: "history", state: "done", done: 1, rows: body.split("\r\n").filter(Boolean).length, bytes: Buffer.byteLength(body) });
    expect((await get("/export/progress?job=job-abcdef12", cookie(o.id))).status).toBe(404);
    // A download abandoned part way is said so.
    const big = await get(`/export/history.csv?points=${point}&group=1m&from=2025-01-01&to=2025-12-31&job=job-cancel01`, cookie(m.id));
    const reader = big.body!.getReader();
    await reader.read();
    await reader.cancel();
    let state = "";
    for (let k = 0; k < 50 && state !== "cancelled"; k++) {
      await Bun.sleep(20);
      state = ((await (await get("/export/progress?job=job-cancel01", cookie(m.id))).json()) as { state: string }).state;
    }
    expect(state).toBe("cancelled");
  });

  it("the page in Chromium: one form, a comma for both marks stopped, the zip downloaded with its progress shown done", { timeout: 60_000 }, async () => {
    const m = busbar.auth.users.byName("maint")!;
    const token = busbar.auth.sessions.create(m.id, "password", "maintenance", "127.0.0.1", 600_000, 3_600_000).token;
    const browser = await launchChromium();
    cleanup.push(() => browser.close());
    const { context, page } = await newPage(browser, SIZES.control);
    await context.addCookies([{ name: "busbar_session", value: token, url: busbar.url }]);
    await page.goto(busbar.url + "export");
    // French reader: ; and , preselected.
    expect(await page.inputValue('select[name="sep"]')).toBe(";");
    expect(await page.inputValue('select[name="decimal"]')).toBe(",");
    const point = busbar.registry.points.find((p) => busbar.history!.historian.points[p.index]?.store)!.id;
    await page.selectOption('select[name="points"]', [point]);
    await page.selectOption('select[name="sep"]', ",");
    await page.click('#export-history button[type="submit"]');
    expect(await page.isVisible(".export-format-error")).toBe(true);
    await page.selectOption('select[name="decimal"]', ".");
    await page.fill('input[name="from"]', "2026-01-01");
    await page.fill('input[name="to"]', "2026-01-02");
    await page.check('input[name="files"][value="energy"]');
    const [download] = await Promise.all([page.waitForEvent("download"), page.click('#export-zip button[type="submit"]')]);
    const file = artifact("export-bundle.zip");
    await download.saveAs(file);
    const names = Bun.spawnSync(["unzip", "-Z1", file]).stdout.toString().trim().split("\n");
    expect(names).toEqual(["history-15m-2026-01-01.csv", "energy-circuit-day-2026-01-01.csv", "alarms-2026-01-01.csv"]);
    const rows = names.map((n) => Bun.spawnSync(["unzip", "-p", file, n]).stdout.toString().split("\r\n").filter(Boolean).length).reduce((a, b) => a + b, 0);
    expect(Bun.spawnSync(["unzip", "-p", file, names[0]!]).stdout.toString().split("\r\n")[1]).toMatch(/^2026-01-01T00:00:00\.000-05:00,/);
    await page.waitForSelector('.export-progress[data-state="done"]', { timeout: 10_000 });
    // The lines (headers included) and MB the server wrote.
    expect(await page.textContent(".export-progress span")).toBe(`Terminé : ${rows} lignes, 0,0 Mo`);
    await page.screenshot({ path: artifact("export-page.png"), fullPage: true });
    await context.close();
  });

  it("busbar export energy writes what the route downloads; a bad separator exits 2", { timeout: 30_000 }, async () => {
    const siteFile = join(dir, "site.json");
    await Bun.write(siteFile, JSON.stringify(rawSite));
    const m = busbar.auth.users.byName("maint")!;
    const c = `busbar_session=${busbar.auth.sessions.create(m.id, "password", "maintenance", "127.0.0.1", 600_000, 3_600_000).token}`;
    const q = "by=meter&bucket=hour&from=2026-01-01&to=2026-01-01";
    const viaRoute = new Uint8Array(await (await fetch(`${busbar.url}export/energy.csv?${q}`, { headers: { cookie: c, "accept-language": "en" } })).arrayBuffer());
    const out = join(dir, "energy-cli.csv");
    const cli = (args: string[]) => Bun.spawn([process.execPath, join(import.meta.dirname, "../src/cli.ts"), "export", ...args], { stdout: "pipe", stderr: "pipe" });
    const p = cli(["energy", "--site", siteFile, "--db", join(dir, "r.db"), "--by", "meter", "--bucket", "hour", "--from", "2026-01-01", "--to", "2026-01-01", "--lang", "en", "--out", out]);
    expect(await p.exited, await new Response(p.stderr).text()).toBe(0);
    expect(Buffer.from(await Bun.file(out).arrayBuffer()).equals(Buffer.from(viaRoute))).toBe(true);
    expect(viaRoute.length).toBeGreaterThan(24 * 10);
    const bad = cli(["journal", "--db", join(dir, "r.db"), "--sep", ",", "--decimal", ","]);
    expect(await bad.exited).toBe(2);
    expect(await new Response(bad.stderr).text()).toMatch(/comma cannot be both/);
  });

  it("fuzzed queries: every answer a CSV, a zip or a 4xx with its reason, never a 500", { timeout: 60_000 }, async () => {
    const m = busbar.auth.users.byName("maint")!;
    const c = `busbar_session=${busbar.auth.sessions.create(m.id, "password", "maintenance", "127.0.0.1", 600_000, 3_600_000).token}`;
    const point = busbar.registry.points.find((p) => busbar.history!.historian.points[p.index]?.store)!.id;
    const values: Record<string, string[]> = {
      sep: [";", ",", "tab", "\\t", "|", "", ";;", "%00", "é", "x".repeat(300)],
      decimal: [",", ".", "", ";", "%E2%80%AF", "1"],
      from: ["2026-01-01", "2026-01-15T10:00", "1767225600000", "", "2026-13-40", "99999999999999999", "-1", "NaN", "2026-01-01T00:00:00Z", "%20"],
      to: ["2026-01-02", "2026-01-01", "", "2025-12-31", "abc", "2026-01-01T12:00:00+14:00"],
      group: ["raw", "1h", "1d", "1mo", "", "5m", "__proto__"],
      points: [point, `${point},${point}`, "", ",,,", "nope", Array(60).fill(point).join(",")],
      by: ["meter", "circuit", "zone", "total", "", "constructor"],
      bucket: ["15m", "hour", "day", "month", "", "year"],
      priority: ["critical", "", "0", "high"],
      device: ["F1", "", "'; DROP TABLE alarms; --"],
      files: ["history", "energy,alarms", "journal", "", "history,history", "zip"],
      job: ["abcdefgh", "x", "../../etc", "a".repeat(65), ""],
    };
    const paths = ["/export/history.csv", "/export/energy.csv", "/export/alarms.csv", "/export/bundle.zip", "/export/progress"];
    let seed = 20261201;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const seen = new Set<number>();
    for (let k = 0; k < 150; k++) {
      const qs = Object.entries(values)
        .filter(() => rnd(3) > 0)
        .map(([key, vs]) => `${key}=${vs[rnd(vs.length)]}`)
        .join("&");
      const path = `${paths[rnd(paths.length)]}?${qs}`;
      const r = await fetch(busbar.url + path.slice(1), { headers: { cookie: c } });
      seen.add(r.status);
      const body = new Uint8Array(await r.arrayBuffer());
      if (r.status >= 400) {
        expect([400, 403, 404], path).toContain(r.status);
        expect((JSON.parse(new TextDecoder().decode(body)) as { error: string }).error.length, path).toBeGreaterThan(3);
      } else expect(r.status, path).toBe(200);
    }
    expect([...seen].sort()).toEqual([200, 400, 403, 404]);
    expect((await fetch(busbar.url + "export", { headers: { cookie: c } })).status).toBe(200);
  });
});
