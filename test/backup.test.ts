import { Database } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { parseYaml } from "../src/config/profile.ts";
import { DEMO_SITE } from "../src/embedded.ts";
import { listTar } from "../src/historian/tar.ts";
import { hostBusbar, type BusbarHost } from "../src/server/host.ts";
import { startSimulator, type Sim } from "../src/sim/simulator.ts";
import { until } from "./helpers/browser.ts";

/**
 * Backup → restore on a running demo (file databases, real simulator): the restored Busbar has the
 * backup's history, alarms and journal, and comes back on its own. Tampered, truncated, newer and
 * foreign files are refused and the running data is untouched.
 */

let dir: string;
let sim: Sim;
let host: BusbarHost;
let admin: { cookie: string; csrf: string };

const b = () => host.current;

async function login(): Promise<{ cookie: string; csrf: string }> {
  const u = b().auth.users.byName("admin-t") ?? (await b().auth.users.create("admin-t", "admin", "password-of-admin"));
  const { token, session } = b().auth.sessions.create(u.id, "password", "admin", "10.9.9.9", 600_000, 3_600_000);
  return { cookie: `busbar_session=${token}`, csrf: session.csrf };
}

function call(method: string, path: string, body?: BodyInit): Promise<Response> {
  const headers: Record<string, string> = { host: "busbar.test", accept: "application/json", cookie: admin.cookie };
  if (method !== "GET") headers["x-csrf-token"] = admin.csrf;
  // As a browser sends a file: with its length (the upload route streams it to disk).
  if (body && typeof body !== "string") headers["content-length"] = String((body as Uint8Array).byteLength);
  return Promise.resolve(
    b().app.fetch(new Request(`http://busbar.test${path}`, { method, headers, body }), { requestIP: () => ({ address: "10.9.9.9", family: "IPv4", port: 50000 }) }),
  );
}

/** History, alarms and journal as rows, to compare two databases. */
function snapshot(mainPath: string, upToEvent: number) {
  return snapshotOf(mainPath, mainPath.replace(/\.db$/, ".history.db"), upToEvent);
}

function snapshotOf(mainPath: string, histPath: string, upToEvent: number) {
  const main = new Database(mainPath, { readonly: true });
  const hist = new Database(histPath, { readonly: true });
  try {
    return {
      events: main.query("SELECT id, ts, type, message, hash FROM events WHERE id <= ? ORDER BY id").all(upToEvent),
      // What the backup recorded; a restored Busbar may clear them since (the device answers again).
      alarms: main.query("SELECT id, alarm_id, device, point, priority, message, value, raised_at, acked_at, acked_by FROM alarm_activations ORDER BY id").all(),
      users: main.query("SELECT name, role FROM users ORDER BY id").all(),
      raw: hist.query("SELECT COUNT(*) AS n, SUM(ts) AS s FROM h_raw").get(),
      m1: hist.query("SELECT COUNT(*) AS n, SUM(mean) AS s FROM h_1m").get(),
    };
  } finally {
    main.close();
    hist.close();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "busbar-backup-"));
  const raw = parseYaml(DEMO_SITE, "demo-site.yaml") as Record<string, unknown>;
  const site = parseSite(raw, loadProfiles(), "demo-site.yaml");
  sim = startSimulator(site, { anyPort: true, host: "127.0.0.1", seed: 7 });
  host = await hostBusbar({ site: sim.servedSite, dbPath: join(dir, "busbar.db"), httpPort: 0, httpHost: "127.0.0.1", log: () => {} });
  admin = await login();
  await until("history stored", () => (b().history!.historian.stats.stored > 200 ? true : false), 20_000);
});

