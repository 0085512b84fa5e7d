/**
 * A small Modbus TCP server (slave) on `Bun.listen`: the simulator, the scale-load generator and,
 * later, the gateway that other SCADA/BMS poll all sit on it.
 *
 * - MBAP framing: any number of frames (including partial ones) per TCP chunk; requests of one
 *   chunk are answered with one socket write.
 * - FC 1, 2, 3, 4, 5, 6, 15, 16; other function codes get exception 01.
 * - Request validation (quantities 1..2000 bits, 1..125 registers, 1..1968 written bits,
 *   1..123 written registers, byte counts, address + quantity ≤ 65536) → exceptions 03 / 02.
 * - A malformed MBAP header (protocol id ≠ 0, length < 2 or > 254) ends that connection only.
 * - Handlers may answer synchronously (allocation-light hot path) or with a Promise (gateway).
 *   Answers to asynchronous requests go out in completion order, which Modbus TCP allows
 *   (the transaction id pairs them).
 * - Starvation (a server that other masters depend on): a connection that sends no complete request
 *   for `idleTimeoutSec`, or leaves a frame unfinished for `frameTimeoutMs`, is closed (a byte a
 *   second does not count as activity); when the server or one client address is full, the
 *   connection idle the longest (at least `evictIdleMs`) is closed to admit the newcomer, else the
 *   newcomer is refused. Both are counted (`counters()`).
 * - Backpressure: unsent output is queued per connection and drained on `drain`; while a
 *   connection's queue is over `maxQueuedBytes` or it has `maxInFlight` requests pending, the
 *   server stops reading from it (TCP flow control then slows the client down).
 *
 * Handler result convention, the same for every method: `undefined` means "do not answer"
 * (a dead device: the client times out); a `ModbusException` is sent as an exception reply.
 * Reads answer with the data (`Uint8Array`), writes with `true`.
 */

/** Exception codes of the Modbus application protocol. */
export const ExceptionCode = {
  ILLEGAL_FUNCTION: 0x01,
  ILLEGAL_DATA_ADDRESS: 0x02,
  ILLEGAL_DATA_VALUE: 0x03,
  SERVER_DEVICE_FAILURE: 0x04,
  ACKNOWLEDGE: 0x05,
  SERVER_DEVICE_BUSY: 0x06,
  GATEWAY_PATH_UNAVAILABLE: 0x0a,
  GATEWAY_TARGET_FAILED: 0x0b,
} as const;

/** A Modbus exception answer. Use the shared instances in `Exceptions` on hot paths. */
export class ModbusException {
  constructor(readonly code: number) {}
}

/** Shared, immutable exception answers (returning these allocates nothing). */
export const Exceptions = Object.freeze({
  illegalFunction: new ModbusException(ExceptionCode.ILLEGAL_FUNCTION),
  illegalDataAddress: new ModbusException(ExceptionCode.ILLEGAL_DATA_ADDRESS),
  illegalDataValue: new ModbusException(ExceptionCode.ILLEGAL_DATA_VALUE),
  serverDeviceFailure: new ModbusException(ExceptionCode.SERVER_DEVICE_FAILURE),
  serverDeviceBusy: new ModbusException(ExceptionCode.SERVER_DEVICE_BUSY),
  gatewayPathUnavailable: new ModbusException(ExceptionCode.GATEWAY_PATH_UNAVAILABLE),
  gatewayTargetFailed: new ModbusException(ExceptionCode.GATEWAY_TARGET_FAILED),
});

export type Awaitable<T> = T | Promise<T>;
/** Register bytes (big-endian, 2 per register) or one byte (0/1) per bit; `undefined` = no answer. */
/**
 * A reply PDU sent as it is, unchecked: the simulator's "device answering garbage" (a byte count
 * that does not match the data). Never used by the gateway.
 */
export class RawReply {
  constructor(readonly pdu: Uint8Array) {}
}

export type ReadResult = Uint8Array | ModbusException | RawReply | undefined;
/** `true` = done (the normal reply is sent); `undefined` = no answer. */
export type WriteResult = true | ModbusException | undefined;

/** Who is asking: passed to every handler call (for logging, access rules). */
export interface ModbusConnectionInfo {
  readonly id: number;
  readonly remoteAddress: string;
}

