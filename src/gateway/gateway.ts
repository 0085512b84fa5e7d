/**
 * The Modbus TCP gateway that replaces the vendor's RS-485/IP converter: other masters (the BMS,
 * another SCADA) reach the site's devices through Busbar instead of loading the RS-485 buses
 * themselves.
 *
 * - Routing by unit id (site file `gateway.units`, plus every device at its own unit with
 *   `exposeAll`). A request goes to its bus worker's queue and runs between two poll requests, so
 *   the wire stays strictly serialized; the device's own answer (data or exception) goes back.
 * - Unknown units answer exception 0x0A (gateway path unavailable); a device that does not answer,
 *   or that Busbar already knows is not answering, 0x0B (gateway target device failed to respond);
 *   a bus that is down or restarting 0x0A; a full bus queue 0x06 (busy).
 * - Cached mode (per unit): reads of registers Busbar already polls are answered from the last poll
 *   replies (reply-cache.ts) when they are recent enough, without a frame on the wire; anything else
 *   passes through.
 * - MBAP framing, malformed headers (the connection is closed), backpressure and the client limit
 *   are the TCP server's (protocols/modbus/tcp-server.ts).
 */
import type { GatewayConfig, Site } from "../config/site.ts";
import {
  ModbusException,
  startModbusTcpServer,
  type ModbusRequestHandler,
  type ModbusTcpServer,
  type ReadResult,
  type WriteResult,
} from "../protocols/modbus/tcp-server.ts";
import type { ForwardOp, ForwardResult } from "../drivers/modbus/protocol.ts";
import type { ReplyCache } from "./reply-cache.ts";

export interface GatewayRoute {
  /** Unit id the clients address. */
  unit: number;
  bus: string;
  /** Unit id on the bus. */
  target: number;
  device?: string;
  mode: "pass" | "cached";
  maxAgeMs?: number;
}

/** What the gateway needs from the running Busbar (the Supervisor provides it). */
export interface GatewayBackend {
  readonly replyCache: ReplyCache | undefined;
  forward(busId: string, unit: number, device: string | undefined, op: ForwardOp, maxQueue?: number): Promise<ForwardResult>;
}

export interface GatewayStats {
  requests: number;
  /** Reads answered from the poll replies, without touching the bus. */
  cacheHits: number;
  forwarded: number;
  /** Exception replies by code. */
  exceptions: Record<number, number>;
  clients: number;
  /** Sum of (request time in the gateway − time on the bus) over forwarded requests (ms). */
  overheadMsSum: number;
  busMsSum: number;
}

export interface Gateway {
  readonly port: number;
  readonly host: string;
  readonly routes: Map<number, GatewayRoute>;
  stats(): GatewayStats;
  stop(): void;
}

/** Gateway units of a site: the listed ones, then every other enabled device at its own unit. */
export function gatewayRoutes(site: Pick<Site, "devices" | "gateway">): Map<number, GatewayRoute> {
  const g = site.gateway;
  const routes = new Map<number, GatewayRoute>();
  if (!g) return routes;
  const devices = new Map(site.devices.map((d) => [d.id, d]));
  const listed = new Set<string>();
  for (const u of g.units) {
    const mode = u.mode ?? (u.device ? g.mode : "pass");
    const maxAgeMs = u.maxAgeMs ?? g.maxAgeMs;
    if (u.device) {
      const d = devices.get(u.device)!;
      listed.add(d.id);
      routes.set(u.unit, { unit: u.unit, bus: d.bus, target: d.unit, device: d.id, mode, maxAgeMs });
    } else {
      routes.set(u.unit, { unit: u.unit, bus: u.bus!, target: u.targetUnit ?? u.unit, mode: "pass", maxAgeMs });
    }
  }
  if (g.exposeAll)
    for (const d of site.devices)
      if (d.enabled && !listed.has(d.id) && !routes.has(d.unit))
        routes.set(d.unit, { unit: d.unit, bus: d.bus, target: d.unit, device: d.id, mode: g.mode, maxAgeMs: g.maxAgeMs });
  return routes;
}

