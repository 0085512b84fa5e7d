import { BACnetClient } from "../protocols/bacnet/client.ts";
import type { SimDevice } from "./device.ts";
import type { BacnetPoint, BacnetProfile } from "../protocols/bacnet/profile.ts";
import { OBJECT_TYPES, PROP } from "../protocols/bacnet/objects.ts";

/**
 * A simulated BACnet/IP device served from a BACnet profile and a SimDevice's values (the
 * simulator's models write engineering values; this turns them back into the device's raw values:
 * ×10^decimals, ×10 under factor_10, −1 for "not available"). It answers Who-Is (unicast I-Am to the
 * asker: loopback peers each have their own port), ReadProperty, ReadPropertyMultiple (sized: an
 * answer beyond one APDU is refused with Abort segmentation-not-supported, since the library cannot
 * segment), SubscribeCOV with notifications on change, and WriteProperty on writable points.
 * Faults can be injected for the driver's bad-reply tests.
 */

const T = { NULL: 0, BOOLEAN: 1, UNSIGNED: 2, REAL: 4, CHARSTRING: 7, BITSTRING: 8, ENUMERATED: 9, OBJECTID: 12 } as const;
const SERVICE = { SUBSCRIBE_COV: 5, READ_PROPERTY: 12, READ_PROPERTY_MULTIPLE: 14, WRITE_PROPERTY: 15 } as const;
const ERR = { OBJECT: 1, PROPERTY: 2, SERVICES: 5 } as const;
const CODE = { UNKNOWN_OBJECT: 31, UNKNOWN_PROPERTY: 32, WRITE_ACCESS_DENIED: 40, INVALID_ARRAY_INDEX: 42, SERVICE_REQUEST_DENIED: 29 } as const;
const ARRAY_ALL = 0xffffffff;

export interface BacnetSimFaults {
  /** RPM with more objects than this is refused with Abort (reason 4, segmentation not supported). */
  rpmMaxObjects?: number;
  /** RPM is rejected as an unrecognized service (reason 9): the client must use ReadProperty. */
  noRpm?: boolean;
  /** Answers carry another invoke id (the client must time out, not take them). */
  wrongInvokeId?: boolean;
  /** Answers are cut after this many bytes of APDU. */
  truncateApdu?: number;
  /** I-Am announces this instance instead of the real one. */
  iamInstance?: number;
  /** These objects (`AV:3`) answer an Error for their present value. */
  errorObjects?: string[];
  /** SubscribeCOV is refused (services/service-request-denied). */
  noCov?: boolean;
  /** COV notifications are not sent (a device that forgot its subscriptions). */
  silentCov?: boolean;
}

export interface BacnetSimOptions {
  instance: number;
  port: number;
  host?: string;
  /** Where to send broadcasts (loopback: a peer's port). */
  broadcast?: string;
  vendorId?: number;
  vendorName?: string;
  modelName?: string;
  profileName?: string;
  objectName?: string;
  maxApdu?: number;
  faults?: BacnetSimFaults;
}

interface Subscription {
  key: string;
  address: string;
  processId: number;
  confirmed: boolean;
  expiresAt: number;
  last: string;
}

type AppValue = { type: number; value: unknown };

export class BacnetSimDevice {
  readonly client: BACnetClient;
  readonly faults: BacnetSimFaults;
  /** Requests answered, for tests and the bench. */
  answered = 0;
  notificationsSent = 0;
  /** ReadProperty requests for one array element (Object_List read by index). */
  readsByIndex = 0;
  /** WriteProperty requests received (the last 100): value (null = relinquish) and priority. */
  readonly writes: { point: string; value: number | null; priority: number }[] = [];
  private readonly byObject = new Map<string, BacnetPoint[]>();
  private readonly subs: Subscription[] = [];
  private closed = false;