export interface ModbusRequestHandler {
  /**
   * Optional gate, checked before anything else: false = ignore every request for this unit
   * (no answer at all, not even an "illegal function" exception).
   */
  acceptsUnit?(unit: number): boolean;
  /** FC3 (holding) / FC4 (input): exactly `count * 2` bytes, registers big-endian. */
  readRegisters(unit: number, fc: 3 | 4, address: number, count: number, conn: ModbusConnectionInfo): Awaitable<ReadResult>;
  /** FC1 (coils) / FC2 (discrete inputs): exactly `count` bytes, each 0 or non-zero. */
  readBits(unit: number, fc: 1 | 2, address: number, count: number, conn: ModbusConnectionInfo): Awaitable<ReadResult>;
  /** FC6 / FC16: `bytes` is the registers big-endian (a copy the handler may keep). */
  writeRegisters(unit: number, address: number, bytes: Uint8Array, fc: 6 | 16, conn: ModbusConnectionInfo): Awaitable<WriteResult>;
  /** FC5 / FC15: one byte (0/1) per coil (a copy the handler may keep). */
  writeBits(unit: number, address: number, values: Uint8Array, fc: 5 | 15, conn: ModbusConnectionInfo): Awaitable<WriteResult>;
}

export interface ModbusTcpServerOptions {
  /** Default 127.0.0.1 (say 0.0.0.0 explicitly to serve the network). */
  host?: string;
  /** 0 = any free port (read it back from the result). */
  port: number;
  handler: ModbusRequestHandler;
  /** Connections beyond this are closed at once. Default 256. */
  maxConnections?: number;
  /** Pending asynchronous requests per connection before reading pauses. Default 32. */
  maxInFlight?: number;
  /** Queued unsent reply bytes per connection before reading pauses. Default 256 KiB. */
  maxQueuedBytes?: number;
  /** Connections from one client address; beyond it the address's longest-idle one makes room. Default: maxConnections. */
  maxConnectionsPerAddress?: number;
  /** Close a connection that sent no complete request this long (seconds); 0 = never (default). */
  idleTimeoutSec?: number;
  /** Close a connection whose frame is unfinished this long after it began (ms); 0 = never (default). */
  frameTimeoutMs?: number;
  /** A full server closes its longest-idle connection for a newcomer only if idle this long (ms). Default 1000. */
  evictIdleMs?: number;
  /** Called when a connection is refused or closed by these rules (the gateway journals/counts). */
  onDrop?(reason: DropReason, remoteAddress: string): void;
  /** Called for handler errors (thrown or rejected); they are answered with exception 04. */
  onError?(error: unknown, conn: ModbusConnectionInfo): void;
}

export type DropReason = "rejected" | "evicted" | "idle" | "frame-timeout";

export interface ModbusTcpServerCounters {
  accepted: number;
  /** Refused at connect: full, and nobody idle long enough to make room. */
  rejected: number;
  /** Closed to make room for a newcomer. */
  evicted: number;
  idleClosed: number;
  frameTimeouts: number;
}

export interface ModbusTcpServer {
  readonly host: string;
  readonly port: number;
  /** Open connections. */
  connectionCount(): number;
  counters(): ModbusTcpServerCounters;
  /** Stops listening and closes every connection. */
  stop(): void;
}

// ---------------------------------------------------------------------------------------------

const MBAP = 7; // transaction(2) protocol(2) length(2) unit(1)
const MAX_ADU = 260;

interface Sock {
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
  end(): void;
  pause(): void;
  resume(): void;
  timeout(seconds: number): void;
  readonly remoteAddress: string;
}

let nextConnId = 1;

class Connection implements ModbusConnectionInfo {
  readonly id = nextConnId++;
  readonly remoteAddress: string;
  closed = false;
  /** When the last complete request arrived (or the connection opened). */
  lastRequest = performance.now();
  /** Complete requests received: a connection that never sent one is the first to make room. */
  requests = 0;
  /** When the unfinished frame now buffered began; 0 = none. */
  partialSince = 0;
  /** Unparsed bytes carried over between chunks. */
  private inBuf: Uint8Array | null = null;
  private inLen = 0;
  /** Replies of the current chunk, written once at its end. */
  private out = new Uint8Array(1024);
  private outLen = 0;
  /** Reply bytes the socket did not take yet. */
  private queue: Uint8Array[] = [];
  private queueHead = 0; // offset into queue[0]
  private queued = 0;
  private inFlight = 0;
  private paused = false;

  constructor(
    private readonly sock: Sock,
    private readonly server: Server,
  ) {
    this.remoteAddress = sock.remoteAddress;
  }

