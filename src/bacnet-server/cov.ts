import { ErrorClass, ErrorCode, ObjectType, PropertyIdentifier as P } from "@bacnet-js/client/dist/lib/enum.js";
import * as enc from "./encode.ts";
import { statusFlagBits, type ObjectSet, type ServedObject } from "./objects.ts";
import type { PropertyReader } from "./properties.ts";
import type { NpduAddress, SubscribeCovRequest } from "./wire.ts";

/**
 * SubscribeCOV (clause 13.14) and the notifications (13.1): a subscription is (subscriber address,
 * process id, object). Analog objects notify when Present_Value moved by COV_Increment since the
 * last notification, binaries and multi-states on any change; all on a Status_Flags change.
 * Confirmed notifications are retried `retries` times `timeoutMs` apart; a subscriber that never
 * answers is gone and its subscription dropped. Lifetimes expire; lifetime 0 is indefinite.
 */

export interface CovSubscription {
  address: string;
  port: number;
  route: NpduAddress | undefined;
  processId: number;
  object: ServedObject;
  confirmed: boolean;
  /** ms since 1970; 0 = indefinite */
  expiresAt: number;
  createdAt: number;
  notifications: number;
  failures: number;
  /** What the last notification carried. */
  lastValue: number;
  lastFlags: number;
}

interface Pending {
  sub: CovSubscription;
  packet: Buffer;
  attempts: number;
  timer: ReturnType<typeof setTimeout>;
}

export interface CovOptions {
  device: number;
  max: number;
  timeoutMs: number;
  retries: number;
  reader: PropertyReader;
  send: (p: Buffer, to: { address: string; port: number }) => void;
  log: (level: "info" | "warn" | "error", msg: string) => void;
}

const subKey = (address: string, port: number, processId: number, o: ServedObject) => `${address}:${port}|${processId}|${o.key}`;

export class Covs {
  private readonly subs = new Map<string, CovSubscription>();
  private readonly byObject = new Map<ServedObject, Set<CovSubscription>>();
  private readonly pending = new Map<number, Pending>();
  private nextInvoke = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private set: ObjectSet | undefined;

  constructor(private readonly o: CovOptions) {}

  start(set: ObjectSet): void {
    this.set = set;
    // Once a second: lifetimes, and Status_Flags that changed without a value change (alarms, staleness).
    this.timer = setInterval(() => this.sweep(), 1000);
  }

  stop(): void {
    clearInterval(this.timer);
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }

  get size(): number {
    return this.subs.size;
  }

  list(): CovSubscription[] {
    return [...this.subs.values()];
  }

  /** Returns the error to answer, or undefined (Simple-ACK). */
  subscribe(from: { address: string; port: number }, route: NpduAddress | undefined, r: SubscribeCovRequest, obj: ServedObject): [number, number] | undefined {
    const key = subKey(from.address, from.port, r.processId, obj);
    if (r.cancel) {
      // Cancelling what does not exist is not an error (clause 13.14.1.1.4 leaves it to succeed).
      const s = this.subs.get(key);
      if (s) this.remove(s);
      return undefined;
    }
    const existing = this.subs.get(key);
    if (!existing && this.subs.size >= this.o.max) return [ErrorClass.RESOURCES, ErrorCode.NO_SPACE_TO_ADD_LIST_ELEMENT];
    const now = Date.now();
    const s: CovSubscription = existing ?? {
      address: from.address,
      port: from.port,
      route,
      processId: r.processId,
      object: obj,
      confirmed: r.confirmed,
      expiresAt: 0,
      createdAt: now,
      notifications: 0,
      failures: 0,
      lastValue: NaN,
      lastFlags: -1,
    };
    // A re-subscription renews the lifetime and may change the notification kind.
    s.confirmed = r.confirmed;
    s.expiresAt = r.lifetime > 0 ? now + r.lifetime * 1000 : 0;
    if (!existing) {
      this.subs.set(key, s);
      let set = this.byObject.get(obj);
      if (!set) this.byObject.set(obj, (set = new Set()));
      set.add(s);
    }
    return undefined;
  }

  private remove(s: CovSubscription): void {
    this.subs.delete(subKey(s.address, s.port, s.processId, s.object));
    const set = this.byObject.get(s.object);
    set?.delete(s);
    if (set && set.size === 0) this.byObject.delete(s.object);
  }

  notifyNow(from: { address: string; port: number }, processId: number, obj: ServedObject): void {
    const s = this.subs.get(subKey(from.address, from.port, processId, obj));
    if (s) this.notify(s);
  }

