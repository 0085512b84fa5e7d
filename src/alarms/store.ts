import type { Statement } from "bun:sqlite";
import { and, desc, eq, gte, inArray, lte, sql, type SQL } from "drizzle-orm";
import type { BusbarDb } from "../db/database.ts";
import { alarmActivations, alarmState, settings } from "../db/schema.ts";

/**
 * Where alarm state is kept between restarts: `alarm_state` (one row per alarm that ever left
 * normal, shelved or was taken out of service) and `alarm_activations` (one row per activation:
 * raised, acknowledged, cleared, closed). Writes happen inside the engine's transaction together
 * with the journal rows that describe them.
 */

export type AlarmStateRow = typeof alarmState.$inferSelect;
export type ActivationRow = typeof alarmActivations.$inferSelect;

export interface HistoryFilter {
  from?: number;
  to?: number;
  device?: string;
  priority?: string;
  alarmId?: string;
}

export class AlarmStore {
  // Transitions are the hot path (a storm commits thousands at once): prepared statements, not a
  // query builder per call. Reads for pages go through drizzle below.
  private readonly upsertState: Statement;
  private readonly delState: Statement;
  private readonly insAct: Statement;
  private readonly ackAct: Statement;
  private readonly clearAct: Statement;
  private readonly closeAct: Statement;

  constructor(readonly db: BusbarDb) {
    const q = db.sqlite;
    this.upsertState = q.prepare(
      `INSERT INTO alarm_state (alarm_id, state, active, activation_id, since, shelved_until, shelved_by, out_of_service, oos_by, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(alarm_id) DO UPDATE SET state = excluded.state, active = excluded.active, activation_id = excluded.activation_id,
         since = excluded.since, shelved_until = excluded.shelved_until, shelved_by = excluded.shelved_by,
         out_of_service = excluded.out_of_service, oos_by = excluded.oos_by, updated_at = excluded.updated_at`,
    );
    this.delState = q.prepare("DELETE FROM alarm_state WHERE alarm_id = ?");
    this.insAct = q.prepare(
      "INSERT INTO alarm_activations (alarm_id, device, point, priority, message, value, raised_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    );
    this.ackAct = q.prepare("UPDATE alarm_activations SET acked_at = ?, acked_by = ?, ack_comment = ? WHERE id = ?");
    this.clearAct = q.prepare("UPDATE alarm_activations SET cleared_at = ? WHERE id = ? AND cleared_at IS NULL");
    this.closeAct = q.prepare("UPDATE alarm_activations SET closed_at = ?, close_reason = ? WHERE id = ? AND closed_at IS NULL");
  }

  loadStates(): AlarmStateRow[] {
    return this.db.db.select().from(alarmState).all();
  }

  activations(ids: number[]): Map<number, ActivationRow> {
    const out = new Map<number, ActivationRow>();
    for (let i = 0; i < ids.length; i += 500) {
      for (const r of this.db.db.select().from(alarmActivations).where(inArray(alarmActivations.id, ids.slice(i, i + 500))).all()) out.set(r.id, r);
    }
    return out;
  }

  saveState(r: AlarmStateRow): void {
    this.upsertState.run(r.alarmId, r.state, r.active, r.activationId, r.since, r.shelvedUntil, r.shelvedBy, r.outOfService, r.oosBy, r.updatedAt);
  }

  deleteState(alarmId: string): void {
    this.delState.run(alarmId);
  }

  raise(r: { alarmId: string; device: string; point: string; priority: string; message: string; value: number | null; raisedAt: number }): number {
    return (this.insAct.get(r.alarmId, r.device, r.point, r.priority, r.message, r.value, r.raisedAt) as { id: number }).id;
  }

  ack(id: number, at: number, by: string, comment: string | null): void {
    this.ackAct.run(at, by, comment, id);
  }

  cleared(id: number, at: number): void {
    this.clearAct.run(at, id);
  }

  close(id: number, at: number, reason: string): void {
    this.closeAct.run(at, reason, id);
  }

  history(f: HistoryFilter, limit = 200, offset = 0): ActivationRow[] {
    const w: SQL[] = [];
    if (f.from !== undefined) w.push(gte(alarmActivations.raisedAt, f.from));
    if (f.to !== undefined) w.push(lte(alarmActivations.raisedAt, f.to));
    if (f.device) w.push(eq(alarmActivations.device, f.device));
    if (f.priority) w.push(eq(alarmActivations.priority, f.priority));
    if (f.alarmId) w.push(eq(alarmActivations.alarmId, f.alarmId));
    return this.db.db
      .select()
      .from(alarmActivations)
      .where(w.length ? and(...w) : undefined)
      .orderBy(desc(alarmActivations.raisedAt), desc(alarmActivations.id))
      .limit(limit)
      .offset(offset)
      .all();
  }

  countHistory(f: HistoryFilter): number {
    const w: SQL[] = [];
    if (f.from !== undefined) w.push(gte(alarmActivations.raisedAt, f.from));
    if (f.to !== undefined) w.push(lte(alarmActivations.raisedAt, f.to));
    if (f.device) w.push(eq(alarmActivations.device, f.device));
    if (f.priority) w.push(eq(alarmActivations.priority, f.priority));
    if (f.alarmId) w.push(eq(alarmActivations.alarmId, f.alarmId));
    return (
      this.db.db
        .select({ n: sql<number>`count(*)` })
        .from(alarmActivations)
        .where(w.length ? and(...w) : undefined)
        .get()?.n ?? 0
    );
  }

  getSetting(key: string): string | undefined {
    return this.db.db.select().from(settings).where(eq(settings.key, key)).get()?.value;
  }

  setSetting(key: string, value: string): void {
    this.db.db.insert(settings).values({ key, value }).onConflictDoUpdate({ target: settings.key, set: { value } }).run();
  }

  deleteSetting(key: string): void {
    this.db.db.delete(settings).where(eq(settings.key, key)).run();
  }
}