  // ---- input ----------------------------------------------------------------------------------

  onData(chunk: Uint8Array): void {
    if (this.closed) return;
    let buf: Uint8Array;
    let end: number;
    if (this.inLen === 0) {
      buf = chunk;
      end = chunk.length;
    } else {
      const need = this.inLen + chunk.length;
      if (this.inBuf!.length < need) {
        const grown = new Uint8Array(Math.max(need, this.inBuf!.length * 2));
        grown.set(this.inBuf!.subarray(0, this.inLen));
        this.inBuf = grown;
      }
      this.inBuf!.set(chunk, this.inLen);
      buf = this.inBuf!;
      end = need;
      this.inLen = 0;
    }
    this.parse(buf, 0, end);
  }

  /** Parses and serves complete frames of buf[off, end); keeps the rest for later. */
  private parse(buf: Uint8Array, off: number, end: number): void {
    let served = false;
    while (end - off >= MBAP && !this.closed) {
      if (this.inFlight >= this.server.maxInFlight || this.queued >= this.server.maxQueuedBytes) {
        this.pause();
        break;
      }
      const proto = (buf[off + 2]! << 8) | buf[off + 3]!;
      const len = (buf[off + 4]! << 8) | buf[off + 5]!;
      if (proto !== 0 || len < 2 || len > 254) {
        this.flushOut();
        this.close();
        return;
      }
      if (end - off < 6 + len) break;
      this.lastRequest = performance.now();
      this.requests++;
      served = true;
      this.serve(buf, off, len - 1);
      off += 6 + len;
    }
    if (this.closed) return;
    this.flushOut();
    const rest = end - off;
    if (rest > 0) {
      if (rest > this.server.maxQueuedBytes + 65536) {
        // A client that keeps pipelining while we cannot read: give up on it.
        this.close();
        return;
      }
      if (this.inBuf === null || this.inBuf.length < rest) this.inBuf = new Uint8Array(Math.max(512, rest * 2));
      if (buf === this.inBuf) this.inBuf.copyWithin(0, off, end);
      else this.inBuf.set(buf.subarray(off, end));
    }
    this.inLen = rest;
    // Only an unfinished frame counts (complete frames held back by flow control do not); the clock
    // starts at the frame's first byte, i.e. now if a frame completed in this chunk.
    if (rest === 0 || this.paused) this.partialSince = 0;
    else if (this.partialSince === 0 || served) this.partialSince = performance.now();
  }

  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** One request: MBAP at `off`, PDU of `pduLen` bytes at off + 7. */
  private serve(buf: Uint8Array, off: number, pduLen: number): void {
    const h = this.server.handler;
    const tid = (buf[off]! << 8) | buf[off + 1]!;
    const unit = buf[off + 6]!;
    if (h.acceptsUnit !== undefined && !h.acceptsUnit(unit)) return;
    const p = off + MBAP;
    const fc = buf[p]!;
    const a = pduLen >= 3 ? (buf[p + 1]! << 8) | buf[p + 2]! : 0; // address
    const b = pduLen >= 5 ? (buf[p + 3]! << 8) | buf[p + 4]! : 0; // quantity or value
    let result: Awaitable<ReadResult | WriteResult>;
    try {
      switch (fc) {
        case 1:
        case 2:
          if (pduLen !== 5 || b < 1 || b > 2000) return this.exception(tid, unit, fc, ExceptionCode.ILLEGAL_DATA_VALUE);
          if (a + b > 65536) return this.exception(tid, unit, fc, ExceptionCode.ILLEGAL_DATA_ADDRESS);
          result = h.readBits(unit, fc, a, b, this);
          break;
        case 3:
        case 4:
          if (pduLen !== 5 || b < 1 || b > 125) return this.exception(tid, unit, fc, ExceptionCode.ILLEGAL_DATA_VALUE);
          if (a + b > 65536) return this.exception(tid, unit, fc, ExceptionCode.ILLEGAL_DATA_ADDRESS);
          result = h.readRegisters(unit, fc, a, b, this);
          break;
        case 5:
          if (pduLen !== 5 || (b !== 0xff00 && b !== 0)) return this.exception(tid, unit, fc, ExceptionCode.ILLEGAL_DATA_VALUE);
          result = h.writeBits(unit, a, Uint8Array.of(b === 0xff00 ? 1 : 0), 5, this);
          break;
        case 6:
          if (pduLen !== 5) return this.exception(tid, unit, fc, ExceptionCode.ILLEGAL_DATA_VALUE);
          result = h.writeRegisters(unit, a, buf.slice(p + 3, p + 5), 6, this);
          break;
        case 15: {
          const n = pduLen >= 6 ? buf[p + 5]! : -1;
          if (b < 1 || b > 1968 || n !== (b + 7) >> 3 || pduLen !== 6 + n)
            return this.exception(tid, unit, fc, ExceptionCode.ILLEGAL_DATA_VALUE);
          if (a + b > 65536) return this.exception(tid, unit, fc, ExceptionCode.ILLEGAL_DATA_ADDRESS);
          const bits = new Uint8Array(b);
          for (let i = 0; i < b; i++) bits[i] = (buf[p + 6 + (i >> 3)]! >> (i & 7)) & 1;
          result = h.writeBits(unit, a, bits, 15, this);
          break;
        }
        case 16: {
          const n = pduLen >= 6 ? buf[p + 5]! : -1;
          if (b < 1 || b > 123 || n !== 2 * b || pduLen !== 6 + n)
            return this.exception(tid, unit, fc, ExceptionCode.ILLEGAL_DATA_VALUE);
          if (a + b > 65536) return this.exception(tid, unit, fc, ExceptionCode.ILLEGAL_DATA_ADDRESS);
          result = h.writeRegisters(unit, a, buf.slice(p + 6, p + 6 + n), 16, this);
          break;
        }
        default:
          return this.exception(tid, unit, fc & 0x7f, ExceptionCode.ILLEGAL_FUNCTION);
      }
    } catch (e) {
      this.server.reportError(e, this);
      return this.exception(tid, unit, fc, ExceptionCode.SERVER_DEVICE_FAILURE);
    }
    if (result instanceof Promise) {
      this.inFlight++;
      result.then(
        (r) => this.settle(tid, unit, fc, a, b, r),
        (e) => {
          this.server.reportError(e, this);
          this.settle(tid, unit, fc, a, b, Exceptions.serverDeviceFailure);
        },
      );
    } else {
      this.reply(tid, unit, fc, a, b, result);
    }
  }

