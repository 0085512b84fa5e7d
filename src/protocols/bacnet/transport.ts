import { createSocket, type Socket } from "node:dgram";
import { EventEmitter } from "node:events";

/**
 * The UDP transport handed to the client library (its `transport` option), doing what the
 * library's own does minus its per-datagram work: that one hex-encodes every datagram sent and
 * received for a debug line that is off (two ~3 KB strings per request), and keeps a timer per
 * broadcast. Same contract: emits `message` (buffer, "ip" on 47808 else "ip:port"), `listening`,
 * `error`, `close`; drops our own broadcasts looped back to our port.
 */

const DEFAULT_PORT = 47808;
/** The library sizes every APDU buffer from this (it is its own constant). */
const MAX_PAYLOAD = 1482;
/** Our last broadcasts, to recognise them when the network loops them back to us. */
const KEEP_BROADCASTS = 8;

export interface TransportSettings {
  port: number;
  interface?: string;
  /** `ip` or `ip:port` where broadcasts go. */
  broadcastAddress: string;
  reuseAddr: boolean;
}

export class BacnetTransport extends EventEmitter {
  /** Named as in the library's transport: the driver sizes its receive buffer through it. */
  readonly _server: Socket;
  ownAddress: { address: string; port: number } = { address: "", port: 0 };
  private readonly sentBroadcasts: Buffer[] = [];
  /** "ip[:port]" → [ip, port], parsed once per peer rather than once per datagram. */
  private readonly targets = new Map<string, [string, number]>();

  constructor(private readonly settings: TransportSettings) {
    super();
    this._server = createSocket({ type: "udp4", reuseAddr: settings.reuseAddr });
    this._server.on("message", (msg: Buffer, rinfo) => {
      if (rinfo.port === this.ownAddress.port && this.sentBroadcasts.some((b) => b.equals(msg))) return;
      this.emit("message", msg, rinfo.port === DEFAULT_PORT ? rinfo.address : `${rinfo.address}:${rinfo.port}`);
    });
    this._server.on("listening", () => {
      this.ownAddress = this._server.address();
      this.emit("listening", this.ownAddress);
    });
    this._server.on("error", (err) => this.emit("error", err));
    this._server.on("close", () => this.emit("close"));
  }

  getBroadcastAddress(): string {
    return this.settings.broadcastAddress;
  }

  getMaxPayload(): number {
    return MAX_PAYLOAD;
  }

  send(buffer: Buffer, length: number, receiver?: string): void {
    if (!receiver) {
      receiver = this.settings.broadcastAddress;
      this.sentBroadcasts.push(Buffer.from(buffer.subarray(0, length)));
      if (this.sentBroadcasts.length > KEEP_BROADCASTS) this.sentBroadcasts.shift();
    }
    let target = this.targets.get(receiver);
    if (!target) {
      const [ip, port] = receiver.split(":");
      target = [ip!, Number.parseInt(port ?? "", 10) || DEFAULT_PORT];
      if (this.targets.size > 4096) this.targets.clear();
      this.targets.set(receiver, target);
    }
    this._server.send(buffer, 0, length, target[1], target[0]);
  }

  open(): void {
    this._server.bind(this.settings.port || DEFAULT_PORT, this.settings.interface, () => this._server.setBroadcast(true));
  }

  close(): void {
    this._server.close();
  }
}

/**
 * Pending confirmed requests by invoke id, replacing the library's request manager (same three
 * methods). That one keeps answered requests in a list until a sweep timer, armed at the oldest
 * request's timeout, finds them: every request costs an event-loop wake-up one timeout later,
 * answered or not. Here an answer clears its request's own timer, so a port polling once a second
 * wakes only for its poll and its answers (a wake-up of an idle Bun loop costs ~0.1–0.3 ms CPU).
 */
export class RequestTimeouts {
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();

  constructor(private readonly timeoutMs: number) {}

  add(invokeId: number): Promise<any> {
    return new Promise((resolve, reject) => {
      // A reused invoke id (256 of them) replaces a request that can no longer be told apart.
      this.pending.get(invokeId)?.reject(new Error("ERR_TIMEOUT"));
      const timer = setTimeout(() => {
        if (this.pending.get(invokeId)?.timer === timer) this.pending.delete(invokeId);
        reject(new Error("ERR_TIMEOUT"));
      }, this.timeoutMs);
      this.pending.set(invokeId, { resolve, reject, timer });
    });
  }

  /** An answer: false when no request waits for this invoke id (the library then drops it). */
  resolve(invokeId: number, err: Error | null, result?: unknown): boolean {
    const p = this.pending.get(invokeId);
    if (!p) return false;
    this.pending.delete(invokeId);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(result);
    return true;
  }

  /** The client closes: every pending request fails now. */
  clear(force?: boolean): void {
    if (!force) return;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new Error("ERR_TIMEOUT"));
    }
  }
}
