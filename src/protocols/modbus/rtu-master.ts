import type { ByteTransport } from "../serial/tty.ts";
import { buildFrame, crcOk, expectedReplyBytes, replyLength, waitUntil } from "./rtu-frame.ts";
import { LinkError } from "./link-error.ts";

/**
 * The master side of a Modbus RTU line: one request at a time over a byte transport (a serial
 * port, or a TCP socket to a serial device server).
 *
 * - Before each request the line must have been silent for t3.5 since the last byte received and
 *   since the end of our own last transmission (whose duration is computed from the line speed).
 * - A reply is recognised by length (known for every function Busbar sends) and CRC. Bytes before
 *   it are skipped: an echo of our own request (half-duplex adapters without echo suppression) is
 *   counted as an echo, anything else (noise, a late answer from another device) as garbage.
 * - A reply that stays incomplete for `silenceMs` is a short frame (dropped bytes); complete
 *   candidates that fail the CRC are CRC errors. Both reject with a `bad-reply` LinkError so the
 *   poller retries; no answer at all rejects with `timeout`.
 * - The response timeout counts from the end of the request's transmission and allows for the
 *   reply's own transmission time, so one setting fits every frame size and line speed.
 * - Unit 0 is a broadcast: nothing is awaited; the line is then kept quiet for `broadcastDelayMs`
 *   so slaves can execute it (Modbus serial line spec: "turnaround delay").
 */

export interface RtuTiming {
  /** One character on the wire (ms). 0 when the real line speed is unknown (RTU over TCP). */
  charMs: number;
  /** Inter-frame silence before we send (ms). */
  t35Ms: number;
  /** Silence inside a reply after which it counts as short (ms). */
  silenceMs: number;
  /** Quiet time after a broadcast (ms). */
  broadcastDelayMs: number;
}

export type RtuCounters = {
  /** Requests sent. */
  requests: number;
  /** Valid replies (including exception replies). */
  replies: number;
  timeouts: number;
  crcErrors: number;
  shortFrames: number;
  echoes: number;
  /** Bytes received that belonged to no reply we were waiting for. */
  garbageBytes: number;
  broadcasts: number;
};

interface Pending {
  unit: number;
  pdu: Uint8Array;
  frame: Uint8Array;
  resolve(reply: Uint8Array): void;
  reject(e: LinkError): void;
  deadline: ReturnType<typeof setTimeout>;
  silence: ReturnType<typeof setTimeout> | undefined;
  sawBadCrc: boolean;
  echoChecked: boolean;
}

export function newCounters(): RtuCounters {
  return { requests: 0, replies: 0, timeouts: 0, crcErrors: 0, shortFrames: 0, echoes: 0, garbageBytes: 0, broadcasts: 0 };
}

