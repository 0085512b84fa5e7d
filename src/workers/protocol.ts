import type { BusConfig } from "../config/site.ts";
import type { PlannedRead } from "../protocols/modbus/planner.ts";
import type { PointTableBuffers } from "../points/table.ts";

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
}

export type ToWorker =
  | { type: "init"; bus: BusConfig; devices: WorkerDevice[]; table: PointTableBuffers; ring: number }
  | { type: "write"; id: number; point: number; value: number }
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
  devices: DeviceStats[];
  at: number;
}

export type FromWorker =
  | { type: "ready" }
  | { type: "stats"; stats: BusStats }
  | { type: "write-result"; id: number; ok: boolean; error?: string; ms: number }
  | { type: "device-status"; device: string; status: DeviceStatus; error: string | null }
  | { type: "text"; point: number; value: string }
  | { type: "log"; level: "info" | "warn" | "error"; msg: string };
