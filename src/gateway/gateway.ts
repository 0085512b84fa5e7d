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
 * - Writes (FC5/6/15/16) are refused (exception 01) unless `gateway.writes.enabled`; then only from
 *   the listed client addresses (else 01), and only to registers of tags the profiles mark writable
 *   or to the listed ranges (else 02). Every forwarded write is journaled with the client address,
 *   unit, function, address, values and outcome, after the device answered; refused writes too,
 *   at most REFUSED_ROWS_PER_MIN rows per client a minute, the rest counted into the next row (a
 *   hostile client must not be able to flood the journal).
 * - Starvation: idle and unfinished-frame timeouts, per-address limits, the longest-idle
 *   connection closed first when full; rejected and evicted connections are counted (stats()).
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
import { AddressList, normalizeIp } from "../auth/addresses.ts";
import { registerCount } from "../protocols/modbus/codec.ts";
import type { JournalEntry } from "../journal/journal.ts";
import { t, type Lang } from "../i18n/index.ts";
import type { ReplyCache } from "./reply-cache.ts";
import { journalText } from "../journal/i18n.ts";

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
  /** Connections refused at connect (full, nobody idle enough to make room). */
  rejectedConnections: number;
  /** Connections closed to make room, for idleness, or for an unfinished frame. */
  evictedConnections: number;
  idleClosed: number;
  frameTimeouts: number;
  writesForwarded: number;
  writesRefused: number;
  /** Sum of (request time in the gateway − time on the bus) over forwarded requests (ms). */
  overheadMsSum: number;
  busMsSum: number;
}

export interface Gateway {
  readonly port: number;
  readonly host: string;
  readonly routes: Map<number, GatewayRoute>;
  /** Whether writes are possible at all, and from which addresses. */
  readonly writes: { enabled: boolean; clients: string[] };
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
      if (d.enabled && !listed.has(d.id) && d.instance === undefined && !routes.has(d.unit))
        routes.set(d.unit, { unit: d.unit, bus: d.bus, target: d.unit, device: d.id, mode: g.mode, maxAgeMs: g.maxAgeMs });
  return routes;
}

/** A write target: table, unit, wire address range (inclusive) and the tags behind it. */
interface WriteRange {
  from: number;
  to: number;
  what: string;
}

/**
 * Where each gateway unit may be written: registers of the device's writable tags (when
 * `writes.points`), plus the listed ranges. Keyed by `${unit}/${table}`.
 */
export function gatewayWriteRanges(site: Pick<Site, "devices" | "gateway" | "profiles">, routes: Map<number, GatewayRoute>): Map<string, WriteRange[]> {
  const out = new Map<string, WriteRange[]>();
  const w = site.gateway?.writes;
  if (!w?.enabled) return out;
  const add = (unit: number, table: "holding" | "coils", r: WriteRange) => {
    const key = `${unit}/${table}`;
    let list = out.get(key);
    if (!list) out.set(key, (list = []));
    list.push(r);
  };
  if (w.points) {
    const devices = new Map(site.devices.map((d) => [d.id, d]));
    for (const route of routes.values()) {
      const d = route.device ? devices.get(route.device) : undefined;
      const profile = d ? site.profiles.get(d.profile) : undefined;
      if (!d || !profile) continue;
      for (const tag of profile.tags) {
        if (!tag.writable) continue;
        const coil = tag.write === 5 || tag.write === 15;
        const n = coil ? 1 : registerCount(tag);
        add(route.unit, coil ? "coils" : "holding", { from: tag.address, to: tag.address + n - 1, what: `${d.id}.${tag.id}` });
      }
    }
  }
  for (const r of w.registers) add(r.unit, r.table, { from: r.from, to: r.to ?? r.from, what: `gateway.writes.registers` });
  return out;
}

/** What `busbar check-site` says about the gateway: where it listens, who may write what. */
export function describeGateway(site: Pick<Site, "devices" | "gateway" | "profiles">): string[] {
  const g = site.gateway;
  if (!g) return [];
  const routes = gatewayRoutes(site);
  const lines = [
    `gateway ${g.host}:${g.port}${g.host === "0.0.0.0" || g.host === "::" ? " (every interface)" : ""}, ${routes.size} unit(s), ${g.maxClients} clients (${g.maxClientsPerAddress} per address), idle timeout ${g.idleTimeoutSec ? `${g.idleTimeoutSec} s` : "none"}`,
  ];
  if (!g.writes.enabled) return [...lines, "  read-only (writes: enabled: false)"];
  lines.push(`  writes from ${g.writes.clients.join(", ")} to:`);
  const ranges = gatewayWriteRanges(site, routes);
  for (const [key, list] of [...ranges].sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true })))
    for (const r of list) lines.push(`    unit ${key.replace("/", " ")} ${r.from === r.to ? r.from : `${r.from}..${r.to}`}  ${r.what}`);
  if (ranges.size === 0) lines.push("    nothing (no writable tag on a routed device, no listed range)");
  return lines;
}

