import { Database } from "bun:sqlite";
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDirs } from "./helpers/tmp.ts";
import { createBackup, stageRestore } from "../src/historian/backup.ts";
import { historianSchema } from "../src/historian/config.ts";
import { Historian } from "../src/historian/historian.ts";
import type { HistPoint } from "../src/historian/points.ts";
import { series } from "../src/historian/query.ts";
import { readSampleLog, SampleLog, sampleLogFiles } from "../src/historian/samplelog.ts";
import { decodeBlock, openHistoryDb } from "../src/historian/store.ts";
import { emptySamples } from "../src/historian/aggregate.ts";
import { Quality } from "../src/points/quality.ts";
import { storedSamples } from "./helpers/hist-stored.ts";

/**
 * The open minutes' samples are written once, to the sample log beside the history file, instead
 * of a row each in h_recent that a minute later was copied to h_raw and deleted (three writes per
 * sample, a third of the historian's CPU at 2,000 samples/s). What the log must still give: every
 * committed sample back after a restart, the open minutes in a backup, an older Busbar's h_recent
 * rows read back, a torn record ignored, and a reader (CLI export) that changes nothing.
 */

const tmp = tempDirs("samplelog");

const points: HistPoint[] = Array.from({ length: 3 }, (_, i) => ({ index: i, name: `L.p${i}`, device: "L", kind: "analog", unit: "kW", deadband: 0, relDeadband: 0, heartbeatMs: 60_000, store: true }));
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const make = (path: string, clock: { t: number }, reader = false) =>
  new Historian({ path, points, config: historianSchema.parse({}), timeZone: "UTC", now: () => clock.t, reader });

/** 20 s of samples (every point, every second) into the minute starting at T0, committed twice a second. */
function ingest(h: Historian, clock: { t: number }, from = T0, seconds = 20) {
  for (let s = 0; s < seconds; s++) {
    clock.t = from + s * 1000 + 100;
    for (let i = 0; i < points.length; i++) h.offer(i, clock.t, 100 * i + s, Quality.GOOD);
    h.flush();
  }
}