  private settle(tid: number, unit: number, fc: number, a: number, b: number, r: ReadResult | WriteResult): void {
    this.inFlight--;
    if (this.closed) return;
    this.reply(tid, unit, fc, a, b, r);
    this.flushOut();
    this.maybeResume();
  }

  // ---- output ---------------------------------------------------------------------------------

  /** Room for `n` more bytes in the per-chunk reply buffer; returns the write position. */
  private reserve(n: number): number {
    const at = this.outLen;
    if (at + n > this.out.length) {
      const grown = new Uint8Array(Math.max(at + n, this.out.length * 2));
      grown.set(this.out.subarray(0, at));
      this.out = grown;
    }
    this.outLen = at + n;
    return at;
  }

  private header(tid: number, unit: number, pduLen: number): number {
    const o = this.reserve(MBAP + pduLen);
    const out = this.out;
    out[o] = tid >> 8;
    out[o + 1] = tid & 0xff;
    out[o + 2] = 0;
    out[o + 3] = 0;
    out[o + 4] = (pduLen + 1) >> 8;
    out[o + 5] = (pduLen + 1) & 0xff;
    out[o + 6] = unit;
    return o + MBAP;
  }

  private exception(tid: number, unit: number, fc: number, code: number): void {
    const o = this.header(tid, unit, 2);
    this.out[o] = fc | 0x80;
    this.out[o + 1] = code;
  }

  private reply(tid: number, unit: number, fc: number, a: number, b: number, r: ReadResult | WriteResult): void {
    if (r === undefined) return; // no answer
    if (r instanceof ModbusException) return this.exception(tid, unit, fc, r.code);
    if (r instanceof RawReply) {
      const o = this.header(tid, unit, r.pdu.length);
      this.out.set(r.pdu, o);
      return;
    }
    switch (fc) {
      case 3:
      case 4: {
        if (!(r instanceof Uint8Array) || r.length !== 2 * b) return this.badResult(tid, unit, fc, r);
        const o = this.header(tid, unit, 2 + r.length);
        this.out[o] = fc;
        this.out[o + 1] = r.length;
        this.out.set(r, o + 2);
        return;
      }
      case 1:
      case 2: {
        if (!(r instanceof Uint8Array) || r.length !== b) return this.badResult(tid, unit, fc, r);
        const n = (b + 7) >> 3;
        const o = this.header(tid, unit, 2 + n);
        const out = this.out;
        out[o] = fc;
        out[o + 1] = n;
        out.fill(0, o + 2, o + 2 + n);
        for (let i = 0; i < b; i++) if (r[i]) out[o + 2 + (i >> 3)]! |= 1 << (i & 7);
        return;
      }
      default: {
        // 5, 6: echo address and value; 15, 16: address and quantity.
        if (r !== true) return this.badResult(tid, unit, fc, r);
        const o = this.header(tid, unit, 5);
        const out = this.out;
        out[o] = fc;
        out[o + 1] = a >> 8;
        out[o + 2] = a & 0xff;
        out[o + 3] = b >> 8;
        out[o + 4] = b & 0xff;
      }
    }
  }

