/**
 * Schema migrations, embedded in the binary and applied in order at start.
 * `PRAGMA user_version` records how many have run. Append only: never edit a released migration.
 */
export const MIGRATIONS: { name: string; sql: string }[] = [
  {
    name: "0001_events",
    sql: `
      CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL,            -- ms since 1970 (UTC)
        type TEXT NOT NULL,             -- e.g. worker.restart, device.comm, system.start
        source TEXT NOT NULL DEFAULT '',-- bus, device or user the event is about
        message TEXT NOT NULL,
        data TEXT                       -- JSON details
      );
      CREATE INDEX events_ts ON events(ts);
      CREATE INDEX events_type_ts ON events(type, ts);
      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
];