  /** A LiveView batch: the points that changed. */
  onChanges(batch: readonly number[], set: ObjectSet): void {
    if (this.byObject.size === 0) return;
    for (const i of batch) {
      const objs = set.byPoint.get(i);
      if (!objs) continue;
      for (const o of objs) this.onObjectChanged(o);
    }
  }

  onObjectChanged(o: ServedObject): void {
    const subs = this.byObject.get(o);
    if (!subs) return;
    const { value, flags } = this.current(o);
    for (const s of subs) if (this.changed(s, value, flags)) this.notify(s);
  }

  /** Present_Value as a number for comparison, and the Status_Flags bits. */
  private current(o: ServedObject): { value: number; flags: number } {
    const pv = this.o.reader.presentValue(o)[0]!;
    const value = typeof pv.value === "number" ? pv.value : pv.value instanceof Date ? pv.value.getTime() : NaN;
    let flags = 0;
    for (const b of statusFlagBits(this.o.reader.health(o))) flags |= 1 << b;
    return { value, flags };
  }

  private changed(s: CovSubscription, value: number, flags: number): boolean {
    if (flags !== s.lastFlags) return true;
    if (Number.isNaN(value) !== Number.isNaN(s.lastValue)) return true;
    if (Number.isNaN(value)) return false;
    const analog = s.object.type === ObjectType.ANALOG_INPUT || s.object.type === ObjectType.ANALOG_VALUE;
    return analog ? Math.abs(value - s.lastValue) >= s.object.covIncrement : value !== s.lastValue;
  }

  private notify(s: CovSubscription): void {
    const now = Date.now();
    const { value, flags } = this.current(s.object);
    s.lastValue = value;
    s.lastFlags = flags;
    s.notifications++;
    const remaining = s.expiresAt ? Math.max(0, Math.ceil((s.expiresAt - now) / 1000)) : 0;
    const values = [
      { property: P.PRESENT_VALUE, values: this.o.reader.presentValue(s.object) },
      { property: P.STATUS_FLAGS, values: (this.o.reader.read(s.object, P.STATUS_FLAGS, undefined) as { values: enc.Value[] }).values },
    ];
    const to = { address: s.address, port: s.port };
    if (!s.confirmed) {
      this.o.send(enc.covNotification(s.route, undefined, s.processId, this.o.device, { type: s.object.type, instance: s.object.instance }, remaining, values), to);
      return;
    }
    const invokeId = this.allocInvoke();
    if (invokeId === undefined) {
      // 256 notifications in flight: this one is skipped, the next change sends the state again.
      s.failures++;
      s.lastFlags = -1;
      return;
    }
    const packet = enc.covNotification(s.route, { invokeId }, s.processId, this.o.device, { type: s.object.type, instance: s.object.instance }, remaining, values);
    const p: Pending = { sub: s, packet, attempts: 1, timer: setTimeout(() => this.retry(invokeId), this.o.timeoutMs) };
    this.pending.set(invokeId, p);
    this.o.send(packet, to);
  }

  private allocInvoke(): number | undefined {
    for (let k = 0; k < 256; k++) {
      const id = (this.nextInvoke + k) & 0xff;
      if (!this.pending.has(id)) {
        this.nextInvoke = (id + 1) & 0xff;
        return id;
      }
    }
    return undefined;
  }

  private retry(invokeId: number): void {
    const p = this.pending.get(invokeId);
    if (!p) return;
    if (p.attempts > this.o.retries) {
      this.pending.delete(invokeId);
      p.sub.failures++;
      // The subscriber is gone: its subscription with it (and any other notifications it is owed).
      if (this.subs.has(subKey(p.sub.address, p.sub.port, p.sub.processId, p.sub.object))) {
        this.o.log("warn", `COV subscriber ${p.sub.address}:${p.sub.port} (process ${p.sub.processId}, ${p.sub.object.name}) did not acknowledge ${p.attempts} notifications: subscription dropped`);
        this.remove(p.sub);
      }
      return;
    }
    p.attempts++;
    p.timer = setTimeout(() => this.retry(invokeId), this.o.timeoutMs);
    this.o.send(p.packet, { address: p.sub.address, port: p.sub.port });
  }

  /** A reply to a confirmed notification: any answer means the subscriber is alive. */
  onReply(from: { address: string; port: number }, invokeId: number, _pdu: string): void {
    const p = this.pending.get(invokeId);
    if (!p || p.sub.address !== from.address || p.sub.port !== from.port) return;
    clearTimeout(p.timer);
    this.pending.delete(invokeId);
  }

  private sweep(): void {
    const now = Date.now();
    for (const s of [...this.subs.values()]) if (s.expiresAt && s.expiresAt <= now) this.remove(s);
    for (const o of this.byObject.keys()) this.onObjectChanged(o);
    void this.set;
  }
}