  private badResult(tid: number, unit: number, fc: number, r: unknown): void {
    const what = r instanceof Uint8Array ? `${r.length} bytes` : typeof r;
    this.server.reportError(new Error(`Modbus handler answered FC${fc} unit ${unit} with ${what}`), this);
    this.exception(tid, unit, fc, ExceptionCode.SERVER_DEVICE_FAILURE);
  }

  /** Sends the replies gathered in `out`. */
  private flushOut(): void {
    const n = this.outLen;
    if (n === 0) return;
    this.outLen = 0;
    if (this.closed) return;
    if (this.queued === 0) {
      const w = this.sock.write(this.out, 0, n);
      if (w < 0) return this.close();
      if (w < n) this.enqueue(this.out.slice(w, n));
    } else {
      this.enqueue(this.out.slice(0, n));
    }
    if (this.out.length > 65536) this.out = new Uint8Array(1024); // don't keep a burst's buffer
  }

  private enqueue(bytes: Uint8Array): void {
    this.queue.push(bytes);
    this.queued += bytes.length;
  }

  onDrain(): void {
    while (this.queue.length > 0 && !this.closed) {
      const head = this.queue[0]!;
      const len = head.length - this.queueHead;
      const w = this.sock.write(head, this.queueHead, len);
      if (w < 0) return this.close();
      this.queued -= w;
      if (w < len) {
        this.queueHead += w;
        return;
      }
      this.queue.shift();
      this.queueHead = 0;
    }
    this.maybeResume();
  }

  // ---- flow control ---------------------------------------------------------------------------

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.sock.pause();
  }

  private maybeResume(): void {
    if (!this.paused || this.closed) return;
    if (this.inFlight >= this.server.maxInFlight || this.queued >= this.server.maxQueuedBytes) return;
    this.paused = false;
    this.sock.resume();
    // Serve what was held back while paused.
    if (this.inLen > 0) {
      const len = this.inLen;
      this.inLen = 0;
      this.parse(this.inBuf!, 0, len);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queued = 0;
    this.inBuf = null;
    this.inLen = 0;
    try {
      this.sock.end();
    } catch {
      /* already gone */
    }
  }

  onClosed(): void {
    this.closed = true;
    this.queue = [];
    this.queued = 0;
    this.inBuf = null;
  }
}

class Server {
  readonly maxInFlight: number;
  readonly maxQueuedBytes: number;
  constructor(
    readonly handler: ModbusRequestHandler,
    opts: ModbusTcpServerOptions,
    private readonly onError: ModbusTcpServerOptions["onError"],
  ) {
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 32);
    this.maxQueuedBytes = Math.max(MAX_ADU, opts.maxQueuedBytes ?? 256 * 1024);
  }
  reportError(e: unknown, conn: ModbusConnectionInfo): void {
    if (this.onError) {
      try {
        this.onError(e, conn);
      } catch {
        /* a logging hook must not break the server */
      }
    }
  }
}

type ConnData = { conn: Connection | null };

