import type { Site } from "../config/site.ts";
import type { BusbarDb } from "../db/database.ts";
import type { LiveView } from "../points/live.ts";
import type { Supervisor } from "../workers/supervisor.ts";
import type { PageEvents } from "./page-events.ts";
import type { History } from "../historian/runtime.ts";
import type { Energy } from "../energy/runtime.ts";

/** What every route module gets: the running site's parts. */
export interface AppContext {
  site: Site;
  live: LiveView;
  supervisor: Supervisor;
  db: BusbarDb;
  /** Non-value events for every page's live stream (alarms...). */
  pageEvents: PageEvents;
  /** The historian and backups (absent when the site turns history off, or in route tests). */
  history?: History;
  /** Consumption and costs (absent when the site declares no meters). */
  energy?: Energy;
}