export interface GatewayOptions {
  site: Pick<Site, "devices" | "gateway">;
  backend: GatewayBackend;
  /** Overrides of the site file's host/port (tests, demo). */
  host?: string;
  port?: number;
  log?: (level: "info" | "warn" | "error", msg: string) => void;
}

export function startGateway(opts: GatewayOptions): Gateway {
  const cfg: GatewayConfig = opts.site.gateway ?? {
    host: "127.0.0.1",
    port: 0,
    maxClients: 64,
    idleTimeoutSec: 0,
    mode: "pass",
    exposeAll: true,
    units: [],
    maxQueue: 64,
  };
  const routes = gatewayRoutes(opts.site);
  const backend = opts.backend;
  const log = opts.log ?? (() => {});
  const stats: GatewayStats = { requests: 0, cacheHits: 0, forwarded: 0, exceptions: {}, clients: 0, overheadMsSum: 0, busMsSum: 0 };
  const exceptionOf = new Map<number, ModbusException>();
  const exception = (code: number): ModbusException => {
    stats.exceptions[code] = (stats.exceptions[code] ?? 0) + 1;
    let e = exceptionOf.get(code);
    if (!e) exceptionOf.set(code, (e = new ModbusException(code)));
    return e;
  };

  async function forward(route: GatewayRoute, op: ForwardOp): Promise<ForwardResult> {
    stats.forwarded++;
    const t0 = performance.now();
    const r = await backend.forward(route.bus, route.target, route.device, op, cfg.maxQueue);
    const total = performance.now() - t0;
    if (r.busMs > 0) {
      stats.busMsSum += r.busMs;
      stats.overheadMsSum += Math.max(0, total - r.busMs);
    }
    return r;
  }

  function cached(route: GatewayRoute, fc: 1 | 2 | 3 | 4, address: number, count: number): Uint8Array | undefined {
    if (route.mode !== "cached" || !route.device || !backend.replyCache) return undefined;
    const hit = backend.replyCache.read(route.device, fc, address, count, Date.now(), route.maxAgeMs);
    if (!hit) return undefined;
    stats.cacheHits++;
    return hit.data;
  }

  const read = (unit: number, fc: 1 | 2 | 3 | 4, address: number, count: number): ReadResult | Promise<ReadResult> => {
    stats.requests++;
    const route = routes.get(unit);
    if (!route) return exception(0x0a);
    const hit = cached(route, fc, address, count);
    if (hit) return hit;
    return forward(route, { fc, address, count }).then((r) => (r.ok ? r.data! : exception(r.exception)));
  };

  const write = (unit: number, op: ForwardOp): Promise<WriteResult> | WriteResult => {
    stats.requests++;
    const route = routes.get(unit);
    if (!route) return exception(0x0a);
    return forward(route, op).then((r) => (r.ok ? true : exception(r.exception)));
  };

  const handler: ModbusRequestHandler = {
    readRegisters: (unit, fc, address, count) => read(unit, fc, address, count),
    readBits: (unit, fc, address, count) => read(unit, fc, address, count),
    writeRegisters(unit, address, bytes, fc) {
      const words: number[] = [];
      for (let i = 0; i + 1 < bytes.length; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
      return write(unit, { fc, address, words });
    },
    writeBits: (unit, address, values, fc) => write(unit, { fc, address, bits: Array.from(values, (v) => (v ? 1 : 0)) }),
  };

  const server: ModbusTcpServer = startModbusTcpServer({
    host: opts.host ?? cfg.host,
    port: opts.port ?? cfg.port,
    handler,
    maxConnections: cfg.maxClients,
    idleTimeoutSec: cfg.idleTimeoutSec,
    // Up to the bus queue per connection: a client pipelining requests waits for its answers.
    maxInFlight: 16,
    onError: (e, conn) => log("warn", `gateway: client ${conn.remoteAddress}: ${(e as Error)?.message ?? String(e)}`),
  });
  log("info", `Modbus TCP gateway on ${server.host}:${server.port}: ${routes.size} unit(s)`);

  return {
    port: server.port,
    host: server.host,
    routes,
    stats: () => ({ ...stats, exceptions: { ...stats.exceptions }, clients: server.connectionCount() }),
    stop: () => server.stop(),
  };
}
