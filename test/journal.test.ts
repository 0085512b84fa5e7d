/**
 * The event journal: hash chain (edited, deleted, truncated and unsealed rows are caught), SQL
 * triggers against UPDATE/DELETE, CSV export (BOM, ISO 8601 with offset, quoting, filters,
 * spreadsheet-formula cells), and the `busbar journal verify` command's exit codes.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../src/db/database.ts";
import { csvPieces, csvStream } from "../src/journal/csv.ts";
import { Journal } from "../src/journal/journal.ts";
import { OffsetFormatter, parseTimeFilter } from "../src/journal/time.ts";

const ROOT = join(import.meta.dirname, "..");

function fresh() {
  const dir = mkdtempSync(join(tmpdir(), "busbar-journal-"));
  const path = join(dir, "j.db");
  const db = openDatabase(path);
  return { db, path, journal: new Journal(db.sqlite) };
}

function fill(j: Journal, n: number, t0 = Date.UTC(2026, 0, 15, 12)) {
  const entries = [];
  for (let i = 0; i < n; i++)
    entries.push({ ts: t0 + i * 60_000, type: i % 3 === 0 ? "alarm.active" : i % 3 === 1 ? "auth.login" : "point.write", source: `S${i}`, device: i % 2 ? "2B1" : "5B1", actor: i % 3 === 1 ? "marie" : "", message: `row ${i}`, data: { i } });
  return j.appendMany(entries);
}

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const p = Bun.spawn([process.execPath, join(ROOT, "src/cli.ts"), ...args], { stdout: "pipe", stderr: "pipe", cwd: ROOT });
  const out = (await new Response(p.stdout).text()) + (await new Response(p.stderr).text());
  return { code: await p.exited, out };
}

describe("hash chain", () => {
  it("a clean journal verifies; every row is sealed and linked", () => {
    const { journal, db } = fresh();
    fill(journal, 50);
    journal.append({ type: "system.start", message: "démarré — accents ok" });
    const r = journal.verify();
    expect(r.ok).toBe(true);
    expect(r.rows).toBe(51);
    expect(r.head.startsWith("51 ")).toBe(true);
    db.close();
  });

  it("refuses UPDATE and DELETE of sealed rows (triggers)", () => {
    const { journal, db } = fresh();
    fill(journal, 3);
    expect(() => db.sqlite.exec("UPDATE events SET message = 'x' WHERE id = 2")).toThrow(/append-only/);
    expect(() => db.sqlite.exec("DELETE FROM events WHERE id = 2")).toThrow(/append-only/);
    db.close();
  });

  it("detects an edited row, a deleted row, a removed tail and an unsealed row", () => {
    const { journal, db } = fresh();
    fill(journal, 20);
    db.sqlite.exec("DROP TRIGGER events_append_only_update; DROP TRIGGER events_append_only_delete;");
    db.sqlite.exec("UPDATE events SET message = 'nothing happened' WHERE id = 7");
    let r = journal.verify();
    expect(r.ok).toBe(false);
    expect(r.problems.some((p) => p.id === 7 && /edited/.test(p.problem))).toBe(true);

    db.sqlite.exec("DELETE FROM events WHERE id = 12");
    r = journal.verify();
    expect(r.problems.some((p) => p.id === 13 && /deleted/.test(p.problem))).toBe(true);

    const { journal: j2, db: db2 } = fresh();
    fill(j2, 10);
    db2.sqlite.exec("DROP TRIGGER events_append_only_delete; DELETE FROM events WHERE id >= 9;");
    r = j2.verify();
    expect(r.ok).toBe(false);
    expect(r.problems.some((p) => p.id === null && /end/.test(p.problem))).toBe(true);

    // Deleting the end and appending again does not hide it: ids are never reused.
    j2.append({ type: "system.start", message: "après" });
    db2.sqlite.exec("DELETE FROM settings WHERE key = 'journal.head'");
    j2.append({ type: "system.start", message: "encore" });
    r = j2.verify();
    expect(r.problems.some((p) => p.id === 11 && /9\.\.10 missing/.test(p.problem))).toBe(true);

    const { journal: j3, db: db3 } = fresh();
    fill(j3, 5);
    db3.sqlite.exec("DROP TRIGGER events_append_only_update; UPDATE events SET hash = NULL WHERE id = 2");
    r = j3.verify();
    expect(r.problems.some((p) => p.id === 2 && /not sealed/.test(p.problem))).toBe(true);
    // Reopening never seals a hole in the middle of the chain.
    new Journal(db3.sqlite);
    expect(j3.verify().ok).toBe(false);
    db.close();
    db2.close();
    db3.close();
  });

  it("rows written around the journal (an older build's plain INSERT) are sealed at the end of the chain", async () => {
    const { journal, db } = fresh();
    fill(journal, 3);
    const insert = db.sqlite.prepare("INSERT INTO events (ts, type, source, message) VALUES (?, ?, ?, ?)");
    insert.run(Date.now(), "device.comm", "2B1", "written by an older build");
    insert.run(Date.now(), "device.comm", "2B2", "and another");
    expect(journal.verify().ok).toBe(false);
    const again = new Journal(db.sqlite);
    expect(again.verify().ok).toBe(true);
    again.append({ type: "x", message: "after" });
    expect(again.verify()).toMatchObject({ ok: true, rows: 6 });
    const async = await again.verifyAsync(50, 2);
    expect(async.ok).toBe(true);
    db.close();
  });
});

describe("CSV export", () => {
  it("BOM, header, ISO 8601 with the site's offset, RFC 4180 quoting, formula cells neutralised", () => {
    const { journal, db } = fresh();
    const winter = Date.UTC(2026, 0, 15, 14, 30, 5, 7);
    const summer = Date.UTC(2026, 6, 15, 14, 30, 5, 7);
    journal.append({ ts: winter, type: "alarm.ack", source: "2B1.tripped", device: "2B1", actor: "Éloïse", message: 'Acquittée — « vu, "ok" »\nligne 2', data: { comment: "vu" } });
    journal.append({ ts: summer, type: "auth.fail", source: "=cmd|' /C calc'!A0", message: "+1 -2 @x" });
    const text = [...csvPieces(journal, {}, { timeZone: "America/Toronto" })].join("");
    expect(text.charCodeAt(0)).toBe(0xfeff);
    const lines = text.slice(1).split("\r\n");
    expect(lines[0]).toBe("id,timestamp,type,source,device,user,message,data,hash");
    expect(text).toContain("2026-01-15T09:30:05.007-05:00");
    expect(text).toContain("2026-07-15T10:30:05.007-04:00");
    expect(text).toContain('"Acquittée — « vu, ""ok"" »\nligne 2"');
    expect(text).toContain("Éloïse");
    expect(text).toContain("'=cmd|' /C calc'!A0");
    expect(text).toContain("'+1 -2 @x");
    const semi = [...csvPieces(journal, {}, { timeZone: "UTC", sep: ";" })].join("");
    expect(semi.split("\r\n")[0]).toBe("\uFEFFid;timestamp;type;source;device;user;message;data;hash");
    expect(semi).toContain("2026-01-15T14:30:05.007+00:00");
    db.close();
  });

  it("filters by date range, type family, device and user", () => {
    const { journal, db } = fresh();
    const t0 = Date.UTC(2026, 0, 15, 12);
    fill(journal, 30, t0);
    const count = (f: Parameters<Journal["chunks"]>[0]) => [...journal.chunks(f, 7)].flat().length;
    expect(count({})).toBe(30);
    expect(count({ type: "alarm" })).toBe(10);
    expect(count({ type: "auth.login" })).toBe(10);
    expect(count({ type: "auth.log" })).toBe(0);
    expect(count({ device: "2B1" })).toBe(15);
    expect(count({ actor: "MARIE" })).toBe(10);
    expect(count({ from: t0 + 10 * 60_000, to: t0 + 19 * 60_000 })).toBe(10);
    expect(count({ from: t0 + 10 * 60_000, to: t0 + 19 * 60_000, type: "alarm" })).toBe(3);
    db.close();
  });

  it("streams chunk by chunk and yields the event loop between chunks", async () => {
    const { journal, db } = fresh();
    fill(journal, 5000);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const reader = csvStream(journal, {}, { timeZone: "UTC", chunkRows: 500 }).getReader();
    let bytes = 0;
    let chunks = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      chunks++;
    }
    clearInterval(timer);
    expect(chunks).toBe(11);
    expect(bytes).toBeGreaterThan(5000 * 80);
    expect(ticks).toBeGreaterThan(0);
    db.close();
  });

  it("date filters: plain dates are the site's local midnight", () => {
    expect(parseTimeFilter("2026-01-15", "America/Toronto")).toBe(Date.UTC(2026, 0, 15, 5));
    expect(parseTimeFilter("2026-01-15", "America/Toronto", true)).toBe(Date.UTC(2026, 0, 16, 5) - 1);
    expect(parseTimeFilter("2026-07-15T08:00", "America/Toronto")).toBe(Date.UTC(2026, 6, 15, 12));
    expect(parseTimeFilter("1760000000000", "UTC")).toBe(1760000000000);
    expect(parseTimeFilter("pas une date", "UTC")).toBeNaN();
    expect(new OffsetFormatter("Asia/Kolkata").format(Date.UTC(2026, 0, 1))).toBe("2026-01-01T05:30:00.000+05:30");
  });
});

describe("busbar journal verify / export", () => {
  it("exits 0 on an intact journal and 1 once a row is edited", async () => {
    const { journal, db, path } = fresh();
    fill(journal, 10);
    db.close();
    let r = await cli(["journal", "verify", "--db", path]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/journal OK: 10 rows/);
    const out = join(tmpdir(), `busbar-export-${process.pid}.csv`);
    r = await cli(["journal", "export", "--db", path, "--out", out, "--type", "auth", "--tz", "America/Toronto"]);
    expect(r.code).toBe(0);
    const csv = await Bun.file(out).text();
    expect(csv.split("\r\n").filter(Boolean)).toHaveLength(1 + 3);
    const db2 = openDatabase(path);
    db2.sqlite.exec("DROP TRIGGER events_append_only_update; UPDATE events SET actor = 'quelqu''un' WHERE id = 4");
    db2.close();
    r = await cli(["journal", "verify", "--db", path]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/TAMPERED/);
    expect(r.out).toMatch(/row 4/);
  });
});
