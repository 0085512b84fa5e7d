import type { Database } from "bun:sqlite";
import { Quality } from "./quality.ts";
import type { PointDef, PointInfo, PointKind, PointRegistry, PointSource } from "./registry.ts";
import { MAIN_RING, type PointTable } from "./table.ts";

/**
 * Computed points: values no device reports, produced on the main thread — energy totals, the
 * microgrid controller's states and setpoints. They sit in the registry and the shared table like
 * device points, so pages, alarms, the historian and the BMS server see them the same way; the main
 * thread writes them on its own ring (ring 0), so each point still has exactly one writer.
 *
 * How a computed point plugs in:
 *   1. Declare it: a `ComputedPointDef` in the list given to `buildRegistry(site, computed)`
 *      (src/drivers/index.ts; `startBusbar({ computed })`). Its id is `DEVICE.name`, e.g.
 *      `ENERGY.site_import_today`; pick a `device` that no site device uses.
 *   2. Produce it: `busbar.computed.set(id, value, quality?)` whenever it changes. The quality says
 *      how far to trust it (a total built from a comm-failed meter is not GOOD); `staleAfterMs`
 *      makes an owner that stops updating show stale by itself.
 *   3. Writable ones (setpoints): `writable: { default }`. An operator's write goes through the same
 *      role check, confirmation and journal as a device write (src/server/routes/operate.tsx →
 *      `Supervisor.write`, which hands computed points here). The value (an operator's write, or a
 *      good value its owner sets) is persisted in SQLite and restored at start (else the default).
 *      An owner that must act on a write, or refuse it, registers `onWrite(id, handler)`: a
 *      rejected write keeps the old value.
 * Two points with one id (a computed point named like a device's tag) stop the start with an error.
 */

export interface ComputedPointDef {
  /** Group shown as the point's device, e.g. ENERGY or MICROGRID_CTL. */
  device: string;
  name: string;
  label: string;
  labelFr?: string;
  unit?: string;
  kind?: PointKind;
  states?: Record<string, string>;
  range?: { min?: number; max?: number };
  role?: string;
  /** A value not refreshed for this long shows stale (default: never, e.g. for a held setpoint). */
  staleAfterMs?: number;
  /** A setpoint operators may write; the value survives a restart. */
  writable?: { default: number };
}

export const COMPUTED_DRIVER = "computed";

export function computedPointSource(defs: readonly ComputedPointDef[]): PointSource {
  return {
    name: COMPUTED_DRIVER,
    points: () =>
      defs.map(
        (d): PointDef => ({
          device: d.device,
          name: d.name,
          label: d.label,
          labelFr: d.labelFr,
          unit: d.unit ?? "",
          kind: d.kind ?? "analog",
          states: d.states,
          writable: d.writable !== undefined,
          range: d.range,
          role: d.role,
          staleAfterMs: d.staleAfterMs ?? Infinity,
          owner: { driver: COMPUTED_DRIVER },
        }),
      ),
  };
}

/** Where writable computed values are kept between runs. */
export interface ComputedStore {
  load(): Map<string, { value: number; ts: number }>;
  save(id: string, value: number, ts: number): void;
}

/** The `computed_values` table (migration 0005). */
export function sqliteComputedStore(sqlite: Database): ComputedStore {
  const upsert = sqlite.query("INSERT INTO computed_values (id, value, ts) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET value = excluded.value, ts = excluded.ts");
  return {
    load: () => new Map((sqlite.query("SELECT id, value, ts FROM computed_values").all() as { id: string; value: number; ts: number }[]).map((r) => [r.id, { value: r.value, ts: r.ts }])),
    save: (id, value, ts) => void upsert.run(id, value, ts),
  };
}

export interface ComputedWriteResult {
  ok: boolean;
  error?: string;
  ms: number;
}

/** Acts on an operator's write before it is kept; returning an error (or throwing) refuses it. */
export type ComputedWriteHandler = (value: number, point: PointInfo) => void | string | Promise<void | string>;

export class ComputedPoints {
  private readonly defs = new Map<number, ComputedPointDef>();
  private readonly handlers = new Map<number, ComputedWriteHandler>();

  constructor(
    private readonly registry: PointRegistry,
    private readonly table: PointTable,
    defs: readonly ComputedPointDef[],
    private readonly store?: ComputedStore,
  ) {
    for (const d of defs) {
      const info = registry.byId.get(`${d.device}.${d.name}`);
      if (info?.owner.driver === COMPUTED_DRIVER) this.defs.set(info.index, d);
    }
  }

  /** Writes every writable point's kept value (or its default) into the table. */
  start(now = Date.now()): void {
    const kept = this.store?.load() ?? new Map();
    for (const [index, d] of this.defs) {
      if (!d.writable) continue;
      const info = this.registry.points[index]!;
      const k = kept.get(info.id);
      this.table.write(index, k ? k.value : d.writable.default, k ? k.ts : now, Quality.GOOD, MAIN_RING);
    }
    this.table.signal();
  }

  /** The owner's new value (and how far to trust it). A writable point's good value is kept for the next start too. */
  set(id: string, value: number, quality: number = Quality.GOOD, ts = Date.now()): void {
    const index = this.indexOf(id);
    if (this.defs.get(index)!.writable && quality === Quality.GOOD) this.store?.save(id, value, ts);
    this.table.write(index, value, ts, quality, MAIN_RING);
    this.table.signal();
  }

  /** Registers the owner's reaction to operators' writes of `id`. */
  onWrite(id: string, handler: ComputedWriteHandler): void {
    this.handlers.set(this.indexOf(id), handler);
  }

  owns(index: number): boolean {
    return this.defs.has(index);
  }

  /** An operator's write (already role-checked and confirmed by the route). */
  async write(index: number, value: number): Promise<ComputedWriteResult> {
    const t0 = performance.now();
    const ms = () => Math.round((performance.now() - t0) * 10) / 10;
    const d = this.defs.get(index);
    const info = this.registry.points[index];
    if (!d || !info) return { ok: false, error: "unknown point", ms: 0 };
    if (!d.writable) return { ok: false, error: `${info.id} is not writable`, ms: 0 };
    if (!Number.isFinite(value)) return { ok: false, error: "value must be a number", ms: 0 };
    const r = d.range;
    if ((r?.min !== undefined && value < r.min) || (r?.max !== undefined && value > r.max))
      return { ok: false, error: `value must be ${r?.min ?? "−∞"}..${r?.max ?? "+∞"}`, ms: 0 };
    if (d.states && !Object.prototype.hasOwnProperty.call(d.states, String(value)))
      return { ok: false, error: `value must be one of ${Object.keys(d.states).join(", ")}`, ms: 0 };
    const handler = this.handlers.get(index);
    if (handler) {
      try {
        const refused = await handler(value, info);
        if (typeof refused === "string") return { ok: false, error: refused, ms: ms() };
      } catch (e) {
        return { ok: false, error: (e as Error).message, ms: ms() };
      }
    }
    const ts = Date.now();
    // Kept on disk before it shows as done, like a device's acknowledgement.
    this.store?.save(info.id, value, ts);
    this.table.write(index, value, ts, Quality.GOOD, MAIN_RING);
    this.table.signal();
    return { ok: true, ms: ms() };
  }

  private indexOf(id: string): number {
    const info = this.registry.byId.get(id);
    if (!info || !this.defs.has(info.index)) throw new Error(`${id} is not a computed point`);
    return info.index;
  }
}