const REFUSED_ROWS_PER_MIN = 10;

type WriteOp = Exclude<ForwardOp, { count: number }>;
const valuesOf = (op: WriteOp): number[] => ("words" in op ? op.words : op.bits);

export interface GatewayOptions {
  site: Pick<Site, "devices" | "gateway" | "profiles">;
  backend: GatewayBackend;
  /** Overrides of the site file's host/port (tests, demo). */
  host?: string;
  port?: number;
  /** Where forwarded and refused writes are journaled. */
  journal?: { append(e: JournalEntry): unknown };
  lang?: Lang;
  log?: (level: "info" | "warn" | "error", msg: string) => void;
}

export function startGateway(opts: GatewayOptions): Gateway {
  const cfg: GatewayConfig = opts.site.gateway ?? {
    host: "127.0.0.1",
    port: 0,
    maxClients: 64,
    maxClientsPerAddress: 16,
    idleTimeoutSec: 60,
    frameTimeoutMs: 2000,
    mode: "pass",
    exposeAll: true,
    units: [],
    maxQueue: 64,
    writes: { enabled: false, clients: [], points: true, registers: [] },
  };
  const routes = gatewayRoutes(opts.site);
  const backend = opts.backend;
  const log = opts.log ?? (() => {});
  const stats: GatewayStats = {
    requests: 0,
    cacheHits: 0,
    forwarded: 0,
    exceptions: {},
    clients: 0,
    rejectedConnections: 0,
    evictedConnections: 0,
    idleClosed: 0,
    frameTimeouts: 0,
    writesForwarded: 0,
    writesRefused: 0,
    overheadMsSum: 0,
    busMsSum: 0,
  };
  const lang = opts.lang ?? "en";
  const writers = new AddressList(cfg.writes.enabled ? cfg.writes.clients : []);
  const writeRanges = gatewayWriteRanges(opts.site, routes);
  /** Refused-write journaling per client: rows this minute, and refusals not journaled yet. */
  const refusedLog = new Map<string, { minute: number; rows: number; unjournaled: number }>();
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

  const describeOp = (op: WriteOp): string => {
    const values = valuesOf(op);
    const shown = values.slice(0, 16).join(", ") + (values.length > 16 ? `, … (${values.length})` : "");
    return `FC${op.fc} @${op.address} [${shown}]`;
  };
  const writeData = (client: string, unit: number, op: WriteOp, route: GatewayRoute | undefined) => ({
    client,
    unit,
    fc: op.fc,
    address: op.address,
    // At most 123 registers or 1968 bits by the protocol's own limits: bounded.
    values: valuesOf(op),
    bus: route?.bus,
    target: route?.target,
  });

  /**
   * Whether this client may write this: the allowed ranges it touches (tag names, for the
   * journal), or why not — exception 01: not allowed at all; 02: not a writable register.
   */
  function check(client: string, unit: number, op: WriteOp): { ok: true; what: string[] } | { ok: false; code: number; reason: string } {
    if (!cfg.writes.enabled) return { ok: false, code: 0x01, reason: "read-only" };
    if (!writers.has(client)) return { ok: false, code: 0x01, reason: "client" };
    const table = op.fc === 5 || op.fc === 15 ? "coils" : "holding";
    const n = valuesOf(op).length;
    const ranges = writeRanges.get(`${unit}/${table}`) ?? [];
    const what: string[] = [];
    // Every written register must lie in an allowed range (ranges may sit side by side).
    for (let a = op.address; a < op.address + n; ) {
      const r = ranges.find((x) => x.from <= a && a <= x.to);
      if (!r) return { ok: false, code: 0x02, reason: "address" };
      if (!what.includes(r.what)) what.push(r.what);
      a = r.to + 1;
    }
    return { ok: true, what };
  }

  function journalRefused(client: string, unit: number, op: WriteOp, reason: string, route: GatewayRoute | undefined): void {
    stats.writesRefused++;
    if (!opts.journal) return;
    const minute = Math.floor(Date.now() / 60_000);
    let l = refusedLog.get(client);
    if (!l || l.minute !== minute) {
      l = { minute, rows: 0, unjournaled: l?.unjournaled ?? 0 };
      refusedLog.set(client, l);
      if (refusedLog.size > 1000) refusedLog.delete(refusedLog.keys().next().value!);
    }
    if (l.rows >= REFUSED_ROWS_PER_MIN) {
      l.unjournaled++;
      return;
    }
    l.rows++;
    const more = l.unjournaled;
    l.unjournaled = 0;
    opts.journal.append({
      type: "gateway.refused",
      source: `gateway:${client}`,
      device: route?.device,
      actor: `gateway:${client}`,
      ...journalText(lang, "journal.gateway.refused", {
        client,
        unit,
        op: describeOp(op),
        reason: { key: `journal.gateway.reason.${reason}` },
        more: more ? { fr: t("fr", "journal.gateway.more", { n: more }), en: t("en", "journal.gateway.more", { n: more }) } : "",
      }),
      data: { ...writeData(client, unit, op, route), reason, unjournaledBefore: more },
    });
  }

  const write = async (unit: number, op: WriteOp, conn: { remoteAddress: string }): Promise<WriteResult> => {
    stats.requests++;
    const client = normalizeIp(conn.remoteAddress);
    const route = routes.get(unit);
    const allowed = check(client, unit, op);
    if (!allowed.ok) {
      journalRefused(client, unit, op, allowed.reason, route);
      return exception(allowed.code);
    }
    if (!route) return exception(0x0a);
    stats.writesForwarded++;
    const r = await forward(route, op);
    // The row is committed before the client is told it worked (as for a person's write).
    opts.journal?.append({
      type: "gateway.write",
      source: `gateway:${client}`,
      device: route.device,
      actor: `gateway:${client}`,
      ...journalText(lang, r.ok ? "journal.gateway.write" : "journal.gateway.writeFailed", {
        client,
        unit,
        device: route.device ?? `${route.bus}/${route.target}`,
        op: describeOp(op),
        what: allowed.what.join(", "),
        code: r.ok ? "" : `0x${r.exception.toString(16).padStart(2, "0")}`,
      }),
      data: { ...writeData(client, unit, op, route), points: allowed.what, ok: r.ok, exception: r.ok ? null : r.exception, busMs: r.busMs },
    });
    return r.ok ? true : exception(r.exception);
  };

  const handler: ModbusRequestHandler = {
    readRegisters: (unit, fc, address, count) => read(unit, fc, address, count),
    readBits: (unit, fc, address, count) => read(unit, fc, address, count),
    writeRegisters(unit, address, bytes, fc, conn) {
      const words: number[] = [];
      for (let i = 0; i + 1 < bytes.length; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
      return write(unit, { fc, address, words }, conn);
    },
    writeBits: (unit, address, values, fc, conn) => write(unit, { fc, address, bits: Array.from(values, (v) => (v ? 1 : 0)) }, conn),
  };

  const server: ModbusTcpServer = startModbusTcpServer({
    host: opts.host ?? cfg.host,
    port: opts.port ?? cfg.port,
    handler,
    maxConnections: cfg.maxClients,
    maxConnectionsPerAddress: cfg.maxClientsPerAddress,
    idleTimeoutSec: cfg.idleTimeoutSec,
    frameTimeoutMs: cfg.frameTimeoutMs,
    // Up to the bus queue per connection: a client pipelining requests waits for its answers.
    maxInFlight: 16,
    onError: (e, conn) => log("warn", `gateway: client ${conn.remoteAddress}: ${(e as Error)?.message ?? String(e)}`),
  });
  log(
    "info",
    `Modbus TCP gateway on ${server.host}:${server.port}: ${routes.size} unit(s), ` +
      (cfg.writes.enabled ? `writes from ${cfg.writes.clients.join(", ")}` : "read-only"),
  );

  return {
    port: server.port,
    host: server.host,
    routes,
    writes: { enabled: cfg.writes.enabled, clients: cfg.writes.enabled ? [...cfg.writes.clients] : [] },
    stats: () => {
      const k = server.counters();
      return {
        ...stats,
        exceptions: { ...stats.exceptions },
        clients: server.connectionCount(),
        rejectedConnections: k.rejected,
        evictedConnections: k.evicted,
        idleClosed: k.idleClosed,
        frameTimeouts: k.frameTimeouts,
      };
    },
    stop: () => server.stop(),
  };
}
