import type { Site } from "../config/site.ts";
import { openDatabase, type BusbarDb } from "../db/database.ts";
import { LiveView } from "../points/live.ts";
import { buildRegistry, type PointRegistry } from "../points/registry.ts";
import { PointTable } from "../points/table.ts";
import { planSite, Supervisor } from "../workers/supervisor.ts";
import { createApp } from "./app.tsx";
import { PageEvents } from "./page-events.ts";

/**
 * One running Busbar: point table, bus workers, live view, database and HTTP server.
 * Data flows one way: device → worker → shared table → main thread → page.
 */

export interface BusbarOptions {
  site: Site;
  dbPath: string;
  httpPort: number;
  httpHost?: string;
  /** Addresses whose requests are a kiosk (read-only pages without login). */
  kiosk?: string[];
  /** Seconds of live history kept per point (at `historySlotMs` resolution). */
  historySeconds?: number;
  log?: (line: string) => void;
}

export interface Busbar {
  site: Site;
  registry: PointRegistry;
  table: PointTable;
  live: LiveView;
  supervisor: Supervisor;
  db: BusbarDb;
  pageEvents: PageEvents;
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startBusbar(opts: BusbarOptions): Promise<Busbar> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const { site } = opts;
  const db = openDatabase(opts.dbPath);
  const registry = buildRegistry(site);
  const table = PointTable.create({
    capacity: registry.points.length,
    rings: Supervisor.ringsFor(site),
    historySlots: opts.historySeconds ?? 600,
    historySlotMs: 1000,
  });
  const live = new LiveView(registry, table);
  const plans = planSite(site, registry);

  const supervisor = new Supervisor(site, registry, table, plans, {
    log: (level, msg) => {
      log(`[${level}] ${msg}`);
    },
    deviceStatus: (device, status, error) => {
      db.logEvent("device.comm", device, `${device}: ${status}${error ? ` — ${error}` : ""}`, { status, error });
    },
    workerRestart: (bus, reason) => {
      db.logEvent("worker.restart", bus, `bus ${bus} worker restarted: ${reason}`, { reason });
    },
    text: (point, value) => live.setText(point, value),
  });

  db.logEvent("system.start", "", `Busbar started: ${site.site.name}`, {
    points: registry.points.length,
    buses: site.buses.length,
    devices: site.devices.length,
  });

  live.start();
  supervisor.start();

  const pageEvents = new PageEvents();
  const app = createApp({ site, live, supervisor, db, pageEvents });
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      port: opts.httpPort,
      hostname: opts.httpHost ?? "0.0.0.0",
      fetch: app.fetch,
      // SSE streams send a heartbeat every 15 s; keep idle sockets a little longer than that.
      idleTimeout: 30,
    });
  } catch (e) {
    live.stop();
    await supervisor.stop();
    db.close();
    throw new Error(`cannot listen on HTTP port ${opts.httpPort}: ${(e as Error).message} (choose another with --http PORT)`);
  }
  const host = opts.httpHost && opts.httpHost !== "0.0.0.0" ? opts.httpHost : "localhost";
  const url = `http://${host}:${server.port}/`;

  return {
    site,
    registry,
    table,
    live,
    supervisor,
    db,
    pageEvents,
    url,
    port: server.port!,
    async stop() {
      live.stop();
      await supervisor.stop();
      server.stop(true);
      db.logEvent("system.stop", "", "Busbar stopped");
      db.close();
    },
  };
}