export class RtuMaster {
  readonly counters: RtuCounters = newCounters();
  private rx = new Uint8Array(512);
  private rxLen = 0;
  /** performance.now() of the last byte received. */
  private lastRx = -Infinity;
  /** performance.now() when our last frame finished on the wire (or the broadcast quiet time ends). */
  private quietAfter = -Infinity;
  private lastFrame: Uint8Array | null = null;
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly transport: ByteTransport,
    readonly timing: RtuTiming,
    /** The line echoes every request (adapter without echo suppression): always strip it. */
    private readonly echo = false,
  ) {
    transport.onData = (chunk) => this.onData(chunk);
  }

  /** Fails the request in flight (the transport went away). */
  abort(error: LinkError): void {
    const p = this.pending;
    if (!p) return;
    this.finish(p);
    p.reject(error);
  }

  /**
   * Sends `pdu` to `unit` and resolves with the reply PDU (function code first; an exception reply
   * has the high bit set), or `null` for a broadcast. Requests are serialized.
   */
  request(unit: number, pdu: Uint8Array, timeoutMs: number): Promise<Uint8Array | null> {
    const run = this.queue.then(() => this.exchange(unit, pdu, timeoutMs));
    this.queue = run.catch(() => {});
    return run;
  }

  private async exchange(unit: number, pdu: Uint8Array, timeoutMs: number): Promise<Uint8Array | null> {
    if (!this.transport.isOpen) throw new LinkError("disconnected", "serial line not open");
    const t = this.timing;
    let idleAt = Math.max(this.lastRx + t.t35Ms, this.quietAfter + t.t35Ms);
    const giveUpAt = idleAt + Math.max(timeoutMs, 100);
    while (idleAt > performance.now()) {
      if (idleAt > giveUpAt) {
        // Someone keeps talking (a babbling device, a second master): never send into it.
        this.discardInput();
        throw new LinkError("bad-reply", "malformed reply: the line never goes quiet (a device keeps sending?)");
      }
      await waitUntil(idleAt);
      // Let bytes that arrived during the (partly blocking) wait be delivered, then check again:
      // a late byte means the line must be quiet for another t3.5.
      await new Promise((r) => setImmediate(r));
      idleAt = Math.max(idleAt, this.lastRx + t.t35Ms);
    }
    this.discardInput();
    const frame = buildFrame(unit, pdu);
    const sentAt = performance.now();
    try {
      this.transport.write(frame);
    } catch (e) {
      throw new LinkError("disconnected", (e as Error).message);
    }
    this.counters.requests++;
    this.lastFrame = frame;
    const txMs = frame.length * t.charMs;
    this.quietAfter = sentAt + txMs;
    if (unit === 0) {
      this.counters.broadcasts++;
      this.quietAfter += t.broadcastDelayMs;
      await waitUntil(this.quietAfter);
      return null;
    }
    const budget = txMs + timeoutMs + expectedReplyBytes(pdu) * t.charMs;
    return new Promise<Uint8Array>((resolve, reject) => {
      const p: Pending = {
        unit,
        pdu,
        frame,
        resolve,
        reject,
        deadline: setTimeout(() => this.giveUp(p), budget),
        silence: undefined,
        sawBadCrc: false,
        echoChecked: !this.echo,
      };
      this.pending = p;
      if (this.rxLen) this.parse(p);
    });
  }

  /** Input that arrived between requests: an echo of the previous request, a late reply, noise. */
  private discardInput(): void {
    if (this.rxLen === 0) return;
    const f = this.lastFrame;
    if (f && this.rxLen === f.length && this.rx.subarray(0, f.length).every((b, i) => b === f[i])) this.counters.echoes++;
    else this.counters.garbageBytes += this.rxLen;
    this.rxLen = 0;
  }

  private onData(chunk: Uint8Array): void {
    this.lastRx = performance.now();
    const need = this.rxLen + chunk.length;
    if (need > this.rx.length) {
      if (need > 8192) {
        // Nobody is listening for this much (a babbling device): keep the tail only.
        this.counters.garbageBytes += this.rxLen;
        this.rxLen = 0;
        chunk = chunk.subarray(Math.max(0, chunk.length - 512));
      } else {
        const grown = new Uint8Array(Math.max(need, this.rx.length * 2));
        grown.set(this.rx.subarray(0, this.rxLen));
        this.rx = grown;
      }
    }
    this.rx.set(chunk, this.rxLen);
    this.rxLen += chunk.length;
    const p = this.pending;
    if (p) this.parse(p);
  }

  private parse(p: Pending): void {
    const buf = this.rx;
    const len = this.rxLen;
    if (!p.echoChecked) {
      // Known echoing line: the first bytes are our own request.
      if (len < p.frame.length) return this.armSilence(p);
      p.echoChecked = true;
      if (p.frame.every((b, i) => buf[i] === b)) {
        this.counters.echoes++;
        this.consume(p.frame.length);
        return this.parse(p);
      }
    }
    for (let i = 0; i < len; i++) {
      if (buf[i] !== p.unit) continue;
      const need = replyLength(p.pdu, buf, i, len - i);
      // Not a reply here; or a reply still arriving (a later offset may yet hold a complete one).
      if (need === null || need === undefined || len - i < need) continue;
      if (!crcOk(buf, i, need)) {
        p.sawBadCrc = true;
        continue;
      }
      // A valid reply at i. What came before it was an echo of our request or garbage.
      if (i > 0) {
        const f = p.frame;
        if (i === f.length && f.every((b, k) => buf[k] === b)) this.counters.echoes++;
        else this.counters.garbageBytes += i;
      }
      const reply = buf.slice(i + 1, i + need - 2);
      this.consume(i + need);
      this.counters.replies++;
      this.finish(p);
      p.resolve(reply);
      return;
    }
    this.armSilence(p);
  }

  private armSilence(p: Pending): void {
    if (p.silence) clearTimeout(p.silence);
    p.silence = setTimeout(() => this.onSilence(p), this.timing.silenceMs);
  }

  /** Bytes came but no valid reply, and the line has gone quiet. */
  private onSilence(p: Pending): void {
    if (this.pending !== p) return;
    if (this.rxLen === 0) return; // consumed an echo; keep waiting for the reply
    this.failBadReply(p);
  }

  private failBadReply(p: Pending): void {
    const n = this.rxLen;
    let error: LinkError;
    if (p.sawBadCrc) {
      this.counters.crcErrors++;
      error = new LinkError("bad-reply", `malformed reply: CRC error (${n} bytes)`);
    } else {
      this.counters.shortFrames++;
      error = new LinkError("bad-reply", `malformed reply: short or unframed (${n} bytes)`);
    }
    this.counters.garbageBytes += n;
    this.rxLen = 0;
    this.finish(p);
    p.reject(error);
  }

  private giveUp(p: Pending): void {
    if (this.pending !== p) return;
    if (this.rxLen > 0) return this.failBadReply(p);
    this.counters.timeouts++;
    this.finish(p);
    p.reject(new LinkError("timeout", "no answer (timeout)"));
  }

  private consume(n: number): void {
    if (n >= this.rxLen) {
      this.rxLen = 0;
      return;
    }
    this.rx.copyWithin(0, n, this.rxLen);
    this.rxLen -= n;
  }

  private finish(p: Pending): void {
    clearTimeout(p.deadline);
    if (p.silence) clearTimeout(p.silence);
    if (this.pending === p) this.pending = null;
  }
}
