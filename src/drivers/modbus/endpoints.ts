import type { ModbusBusConfig as BusConfig } from "../../config/site.ts";
import type { BusStats, WorkerDevice } from "./protocol.ts";

/**
 * A modbus-tcp bus may hold devices with their own TCP address (Ethernet meters). Each address is
 * its own serialized resource: one connection, one request at a time. The bus worker runs one poller
 * per address, concurrently, and reports them as one bus.
 */
export interface Endpoint {
  bus: BusConfig;
  devices: WorkerDevice[];
}

export function splitEndpoints(bus: BusConfig, devices: WorkerDevice[]): Endpoint[] {
  if (bus.kind !== "modbus-tcp") return [{ bus, devices }];
  const byAddress = new Map<string, Endpoint>();
  for (const d of devices) {
    const host = d.host ?? bus.host;
    const port = d.port ?? bus.port;
    const key = `${host}:${port}`;
    let e = byAddress.get(key);
    if (!e) byAddress.set(key, (e = { bus: { ...bus, host, port }, devices: [] }));
    e.devices.push(d);
  }
  // A bus with no device still gets its own address's poller (scans, gateway pass-through).
  return byAddress.size ? [...byAddress.values()] : [{ bus, devices }];
}

/** One bus's statistics from its endpoints' (counters summed, devices listed together). */
export function mergeStats(parts: BusStats[]): BusStats {
  if (parts.length === 1) return parts[0]!;
  const requests = parts.reduce((s, p) => s + p.requestsPerSec, 0);
  const weighted = parts.reduce((s, p) => s + (p.responseMs ?? 0) * p.requestsPerSec, 0);
  const sum = (k: "requests" | "errors" | "timeouts" | "exceptions" | "badReplies" | "reconnects") => parts.reduce((s, p) => s + p[k], 0);
  return {
    ...parts[0]!,
    connected: parts.every((p) => p.connected),
    silent: parts.some((p) => p.silent),
    requests: sum("requests"),
    errors: sum("errors"),
    timeouts: sum("timeouts"),
    exceptions: sum("exceptions"),
    badReplies: sum("badReplies"),
    reconnects: sum("reconnects"),
    responseMs: requests ? Math.round((weighted / requests) * 100) / 100 : null,
    maxResponseMs: parts.reduce<number | null>((m, p) => (p.maxResponseMs === null ? m : Math.max(m ?? 0, p.maxResponseMs)), null),
    requestsPerSec: Math.round(requests * 10) / 10,
    // Endpoints work in parallel: the busiest one says how loaded the bus is.
    busy: Math.max(...parts.map((p) => p.busy)),
    forwarded: parts.reduce((s, p) => s + (p.forwarded ?? 0), 0),
    devices: parts.flatMap((p) => p.devices),
    at: Math.max(...parts.map((p) => p.at)),
  };
}
