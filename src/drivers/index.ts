import type { Site } from "../config/site.ts";
import { computedPointSource, type ComputedPointDef } from "../points/computed.ts";
import { createRegistry, type PointRegistry, type PointSource } from "../points/registry.ts";
import { ModbusDriver } from "./modbus/driver.ts";
import { modbusPointSource } from "./modbus/points.ts";
import type { WorkerSpec } from "./supervisor.ts";
import { BacnetSiteDriver } from "./bacnet/site-driver.ts";
import { bacnetPointSource } from "./bacnet/points.ts";

/**
 * The drivers a site runs, and the registry built from all point sources. This is where a driver
 * is wired in (see src/points/registry.ts for the contract): its point source goes into
 * `pointSources` (after the existing ones, so existing point numbers do not move), its main-thread
 * side into `SiteDrivers`, and its workers into `workers`.
 */

/** Every source of points, in numbering order: Modbus devices, BACnet devices, computed points. */
export function pointSources(site: Site, computed: readonly ComputedPointDef[] = []): PointSource[] {
  return [modbusPointSource(site), bacnetPointSource(site), computedPointSource(computed)];
}

/** Numbers every point of the site (and the computed points); stable for a given site file. */
export function buildRegistry(site: Site, computed: readonly ComputedPointDef[] = []): PointRegistry {
  return createRegistry(pointSources(site, computed));
}

export interface SiteDrivers {
  modbus: ModbusDriver;
  bacnet: BacnetSiteDriver;
  /** Every driver's workers, for the supervisor (their order fixes the table rings). */
  workers: WorkerSpec[];
}

export interface DriverOptions {
  log?: (level: "info" | "warn" | "error", msg: string) => void;
}

export function createDrivers(site: Site, registry: PointRegistry, opts: DriverOptions = {}): SiteDrivers {
  const modbus = new ModbusDriver(site, registry, { log: opts.log });
  const bacnet = new BacnetSiteDriver(site, registry);
  return { modbus, bacnet, workers: [...modbus.workers(), ...bacnet.workers()] };
}