  constructor(
    readonly dev: SimDevice,
    readonly profile: BacnetProfile,
    readonly opts: BacnetSimOptions,
  ) {
    this.faults = opts.faults ?? {};
    for (const p of profile.points) {
      const k = `${p.objectType}:${p.instance}`;
      const list = this.byObject.get(k) ?? [];
      list.push(p);
      this.byObject.set(k, list);
    }
    // Bound to every address: a socket bound to 127.0.0.1 alone never hears a 127.255.255.255 Who-Is.
    this.client = new BACnetClient({ port: opts.port, interface: "0.0.0.0", broadcastAddress: opts.broadcast ?? "127.255.255.255", reuseAddr: false });
    this.client.on("error", () => {});
    this.client.on("listening", () => (this.listening = true));
    // The library announces 1482 octets, not a BACnet/IP value: announce what this device accepts.
    (this.client as any)._transport.getMaxPayload = () => opts.maxApdu ?? 1476;
    this.client.on("whoIs", (m: any) => this.onWhoIs(m));
    this.client.on("readProperty", (m: any) => this.guard(m, () => this.onReadProperty(m)));
    this.client.on("readPropertyMultiple", (m: any) => this.guard(m, () => this.onRpm(m)));
    this.client.on("subscribeCov", (m: any) => this.guard(m, () => this.onSubscribe(m)));
    this.client.on("writeProperty", (m: any) => this.guard(m, () => this.onWrite(m)));
  }

  get offline(): boolean {
    return this.dev.offline;
  }

  close(): void {
    this.closed = true;
    const close = () => {
      try {
        this.client.close();
      } catch {
        /* closed */
      }
    };
    // Not while still binding: the library's bind callback would then fail outside any handler.
    if (this.listening) close();
    else this.client.once("listening", () => setTimeout(close, 0));
  }

  private listening = false;

  private guard(m: any, fn: () => void): void {
    if (this.offline || this.closed) return;
    this.answered++;
    try {
      fn();
    } catch {
      /* a request the simulator cannot answer is dropped, as a busy device would */
    }
  }

  private invoke(m: any): number {
    return this.faults.wrongInvokeId ? (m.invokeId + 17) & 0xff : m.invokeId;
  }

  private onWhoIs(m: any): void {
    if (this.offline || this.closed) return;
    const low = m.payload?.lowLimit;
    const high = m.payload?.highLimit;
    const inst = this.opts.instance;
    if (low !== undefined && high !== undefined && (inst < low || inst > high)) return;
    // Unicast to the asker: on loopback the asker's port is not our broadcast port.
    this.client.iAmResponse(m.header.sender, this.faults.iamInstance ?? inst, 3, this.opts.vendorId ?? 591);
  }

  // ---- values --------------------------------------------------------------------------------

  /** The factor this device announces (Profile_Name) as a number: ÷10 under factor_10. */
  private factor(): number {
    const f = this.profile.deviceFactor;
    if (!f) return 1;
    return f.values[this.opts.profileName ?? ""] ?? f.default ?? 1;
  }

  private rawOf(p: BacnetPoint): number {
    const eng = Number(this.dev.get(p.id) ?? 0);
    if (!Number.isFinite(eng) || (p.notAvailable.includes(-1) && eng === -1)) return -1;
    let raw = eng / p.multiplier;
    if (p.useFactor) raw /= this.factor();
    // A scaled value travels as a whole number of its last digit (the Socomec sends raw integers).
    return p.multiplier !== 1 || p.useFactor || p.kind !== "analog" ? Math.round(raw) : raw;
  }

  private presentValue(type: number, instance: number): AppValue | null {
    const pts = this.byObject.get(`${type}:${instance}`);
    if (!pts) return null;
    const p = pts[0]!;
    if (type === OBJECT_TYPES.BSV) {
      const nbits = Math.max(...pts.map((x) => x.bit ?? 0)) + 1;
      const bytes = new Array(Math.ceil(nbits / 8)).fill(0);
      for (const b of pts) if (Number(this.dev.get(b.id) ?? 0) && b.bit !== undefined) bytes[b.bit >> 3] |= 1 << (b.bit & 7);
      return { type: T.BITSTRING, value: { bitsUsed: nbits, value: bytes } };
    }
    if (type === OBJECT_TYPES.MSV || type === OBJECT_TYPES.MSI || type === OBJECT_TYPES.MSO) return { type: T.UNSIGNED, value: Math.max(0, this.rawOf(p)) };
    if (type === OBJECT_TYPES.BV || type === OBJECT_TYPES.BI || type === OBJECT_TYPES.BO) return { type: T.ENUMERATED, value: this.rawOf(p) ? 1 : 0 };
    return { type: T.REAL, value: this.rawOf(p) };
  }

  private objectList(): AppValue[] {
    const list: AppValue[] = [{ type: T.OBJECTID, value: { type: OBJECT_TYPES.DEV, instance: this.opts.instance } }];
    for (const k of this.byObject.keys()) {
      const [type, instance] = k.split(":").map(Number);
      list.push({ type: T.OBJECTID, value: { type, instance } });
    }
    return list;
  }

