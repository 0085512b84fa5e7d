import type { BacnetPoint } from "../../protocols/bacnet/profile.ts";
import type { BusStats, CoreFromWorker, CoreToWorker, WorkerInit } from "../protocol.ts";

/**
 * Messages between the main thread and a BACnet port's worker, beside the neutral ones
 * (../protocol.ts: lifecycle, stats, device status, write and result, events): the port and its
 * devices in the init, writes with a priority or a relinquish, and the Who-Is scan.
 */

export interface BacnetPortConfig {
  id: string;
  kind: "bacnet-ip";
  /** Local address to bind (default all). */
  interface?: string;
  port: number;
  /** Where Who-Is goes: `ip` or `ip:port` (loopback peers each listen on their own port). */
  broadcast: string;
  bbmd?: { address: string; ttlS: number };
  timeoutMs: number;
  retries: number;
  backoffMs: number;
}

export interface BacnetWorkerDevice {
  id: string;
  instance: number;
  /** Known address (`ip[:port]`): used before any I-Am, and re-bound when the device answers from elsewhere. */
  address?: string;
  pollMs: number;
  cov: "off" | "confirmed" | "unconfirmed";
  covLifetimeS: number;
  vendorId?: number;
  deviceFactor?: { property: number; values: Record<string, number>; default?: number };
  /** The device's points with their table index. */
  points: { index: number; point: BacnetPoint }[];
}

/** One I-Am heard on the port (the communication page lists them). */
export interface IAmInfo {
  instance: number;
  address: string;
  vendorId: number;
  maxApdu: number;
  segmentation: number;
  lastSeen: number;
  /** The site's device with this instance, if any. */
  device?: string;
}

/** BACnet facts per device for the communication page, beside the common device statistics. */
export interface BacnetDeviceInfo {
  id: string;
  instance: number;
  address: string | null;
  boundAt: number | null;
  /** Objects per ReadPropertyMultiple now (0: ReadProperty only), and why it was last cut. */
  rpmSize: number;
  rpmReason: string | null;
  cov: "off" | "active" | "polling";
  covReason: string | null;
  covSubscribed: number;
  notifications: number;
  factor: number | null;
  /** Profile objects the device does not have, with its own error (commissioning check). */
  missing: { object: string; error: string }[];
}

/** Foreign-device registration with a BBMD (the port sits on a subnet without one). */
export interface ForeignRegistration {
  bbmd: string;
  ttlS: number;
  /** Last BVLC-Result of success, and the last failure (NAK code or timeout), if any since. */
  registeredAt: number | null;
  error: string | null;
}

export interface BacnetStats extends BusStats {
  bacnet: { discovered: IAmInfo[]; devices: BacnetDeviceInfo[]; notificationsPerSec: number; foreign?: ForeignRegistration };
}

export interface BacnetInit extends WorkerInit {
  bus: BacnetPortConfig;
  devices: BacnetWorkerDevice[];
  /** RPM sizes learned per device (objects per request, 0 = ReadProperty), kept across worker restarts. */
  learned?: Record<string, { size: number; reason: string | null }>;
}

export type ToBacnetWorker =
  | CoreToWorker
  | BacnetInit
  /** `value: null` relinquishes the priority (writes NULL). */
  | { type: "bacnet-write"; id: number; point: number; value: number | null; priority?: number }
  | { type: "whois"; id: number; low?: number; high?: number; waitMs: number };

export type FromBacnetWorker =
  | CoreFromWorker
  | { type: "whois-done"; id: number; heard: IAmInfo[] }
  /** A device's RPM size was cut: the main thread keeps it for the next worker start. */
  | { type: "rpm-learned"; device: string; size: number; reason: string | null }
  | { type: "bacnet-write-result"; id: number; ok: boolean; error?: string; ms: number };