const count = (db: Database, table: string) => (db.query(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;

describe("sample log", () => {
  it("a commit writes the open minute's samples to the log only; the minute's close moves them to h_raw and drops the old segment", () => {
    const path = join(tmp(), "h.db");
    const clock = { t: T0 };
    const h = make(path, clock);
    ingest(h, clock);
    expect(count(h.db, "h_recent")).toBe(0);
    expect(count(h.db, "h_raw")).toBe(0);
    const logged = readSampleLog(path);
    expect(logged).toHaveLength(60);
    expect(logged[5]).toEqual({ pid: h.pid[2]!, ts: T0 + 1100, v: 201, q: Quality.GOOD });
    // Queries see them (from memory) before their minute closes.
    expect(series(h, 1, T0, T0 + 60_000, -1).v.slice(0, 3)).toEqual([100, 101, 102]);
    const before = sampleLogFiles(path);
    clock.t = T0 + 60_000 + 2_500;
    h.flush();
    expect(count(h.db, "h_raw")).toBe(0);
    expect(count(h.db, "h_block")).toBe(3); // one row per point for the minute
    expect(storedSamples(h.db, path)).toHaveLength(60);
    // A new segment holds only what is still open (nothing here); the one with the closed minute is gone.
    expect(sampleLogFiles(path).some((f) => before.includes(f))).toBe(false);
    expect(readSampleLog(path)).toHaveLength(0);
    h.stop();
  });

  it("after a restart the logged samples are the open minute again, and reach h_raw when it closes", () => {
    const path = join(tmp(), "h.db");
    const clock = { t: T0 };
    const a = make(path, clock);
    ingest(a, clock);
    a.db.close(); // as a crash leaves it: no stop marker, no checkpoint
    a.log.close();
    clock.t = T0 + 30_000;
    const b = make(path, clock);
    expect(b.open.size).toBe(60 + points.length); // the samples and a gap marker per point
    expect(series(b, 0, T0, T0 + 30_000, -1).v.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, s) => s));
    clock.t = T0 + 62_500;
    b.flush();
    const rows = storedSamples(b.db, b.opts.path, b.pid[0]!).filter((r) => r.q === Quality.GOOD);
    expect(rows.map((r) => r.v)).toEqual(Array.from({ length: 20 }, (_, s) => s));
    b.stop();
  });

  it("reads back an older Busbar's open minute from h_recent (an upgrade keeps it)", () => {
    const path = join(tmp(), "h.db");
    const db = openHistoryDb(path);
    db.query("INSERT INTO h_points (id, name, kind, unit) VALUES (1, 'L.p0', 'analog', 'kW')").run();
    db.query("INSERT INTO h_meta (key, value) VALUES ('closed.1m', ?), ('last_commit', ?)").run(T0, T0 + 20_000);
    for (let s = 0; s < 20; s++) db.query("INSERT INTO h_recent (point, ts, value, quality) VALUES (1, ?, ?, 1)").run(T0 + s * 1000, s);
    db.close();
    const clock = { t: T0 + 30_000 };
    const h = make(path, clock);
    expect(series(h, 0, T0, T0 + 30_000, -1).v.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, s) => s));
    clock.t = T0 + 62_500;
    h.flush();
    expect(count(h.db, "h_recent")).toBe(0);
    expect(storedSamples(h.db, path, 1).filter((r) => r.q === Quality.GOOD)).toHaveLength(20);
    const m = h.db.query("SELECT n, mean FROM h_1m WHERE point = 1 AND ts = ?").get(T0) as { n: number; mean: number };
    expect(m.n).toBe(21); // the 20 samples and the gap marker of the restart
    h.stop();
  });

  it("ignores a torn last record and reads the ones before it", () => {
    const path = join(tmp(), "h.db");
    const clock = { t: T0 };
    const h = make(path, clock);
    ingest(h, clock, T0, 4);
    h.log.close();
    h.db.close();
    const [file] = sampleLogFiles(path);
    const whole = readFileSync(file!);
    const n = readSampleLog(path).length;
    // A record cut short, and then one whose bytes were damaged: neither is read as data.
    appendFileSync(file!, whole.subarray(0, 40));
    expect(readSampleLog(path)).toHaveLength(n);
    const bad = Buffer.from(whole);
    bad[bad.length - 3] = bad[bad.length - 3]! ^ 0xff;
    writeFileSync(file!, bad);
    expect(readSampleLog(path)).toHaveLength(n - points.length);
  });

  it("a backup carries the open minute (from the log) and a restore reads it back", () => {
    const d = tmp();
    const path = join(d, "h.db");
    const clock = { t: T0 };
    const h = make(path, clock);
    ingest(h, clock);
    const main = new Database(join(d, "main.db"), { create: true });
    main.close();
    const out = join(d, "b.busbar.tar");
    createBackup({ main: join(d, "main.db"), history: path, site: "t", out });
    h.stop();
    const staged = stageRestore(out, join(d, "staging"));
    const copy = new Database(staged.history, { readonly: true });
    expect(count(copy, "h_recent")).toBe(60);
    copy.close();
    const clock2 = { t: T0 + 30_000 };
    const r = make(staged.history, clock2);
    expect(series(r, 2, T0, T0 + 30_000, -1).v.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, s) => 200 + s));
    r.stop();
  });

  it("a reader (CLI export) sees the open minute and leaves the database and the log alone", () => {
    const path = join(tmp(), "h.db");
    const clock = { t: T0 };
    const w = make(path, clock);
    ingest(w, clock);
    const files = sampleLogFiles(path);
    const raw = count(w.db, "h_raw") + count(w.db, "h_block");
    clock.t = T0 + 40_000;
    const r = make(path, clock, true);
    expect(series(r, 1, T0, T0 + 30_000, -1).v.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, s) => 100 + s));
    r.db.close();
    expect(sampleLogFiles(path)).toEqual(files);
    expect(count(w.db, "h_raw") + count(w.db, "h_block")).toBe(raw); // no gap markers written into a running Busbar's history
    ingest(w, clock, T0 + 20_000, 5);
    expect(readSampleLog(path)).toHaveLength(75);
    w.stop();
  });

  it("a log that cannot be written (disk full, I/O error) is counted, never thrown, and the history still gets the samples", () => {
    const dir = tmp();
    const path = join(dir, "h.db");
    // The segment's name taken by a directory: opening it fails as a failing disk would (root ignores permissions).
    mkdirSync(`${path}-samples.1`);
    const log = new SampleLog(path);
    log.add(1, T0, 1.5, Quality.GOOD);
    expect(() => log.write()).not.toThrow();
    expect(log.failures).toBe(1);
    expect(log.buffered).toBe(0);
    rmSync(`${path}-samples.1`, { recursive: true });
    // A historian whose log fails keeps committing: the closed minute is in h_block once, not twice.
    const clock = { t: T0 };
    const h = make(path, clock);
    const broken = h.log as unknown as { fd: number; segment: (seq: number) => string };
    broken.segment = () => dir; // every (re)open fails: EISDIR
    broken.fd = -1;
    ingest(h, clock, T0, 5);
    expect(h.log.failures).toBeGreaterThan(0);
    clock.t = T0 + 125_000;
    h.flush();
    // Each sample once in the minute's block (a throw would have queued them into the open minute again).
    const block = h.db.query("SELECT data FROM h_block WHERE point = ? AND ts = ?").get(h.pid[0]!, T0) as { data: Uint8Array | string };
    const got = emptySamples();
    decodeBlock(T0, block.data, got);
    expect(new Set(got.ts).size).toBe(got.ts.length);
    expect(got.v.filter((_, k) => got.q[k] === Quality.GOOD)).toEqual([0, 1, 2, 3, 4]);
    h.stop();
  });
});