  /** A property's value, or a BACnet error [class, code]. */
  private read(type: number, instance: number, prop: number, index = ARRAY_ALL): AppValue[] | [number, number] {
    if (type === OBJECT_TYPES.DEV) {
      if (instance !== this.opts.instance && instance !== 4194303) return [ERR.OBJECT, CODE.UNKNOWN_OBJECT];
      const o = this.opts;
      switch (prop) {
        case 75:
          return [{ type: T.OBJECTID, value: { type: OBJECT_TYPES.DEV, instance: o.instance } }];
        case PROP.OBJECT_NAME:
          return [{ type: T.CHARSTRING, value: o.objectName ?? "MASTERYS BC+" }];
        case 79:
          return [{ type: T.ENUMERATED, value: OBJECT_TYPES.DEV }];
        case 112:
          return [{ type: T.ENUMERATED, value: 0 }];
        case 121:
          return [{ type: T.CHARSTRING, value: o.vendorName ?? "SOCOMEC UPS" }];
        case PROP.VENDOR_IDENTIFIER:
          return [{ type: T.UNSIGNED, value: o.vendorId ?? 591 }];
        case PROP.MODEL_NAME:
          return [{ type: T.CHARSTRING, value: o.modelName ?? "60" }];
        case 44:
        case 12:
          return [{ type: T.CHARSTRING, value: "4.2.1" }];
        case 98:
          return [{ type: T.UNSIGNED, value: 1 }];
        case 139:
          return [{ type: T.UNSIGNED, value: 4 }];
        case PROP.MAX_APDU_LENGTH_ACCEPTED:
          return [{ type: T.UNSIGNED, value: o.maxApdu ?? 1476 }];
        case PROP.SEGMENTATION_SUPPORTED:
          return [{ type: T.ENUMERATED, value: 3 }];
        case PROP.PROFILE_NAME:
          return o.profileName === undefined ? [ERR.PROPERTY, CODE.UNKNOWN_PROPERTY] : [{ type: T.CHARSTRING, value: o.profileName }];
        case PROP.OBJECT_LIST: {
          const list = this.objectList();
          if (index === ARRAY_ALL) return list;
          if (index === 0) return [{ type: T.UNSIGNED, value: list.length }];
          return list[index - 1] ? [list[index - 1]!] : [ERR.PROPERTY, CODE.INVALID_ARRAY_INDEX];
        }
        default:
          return [ERR.PROPERTY, CODE.UNKNOWN_PROPERTY];
      }
    }
    const pts = this.byObject.get(`${type}:${instance}`);
    if (!pts) return [ERR.OBJECT, CODE.UNKNOWN_OBJECT];
    const p = pts[0]!;
    switch (prop) {
      case PROP.PRESENT_VALUE:
        if (this.faults.errorObjects?.includes(`${p.objectTypeName}:${instance}`)) return [ERR.PROPERTY, CODE.UNKNOWN_PROPERTY];
        return [this.presentValue(type, instance)!];
      case 75:
        return [{ type: T.OBJECTID, value: { type, instance } }];
      case PROP.OBJECT_NAME:
        return [{ type: T.CHARSTRING, value: p.bit !== undefined ? p.id.replace(/_[^_]+$/, "") : p.id.toUpperCase() }];
      case 79:
        return [{ type: T.ENUMERATED, value: type }];
      case PROP.STATUS_FLAGS:
        return [{ type: T.BITSTRING, value: { bitsUsed: 4, value: [0] } }];
      case 36:
        return [{ type: T.ENUMERATED, value: 0 }];
      case 81:
        return [{ type: T.BOOLEAN, value: false }];
      case 117:
        return p.units !== undefined ? [{ type: T.ENUMERATED, value: p.units }] : [ERR.PROPERTY, CODE.UNKNOWN_PROPERTY];
      case 74:
        return p.states ? [{ type: T.UNSIGNED, value: Object.keys(p.states).length }] : [ERR.PROPERTY, CODE.UNKNOWN_PROPERTY];
      case 110:
        return p.states ? Object.values(p.states).map((s) => ({ type: T.CHARSTRING, value: s })) : [ERR.PROPERTY, CODE.UNKNOWN_PROPERTY];
      default:
        return [ERR.PROPERTY, CODE.UNKNOWN_PROPERTY];
    }
  }

  // ---- services ----------------------------------------------------------------------------

