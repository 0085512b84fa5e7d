import type { ModbusBusConfig as BusConfig } from "../../config/site.ts";
import type { PlannedRead } from "../../protocols/modbus/planner.ts";
import type { ReplyCacheBuffers } from "../../gateway/reply-cache.ts";
import type { ScanRequest, ScanResult } from "../../protocols/modbus/rtu-scan.ts";
import type { TimeSyncSpec } from "./timesync.ts";
import type { CoreFromWorker, CoreToWorker, WorkerInit } from "../protocol.ts";
import type { LearnedPlanView } from "../../protocols/modbus/learned-plan.ts";

export type { DriverEvent as BusEvent, BusStats, DeviceStats, DeviceStatus } from "../protocol.ts";

/**
 * The Modbus driver's messages, beside the neutral ones (../protocol.ts): the request plan in the
 * init, the gateway's reply cache and forwarded requests, the scanner, device clock settings.
 */

export interface WorkerDevice {
  id: string;
  unit: number;
  pollMs: number;
  slowPollMs: number;
  ku: number;
  ki: number;
  reads: PlannedRead[];
  /** Every point of the device (for marking them all comm-fail at once). */
  points: number[];
  /** Writable points: point index → tag (carried in the reads only for polled tags). */
  writable: Record<number, PlannedRead["items"][number]["tag"]>;
  /** Profile id (devices sharing a profile share a broadcast time sync). */
  profile?: string;
  /** Reply-cache slot of each read (same order as `reads`), when the gateway caches this bus. */
  cacheSlots?: number[];
  /** Clock setting, when the profile asks for it. */
  timeSync?: TimeSyncSpec;
  /** Own TCP address on a modbus-tcp bus (else the bus's). */
  host?: string;
  port?: number;
}

/** A request another Modbus master sent through the gateway, run on the bus between polls. */
export type ForwardOp =
  | { fc: 1 | 2 | 3 | 4; address: number; count: number }
  | { fc: 5 | 15; address: number; bits: number[] }
  | { fc: 6 | 16; address: number; words: number[] };

export type ForwardResult =
  /** Reads: register bytes, or one byte (0/1) per bit. */
  | { ok: true; data?: Uint8Array; busMs: number }
  /** A Modbus exception code to answer with (the device's own, or 0x0A/0x0B/0x06 from the gateway). */
  | { ok: false; exception: number; error: string; busMs: number };

export interface ModbusInit extends WorkerInit {
  bus: BusConfig;
  devices: WorkerDevice[];
  replyCache?: ReplyCacheBuffers;
  /** Site time zone (device clocks in local time). */
  timezone?: string;
  /** Last clock setting per device (ms), kept by the main thread across worker restarts. */
  lastTimeSync?: Record<string, number>;
}

export type ToWorker =
  | ModbusInit
  | CoreToWorker
  | { type: "forward"; id: number; unit: number; device?: string; op: ForwardOp }
  | { type: "scan"; id: number; request: ScanRequest }
  | { type: "scan-cancel"; id: number };

export type ModbusFromWorker =
  | ({ type: "forward-result"; id: number } & ForwardResult)
  | { type: "scan-progress"; id: number; unit: number; done: number; total: number }
  | { type: "scan-done"; id: number; result: ScanResult }
  | { type: "time-synced"; devices: string[]; at: number }
  /** A device's request plan changed: split after refusals, a refused register answered, or reset. */
  | { type: "plan"; device: string; plan: LearnedPlanView };

export type FromWorker = CoreFromWorker | ModbusFromWorker;
