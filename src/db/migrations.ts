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
  {
    // Issue 4: the events table becomes the tamper-evident journal. Each row's hash covers the previous
    // row's hash and its own content (src/journal/chain.ts); rows cannot be updated once sealed nor deleted.
    name: "0002_journal_chain",
    sql: `
      ALTER TABLE events ADD COLUMN actor TEXT NOT NULL DEFAULT '';  -- user who did it ('' = system)
      ALTER TABLE events ADD COLUMN device TEXT NOT NULL DEFAULT ''; -- device concerned, if any
      ALTER TABLE events ADD COLUMN hash TEXT;                       -- sha256 chain; NULL until sealed
      CREATE INDEX events_device_ts ON events(device, ts);
      CREATE INDEX events_actor_ts ON events(actor, ts);
      CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the event journal is append-only'); END;
      CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events WHEN OLD.hash IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'the event journal is append-only'); END;
    `,
  },
  {
    name: "0003_users_sessions",
    sql: `
      CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role TEXT NOT NULL CHECK (role IN ('operator', 'maintenance', 'admin')),
        password_hash TEXT NOT NULL,     -- argon2id (Bun.password)
        pin_hash TEXT,                   -- argon2id of the kiosk PIN, NULL = no PIN
        disabled INTEGER NOT NULL DEFAULT 0,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until INTEGER NOT NULL DEFAULT 0,
        pin_failures INTEGER NOT NULL DEFAULT 0,
        pin_locked_until INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_login_at INTEGER
      );
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,             -- sha256 of the cookie's token (the token itself is never stored)
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,              -- password | pin
        role TEXT NOT NULL,              -- effective role (a PIN session is capped at maintenance)
        ip TEXT NOT NULL DEFAULT '',
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        idle_ms INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX sessions_user ON sessions(user_id);
    `,
  },
  {
    name: "0004_alarms",
    sql: `
      CREATE TABLE alarm_state (
        alarm_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,             -- normal | unack_active | ack_active | unack_rtn
        active INTEGER NOT NULL DEFAULT 0,
        activation_id INTEGER,
        since INTEGER NOT NULL,
        shelved_until INTEGER NOT NULL DEFAULT 0,
        shelved_by TEXT NOT NULL DEFAULT '',
        out_of_service INTEGER NOT NULL DEFAULT 0,
        oos_by TEXT NOT NULL DEFAULT '',
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE alarm_activations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alarm_id TEXT NOT NULL,
        device TEXT NOT NULL DEFAULT '',
        point TEXT NOT NULL DEFAULT '',
        priority TEXT NOT NULL,
        message TEXT NOT NULL,
        value REAL,
        raised_at INTEGER NOT NULL,
        acked_at INTEGER,
        acked_by TEXT,
        ack_comment TEXT,
        cleared_at INTEGER,              -- condition gone (return to normal)
        closed_at INTEGER,               -- activation over: normal after ack, re-activation, out of service
        close_reason TEXT
      );
      CREATE INDEX alarm_activations_raised ON alarm_activations(raised_at);
      CREATE INDEX alarm_activations_alarm ON alarm_activations(alarm_id, raised_at);
      CREATE INDEX alarm_activations_open ON alarm_activations(closed_at);
    `,
  },
  {
    // Issue 15: writable computed points (setpoints held by Busbar itself) keep their value across restarts.
    name: "0005_computed_values",
    sql: `
      CREATE TABLE computed_values (
        id TEXT PRIMARY KEY,             -- point id, DEVICE.name
        value REAL NOT NULL,
        ts INTEGER NOT NULL              -- ms since 1970 (UTC) of the write
      );
    `,
  },
  {
    // Issue 10: the BACnet server's stable object instances (BMS programs reference them: an
    // instance is never renumbered nor reused) and its commandable objects' priority arrays.
    name: "0006_bacnet_server",
    sql: `
      CREATE TABLE bacnet_objects (
        key TEXT PRIMARY KEY,            -- TYPE:DEVICE.tag
        type INTEGER NOT NULL,
        instance INTEGER NOT NULL,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (type, instance)
      );
      CREATE TABLE bacnet_commands (
        key TEXT PRIMARY KEY,
        priority_array TEXT NOT NULL,    -- JSON: 16 entries, null = relinquished
        relinquish_default REAL NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    // Issue 13: notification channels, rules and the durable outbox (src/notify). Channel secrets are
    // AES-256-GCM ciphertext; the key lives outside the database (src/notify/secret-box.ts).
    name: "0007_notify",
    sql: `
      ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';   -- where rules addressed to the user's role send
      CREATE TABLE notify_channels (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        type TEXT NOT NULL,              -- email | webhook | telegram | ntfy
        config TEXT NOT NULL,            -- JSON, no secrets
        secret TEXT NOT NULL DEFAULT '', -- encrypted JSON (password, token, HMAC key)
        enabled INTEGER NOT NULL DEFAULT 1,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE notify_rules (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        channel_id INTEGER NOT NULL,
        config TEXT NOT NULL,            -- JSON: priorities, devices, role, recipients, events, quiet hours
        enabled INTEGER NOT NULL DEFAULT 1,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE notify_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at INTEGER NOT NULL,
        channel_id INTEGER NOT NULL,
        rule_id INTEGER,
        status TEXT NOT NULL,            -- held | pending | sending | sent | failed | merged
        not_before INTEGER NOT NULL DEFAULT 0,  -- held: quiet hours end
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL DEFAULT 0,
        event TEXT,                      -- held rows: the alarm event (JSON)
        recipients TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        body TEXT NOT NULL DEFAULT '',   -- JSON message (text + events)
        digest_of INTEGER,               -- merged rows: the message that carries them
        last_error TEXT NOT NULL DEFAULT '',
        response TEXT NOT NULL DEFAULT '',
        sent_at INTEGER
      );
      CREATE INDEX notify_outbox_status ON notify_outbox(status, next_at);
      CREATE INDEX notify_outbox_channel ON notify_outbox(channel_id, status);
    `,
  },
  {
    // Issue 13: scheduled reports (src/reports/schedules.ts) and e-mail attachments for the outbox.
    // last_period is the start of the last period sent: at most one report per schedule per period,
    // whatever restarts happen in between.
    name: "0008_reports",
    sql: `
      CREATE TABLE report_schedules (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        frequency TEXT NOT NULL,         -- daily | weekly | monthly | yearly
        kind TEXT NOT NULL,              -- general | detailed
        format TEXT NOT NULL,            -- pdf | csv
        lang TEXT NOT NULL,
        items TEXT NOT NULL DEFAULT '[]',-- detailed: circuit:ID, zone:ID, meter:ID (JSON)
        channel_id INTEGER NOT NULL,     -- an e-mail channel of notify_channels
        recipients TEXT NOT NULL,        -- comma-separated addresses
        enabled INTEGER NOT NULL DEFAULT 1,
        last_period INTEGER,             -- start (ms) of the last period queued
        last_outbox INTEGER,             -- its outbox message
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE notify_attachments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        outbox_id INTEGER NOT NULL,
        filename TEXT NOT NULL,
        content_type TEXT NOT NULL,
        data BLOB NOT NULL
      );
      CREATE INDEX notify_attachments_outbox ON notify_attachments(outbox_id);
    `,
  },
];