  private send(m: any, build: (buf: Buffer, at: number) => number): void {
    // Only for faults: a reply cut short at the APDU level.
    const buffer = Buffer.alloc(1500);
    const len = build(buffer, 6);
    buffer[4] = 0x01;
    buffer[5] = 0x00;
    this.client.sendBvlc(m.header.sender, { buffer, offset: 6 + len } as any);
  }

  private onReadProperty(m: any): void {
    const { objectId, property } = m.payload;
    if (property.index !== undefined && property.index !== ARRAY_ALL) this.readsByIndex++;
    const r = this.read(objectId.type, objectId.instance, property.id, property.index);
    if (typeof r[0] === "number") return this.client.errorResponse(m.header.sender, SERVICE.READ_PROPERTY, this.invoke(m), r[0] as number, r[1] as number);
    // An answer longer than one APDU cannot be sent unsegmented (an Object_List on a small device).
    if ((r as AppValue[]).length * 5 + 8 > (this.opts.maxApdu ?? 1476)) return this.abort(m, 4, false);
    if (this.faults.truncateApdu !== undefined) {
      const cut = this.faults.truncateApdu;
      return this.send(m, (b, at) => {
        const full = [0x30, this.invoke(m), SERVICE.READ_PROPERTY, 0x0c, 0x00, 0x80, 0x00, 0x00, 0x19, 0x55, 0x3e, 0x44, 0x42, 0x28, 0x00, 0x00, 0x3f];
        const part = full.slice(0, Math.max(1, cut));
        part.forEach((x, i) => (b[at + i] = x));
        return part.length;
      });
    }
    this.client.readPropertyResponse(m.header.sender, this.invoke(m), objectId, property, r as any);
  }

  private onRpm(m: any): void {
    const specs: { objectId: { type: number; instance: number }; properties: { id: number; index: number }[] }[] = m.payload.properties;
    if (this.faults.noRpm) return this.abort(m, 9, true);
    if (this.faults.rpmMaxObjects !== undefined && specs.length > this.faults.rpmMaxObjects) return this.abort(m, 4, false);
    let size = 3;
    const values = specs.map((s) => ({
      objectId: s.objectId,
      values: s.properties.map((pr) => {
        const r = this.read(s.objectId.type, s.objectId.instance, pr.id, pr.index ?? ARRAY_ALL);
        size += 9;
        if (typeof r[0] === "number") {
          size += 6;
          return { property: { id: pr.id, index: pr.index ?? ARRAY_ALL }, value: [{ type: 105, value: { type: "BacnetError", errorClass: r[0], errorCode: r[1] } }] };
        }
        for (const v of r as AppValue[]) size += v.type === T.CHARSTRING ? String(v.value).length + 3 : 6;
        return { property: { id: pr.id, index: pr.index ?? ARRAY_ALL }, value: r as AppValue[] };
      }),
    }));
    // No segmentation: an answer that does not fit one APDU is refused, as a real small device does.
    if (size > (this.opts.maxApdu ?? 1476)) return this.abort(m, 4, false);
    this.client.readPropertyMultipleResponse(m.header.sender, this.invoke(m), values as any);
  }

  /** Abort (reason 4 = segmentation-not-supported) or Reject (reason 9 = unrecognized-service). */
  private abort(m: any, reason: number, reject: boolean): void {
    this.send(m, (b, at) => {
      b[at] = reject ? 0x60 : 0x71;
      b[at + 1] = this.invoke(m);
      b[at + 2] = reason;
      return 3;
    });
  }

  private onSubscribe(m: any): void {
    const p = m.payload;
    if (this.faults.noCov) return this.client.errorResponse(m.header.sender, SERVICE.SUBSCRIBE_COV, this.invoke(m), ERR.SERVICES, CODE.SERVICE_REQUEST_DENIED);
    const key = `${p.monitoredObjectId.type}:${p.monitoredObjectId.instance}`;
    if (!this.byObject.has(key)) return this.client.errorResponse(m.header.sender, SERVICE.SUBSCRIBE_COV, this.invoke(m), ERR.OBJECT, CODE.UNKNOWN_OBJECT);
    const address = m.header.sender.address;
    const i = this.subs.findIndex((s) => s.key === key && s.address === address && s.processId === p.subscriberProcessId);
    if (i >= 0) this.subs.splice(i, 1);
    this.client.simpleAckResponse(m.header.sender, SERVICE.SUBSCRIBE_COV, this.invoke(m));
    if (p.cancellationRequest) return;
    const sub: Subscription = { key, address, processId: p.subscriberProcessId, confirmed: !!p.issueConfirmedNotifications, expiresAt: p.lifetime ? Date.now() + p.lifetime * 1000 : Infinity, last: "" };
    this.subs.push(sub);
    // A new or renewed subscription gets the current value at once (clause 13.1.2).
    this.notify(sub, true);
  }

