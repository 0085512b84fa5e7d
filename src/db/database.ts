import { Database } from "bun:sqlite";
import { desc } from "drizzle-orm";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { Journal } from "../journal/journal.ts";
import { MIGRATIONS } from "./migrations.ts";
import * as schema from "./schema.ts";

export type BusbarDb = ReturnType<typeof openDatabase>;

/** Opens (creating if needed) the one database file in WAL mode and brings its schema up to date. */
export function openDatabase(path: string) {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path, { create: true, strict: true });
  sqlite.exec("PRAGMA journal_mode = WAL");
  // NORMAL is durable across process crashes in WAL mode; FULL adds power-loss durability per commit.
  sqlite.exec("PRAGMA synchronous = FULL");
  sqlite.exec("PRAGMA foreign_keys = ON");
  sqlite.exec("PRAGMA busy_timeout = 5000");
  migrate(sqlite);
  const db = drizzle(sqlite, { schema });
  const journal = new Journal(sqlite);
  return {
    sqlite,
    db,
    /** The hash-chained event journal; every event goes through it. */
    journal,
    recentEvents(limit = 100) {
      return db.select().from(schema.events).orderBy(desc(schema.events.id)).limit(limit).all();
    },
    close() {
      sqlite.close();
    },
  };
}

export function migrate(sqlite: Database): number {
  const current = (sqlite.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this Busbar (${MIGRATIONS.length}); refusing to run`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    const m = MIGRATIONS[v]!;
    sqlite.transaction(() => {
      sqlite.exec(m.sql);
      sqlite.exec(`PRAGMA user_version = ${v + 1}`);
    })();
  }
  return MIGRATIONS.length - current;
}