/** Starts listening at once (throws if the port is taken). */
export function startModbusTcpServer(opts: ModbusTcpServerOptions): ModbusTcpServer {
  const host = opts.host ?? "127.0.0.1";
  const server = new Server(opts.handler, opts, opts.onError);
  const maxConnections = opts.maxConnections ?? 256;
  const maxPerAddress = opts.maxConnectionsPerAddress ?? maxConnections;
  const idleMs = (opts.idleTimeoutSec ?? 0) * 1000;
  const frameMs = opts.frameTimeoutMs ?? 0;
  const evictIdleMs = opts.evictIdleMs ?? 1000;
  const conns = new Set<Connection>();
  /** Open connections per (normalized) client address. */
  const byAddress = new Map<string, Set<Connection>>();
  const counters: ModbusTcpServerCounters = { accepted: 0, rejected: 0, evicted: 0, idleClosed: 0, frameTimeouts: 0 };
  const addressOf = (a: string) => {
    const s = a.toLowerCase();
    return s.startsWith("::ffff:") && s.includes(".") ? s.slice(7) : s;
  };
  const drop = (reason: DropReason, remoteAddress: string) => {
    try {
      opts.onDrop?.(reason, remoteAddress);
    } catch {
      /* a counting hook must not break the server */
    }
  };
  const forget = (c: Connection) => {
    conns.delete(c);
    const key = addressOf(c.remoteAddress);
    const set = byAddress.get(key);
    if (set) {
      set.delete(c);
      if (set.size === 0) byAddress.delete(key);
    }
  };
  /**
   * The connection of `pool` to close for a newcomer: not waiting for a reply, idle ≥ evictIdleMs;
   * one that never sent a request first (a master that polls keeps its connection against a crowd
   * of silent sockets), then the one whose last request is the oldest.
   */
  const longestIdle = (pool: Iterable<Connection>, now: number): Connection | undefined => {
    let best: Connection | undefined;
    for (const c of pool) {
      if (c.busy || now - c.lastRequest < evictIdleMs) continue;
      if (!best || (c.requests === 0) > (best.requests === 0) || ((c.requests === 0) === (best.requests === 0) && c.lastRequest < best.lastRequest)) best = c;
    }
    return best;
  };

  // Idle and unfinished-frame deadlines: our own sweep, because the socket's timeout restarts on
  // any byte and a client dribbling one byte a second would never expire.
  const sweepMs = Math.max(50, Math.min(1000, Math.min(idleMs || Infinity, frameMs || Infinity) / 4));
  const sweep =
    idleMs > 0 || frameMs > 0
      ? setInterval(() => {
          const now = performance.now();
          for (const c of conns) {
            if (frameMs > 0 && c.partialSince > 0 && now - c.partialSince > frameMs) {
              counters.frameTimeouts++;
              drop("frame-timeout", c.remoteAddress);
              c.close();
              forget(c);
            } else if (idleMs > 0 && !c.busy && now - c.lastRequest > idleMs) {
              counters.idleClosed++;
              drop("idle", c.remoteAddress);
              c.close();
              forget(c);
            }
          }
        }, sweepMs)
      : undefined;
  (sweep as { unref?: () => void } | undefined)?.unref?.();

  const listener = Bun.listen<ConnData>({
    hostname: host,
    port: opts.port,
    data: { conn: null },
    socket: {
      binaryType: "uint8array",
      open(socket) {
        const key = addressOf(socket.remoteAddress);
        const mine = byAddress.get(key);
        const now = performance.now();
        // Full (for this address, or at all): the longest-idle connection makes room, else refuse.
        const pool = mine && mine.size >= maxPerAddress ? mine : conns.size >= maxConnections ? conns : undefined;
        if (pool) {
          const victim = longestIdle(pool, now);
          if (!victim) {
            counters.rejected++;
            drop("rejected", socket.remoteAddress);
            socket.data = { conn: null };
            socket.end();
            return;
          }
          counters.evicted++;
          drop("evicted", victim.remoteAddress);
          victim.close();
          forget(victim);
        }
        const conn = new Connection(socket as unknown as Sock, server);
        socket.data = { conn };
        conns.add(conn);
        let set = byAddress.get(key);
        if (!set) byAddress.set(key, (set = new Set()));
        set.add(conn);
        counters.accepted++;
      },
      data(socket, chunk) {
        socket.data.conn?.onData(chunk as Uint8Array);
      },
      drain(socket) {
        socket.data.conn?.onDrain();
      },
      close(socket) {
        const c = socket.data.conn;
        if (c) {
          c.onClosed();
          forget(c);
        }
      },
      error(socket, err) {
        const c = socket.data.conn;
        if (c) server.reportError(err, c);
      },
    },
  });

  let stopped = false;
  return {
    host,
    port: listener.port,
    connectionCount: () => conns.size,
    counters: () => ({ ...counters }),
    stop() {
      if (stopped) return;
      stopped = true;
      if (sweep) clearInterval(sweep);
      for (const c of conns) c.close();
      conns.clear();
      byAddress.clear();
      listener.stop(true);
    },
  };
}
