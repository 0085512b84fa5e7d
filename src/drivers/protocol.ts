import type { PointTableBuffers } from "../points/table.ts";

/**
 * The neutral part of the messages between the main thread and a driver's worker: lifecycle,
 * statistics, device status, writes and their results, events. Every driver's worker speaks it;
 * a driver adds its own messages beside it (Modbus: src/drivers/modbus/protocol.ts). Values never
 * travel here: they go through the shared point table.
 */

/** A device-level event for the journal (time sync, scans, discovery...). */
export interface DriverEvent {
  kind: string;
  source: string;
  message: string;
  data?: Record<string, unknown>;
}

/** What every worker's init message carries, beside its driver's own fields. */
export interface WorkerInit {
  type: "init";
  table: PointTableBuffers;
  /** The worker's change ring in the table: it is the only writer of its points. */
  ring: number;
}

/** Main thread → any worker. */
export type CoreToWorker =
  | { type: "write"; id: number; point: number; value: number }
  | { type: "stop" }
  /** Fault injection for the supervisor's tests and drills. */
  | { type: "crash" };

export type DeviceStatus = "unknown" | "ok" | "comm-fail" | "exception" | "bad-reply";

export interface DeviceStats {
  id: string;
  /** The device's address on its bus (Modbus unit id; BACnet device instance). */
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

/** One worker's statistics, as the communication page and /api/buses show them. */
export interface BusStats {
  bus: string;
  /** The bus kind from the site file (modbus-tcp, modbus-rtu, ...). */
  kind: string;
  connected: boolean;
  requests: number;
  errors: number;
  timeouts: number;
  /** Negative answers from devices (Modbus exceptions, BACnet errors/rejects). */
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
  /** Line counters: CRC errors, short frames, echoes, garbage bytes... */
  line?: Record<string, number>;
  devices: DeviceStats[];
  at: number;
}

/** Any worker → main thread. */
export type CoreFromWorker =
  | { type: "ready" }
  | { type: "stats"; stats: BusStats }
  | { type: "write-result"; id: number; ok: boolean; error?: string; ms: number }
  | { type: "device-status"; device: string; status: DeviceStatus; error: string | null }
  /** A text point's string (beside the table, which holds numbers). */
  | { type: "text"; point: number; value: string }
  | { type: "event"; event: DriverEvent }
  | { type: "log"; level: "info" | "warn" | "error"; msg: string };

/** Whether a worker's message is one the supervisor handles for every driver. */
export function isCoreMessage(msg: { type: string }): msg is CoreFromWorker {
  return CORE_TYPES.has(msg.type);
}

const CORE_TYPES = new Set(["ready", "stats", "write-result", "device-status", "text", "event", "log"]);
