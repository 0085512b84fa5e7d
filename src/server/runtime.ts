import { siteNames, type Site } from "../config/site.ts";
import { openDatabase, type BusbarDb } from "../db/database.ts";
import { LiveView } from "../points/live.ts";
import type { PointRegistry } from "../points/registry.ts";
import { PointTable } from "../points/table.ts";
import { ComputedPoints, sqliteComputedStore, type ComputedPointDef } from "../points/computed.ts";
import { buildRegistry, createDrivers } from "../drivers/index.ts";
import type { ModbusDriver } from "../drivers/modbus/driver.ts";
import type { BacnetSiteDriver } from "../drivers/bacnet/site-driver.ts";
import { Supervisor } from "../drivers/supervisor.ts";
import { createApp } from "./app.tsx";
import { PageEvents } from "./page-events.ts";
import { AlarmEngine } from "../alarms/engine.ts";
import { effectiveAlarms } from "../alarms/config-store.ts";
import { AlarmStore } from "../alarms/store.ts";
import { AuthService } from "../auth/service.ts";
import { t } from "../i18n/index.ts";
import type { Journal } from "../journal/journal.ts";
import { attachServices } from "./middleware/services.ts";
import type { AppContext } from "./context.ts";
import { startGateway, type Gateway } from "../gateway/gateway.ts";
import type { Sim } from "../sim/simulator.ts";
import type { BacnetServer } from "../bacnet-server/server.ts";
import { MAX_BODY_LIMIT } from "../auth/policy.ts";
import { MicrogridController } from "../microgrid/controller.ts";
import { microgridPoints } from "../microgrid/points.ts";
import { startHistory, type History, type Restart } from "../historian/runtime.ts";
import { applySavedEnergy, startEnergy, type Energy } from "../energy/runtime.ts";
import { energyPointDefs } from "../energy/service.ts";
import { Notifier } from "../notify/notifier.ts";
import { closeReportPool, primeReportPool } from "../reports/pool.ts";
import { ReportScheduler } from "../reports/schedules.ts";
import { reportJobSource } from "../reports/source.ts";
import { SecretBox } from "../notify/secret-box.ts";
import { journalText } from "../journal/i18n.ts";

/**
 * One running Busbar: point table, drivers' workers, computed points, live view, database and HTTP server.
 * Data flows one way: device → worker → shared table → main thread → page.
 */

export interface BusbarOptions {
  site: Site;
  dbPath: string;
  httpPort: number;
  httpHost?: string;
  /** Addresses whose requests are a kiosk (read-only pages without login). */
  kiosk?: string[];
  /** Overrides the site file's gateway port (the demo picks a free one when 1502 is taken). */
  gatewayPort?: number;
  /** Overrides the site file's BACnet server UDP port (0: a free one). */
  bacnetPort?: number;
  /** Seconds of live history kept per point (at `historySlotMs` resolution). */
  historySeconds?: number;
  log?: (line: string) => void;
  /** Points the main thread computes (energy totals, controller setpoints): src/points/computed.ts. */
  computed?: ComputedPointDef[];
  /** The simulator serving this site (demo, tests): enables the admin's simulation controls (/sim). */
  sim?: Sim;
  /** Stops this Busbar, runs `swap` (a restore replacing the database files), and starts it again (src/server/host.ts). */
  restart?: Restart;
  /** Notification timings (tests shorten the backoff); see src/notify/notifier.ts. */
  notify?: { settleMs?: number; maxWaitMs?: number; backoffMs?: number; maxBackoffMs?: number; maxAttempts?: number };
}

export interface Busbar {
  site: Site;
  registry: PointRegistry;
  table: PointTable;
  live: LiveView;
  supervisor: Supervisor;
  /** The Modbus driver: plans, scanner, gateway forwarding. */
  modbus: ModbusDriver;
  /** The BACnet driver: Who-Is scans, writes with a priority or a relinquish. */
  bacnet: BacnetSiteDriver;
  /** The main thread's computed points: `set` their values, `onWrite` to act on operators' writes. */
  computed: ComputedPoints;
  db: BusbarDb;
  pageEvents: PageEvents;
  /** The event journal (append-only, hash-chained). */
  journal: Journal;
  alarms: AlarmEngine;
  auth: AuthService;
  /** The HTTP routes (tests call app.fetch with a chosen client address). */
  app: ReturnType<typeof createApp>;
  /** The Modbus TCP gateway, when the site has one and it could listen. */
  gateway: Gateway | undefined;
  /** Load shedding, demand, GDP events, battery dispatch (site file `microgrid:`). */
  microgrid: MicrogridController | undefined;
  /** The BACnet/IP server for the BMS, when the site has one and it could bind. */
  bacnetServer: BacnetServer | undefined;
  /** History, rollups, retention and scheduled backups (undefined when the site turns it off). */
  energy: Energy | undefined;
  history: History | undefined;
  /** Alarm notifications and their outbox (src/notify). */
  notify: Notifier;
  /** Scheduled reports (absent without energy meters). */
  reports: ReportScheduler | undefined;
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * The computed points the site's own configuration brings: the microgrid controller's (MICROGRID.*)
 * and the energy part's (ENERGY.*, with the site's meters), numbered like a driver's points.
 */
