import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** The event journal's foundation: system, bus and device events. */
export const events = sqliteTable(
  "events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    ts: integer("ts").notNull(),
    type: text("type").notNull(),
    source: text("source").notNull().default(""),
    message: text("message").notNull(),
    data: text("data"),
  },
  (t) => [index("events_ts").on(t.ts), index("events_type_ts").on(t.type, t.ts)],
);

export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});
