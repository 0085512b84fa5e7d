import type { AppContext } from "../server/context.ts";
import type { EnergySource } from "./schedules.ts";

/**
 * Where the report worker reads the running site's energy tables: their database file (the
 * history file when the historian runs). An in-memory database (some tests) is not visible to
 * another thread: no report then.
 */
export function reportJobSource(ctx: Pick<AppContext, "energy" | "site">): EnergySource | undefined {
  const e = ctx.energy;
  if (!e) return undefined;
  const dbPath = e.store.db.filename;
  if (!dbPath || dbPath === ":memory:") return undefined;
  return { dbPath, config: ctx.site.energy, meters: e.service.meters };
}