  private onWrite(m: any): void {
    const { objectId, value } = m.payload;
    const pts = this.byObject.get(`${objectId.type}:${objectId.instance}`);
    if (!pts) return this.client.errorResponse(m.header.sender, SERVICE.WRITE_PROPERTY, this.invoke(m), ERR.OBJECT, CODE.UNKNOWN_OBJECT);
    const p = pts[0]!;
    if (!p.writable || value.property.id !== PROP.PRESENT_VALUE) return this.client.errorResponse(m.header.sender, SERVICE.WRITE_PROPERTY, this.invoke(m), ERR.PROPERTY, CODE.WRITE_ACCESS_DENIED);
    const v = value.value?.[0];
    const relinquish = !v || v.type === T.NULL;
    // What the device was asked, as decoded from the request (16 when the request named none).
    this.writes.push({ point: p.id, value: relinquish ? null : Number(v.value), priority: Number(value.priority ?? 16) });
    if (this.writes.length > 100) this.writes.shift();
    if (!relinquish) this.dev.pin(p.id, Number(v.value) * p.multiplier * (p.useFactor ? this.factor() : 1));
    else this.dev.pin(p.id, null);
    this.client.simpleAckResponse(m.header.sender, SERVICE.WRITE_PROPERTY, this.invoke(m));
  }

  /** After the models' tick: notify every subscriber whose object changed; drop expired subscriptions. */
  publish(now = Date.now()): void {
    if (this.offline || this.closed) return;
    for (let i = this.subs.length - 1; i >= 0; i--) {
      const s = this.subs[i]!;
      if (now > s.expiresAt) this.subs.splice(i, 1);
      else this.notify(s, false);
    }
  }

  private notify(s: Subscription, force: boolean): void {
    if (this.faults.silentCov) return;
    const [type, instance] = s.key.split(":").map(Number) as [number, number];
    const pv = this.presentValue(type, instance)!;
    const text = JSON.stringify(pv.value);
    if (!force && text === s.last) return;
    s.last = text;
    const remaining = s.expiresAt === Infinity ? 0 : Math.max(0, Math.round((s.expiresAt - Date.now()) / 1000));
    const values = [
      { property: { id: PROP.PRESENT_VALUE, index: ARRAY_ALL }, value: [pv] },
      { property: { id: PROP.STATUS_FLAGS, index: ARRAY_ALL }, value: [{ type: T.BITSTRING, value: { bitsUsed: 4, value: [0] } }] },
    ];
    this.notificationsSent++;
    const to = { address: s.address };
    if (s.confirmed) this.client.confirmedCOVNotification(to, { type, instance }, s.processId, this.opts.instance, remaining, values as any).catch(() => {});
    else this.client.unconfirmedCOVNotification(to, s.processId, this.opts.instance, { type, instance }, remaining, values as any);
  }

  get subscriptions(): number {
    return this.subs.length;
  }

  /**
   * Bench: `n` unconfirmed notifications to the current subscribers, round-robin, each with a new
   * present value, sent in bursts so the sender's socket buffer is not the limit.
   */
  async blast(n: number, burst = 200): Promise<number> {
    if (!this.subs.length) return 0;
    let sent = 0;
    while (sent < n) {
      for (let i = 0; i < burst && sent < n; i++, sent++) {
        const s = this.subs[sent % this.subs.length]!;
        const [type, instance] = s.key.split(":").map(Number) as [number, number];
        const pv = type === OBJECT_TYPES.BSV ? { type: T.BITSTRING, value: { bitsUsed: 16, value: [sent & 0xff, 0] } } : type === OBJECT_TYPES.MSV ? { type: T.UNSIGNED, value: 1 + (sent % 2) } : { type: T.REAL, value: sent % 1000 };
        this.client.unconfirmedCOVNotification({ address: s.address }, s.processId, this.opts.instance, { type, instance }, 300, [
          { property: { id: PROP.PRESENT_VALUE, index: ARRAY_ALL }, value: [pv] },
          { property: { id: PROP.STATUS_FLAGS, index: ARRAY_ALL }, value: [{ type: T.BITSTRING, value: { bitsUsed: 4, value: [0] } }] },
        ] as any);
      }
      await new Promise((r) => setImmediate(r));
    }
    return sent;
  }
}
