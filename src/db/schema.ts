import { index, integer, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** The event journal (src/journal): append-only, every row sealed into a sha256 chain (migration 0002). */
export const events = sqliteTable(
  "events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    ts: integer("ts").notNull(),
    type: text("type").notNull(),
    source: text("source").notNull().default(""),
    message: text("message").notNull(),
    data: text("data"),
    actor: text("actor").notNull().default(""),
    device: text("device").notNull().default(""),
    hash: text("hash"),
  },
  (t) => [
    index("events_ts").on(t.ts),
    index("events_type_ts").on(t.type, t.ts),
    index("events_device_ts").on(t.device, t.ts),
    index("events_actor_ts").on(t.actor, t.ts),
  ],
);

export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

// ---- Issue 4: users, sessions, alarms. Migration 0002 also adds `actor`, `device` and `hash` to
// `events` (the journal; written through src/journal/journal.ts, which seals the hash chain).

export const users = sqliteTable("users", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  role: text("role").notNull(),
  passwordHash: text("password_hash").notNull(),
  pinHash: text("pin_hash"),
  disabled: integer("disabled").notNull().default(0),
  failedLogins: integer("failed_logins").notNull().default(0),
  lockedUntil: integer("locked_until").notNull().default(0),
  pinFailures: integer("pin_failures").notNull().default(0),
  pinLockedUntil: integer("pin_locked_until").notNull().default(0),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
  lastLoginAt: integer("last_login_at"),
});

export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: integer("user_id").notNull(),
    kind: text("kind").notNull(),
    role: text("role").notNull(),
    ip: text("ip").notNull().default(""),
    csrf: text("csrf").notNull(),
    createdAt: integer("created_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
    idleMs: integer("idle_ms").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("sessions_user").on(t.userId)],
);

export const alarmState = sqliteTable("alarm_state", {
  alarmId: text("alarm_id").primaryKey(),
  state: text("state").notNull(),
  active: integer("active").notNull().default(0),
  activationId: integer("activation_id"),
  since: integer("since").notNull(),
  shelvedUntil: integer("shelved_until").notNull().default(0),
  shelvedBy: text("shelved_by").notNull().default(""),
  outOfService: integer("out_of_service").notNull().default(0),
  oosBy: text("oos_by").notNull().default(""),
  updatedAt: integer("updated_at").notNull(),
});

export const alarmActivations = sqliteTable(
  "alarm_activations",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    alarmId: text("alarm_id").notNull(),
    device: text("device").notNull().default(""),
    point: text("point").notNull().default(""),
    priority: text("priority").notNull(),
    message: text("message").notNull(),
    value: real("value"),
    raisedAt: integer("raised_at").notNull(),
    ackedAt: integer("acked_at"),
    ackedBy: text("acked_by"),
    ackComment: text("ack_comment"),
    clearedAt: integer("cleared_at"),
    closedAt: integer("closed_at"),
    closeReason: text("close_reason"),
  },
  (t) => [
    index("alarm_activations_raised").on(t.raisedAt),
    index("alarm_activations_alarm").on(t.alarmId, t.raisedAt),
    index("alarm_activations_open").on(t.closedAt),
  ],
);
