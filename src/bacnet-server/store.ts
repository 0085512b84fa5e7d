import type { Database } from "bun:sqlite";

/**
 * What the BACnet server keeps across restarts (SQLite): each object's instance (BMS programs
 * reference instances, so an object keeps its number forever and a retired number is never given
 * to another object), the commandable objects' priority arrays and Relinquish_Default, and the
 * Database_Revision with the object set it describes.
 */

export interface CommandState {
  /** Priority 1..16 at index 0..15; null = relinquished. */
  priorities: (number | null)[];
  relinquishDefault: number;
}

/** The value a commandable object holds: the highest priority that is set, else the default. */
export function commandedValue(c: CommandState): { value: number; priority: number | null } {
  for (let i = 0; i < 16; i++) if (c.priorities[i] !== null && c.priorities[i] !== undefined) return { value: c.priorities[i]!, priority: i + 1 };
  return { value: c.relinquishDefault, priority: null };
}

export class BacnetStore {
  private readonly commands = new Map<string, CommandState>();

  constructor(private readonly sqlite: Database) {}

  /** The persisted command state of an object, or a fresh one with this default. */
  command(key: string, relinquishDefault: number): CommandState {
    let c = this.commands.get(key);
    if (c) return c;
    const row = this.sqlite.query("SELECT priority_array, relinquish_default FROM bacnet_commands WHERE key = ?").get(key) as
      | { priority_array: string; relinquish_default: number }
      | null;
    c = { priorities: Array(16).fill(null), relinquishDefault };
    if (row) {
      try {
        const arr = JSON.parse(row.priority_array) as unknown[];
        if (Array.isArray(arr) && arr.length === 16) c.priorities = arr.map((x) => (typeof x === "number" && Number.isFinite(x) ? x : null));
      } catch {
        // A damaged row loses the BMS's commands, not the object: the default applies.
      }
      c.relinquishDefault = row.relinquish_default;
    }
    this.commands.set(key, c);
    return c;
  }

  saveCommand(key: string, c: CommandState): void {
    this.sqlite
      .query(
        "INSERT INTO bacnet_commands (key, priority_array, relinquish_default, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET priority_array = excluded.priority_array, relinquish_default = excluded.relinquish_default, updated_at = excluded.updated_at",
      )
      .run(key, JSON.stringify(c.priorities), c.relinquishDefault, Date.now());
  }

  /**
   * Instances for these objects, in order: the stored one when the object has been served before,
   * else the asked one when free, else the next after the highest ever used for its type.
   */
  assignInstances(objs: { key: string; type: number; name: string; wanted?: number }[], warnings: string[]): number[] {
    const rows = this.sqlite.query("SELECT key, type, instance FROM bacnet_objects").all() as { key: string; type: number; instance: number }[];
    const byKey = new Map(rows.map((r) => [r.key, r]));
    const used = new Map<number, Set<number>>();
    const taken = (type: number) => {
      let s = used.get(type);
      if (!s) used.set(type, (s = new Set()));
      return s;
    };
    for (const r of rows) taken(r.type).add(r.instance);
    const insert = this.sqlite.query("INSERT INTO bacnet_objects (key, type, instance, name, created_at) VALUES (?, ?, ?, ?, ?)");
    const out: number[] = [];
    this.sqlite.transaction(() => {
      for (const o of objs) {
        const row = byKey.get(o.key);
        if (row) {
          if (o.wanted !== undefined && o.wanted !== row.instance)
            warnings.push(`${o.key}: keeps instance ${row.instance} (asked ${o.wanted}): an existing object is never renumbered`);
          out.push(row.instance);
          continue;
        }
        const s = taken(o.type);
        let inst: number;
        if (o.wanted !== undefined && !s.has(o.wanted)) inst = o.wanted;
        else {
          if (o.wanted !== undefined) warnings.push(`${o.key}: instance ${o.wanted} is taken, given the next free one`);
          inst = s.size ? Math.max(...s) + 1 : 1;
        }
        s.add(inst);
        insert.run(o.key, o.type, inst, o.name, Date.now());
        out.push(inst);
      }
    })();
    return out;
  }

  /** Database_Revision: bumped whenever the served object set differs from the last one seen. */
  databaseRevision(signature: string): number {
    const get = (k: string) => (this.sqlite.query("SELECT value FROM settings WHERE key = ?").get(k) as { value: string } | null)?.value;
    const set = (k: string, v: string) =>
      this.sqlite.query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(k, v);
    let rev = Number(get("bacnet.databaseRevision") ?? "0");
    if (get("bacnet.objectSet") !== signature) {
      rev = (rev + 1) >>> 0;
      set("bacnet.databaseRevision", String(rev));
      set("bacnet.objectSet", signature);
    }
    return rev;
  }
}
