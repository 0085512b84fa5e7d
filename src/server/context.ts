import type { Site } from "../config/site.ts";
import type { BusbarDb } from "../db/database.ts";
import type { LiveView } from "../points/live.ts";
import type { ModbusDriver } from "../drivers/modbus/driver.ts";
import type { BacnetSiteDriver } from "../drivers/bacnet/site-driver.ts";
import type { ComputedPoints } from "../points/computed.ts";
import type { Sim } from "../sim/simulator.ts";
import type { Supervisor } from "../drivers/supervisor.ts";
import type { PageEvents } from "./page-events.ts";
import type { BacnetServer } from "../bacnet-server/server.ts";
import type { Gateway } from "../gateway/gateway.ts";
import type { MicrogridController } from "../microgrid/controller.ts";
import type { History } from "../historian/runtime.ts";
import type { Energy } from "../energy/runtime.ts";
import type { Notifier } from "../notify/notifier.ts";
import type { ReportScheduler } from "../reports/schedules.ts";

/** What every route module gets: the running site's parts. */
export interface AppContext {
  site: Site;
  live: LiveView;
  /** Every worker, whatever its driver; writes to any point go through it. */
  supervisor: Supervisor;
  /** The Modbus driver: request plans, scanner, gateway forwarding. */
  modbus: ModbusDriver;
  bacnet: BacnetSiteDriver;
  computed: ComputedPoints;
  db: BusbarDb;
  /** Non-value events for every page's live stream (alarms...). */
  pageEvents: PageEvents;
  /** The simulator behind the demo (and tests): its controls page exists only then. */
  sim?: Sim;
  /** The BACnet/IP server, when the site has one. */
  bacnetServer?: BacnetServer;
  /** The Modbus TCP gateway, when the site has one and it listens (its statistics are shown on /comm). */
  gateway?: Gateway;
  /** The microgrid controller, when the site file has `microgrid:` (page /microgrid). */
  microgrid?: MicrogridController;
  /** The historian and backups (absent when the site turns history off, or in route tests). */
  history?: History;
  /** Consumption and costs (absent when the site declares no meters). */
  energy?: Energy;
  /** Alarm notifications (absent in route tests that do not need them). */
  notify?: Notifier;
  /** Scheduled reports (absent without energy meters, or in route tests). */
  reports?: ReportScheduler;
}