export function siteComputedPoints(site: Site): ComputedPointDef[] {
  return [
    ...(site.microgrid ? microgridPoints(site.microgrid) : []),
    ...(site.energy.meters.length ? energyPointDefs(site.energy, site.energy.costs.find((c) => c.commodity === "electricity")?.currency) : []),
  ];
}

export async function startBusbar(opts: BusbarOptions): Promise<Busbar> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const { site } = opts;
  const db = openDatabase(opts.dbPath);
  applySavedEnergy(site, db.sqlite, db.journal);
  const computedDefs = [...(opts.computed ?? []), ...siteComputedPoints(site)];
  // Every source's points are numbered before the table exists: the table is sized from them.
  const registry = buildRegistry(site, computedDefs);
  const drivers = createDrivers(site, registry, { log: (level, msg) => log(`[${level}] ${msg}`) });
  const table = PointTable.create({
    capacity: registry.points.length,
    rings: Supervisor.ringsFor(drivers.workers.length),
    historySlots: opts.historySeconds ?? 600,
    historySlotMs: 1000,
  });
  const live = new LiveView(registry, table);
  const { modbus, bacnet } = drivers;
  const computed = new ComputedPoints(registry, table, computedDefs, sqliteComputedStore(db.sqlite));

  const lang = site.site.language;
  const journal = db.journal;
  const pageEvents = new PageEvents();
  const alarmConfig = effectiveAlarms(site, new AlarmStore(db), log);
  const alarms = new AlarmEngine({
    site,
    registry,
    table,
    db,
    journal,
    config: alarmConfig.config,
    lang,
    publish: (summary) => pageEvents.publish("alarms", summary),
  });
  const auth = new AuthService(db, journal, site.security, opts.kiosk ?? [], lang);

  const supervisor = new Supervisor(registry, table, drivers.workers, {
    log: (level, msg) => {
      log(`[${level}] ${msg}`);
    },
    deviceStatus: (device, status, error) => {
      journal.append({
        type: "device.comm",
        source: device,
        device,
        message: t(lang, "journal.device.comm", { device, status, error: error ? ` — ${error}` : "" }),
        data: { status, error, i18n: { key: "journal.device.comm", params: { device, status, error: error ? ` — ${error}` : "" } } },
      });
      alarms.onDeviceStatus(device, status);
    },
    workerRestart: (bus, reason) => {
      journal.append({ type: "worker.restart", source: bus, ...journalText(lang, "journal.worker.restart", { bus, reason }), data: { reason } });
    },
    event: (e) => {
      journal.append({ type: `device.${e.kind}`, source: e.source, device: e.source, message: e.message, data: e.data });
    },
    text: (point, value) => live.setText(point, value),
  });
  supervisor.addOwner(computed);

  journal.append({
    type: "system.start",
    source: site.site.name,
    ...journalText(lang, "journal.system.start", { site: siteNames(site.site) }),
    data: {
      points: registry.points.length,
      buses: site.buses.length,
      devices: site.devices.length,
      alarms: alarms.definitions.length,
      alarmConfig: alarmConfig.source,
      kiosk: auth.kioskAddresses,
    },
  });
  auth.sessions.purge();
  const purgeTimer = setInterval(() => auth.sessions.purge(), 3_600_000);
  if (auth.users.count() === 0) {
    log(
      `No user yet. Create the first admin with \`busbar user add NAME --role admin\`, or open /setup from this machine (answers on localhost only, until a user exists).`,
    );
  }

  // The once-a-day time-sync rule must survive restarts: remember the last clock setting per device.
  const lastSync = db.sqlite
    .query("SELECT device, MAX(ts) AS at FROM events WHERE type = 'device.timesync.set' GROUP BY device")
    .all() as { device: string; at: number }[];
  modbus.setLastTimeSync(Object.fromEntries(lastSync.map((r) => [r.device, r.at])));

  // Before the alarm engine starts: its first transitions are already notified.
  const notify = new Notifier({
    sqlite: db.sqlite,
    journal,
    box: SecretBox.forDatabase(opts.dbPath),
    siteName: site.site.name,
    timezone: site.site.timezone,
    lang,
    log,
    ...opts.notify,
  });
  notify.start();

  computed.start();
  const history = site.historian.enabled ? startHistory({ site, dbPath: opts.dbPath, live, db, journal, lang, log, restart: opts.restart }) : undefined;
  const energy = startEnergy({ site, db: history?.historian.db ?? db.sqlite, settings: db.sqlite, live, journal, computed });
  // Scheduled reports: after energy (their data) and the notifier (their outbox); a report due while
  // Busbar was down goes now, once (src/reports/schedules.ts).
  const reports = energy ? new ReportScheduler({ sqlite: db.sqlite, journal, notifier: notify, energy: () => reportJobSource({ energy, site }), site: site.site.name, timezone: site.site.timezone, lang, log }) : undefined;
  // Before the server listens: the process's first worker_threads Worker blocks this thread for
  // 5–12 ms; paid now, not in the middle of the first report (src/reports/pool.ts).
  if (energy) void primeReportPool(log);
  reports?.start();
  live.start();
  alarms.start((fn) => live.subscribe(fn));
  supervisor.start();
  const microgrid = site.microgrid
    ? new MicrogridController({ site, cfg: site.microgrid, registry, table, live, computed, writer: supervisor, journal, lang, log })
    : undefined;
  microgrid?.start();

  // The Modbus TCP gateway other masters (BMS, SCADA) use instead of loading the RS-485 buses.
  let gateway: Gateway | undefined;
  if (site.gateway) {
    try {
      gateway = startGateway({ site, backend: modbus, port: opts.gatewayPort, journal, lang, log: (level, msg) => log(`[${level}] gateway: ${msg}`) });
    } catch (e) {
      // Polling and the pages stay useful without it; the failure is loud and journaled.
      const text = journalText(lang, "journal.system.gatewayFailed", { at: `${site.gateway.host}:${opts.gatewayPort ?? site.gateway.port}`, error: (e as Error).message });
      log(`[error] ${t("en", "journal.system.gatewayFailed", { at: `${site.gateway.host}:${opts.gatewayPort ?? site.gateway.port}`, error: (e as Error).message })}`);
      journal.append({ type: "system.gateway", source: site.site.name, ...text });
    }
  }

  // The BACnet/IP server for the building's BMS (src/bacnet-server).
  let bacnetServer: BacnetServer | undefined;
  if (site.bacnetServer?.enabled) {
    try {
      // Loaded only when enabled: the server's codec brings in the BACnet library and iconv-lite (~10 MB).
      const { startBacnetServer } = await import("../bacnet-server/index.ts");
      bacnetServer = await startBacnetServer({ site, live, alarms, supervisor, db, port: opts.bacnetPort, log: (level, msg) => log(`[${level}] bacnet: ${msg}`) });
    } catch (e) {
      const params = { port: opts.bacnetPort ?? site.bacnetServer.port, error: (e as Error).message };
      log(`[error] ${t("en", "journal.system.bacnetFailed", params)}`);
      journal.append({ type: "system.bacnet", source: site.site.name, ...journalText(lang, "journal.system.bacnetFailed", params) });
    }
  }

  const ctx: AppContext = { site, live, supervisor, modbus, bacnet, computed, db, pageEvents, gateway, history, energy, sim: opts.sim, bacnetServer, notify, microgrid, reports };
  attachServices(ctx, { journal, auth, alarms, lang });
  const app = createApp(ctx);
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      port: opts.httpPort,
      hostname: opts.httpHost ?? "0.0.0.0",
      fetch: app.fetch,
      // Bun's own cap, above every route's limit (policy.ts); each route's is checked before parsing.
      maxRequestBodySize: MAX_BODY_LIMIT,
      // SSE streams send a heartbeat every 15 s; keep idle sockets a little longer than that.
      idleTimeout: 30,
    });
  } catch (e) {
    bacnetServer?.stop();
    clearInterval(purgeTimer);
    microgrid?.stop();
    alarms.stop();
    live.stop();
    await supervisor.stop();
    await reports?.stop();
    energy?.stop();
    history?.stop();
    await notify.stop();
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
    modbus,
    bacnet,
    computed,
    db,
    pageEvents,
    journal,
    alarms,
    auth,
    app,
    gateway,
    microgrid,
    bacnetServer,
    history,
    energy,
    notify,
    reports,
    url,
    port: server.port!,
    async stop() {
      microgrid?.stop();
      gateway?.stop();
      bacnetServer?.stop();
      clearInterval(purgeTimer);
      alarms.stop();
      live.stop();
      await supervisor.stop();
      server.stop(true);
      await reports?.stop();
      await closeReportPool();
      energy?.stop();
      history?.stop();
      await notify.stop();
      journal.append({ type: "system.stop", source: site.site.name, ...journalText(lang, "journal.system.stop", { site: siteNames(site.site) }) });
      db.close();
    },
  };
}
