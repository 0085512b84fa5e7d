/**
 * The alarm engine on its own (a point table written by the test, a clock the test moves):
 * ISA-18.2 state machine, one activation per raise, deadband and on/off delays against chatter,
 * shelving with auto-unshelve, out of service, communication loss, horn and silence, and a restart
 * that resumes exactly where the previous process stopped.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AlarmEngine, type AlarmSummary } from "../src/alarms/engine.ts";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite, type Site } from "../src/config/site.ts";
import { ConfigError } from "../src/config/validation.ts";
import { openDatabase, type BusbarDb } from "../src/db/database.ts";
import { Journal } from "../src/journal/journal.ts";
import { Quality } from "../src/points/quality.ts";
import { buildRegistry } from "../src/drivers/index.ts";
import type { PointRegistry } from "../src/points/registry.ts";
import { PointTable } from "../src/points/table.ts";

const profiles = loadProfiles();

function siteWith(alarms: unknown): Site {
  return parseSite(
    {
      site: { name: "test", timezone: "America/Toronto" },
      buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: 1 }],
      devices: [
        { id: "F1", bus: "gw", unit: 1, profile: "micrologic-e", label: "PP-4" },
        { id: "F2", bus: "gw", unit: 2, profile: "micrologic-e", label: "CDS-11" },
        { id: "M1", bus: "gw", unit: 3, profile: "th40c" },
      ],
      alarms,
    },
    profiles,
  );
}

interface Rig {
  site: Site;
  registry: PointRegistry;
  table: PointTable;
  db: BusbarDb;
  journal: Journal;
  engine: AlarmEngine;
  published: AlarmSummary[];
  now(): number;
  set(id: string, v: number, q?: number): void;
  advance(ms: number): void;
  rows(type: string): { type: string; actor: string; message: string; data: string | null }[];
  activations(alarmId?: string): { id: number; alarm_id: string; closed_at: number | null; close_reason: string | null; acked_by: string | null; ack_comment: string | null }[];
  restart(): void;
}

function rig(alarms: unknown = {}, dbPath = ":memory:"): Rig {
  const site = siteWith(alarms);
  const registry = buildRegistry(site);
  const table = PointTable.create({ capacity: registry.points.length, rings: 2, historySlots: 4, historySlotMs: 1000 });
  const db = openDatabase(dbPath);
  const journal = new Journal(db.sqlite);
  let t = Date.UTC(2026, 0, 15, 12);
  const published: AlarmSummary[] = [];
  const make = () => new AlarmEngine({ site, registry, table, db, journal, now: () => t, publish: (s) => published.push(s) });
  const r: Rig = {
    site,
    registry,
    table,
    db,
    journal,
    engine: make(),
    published,
    now: () => t,
    set(id, v, q = Quality.GOOD) {
      const i = registry.byId.get(id)!.index;
      table.write(i, v, t, q, 0);
      table.drainAll(() => {});
      r.engine.onChanges([i], t);
    },
    advance(ms) {
      const end = t + ms;
      while (t < end) {
        t = Math.min(end, t + 100);
        r.engine.tick(t);
      }
    },
    rows: (type) => db.sqlite.query("SELECT type, actor, message, data FROM events WHERE type = ? ORDER BY id").all(type) as never,
    activations: (alarmId) =>
      (alarmId
        ? db.sqlite.query("SELECT * FROM alarm_activations WHERE alarm_id = ? ORDER BY id").all(alarmId)
        : db.sqlite.query("SELECT * FROM alarm_activations ORDER BY id").all()) as never,
    restart() {
      r.engine.stop();
      r.engine = make();
    },
  };
  return r;
}

describe("definitions", () => {
  it("come from the site file, from roles, and one communication loss per device", () => {
    const r = rig({ points: [{ point: "M1.p_total", h: 100, hh: { value: 150, priority: "critical" }, deadband: 5 }] });
    const ids = r.engine.definitions.map((d) => d.id).sort();
    expect(ids).toEqual(["F1.comm-loss", "F1.tripped", "F2.comm-loss", "F2.tripped", "M1.comm-loss", "M1.p_total.H", "M1.p_total.HH"]);
    const hh = r.engine.definitions.find((d) => d.id === "M1.p_total.HH")!;
    expect(hh).toMatchObject({ priority: "critical", setpoint: 150, high: true, deadband: 5 });
    expect(r.engine.definitions.find((d) => d.id === "F1.tripped")!.priority).toBe("critical");
    expect(r.engine.definitions.find((d) => d.id === "F1.tripped")!.message.fr).toContain("PP-4");
  });

  it("invalid alarm sections fail with every problem and its path", () => {
    let err: unknown;
    try {
      siteWith({ points: [{ point: "M1.nope", h: 1 }, { point: "F1.tripped", state: "ON FIRE" }, { point: "M1.p_total", h: 10, hh: 5 }, { point: "M1.p_total" }] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const paths = (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
    expect(paths).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^alarms\.points\[0\]\.point: .*no tag "nope"/),
        expect.stringMatching(/^alarms\.points\[1\]\.state: .*no state "ON FIRE"/),
        expect.stringMatching(/^alarms\.points\[2\]\.h: must not be above hh/),
        expect.stringMatching(/^alarms\.points\[3\]: needs `state`/),
      ]),
    );
  });
});

describe("state machine", () => {
  it("normal → unack-active → ack-active → normal, journaled, one activation", () => {
    const r = rig();
    r.set("F1.tripped", 0);
    expect(r.engine.get("F1.tripped")!.state).toBe("normal");
    r.set("F1.tripped", 1);
    const a = r.engine.get("F1.tripped")!;
    expect(a).toMatchObject({ state: "unack_active", active: true, priority: "critical" });
    const s = r.engine.summary();
    expect(s.counts.critical).toBe(1);
    expect(s.horn).toBe(true);
    expect(s.newest!.id).toBe("F1.tripped");
    expect(r.published.at(-1)!.horn).toBe(true);

    const ack = r.engine.ack("F1.tripped", "marie", "  vérifié sur place ");
    expect(ack.ok).toBe(true);
    expect(r.engine.get("F1.tripped")!.state).toBe("ack_active");
    expect(r.engine.summary().horn).toBe(false);
    expect(r.engine.summary().counts.critical).toBe(1);

    r.set("F1.tripped", 0);
    expect(r.engine.get("F1.tripped")!.state).toBe("normal");
    expect(r.engine.summary().counts.critical).toBe(0);

    const acts = r.activations("F1.tripped");
    expect(acts).toHaveLength(1);
    expect(acts[0]).toMatchObject({ acked_by: "marie", ack_comment: "vérifié sur place", close_reason: "normal" });
    expect(r.rows("alarm.active")).toHaveLength(1);
    expect(r.rows("alarm.ack")[0]).toMatchObject({ actor: "marie" });
    expect(r.rows("alarm.ack")[0]!.message).toContain("vérifié sur place");
    expect(r.rows("alarm.normal")).toHaveLength(1);
    expect(r.journal.verify().ok).toBe(true);
  });

  it("unack-active → unack-RTN → normal after ack; nothing to acknowledge in normal", () => {
    const r = rig();
    r.set("F2.tripped", 1);
    r.set("F2.tripped", 0);
    expect(r.engine.get("F2.tripped")!.state).toBe("unack_rtn");
    expect(r.engine.summary()).toMatchObject({ unacked: 1, active: 0, horn: true });
    expect(r.rows("alarm.rtn")).toHaveLength(1);
    expect(r.engine.ack("F2.tripped", "marc").ok).toBe(true);
    expect(r.engine.get("F2.tripped")!.state).toBe("normal");
    expect(r.activations("F2.tripped")[0]!.close_reason).toBe("normal");
    const again = r.engine.ack("F2.tripped", "marc");
    expect(again).toMatchObject({ ok: false, status: 409 });
    expect(r.engine.ack("nope", "marc")).toMatchObject({ ok: false, status: 404 });
  });

  it("a cleared alarm that re-activates is a new activation", () => {
    const r = rig();
    r.set("F1.tripped", 1);
    r.set("F1.tripped", 0);
    r.set("F1.tripped", 1);
    const acts = r.activations("F1.tripped");
    expect(acts).toHaveLength(2);
    expect(acts[0]!.close_reason).toBe("reactivated");
    expect(acts[1]!.closed_at).toBeNull();
    expect(r.rows("alarm.active")).toHaveLength(2);
    expect(r.engine.get("F1.tripped")!.activationId).toBe(acts[1]!.id);
  });

  it("values of bad quality hold the state (communication loss has its own alarm)", () => {
    const r = rig();
    r.set("F1.tripped", 1);
    r.set("F1.tripped", 0, Quality.COMM_FAIL);
    r.set("F1.tripped", 0, Quality.STALE);
    expect(r.engine.get("F1.tripped")!.state).toBe("unack_active");
  });
});

describe("chatter", () => {
  const limit = (extra: object) => ({ commLoss: { enabled: false }, points: [{ point: "M1.p_total", h: { value: 100, priority: "high" }, ...extra }] });

  it("deadband: a value oscillating around the limit raises once, and returns only below limit − deadband", () => {
    const r = rig(limit({ deadband: 5 }));
    for (let k = 0; k < 40; k++) {
      r.set("M1.p_total", k % 2 ? 99 : 101);
      r.advance(500);
    }
    expect(r.activations()).toHaveLength(1);
    expect(r.rows("alarm.rtn")).toHaveLength(0);
    r.set("M1.p_total", 96);
    expect(r.engine.get("M1.p_total.H")!.state).toBe("unack_active");
    r.set("M1.p_total", 94.9);
    expect(r.engine.get("M1.p_total.H")!.state).toBe("unack_rtn");

    // Without deadband nor delay the same signal chatters: the reason both exist.
    const noisy = rig(limit({ deadband: 0 }));
    for (let k = 0; k < 40; k++) {
      noisy.set("M1.p_total", k % 2 ? 99 : 101);
      noisy.advance(500);
    }
    expect(noisy.activations().length).toBeGreaterThanOrEqual(20);
  });

  it("on-delay: excursions shorter than the delay never raise; a lasting one does, once", () => {
    const r = rig(limit({ onDelaySeconds: 3 }));
    for (let k = 0; k < 40; k++) {
      r.set("M1.p_total", k % 2 ? 99 : 101);
      r.advance(1000);
    }
    expect(r.activations()).toHaveLength(0);
    r.set("M1.p_total", 102);
    r.advance(2900);
    expect(r.activations()).toHaveLength(0);
    r.advance(200);
    expect(r.activations()).toHaveLength(1);
    expect(r.engine.get("M1.p_total.H")!.state).toBe("unack_active");
  });

  it("off-delay: a short dip below the limit does not return the alarm to normal", () => {
    const r = rig(limit({ offDelaySeconds: 5 }));
    r.set("M1.p_total", 120);
    r.set("M1.p_total", 90);
    r.advance(4000);
    r.set("M1.p_total", 120);
    r.advance(10_000);
    expect(r.engine.get("M1.p_total.H")!.state).toBe("unack_active");
    expect(r.rows("alarm.rtn")).toHaveLength(0);
    r.set("M1.p_total", 90);
    r.advance(5100);
    expect(r.engine.get("M1.p_total.H")!.state).toBe("unack_rtn");
  });

  it("low limits mirror high ones", () => {
    const r = rig({ points: [{ point: "M1.v_an", l: 330, ll: { value: 320, priority: "critical" }, deadband: 2 }] });
    r.set("M1.v_an", 319);
    expect(r.engine.get("M1.v_an.L")!.state).toBe("unack_active");
    expect(r.engine.get("M1.v_an.LL")).toMatchObject({ state: "unack_active", priority: "critical" });
    r.set("M1.v_an", 321);
    expect(r.engine.get("M1.v_an.LL")!.state).toBe("unack_active");
    r.set("M1.v_an", 322.5);
    expect(r.engine.get("M1.v_an.LL")!.state).toBe("unack_rtn");
    expect(r.engine.get("M1.v_an.L")!.state).toBe("unack_active");
  });
});

describe("shelving and out of service", () => {
  it("a shelved alarm stays quiet and comes back after its time", () => {
    const r = rig();
    r.set("F1.tripped", 1);
    expect(r.engine.shelve("F1.tripped", "marc", 10_000)).toMatchObject({ ok: false, status: 400 });
    expect(r.engine.shelve("F1.tripped", "marc", 10).ok).toBe(true);
    let s = r.engine.summary();
    expect(s).toMatchObject({ shelved: 1, unacked: 0, horn: false });
    expect(s.counts.critical).toBe(0);
    expect(r.engine.list().map((a) => a.id)).not.toContain("F1.tripped");
    expect(r.engine.list({ show: "shelved" }).map((a) => a.id)).toEqual(["F1.tripped"]);
    // It keeps running underneath: clears and re-trips while shelved, still quiet.
    r.set("F1.tripped", 0);
    r.set("F1.tripped", 1);
    r.advance(9 * 60_000);
    s = r.engine.summary();
    expect(s.horn).toBe(false);
    expect(s.counts.critical).toBe(0);
    r.advance(61_000);
    s = r.engine.summary();
    expect(s.shelved).toBe(0);
    expect(s.counts.critical).toBe(1);
    expect(s.horn).toBe(true);
    expect(r.rows("alarm.unshelve")).toHaveLength(1);
    expect(JSON.parse(r.rows("alarm.unshelve")[0]!.data!).expired).toBe(true);
    expect(r.rows("alarm.shelve")[0]!.actor).toBe("marc");
  });

  it("out of service stops evaluation and closes the activation; back in service re-evaluates", () => {
    const r = rig();
    r.set("F1.tripped", 1);
    expect(r.engine.setOutOfService("F1.tripped", "admin", true, "disjoncteur en maintenance").ok).toBe(true);
    expect(r.activations("F1.tripped")[0]!.close_reason).toBe("out-of-service");
    expect(r.engine.summary()).toMatchObject({ outOfService: 1, unacked: 0 });
    r.set("F1.tripped", 0);
    r.set("F1.tripped", 1);
    expect(r.activations("F1.tripped")).toHaveLength(1);
    expect(r.engine.setOutOfService("F1.tripped", "admin", false).ok).toBe(true);
    expect(r.engine.get("F1.tripped")!.state).toBe("unack_active");
    expect(r.activations("F1.tripped")).toHaveLength(2);
    expect(r.rows("alarm.out-of-service")[0]!.message).toContain("disjoncteur en maintenance");
  });
});

describe("communication loss, horn, silence", () => {
  it("comm loss per device after its delay; returns when the device answers", () => {
    const r = rig();
    r.engine.onDeviceStatus("F2", "comm-fail", r.now());
    r.advance(4000);
    expect(r.engine.get("F2.comm-loss")!.state).toBe("normal");
    r.advance(1100);
    expect(r.engine.get("F2.comm-loss")!).toMatchObject({ state: "unack_active", priority: "high" });
    r.engine.onDeviceStatus("F2", "ok", r.now());
    expect(r.engine.get("F2.comm-loss")!.state).toBe("unack_rtn");
  });

  it("silence stops the horn until the next new alarm of a horn priority", () => {
    const r = rig({ points: [{ point: "M1.p_total", h: { value: 100, priority: "low" } }] });
    r.set("F1.tripped", 1);
    expect(r.engine.summary().horn).toBe(true);
    r.advance(1000);
    r.engine.silence("olivier");
    expect(r.engine.summary().horn).toBe(false);
    expect(r.rows("alarm.silence")[0]!.actor).toBe("olivier");
    r.advance(1000);
    r.set("M1.p_total", 150); // low priority: not a horn priority
    expect(r.engine.summary().horn).toBe(false);
    expect(r.engine.summary().newest!.id).toBe("M1.p_total.H");
    r.set("F2.tripped", 1);
    expect(r.engine.summary()).toMatchObject({ horn: true, hornPriority: "critical" });
  });
});

describe("restart", () => {
  it("state, acknowledgement, shelving and horn silence survive a new engine on the same database", () => {
    const dir = mkdtempSync(join(tmpdir(), "busbar-alarms-"));
    const r = rig({}, join(dir, "a.db"));
    r.set("F1.tripped", 1);
    r.engine.ack("F1.tripped", "marie", "vu");
    r.set("F2.tripped", 1);
    r.engine.shelve("F2.tripped", "marc", 30);
    const act1 = r.engine.get("F1.tripped")!.activationId;

    r.restart();
    expect(r.engine.get("F1.tripped")!).toMatchObject({ state: "ack_active", ackBy: "marie", ackComment: "vu", activationId: act1 });
    expect(r.engine.get("F2.tripped")!.shelvedUntil).toBeGreaterThan(r.now());
    expect(r.engine.summary()).toMatchObject({ shelved: 1, horn: false });
    // The values come back after a restart: the same activation closes, no new one.
    r.set("F1.tripped", 1);
    expect(r.activations("F1.tripped")).toHaveLength(1);
    r.set("F1.tripped", 0);
    expect(r.activations("F1.tripped")[0]!.close_reason).toBe("normal");
    r.advance(31 * 60_000);
    expect(r.engine.summary()).toMatchObject({ shelved: 0, horn: true });
    expect(r.journal.verify().ok).toBe(true);
    r.db.close();
  });

  it("reload keeps states of alarms that remain and closes removed ones", () => {
    const r = rig({ points: [{ point: "M1.p_total", h: 100 }] });
    r.set("M1.p_total", 150);
    r.set("F1.tripped", 1);
    r.engine.reload(siteWith({ points: [] }).alarms);
    expect(r.engine.get("M1.p_total.H")).toBeUndefined();
    expect(r.activations("M1.p_total.H")[0]!.close_reason).toBe("definition-removed");
    expect(r.engine.get("F1.tripped")!.state).toBe("unack_active");
  });
});
