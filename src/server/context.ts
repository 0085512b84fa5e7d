import type { Site } from "../config/site.ts";
import type { BusbarDb } from "../db/database.ts";
import type { LiveView } from "../points/live.ts";
import type { Supervisor } from "../drivers/supervisor.ts";
import type { PageEvents } from "./page-events.ts";
import type { BacnetServer } from "../bacnet-server/server.ts";

/** What every route module gets: the running site's parts. */
export interface AppContext {
  site: Site;
  live: LiveView;
  supervisor: Supervisor;
  db: BusbarDb;
  /** Non-value events for every page's live stream (alarms...). */
  pageEvents: PageEvents;
  /** The BACnet/IP server, when the site has one. */
  bacnet?: BacnetServer;
}
