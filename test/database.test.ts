import { Database } from "bun:sqlite";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { migrate, openDatabase } from "../src/db/database.ts";
import { MIGRATIONS } from "../src/db/migrations.ts";

describe("database", () => {
  const dir = mkdtempSync(join(tmpdir(), "busbar-db-"));

  it("creates the file in WAL mode with every migration applied, and keeps journal rows across reopen", () => {
    const path = join(dir, "a.db");
    const db = openDatabase(path);
    expect((db.sqlite.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
    expect((db.sqlite.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(MIGRATIONS.length);
    db.journal.append({ type: "test.event", source: "X", message: "première ligne — accents", data: { n: 1 } });
    db.close();
    const again = openDatabase(path);
    const rows = again.recentEvents(10).filter((e) => e.type === "test.event");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ source: "X", message: "première ligne — accents", data: '{"n":1}' });
    expect(again.journal.verify().ok).toBe(true);
    again.close();
  });

  it("applies migrations once and refuses a database from a newer Busbar", () => {
    const sqlite = new Database(":memory:");
    expect(migrate(sqlite)).toBe(MIGRATIONS.length);
    expect(migrate(sqlite)).toBe(0);
    sqlite.exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
    expect(() => migrate(sqlite)).toThrow(/newer than this Busbar/);
  });
});