afterAll(async () => {
  await host?.stop();
  sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("backup and restore", () => {
  let backupFile: string;
  let lastEvent: number;

  it("shows the history database size per tier on the system page", async () => {
    const res = await b().app.fetch(
      new Request("http://busbar.test/admin/system", { headers: { host: "busbar.test", accept: "text/html", cookie: admin.cookie } }),
      { requestIP: () => ({ address: "10.9.9.9", family: "IPv4", port: 50000 }) },
    );
    expect(res.status).toBe(200);
    const html = await res.text();
    for (const t of ["h_raw", "h_1m", "h_15m", "h_1h", "h_1d", "h_1mo"]) expect(html).toContain(`data-table="${t}"`);
    expect(html).toMatch(/Échantillons bruts \(sur variation\)<\/td><td>30 jours<\/td><td class="num">[\d\s ]+<\/td><td class="num">[\d,]+ (kB|MB)/);
    expect(html).toContain('href="/admin/system/backup"');
  });

  it("downloads an online backup with a manifest while Busbar runs", async () => {
    sim.setOffline("2B12", true); // an alarm and journal rows in the backup
    await until("comm alarm", () => (b().db.sqlite.query("SELECT COUNT(*) AS n FROM alarm_activations").get() as { n: number }).n > 0, 15_000);
    sim.setOffline("2B12", false);
    const res = await call("GET", "/admin/system/backup");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toMatch(/attachment; filename="busbar-.*\.busbar\.tar"/);
    backupFile = join(dir, "download.busbar.tar");
    writeFileSync(backupFile, new Uint8Array(await res.arrayBuffer()));
    const entries = listTar(backupFile).map((e) => e.name);
    expect(entries).toEqual(["manifest.json", "busbar.db", "history.db"]);
    const journal = b().journal.sqlite.query("SELECT id, type FROM events ORDER BY id DESC LIMIT 1").get() as { id: number; type: string };
    expect(journal.type).toBe("backup.create");
    lastEvent = journal.id - 1; // the backup's own row is written after the snapshot
  });

  it("refuses tampered, truncated, newer-version and foreign files, leaving the running data untouched", async () => {
    const good = readFileSync(backupFile);
    const entries = listTar(backupFile);
    const db = entries.find((e) => e.name === "busbar.db")!;
    const manifestEntry = entries[0]!;
    const tampered = Uint8Array.from(good);
    tampered[db.offset + 5000] ^= 0xff;
    const truncated = good.subarray(0, db.offset + 4096);
    const manifest = JSON.parse(new TextDecoder().decode(good.subarray(manifestEntry.offset, manifestEntry.offset + manifestEntry.size)));
    // A newer schema: rewrite the manifest in place, same length (the tar header keeps its size).
    const newerText = JSON.stringify({ ...manifest, schema: { ...manifest.schema, main: 99 } }, null, 2) + "\n";
    const padded = newerText.padEnd(manifestEntry.size, " ");
    const newer = Uint8Array.from(good);
    newer.set(new TextEncoder().encode(padded.slice(0, manifestEntry.size)), manifestEntry.offset);
    const foreign = new TextEncoder().encode("id;ts;value\n1;2;3\n");
    const before = b().history!.historian.stats.commits;
    const cases: [string, Uint8Array, RegExp][] = [
      ["tampered", tampered, /SHA-256/],
      ["truncated", truncated, /truncated/],
      ["newer", newer, /newer Busbar/],
      ["foreign", foreign, /not a Busbar backup/],
    ];
    for (const [what, bytes, message] of cases) {
      const res = await call("POST", "/admin/system/restore", bytes as BodyInit);
      const body = (await res.json()) as { error: string };
      expect(res.status, what).toBe(422);
      expect(body.error, what).toMatch(message);
    }
    // Still the same Busbar, still writing history, journal intact and the refusals journaled.
    await until("still committing", () => b().history!.historian.stats.commits > before + 2, 5_000);
    expect(b().journal.verify().ok).toBe(true);
    const refused = b().journal.sqlite.query("SELECT COUNT(*) AS n FROM events WHERE type = 'backup.restore.refused'").get() as { n: number };
    expect(refused.n).toBe(4);
  });

  it("restores a backup: Busbar restarts by itself on identical history, alarms and journal", async () => {
    // The backup's own content, opened straight from the archive.
    const { stageRestore } = await import("../src/historian/backup.ts");
    const staged = stageRestore(backupFile, join(dir, "check"));
    const want = snapshotOf(staged.main, staged.history, lastEvent);
    const old = b();
    const res = await call("POST", "/admin/system/restore", readFileSync(backupFile));
    expect(res.status).toBe(200);
    await until("restarted", () => b() !== old && b().history?.historian.stats.commits, 20_000);
    await until("polling again", () => b().live.value(b().registry.byId.get("5B1.p_total")!).quality === "good", 15_000);
    const got = snapshot(join(dir, "busbar.db"), lastEvent);
    expect(got.events).toEqual(want.events);
    expect(got.alarms).toEqual(want.alarms);
    expect(got.users).toEqual(want.users);
    // History: every backed-up sample is there (plus the gap marker and what came after the restart).
    const h = new Database(join(dir, "busbar.history.db"), { readonly: true });
    const stagedHist = new Database(staged.history, { readonly: true });
    const all = "(SELECT * FROM h_raw UNION ALL SELECT * FROM h_recent)";
    const wantRaw = stagedHist.query(`SELECT point, ts, value, quality FROM ${all} ORDER BY point, ts`).all();
    const gotRaw = h.query(`SELECT point, ts, value, quality FROM ${all} WHERE ts <= ? ORDER BY point, ts`).all(
      (stagedHist.query(`SELECT MAX(ts) AS m FROM ${all}`).get() as { m: number }).m,
    );
    expect(gotRaw).toEqual(wantRaw);
    h.close();
    stagedHist.close();
    const restoredRow = b().journal.sqlite.query("SELECT type, actor FROM events WHERE type = 'backup.restore'").get() as { type: string; actor: string };
    expect(restoredRow).toEqual({ type: "backup.restore", actor: "admin-t" });
    expect(b().journal.verify().ok).toBe(true);
  });

  it("migrates a backup made by an older Busbar (older schema) on the staged copy", async () => {
    const { MIGRATIONS } = await import("../src/db/migrations.ts");
    const { createBackup, stageRestore } = await import("../src/historian/backup.ts");
    const oldDb = new Database(join(dir, "old.db"), { create: true });
    for (const m of MIGRATIONS.slice(0, 3)) oldDb.exec(m.sql);
    oldDb.exec("PRAGMA user_version = 3");
    oldDb.query("INSERT INTO events (ts, type, source, message) VALUES (1, 'system.start', 'old', 'old start')").run();
    const { Journal } = await import("../src/journal/journal.ts");
    new Journal(oldDb); // seals the row as that version did
    oldDb.close();
    const out = join(dir, "old.busbar.tar");
    const m = createBackup({ main: join(dir, "old.db"), history: undefined, site: "old", out });
    expect(m.schema.main).toBe(3);
    const staged = stageRestore(out, join(dir, "old-staging"));
    expect(staged.migrated.main).toBe(MIGRATIONS.length - 3);
    const db = new Database(staged.main, { readonly: true });
    expect((db.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(MIGRATIONS.length);
    db.close();
  });
});
