import type { Site } from "../config/site.ts";
import type { AlarmEngine } from "../alarms/engine.ts";
import type { BusbarDb } from "../db/database.ts";
import type { LiveView } from "../points/live.ts";
import type { Supervisor } from "../drivers/supervisor.ts";
import { BacnetServer } from "./server.ts";
import { BacnetStore } from "./store.ts";
import { BmsWrites } from "./writes.ts";
import type { LiveSource } from "./properties.ts";
import pkg from "../../package.json" with { type: "json" };
import { Quality } from "../points/quality.ts";

/**
 * Starts the BACnet/IP server of a running Busbar (src/server/runtime.ts): wires the live view,
 * the alarms and the write path into it.
 */
export async function startBacnetServer(o: {
  site: Site;
  live: LiveView;
  alarms: AlarmEngine;
  supervisor: Supervisor;
  db: BusbarDb;
  port?: number;
  log?: (level: "info" | "warn" | "error", msg: string) => void;
}): Promise<BacnetServer | undefined> {
  const config = o.site.bacnetServer;
  if (!config || !config.enabled) return undefined;
  const store = new BacnetStore(o.db.sqlite);
  const writes = new BmsWrites((point, value) => o.supervisor.write(point.index, value), o.db.journal, o.site.site.language);
  const server = new BacnetServer({
    site: o.site,
    config,
    registry: o.live.registry,
    store,
    live: liveSource(o.live, o.alarms),
    writes,
    version: pkg.version,
    log: o.log,
    port: o.port,
  });
  await server.start();
  return server;
}

/** Point values with Busbar's staleness, and the active alarm kind per point (refreshed once a second). */
export function liveSource(live: LiveView, alarms: AlarmEngine): LiveSource & { subscribe: LiveView["subscribe"] } {
  const sample = { value: NaN, ts: 0, quality: 0 };
  // Staleness as LiveView derives it, from the same sample (one seqlock read, not two).
  const staleAfter = Float64Array.from(live.registry.points, (p) => p.staleAfterMs);
  let alarmAt = 0;
  let active = new Map<number, "high" | "low" | "state">();
  const defs = () => new Map(alarms.definitions.map((d) => [d.id, d]));
  let byId = defs();
  const source: LiveSource & { subscribe: LiveView["subscribe"] } = {
    requestTime: 0,
    read(index) {
      // One sample object, reused: every caller reads it at once (the server is single-threaded).
      const s = live.table.read(index, sample);
      if (s.quality === Quality.GOOD && (source.requestTime || Date.now()) - s.ts > staleAfter[index]!) s.quality = Quality.STALE;
      return s;
    },
    alarm(index) {
      const now = source.requestTime || Date.now();
      if (now - alarmAt > 1000) {
        alarmAt = now;
        if (byId.size !== alarms.definitions.length) byId = defs();
        const next = new Map<number, "high" | "low" | "state">();
        for (const a of alarms.list({ show: "all" })) {
          if (!a.active || !a.point) continue;
          const d = byId.get(a.id);
          if (!d || d.pointIndex < 0) continue;
          next.set(d.pointIndex, d.kind === "digital" || d.high === undefined ? "state" : d.high ? "high" : "low");
        }
        active = next;
      }
      return active.get(index);
    },
    subscribe: (fn) => live.subscribe(fn),
  };
  return source;
}
