import type { BusConfig } from "../config/site.ts";
import type { PlannedRead } from "../protocols/modbus/planner.ts";
import type { PointTableBuffers } from "../points/table.ts";
import type { ReplyCacheBuffers } from "../gateway/reply-cache.ts";
import type { ScanRequest, ScanResult } from "../protocols/modbus/rtu-scan.ts";
import type { TimeSyncSpec } from "../timesync/timesync.ts";
import type { LearnedPlanView } from "../protocols/modbus/learned-plan.ts";

/** Messages between the main thread and a bus worker. Values never travel here: they go through the table. */

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

/** A device-level event for the journal (time sync, scans). */
export interface BusEvent {
  kind: string;
  source: string;
  message: string;
  data?: Record<string, unknown>;
}

export type ToWorker =
  | {
      type: "init";
      bus: BusConfig;
      devices: WorkerDevice[];
      table: PointTableBuffers;
      ring: number;
      replyCache?: ReplyCacheBuffers;
      /** Site time zone (device clocks in local time). */
      timezone?: string;
      /** Last clock setting per device (ms), kept by the main thread across worker restarts. */
      lastTimeSync?: Record<string, number>;
    }
  | { type: "write"; id: number; point: number; value: number }
  | { type: "forward"; id: number; unit: number; device?: string; op: ForwardOp }
  | { type: "scan"; id: number; request: ScanRequest }
  | { type: "scan-cancel"; id: number }
  | { type: "stop" }
  | { type: "crash" };

export type DeviceStatus = "unknown" | "ok" | "comm-fail" | "exception" | "bad-reply";

export interface DeviceStats {
  id: string;
  unit: number;
  status: DeviceStatus;
  lastError: string | null;
  lastErrorAt: number | null;
  requests: number;
  errors: number;
  timeouts: number;
  /** Duration of the device's last full cycle of fast reads. */
  cycleMs: number | null;
  pollMs: number;
  /** Time of the last complete, successful cycle. */
  lastGoodAt: number | null;
}

export interface BusStats {
  bus: string;
  kind: BusConfig["kind"];
  connected: boolean;
  requests: number;
  errors: number;
  timeouts: number;
  exceptions: number;
  badReplies: number;
  reconnects: number;
  /** Mean response time over the last report period (ms). */
  responseMs: number | null;
  maxResponseMs: number | null;
  requestsPerSec: number;
  /** Share of the last period the link was busy with a request (0..1). */
  busy: number;
  /** Connected, but no device on the link answers (a hung gateway, a cut line). */
  silent?: boolean;
  /** Requests forwarded for gateway clients (since start). */
  forwarded?: number;
  /** RTU line counters: CRC errors, short frames, echoes, garbage bytes... */
  line?: Record<string, number>;
  devices: DeviceStats[];
  at: number;
}

export type FromWorker =
  | { type: "ready" }
  | { type: "stats"; stats: BusStats }
  | { type: "write-result"; id: number; ok: boolean; error?: string; ms: number }
  | { type: "device-status"; device: string; status: DeviceStatus; error: string | null }
  | { type: "text"; point: number; value: string }
  | ({ type: "forward-result"; id: number } & ForwardResult)
  | { type: "scan-progress"; id: number; unit: number; done: number; total: number }
  | { type: "scan-done"; id: number; result: ScanResult }
  | { type: "event"; event: BusEvent }
  | { type: "time-synced"; devices: string[]; at: number }
  /** A device's request plan changed: split after refusals, a refused register answered, or reset. */
  | { type: "plan"; device: string; plan: LearnedPlanView }
  | { type: "log"; level: "info" | "warn" | "error"; msg: string };
