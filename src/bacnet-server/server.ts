import { networkInterfaces } from "node:os";
import {
  AbortReason,
  ConfirmedServiceChoice as CS,
  DeviceStatus,
  ErrorClass,
  ErrorCode,
  ObjectType,
  PropertyIdentifier as P,
  RejectReason,
  Segmentation,
  UnconfirmedServiceChoice as US,
} from "@bacnet-js/client";
import type { Site } from "../config/site.ts";
import { AddressList } from "../auth/addresses.ts";
import type { PointRegistry } from "../points/registry.ts";
import { Quality } from "../points/quality.ts";
import type { BacnetServerConfig } from "./config.ts";
import * as enc from "./encode.ts";
import { buildObjectSet, objectKey, type ObjectSet, type ServedObject } from "./objects.ts";
import { PropertyReader, MAX_APDU, type LiveSource } from "./properties.ts";
import { BacnetStore, commandedValue } from "./store.ts";
import {
  decodeFrame,
  decodeReadProperty,
  decodeReadPropertyMultiple,
  decodeSubscribeCov,
  decodeWhoHas,
  decodeWhoIs,
  decodeWriteProperty,
  BVLC,
  Rejection,
  type NpduAddress,
  type AppValue,
} from "./wire.ts";
import type { BmsWrites } from "./writes.ts";
import { Covs, type CovSubscription } from "./cov.ts";

/**
 * Busbar as a BACnet/IP device (ASHRAE 135 Annex J): one UDP socket, the served object set, the
 * services Who-Is/I-Am, Who-Has/I-Have, ReadProperty, ReadPropertyMultiple, WriteProperty and
 * SubscribeCOV. Reads come from the live point table; writes go through `BmsWrites` (the same
 * path as /operate, journaled); COV notifications follow the LiveView's change batches.
 */

export interface BacnetServerDeps {
  site: Site;
  config: BacnetServerConfig;
  registry: PointRegistry;
  store: BacnetStore;
  live: LiveSource & {
    subscribe(fn: (indexes: readonly number[]) => void): () => void;
  };
  writes: BmsWrites;
  version: string;
  log?: (level: "info" | "warn" | "error", msg: string) => void;
  /** Overrides config.port (tests, the demo when 47808 is taken). */
  port?: number;
}

export interface Endpoint {
  address: string;
  port: number;
}

export interface ServerStats {
  received: number;
  ignored: number;
  rejected: number;
  aborted: number;
  /** Error PDUs answered (unknown object, write refused…). */
  errors: number;
  /** Exceptions caught in the handler: defects, never the client's fault. Must stay 0. */
  crashes: number;
  replies: number;
}

/** Resolves `interface` (a name or an IPv4 address) to our address and its directed broadcast. */
export function resolveInterface(iface: string | undefined): { address: string; broadcast: string } {
  const all = Object.entries(networkInterfaces()).flatMap(([name, list]) => (list ?? []).map((a) => ({ name, ...a })));
  const v4 = all.filter((a) => a.family === "IPv4");
  const pick = iface ? v4.find((a) => a.name === iface || a.address === iface) : (v4.find((a) => !a.internal) ?? v4[0]);
  if (!pick) {
    if (iface && /^\d+\.\d+\.\d+\.\d+$/.test(iface)) return { address: iface, broadcast: "255.255.255.255" };
    if (iface) throw new Error(`no IPv4 interface "${iface}" (have: ${[...new Set(v4.map((a) => a.name))].join(", ")})`);
    return { address: "127.0.0.1", broadcast: "127.255.255.255" };
  }
  const a = pick.address.split(".").map(Number);
  const m = pick.netmask.split(".").map(Number);
  return { address: pick.address, broadcast: a.map((x, i) => (x & m[i]!) | (~m[i]! & 255)).join(".") };
}

const UNKNOWN_OBJECT: enc.PropertyResult = { error: [ErrorClass.OBJECT, ErrorCode.UNKNOWN_OBJECT] };

export class BacnetServer {
  readonly set: ObjectSet;
  readonly reader: PropertyReader;
  readonly covs: Covs;
  readonly stats: ServerStats = { received: 0, ignored: 0, rejected: 0, aborted: 0, errors: 0, crashes: 0, replies: 0 };
  readonly local: { address: string; broadcast: string; port: number; broadcastPort: number };
  private socket: Bun.udp.Socket<"buffer"> | undefined;
  private readonly log: NonNullable<BacnetServerDeps["log"]>;
  private readonly databaseRevision: number;
  get databaseRevisionValue(): number {
    return this.databaseRevision;
  }
  private systemStatusCache = { at: 0, value: DeviceStatus.OPERATIONAL as number };
  private fdTimer: ReturnType<typeof setInterval> | undefined;
  private unsubscribe: (() => void) | undefined;
  /**
   * Commandable objects a BMS command is held for (persisted priority array): once their device
   * answers after a start, it gets the commanded value again if it holds another (a controller
   * restarted on its own default while Busbar was down).
   */
  private readonly restore = new Set<ServedObject>();
  private readonly writesInFlight = new Set<string>();
  /** bacnetServer.writeClients, with the same address rules as the kiosk and gateway lists. */
  private readonly writers: AddressList;
  /** Last Register-Foreign-Device result from the BBMD (0 = successful). */
  foreignRegistration: { at: number; result: number } | undefined;

  constructor(readonly deps: BacnetServerDeps) {
    const cfg = deps.config;
    this.log = deps.log ?? (() => {});
    this.writers = new AddressList(cfg.writeClients);
    this.set = buildObjectSet(deps.site, deps.registry, cfg, deps.store);
    for (const w of this.set.warnings) this.log("warn", w);
    for (const o of this.set.objects) if (o.command && o.point.readable && commandedValue(o.command).priority !== null) this.restore.add(o);
    // Database_Revision follows what a BMS has imported: types, instances and names.
    const signature = `${cfg.instance}|${cfg.name}|` + this.set.objects.map((o) => `${o.type}:${o.instance}:${o.name}`).join(",");
    this.databaseRevision = deps.store.databaseRevision(signature);
    const iface = resolveInterface(cfg.interface);
    this.local = {
      address: iface.address,
      broadcast: cfg.broadcast ?? iface.broadcast,
      port: deps.port ?? cfg.port,
      broadcastPort: cfg.broadcastPort ?? deps.port ?? cfg.port,
    };
    this.reader = new PropertyReader(
      this.set,
      {
        instance: cfg.instance,
        name: cfg.name,
        location: cfg.location,
        description: cfg.description,
        vendorId: cfg.vendorId,
        modelName: "Busbar",
        firmware: deps.version,
        timezone: deps.site.site.timezone,
        apduTimeoutMs: cfg.apduTimeoutMs,
        apduRetries: cfg.apduRetries,
        databaseRevision: () => this.databaseRevision,
        systemStatus: () => this.systemStatus(),
        covSubscriptions: () => this.covs.activeSubscriptions(),
      },
      deps.live,
    );
    this.covs = new Covs({
      device: cfg.instance,
      max: cfg.maxSubscriptions,
      timeoutMs: cfg.apduTimeoutMs,
      retries: cfg.apduRetries,
      reader: this.reader,
      send: (p, to) => this.send(p, to),
      log: this.log,
    });
  }

  async start(): Promise<void> {
    // Bun's own UDP socket: a third less CPU per packet than node:dgram (measured here: 12.5 µs
    // against 16.5 µs per request and reply), and it refuses a port already bound (no SO_REUSEADDR:
    // a second process can never silently take the BMS's replies). All addresses: directed
    // broadcasts (198.18.77.255) reach only a socket bound to 0.0.0.0.
    const sock = await Bun.udpSocket({
      hostname: "0.0.0.0",
      port: this.local.port,
      socket: {
        data: (_s, msg, port, address) => this.onPacket(msg, { address, port }),
        // Bun reports ICMP "port unreachable" (a client gone, a notification to a closed port) here,
        // sometimes without an Error object: one line a minute, never a throw.
        error: (_s, e) => this.socketError(e),
      },
    });
    sock.setBroadcast(true);
    this.socket = sock;
    this.local.port = sock.port;
    if (!this.deps.port && !this.deps.config.broadcastPort) this.local.broadcastPort = this.local.port;
    this.unsubscribe = this.deps.live.subscribe((batch) => {
      this.covs.onChanges(batch, this.set);
      if (this.restore.size) this.restoreCommands(batch);
    });
    this.covs.start(this.set);
    const bbmd = this.deps.config.bbmd;
    if (bbmd) {
      const register = () => this.send(enc.registerForeignDevice(bbmd.ttlSeconds), { address: bbmd.host, port: bbmd.port });
      register();
      // Re-register before the BBMD's entry expires (it adds a 30 s grace period, J.5.2.3).
      this.fdTimer = setInterval(register, Math.max(10, bbmd.ttlSeconds - 10) * 1000);
    }
    // Announce ourselves, as a device does when it starts (clause 16.10.2).
    this.broadcast(enc.iAm(undefined, true, this.deps.config.instance, MAX_APDU, Segmentation.NO_SEGMENTATION, this.deps.config.vendorId));
    this.log("info", `BACnet/IP device ${this.deps.config.instance} "${this.deps.config.name}" on UDP ${this.local.port} (${this.set.objects.length} objects, database revision ${this.databaseRevision})`);
  }

  stop(): void {
    clearInterval(this.fdTimer);
    this.unsubscribe?.();
    this.covs.stop();
    try {
      this.socket?.close();
    } catch {
      // already closed
    }
    this.socket = undefined;
  }

  private socketErrors = { count: 0, loggedAt: 0 };
  private socketError(e: unknown): void {
    this.socketErrors.count++;
    const now = Date.now();
    if (now - this.socketErrors.loggedAt < 60_000) return;
    this.socketErrors.loggedAt = now;
    this.log("warn", `BACnet socket: ${(e as Error | undefined)?.message ?? "send error (a peer's port unreachable?)"} (${this.socketErrors.count} so far)`);
  }

  private send(p: Buffer, to: Endpoint): void {
    this.stats.replies++;
    try {
      this.socket?.send(p, to.port, to.address);
    } catch (e) {
      // An unroutable address (a BBMD name that does not resolve…): logged, the server goes on.
      this.log("warn", `BACnet send to ${to.address}:${to.port} failed: ${(e as Error).message}`);
    }
  }

  private broadcast(p: Buffer): void {
    const bbmd = this.deps.config.bbmd;
    if (bbmd) this.send(enc.asDistributeBroadcast(p), { address: bbmd.host, port: bbmd.port });
    else this.send(p, { address: this.local.broadcast, port: this.local.broadcastPort });
  }

  /**
   * An answer every party hears: broadcast, plus unicast to a requester our broadcast cannot reach
   * (another port on loopback, a foreign device, a routed requester).
   */
  private announce(p: Buffer, to: Endpoint, routed: boolean): void {
    this.broadcast(p);
    if (routed || to.port !== this.local.broadcastPort || this.deps.config.bbmd) this.send(Buffer.from(p).fill(BVLC.ORIGINAL_UNICAST, 1, 2), to);
  }

  /** Everything from the socket lands here; nothing escapes it. */
  onPacket(msg: Buffer, rinfo: { address: string; port: number }): void {
    this.stats.received++;
    const live = this.deps.live;
    live.requestTime = Date.now();
    try {
      this.handle(msg, rinfo);
    } catch (e) {
      // A defect, not the client's fault; logged, never a crash.
      this.stats.crashes++;
      this.log("error", `BACnet request from ${rinfo.address}:${rinfo.port} failed: ${(e as Error).stack ?? e}`);
    } finally {
      live.requestTime = 0;
    }
  }

  private handle(msg: Buffer, rinfo: { address: string; port: number }): void {
    if (rinfo.address === this.local.address && rinfo.port === this.local.port) return; // our own broadcast
    const frame = decodeFrame(msg);
    if (!frame) {
      this.stats.ignored++;
      return;
    }
    if (frame.bvlcFunction === BVLC.RESULT) {
      if (msg.length >= 6) this.foreignRegistration = { at: Date.now(), result: (msg[4]! << 8) | msg[5]! };
      return;
    }
    if (frame.network || frame.notForUs || !frame.apdu) {
      this.stats.ignored++;
      return;
    }
    const from: Endpoint = frame.forwardedFrom ?? { address: rinfo.address, port: rinfo.port };
    const a = frame.apdu;
    const dest = frame.source;
    switch (a.pdu) {
      case "unconfirmed":
        return this.unconfirmed(a.service, a.buf, a.at, from, dest);
      case "confirmed": {
        if (a.segmented) {
          this.stats.aborted++;
          return this.send(enc.abortPdu(dest, a.invokeId, AbortReason.SEGMENTATION_NOT_SUPPORTED), from);
        }
        try {
          this.confirmed(a.service, a.invokeId, a.maxApdu, a.buf, a.at, from, dest);
        } catch (e) {
          if (!(e instanceof Rejection)) throw e;
          this.stats.rejected++;
          this.send(enc.rejectPdu(dest, a.invokeId, e.reason), from);
        }
        return;
      }
      case "simple-ack":
      case "error":
      case "reject":
      case "abort":
        // Answers to our confirmed COV notifications.
        return this.covs.onReply(from, a.invokeId, a.pdu);
      default:
        this.stats.ignored++;
    }
  }

  /** The request is `buf` from `at` on (wire.ts: offsets, not views). */
  private unconfirmed(service: number, buf: Uint8Array, at: number, from: Endpoint, dest: NpduAddress | undefined): void {
    const cfg = this.deps.config;
    try {
      if (service === US.WHO_IS) {
        const r = decodeWhoIs(buf, at);
        if (r.low !== undefined && (cfg.instance < r.low || cfg.instance > r.high!)) return;
        return this.announce(enc.iAm(dest, true, cfg.instance, MAX_APDU, Segmentation.NO_SEGMENTATION, cfg.vendorId), from, dest !== undefined);
      }
      if (service === US.WHO_HAS) {
        const r = decodeWhoHas(buf, at);
        if (r.low !== undefined && (cfg.instance < r.low || cfg.instance > r.high!)) return;
        const o = r.object ? this.find(r.object.type, r.object.instance) : r.name !== undefined ? this.findByName(r.name) : undefined;
        if (!o) return;
        return this.announce(enc.iHave(dest, true, cfg.instance, o.id, o.name), from, dest !== undefined);
      }
    } catch (e) {
      if (!(e instanceof Rejection)) throw e;
    }
    // Unconfirmed requests never get a Reject: silence (clause 18.8).
    this.stats.ignored++;
  }

  /** What a request names, built once per object (a BMS names the same objects all day). */
  private readonly refs = new Map<number, { id: { type: number; instance: number }; name: string; obj: ServedObject | "device" }>();

  private find(type: number, instance: number): { id: { type: number; instance: number }; name: string; obj: ServedObject | "device" } | undefined {
    const cfg = this.deps.config;
    // 4194303 is "this device" in a Device object reference (clause 12.11.1).
    if (type === ObjectType.DEVICE && instance === 4_194_303) instance = cfg.instance;
    const key = objectKey(type, instance);
    let ref = this.refs.get(key);
    if (!ref) {
      if (type === ObjectType.DEVICE && instance === cfg.instance) ref = { id: { type, instance }, name: cfg.name, obj: "device" };
      else {
        const o = this.set.byId.get(key);
        if (!o) return undefined;
        ref = { id: { type, instance }, name: o.name, obj: o };
      }
      this.refs.set(key, ref);
    }
    return ref;
  }

  private findByName(name: string) {
    if (name === this.deps.config.name) return this.find(ObjectType.DEVICE, this.deps.config.instance);
    const o = this.set.byName.get(name);
    return o ? this.find(o.type, o.instance) : undefined;
  }

  private confirmed(service: number, invokeId: number, maxApdu: number, buf: Uint8Array, at: number, from: Endpoint, dest: NpduAddress | undefined): void {
    const error = (c: number, code: number) => {
      this.stats.errors++;
      this.send(enc.errorPdu(dest, service, invokeId, c, code), from);
    };
    const tooBig = () => {
      this.stats.aborted++;
      this.send(enc.abortPdu(dest, invokeId, AbortReason.SEGMENTATION_NOT_SUPPORTED), from);
    };
    // Never more than we accept ourselves (the requester's own limit is already in maxApdu).
    const limit = Math.min(maxApdu, MAX_APDU);
    switch (service) {
      case CS.READ_PROPERTY: {
        const r = decodeReadProperty(buf, at);
        const o = this.find(r.object.type, r.object.instance);
        if (!o) return error(ErrorClass.OBJECT, ErrorCode.UNKNOWN_OBJECT);
        const { id, index } = r.property;
        if (id === P.ALL || id === P.REQUIRED || id === P.OPTIONAL) return error(ErrorClass.SERVICES, ErrorCode.SERVICE_REQUEST_DENIED); // only ReadPropertyMultiple expands these
        if (index === undefined && o.obj !== "device") {
          const b = enc.startReadPropertyAck(dest, invokeId, o.id, id, undefined);
          if (this.reader.writeHot(b, o.obj, id)) {
            const p = enc.finishReadPropertyAck(limit);
            return p ? this.send(p, from) : tooBig();
          }
        }
        const res = this.reader.read(o.obj, id, index);
        if ("error" in res) return error(res.error[0], res.error[1]);
        const p = enc.readPropertyAck(dest, invokeId, limit, o.id, id, index, res.values);
        return p ? this.send(p, from) : tooBig();
      }
      case CS.READ_PROPERTY_MULTIPLE: {
        const specs = decodeReadPropertyMultiple(buf, at);
        // Encoded as it is read: each result goes into the reply at once.
        const b = enc.startRpmAck(dest, invokeId);
        for (const s of specs) {
          const o = this.find(s.object.type, s.object.instance);
          enc.rpmObject(b, o?.id ?? s.object);
          for (const pr of s.properties) {
            if (!o) enc.rpmResult(b, pr.id, pr.index, UNKNOWN_OBJECT);
            else if (pr.id === P.ALL || pr.id === P.REQUIRED || pr.id === P.OPTIONAL) {
              for (const id of this.reader.propertyIds(o.obj, pr.id)) enc.rpmResult(b, id, undefined, this.reader.read(o.obj, id, undefined));
            } else {
              const mark = b.offset;
              if (pr.index === undefined && o.obj !== "device") {
                enc.rpmValueStart(b, pr.id, undefined);
                if (this.reader.writeHot(b, o.obj, pr.id)) enc.rpmValueEnd(b);
                else b.offset = mark;
              }
              if (b.offset === mark) enc.rpmResult(b, pr.id, pr.index, this.reader.read(o.obj, pr.id, pr.index));
            }
            if (enc.rpmTooBig(b, limit)) return tooBig();
          }
          enc.rpmObjectEnd(b);
        }
        const p = enc.finishRpmAck(limit);
        return p ? this.send(p, from) : tooBig();
      }
      case CS.WRITE_PROPERTY: {
        const w = decodeWriteProperty(buf, at);
        if (w.priority !== undefined && (w.priority < 1 || w.priority > 16)) throw new Rejection(RejectReason.PARAMETER_OUT_OF_RANGE, "priority must be 1..16");
        // A client that times out resends the same request (same invoke id) while the device is
        // still being written: one write, one answer (clause 5.4.5.1, duplicate requests).
        const inFlight = `${from.address}:${from.port}:${invokeId}`;
        if (this.writesInFlight.has(inFlight)) return;
        this.writesInFlight.add(inFlight);
        void this.write(w, from).finally(() => this.writesInFlight.delete(inFlight)).then(
          (r) => (r ? error(r[0], r[1]) : this.send(enc.simpleAck(dest, service, invokeId), from)),
          (e) => {
            this.stats.crashes++;
            this.log("error", `BACnet write from ${from.address}:${from.port} failed: ${(e as Error).stack ?? e}`);
            error(ErrorClass.DEVICE, ErrorCode.OTHER);
          },
        );
        return;
      }
      case CS.SUBSCRIBE_COV: {
        const s = decodeSubscribeCov(buf, at);
        const o = this.find(s.object.type, s.object.instance);
        if (!o) return error(ErrorClass.OBJECT, ErrorCode.UNKNOWN_OBJECT);
        if (o.obj === "device") return error(ErrorClass.OBJECT, ErrorCode.OPTIONAL_FUNCTIONALITY_NOT_SUPPORTED);
        const r = this.covs.subscribe(from, dest, s, o.obj);
        if (r) return error(r[0], r[1]);
        this.send(enc.simpleAck(dest, service, invokeId), from);
        // "Upon acceptance … an initial COV notification shall be sent" (clause 13.14.1.1).
        if (!s.cancel) this.covs.notifyNow(from, s.processId, o.obj);
        return;
      }
      default:
        throw new Rejection(RejectReason.UNRECOGNIZED_SERVICE, `service ${service} is not served`);
    }
  }

  // ---- WriteProperty ----

  /** Applies a write; resolves with the error to answer, or undefined for Simple-ACK. */
  private async write(w: ReturnType<typeof decodeWriteProperty>, from: Endpoint): Promise<[number, number] | undefined> {
    const o = this.find(w.object.type, w.object.instance);
    if (!o) return [ErrorClass.OBJECT, ErrorCode.UNKNOWN_OBJECT];
    const obj = o.obj;
    const prop = w.property.id;
    if (obj === "device") {
      return this.reader.read("device", prop, undefined).hasOwnProperty("error") ? [ErrorClass.PROPERTY, ErrorCode.UNKNOWN_PROPERTY] : [ErrorClass.PROPERTY, ErrorCode.WRITE_ACCESS_DENIED];
    }
    if (!this.reader.knows(obj, prop)) return [ErrorClass.PROPERTY, ErrorCode.UNKNOWN_PROPERTY];
    const client = `${from.address}:${from.port}`;
    const priority = obj.commandable && prop === P.PRESENT_VALUE ? (w.priority ?? 16) : null;
    const shown = (v: AppValue | undefined) => (v === undefined ? null : v.tag === 0 ? null : typeof v.value === "number" ? v.value : String(v.value));
    const refuse = (why: string, code: number, cls = ErrorClass.PROPERTY): [number, number] => {
      this.deps.writes.record({ point: obj.point, object: obj.name, client, priority, property: propName(prop), old: null, new: shown(w.values[0]), ok: false, refused: why, relayed: false, ms: 0 });
      return [cls, code];
    };
    const writableProp = obj.writable && (prop === P.PRESENT_VALUE || (obj.commandable && prop === P.RELINQUISH_DEFAULT));
    if (!writableProp) return refuse("read-only", ErrorCode.WRITE_ACCESS_DENIED);
    if (!this.writers.has(from.address)) return refuse("client not in bacnetServer.writeClients", ErrorCode.WRITE_ACCESS_DENIED);
    if (w.property.index !== undefined) return refuse("not an array", ErrorCode.PROPERTY_IS_NOT_AN_ARRAY);
    if (priority === 6) return refuse("priority 6 is reserved for minimum on/off", ErrorCode.WRITE_ACCESS_DENIED);
    if (w.values.length !== 1) return refuse("one value expected", ErrorCode.INVALID_DATA_TYPE);
    const v = w.values[0]!;
    let raw: number | null;
    if (v.tag === 0) {
      if (!(obj.commandable && prop === P.PRESENT_VALUE)) return refuse("NULL only relinquishes a commandable Present_Value", ErrorCode.INVALID_DATA_TYPE);
      raw = null;
    } else {
      const parsed = this.parseValue(obj, v);
      if (typeof parsed === "string") return refuse(parsed, parsed.startsWith("out of range") ? ErrorCode.VALUE_OUT_OF_RANGE : ErrorCode.INVALID_DATA_TYPE);
      raw = parsed;
    }

    if (obj.momentary) {
      // A reset: ACTIVE triggers it on the device; INACTIVE is nothing to do.
      if (raw !== 1) return undefined;
      const r = await this.deps.writes.relay(obj.point, Number(Object.keys(obj.point.states ?? { 1: "" })[0] ?? 1));
      this.deps.writes.record({ point: obj.point, object: obj.name, client, priority: null, property: "Present_Value", old: null, new: "ACTIVE", ok: r.ok, error: r.error, relayed: true, ms: r.ms });
      return r.ok ? undefined : deviceError(r.error);
    }

    const c = obj.command!;
    const before = commandedValue(c);
    const next = { priorities: [...c.priorities], relinquishDefault: c.relinquishDefault };
    if (prop === P.RELINQUISH_DEFAULT) next.relinquishDefault = raw!;
    else next.priorities[priority! - 1] = raw;
    const after = commandedValue(next);
    let relayed = false;
    let result: { ok: boolean; error?: string; ms: number } = { ok: true, ms: 0 };
    if (after.value !== before.value) {
      relayed = true;
      result = await this.deps.writes.relay(obj.point, after.value);
      if (result.ok) obj.relayedAt = Date.now();
    }
    this.deps.writes.record({
      point: obj.point,
      object: obj.name,
      client,
      priority,
      property: propName(prop),
      old: before.value,
      new: raw,
      ok: result.ok,
      error: result.error,
      relayed,
      ms: result.ms,
    });
    if (!result.ok) return deviceError(result.error);
    c.priorities = next.priorities;
    c.relinquishDefault = next.relinquishDefault;
    this.deps.store.saveCommand(obj.key, c);
    this.covs.onObjectChanged(obj);
    return undefined;
  }

  /** The device value for a written application value, or why it is refused. */
  private parseValue(o: ServedObject, v: AppValue): number | string {
    if (o.type === ObjectType.ANALOG_VALUE) {
      if (v.tag !== 4) return "an analog value takes a REAL";
      const x = v.value as number;
      if (!Number.isFinite(x)) return "out of range: not a finite number";
      if ((o.min !== undefined && x < o.min) || (o.max !== undefined && x > o.max)) return `out of range: ${o.min ?? "−∞"}..${o.max ?? "+∞"}`;
      return x;
    }
    if (o.type === ObjectType.BINARY_VALUE) {
      if (v.tag !== 9) return "a binary value takes an ENUMERATED";
      if (v.value !== 0 && v.value !== 1) return "out of range: INACTIVE (0) or ACTIVE (1)";
      return o.momentary ? (v.value as number) : o.states[v.value as number]!.raw;
    }
    if (o.type === ObjectType.MULTI_STATE_VALUE) {
      if (v.tag !== 2) return "a multi-state value takes an UNSIGNED";
      const s = o.states[(v.value as number) - 1];
      if (!s) return `out of range: 1..${o.states.length}`;
      return s.raw;
    }
    return "not writable";
  }

  private restoreCommands(batch: readonly number[]): void {
    for (const i of batch) {
      for (const o of this.set.byPoint.get(i) ?? []) {
        if (!this.restore.has(o)) continue;
        const s = this.deps.live.read(i);
        if (s.quality !== Quality.GOOD) continue;
        const held = s.value; // the sample object is reused by the next read
        this.restore.delete(o);
        const c = commandedValue(o.command!);
        if (Math.abs(held - c.value) <= 1e-6 * Math.max(1, Math.abs(c.value))) continue;
        void this.deps.writes.relay(o.point, c.value).then((r) => {
          if (r.ok) o.relayedAt = Date.now();
          this.deps.writes.record({ point: o.point, object: o.name, client: "restore", priority: c.priority, property: "Present_Value", old: held, new: c.value, ok: r.ok, error: r.error, relayed: true, ms: r.ms });
          this.log(r.ok ? "info" : "warn", `${o.name}: the BMS's command ${c.value} (priority ${c.priority}) ${r.ok ? "written again" : `not written again: ${r.error}`} (the device held ${held})`);
        });
      }
    }
  }

  /** Bus health for System_Status: a bus none of whose points is answering makes Busbar NON_OPERATIONAL. */
  private systemStatus(): number {
    const now = Date.now();
    if (now - this.systemStatusCache.at < 1000) return this.systemStatusCache.value;
    const alive = new Map<string, boolean>();
    for (const p of this.deps.registry.points) {
      if (!p.readable || p.owner.driver === "computed") continue; // a computed point is no bus
      const q = this.deps.live.read(p.index).quality;
      const answering = q !== Quality.COMM_FAIL && q !== Quality.STALE && q !== Quality.INIT;
      const bus = p.owner.bus ?? p.owner.driver;
      alive.set(bus, (alive.get(bus) ?? false) || answering);
    }
    const value = [...alive.values()].every(Boolean) ? DeviceStatus.OPERATIONAL : DeviceStatus.NON_OPERATIONAL;
    this.systemStatusCache = { at: now, value };
    return value;
  }

  /** For the objects page. */
  subscriptions(): (CovSubscription & { objectName: string })[] {
    return this.covs.list().map((s) => ({ ...s, objectName: s.object.name }));
  }
}

function deviceError(error: string | undefined): [number, number] {
  // The device's own refusal vs. no answer from it.
  return /time|answer|respond|restart|connect|comm/i.test(error ?? "") ? [ErrorClass.COMMUNICATION, ErrorCode.TIMEOUT] : [ErrorClass.DEVICE, ErrorCode.OPERATIONAL_PROBLEM];
}

const PROP_NAMES: Record<number, string> = { [P.PRESENT_VALUE]: "Present_Value", [P.RELINQUISH_DEFAULT]: "Relinquish_Default" };
function propName(p: number): string {
  return PROP_NAMES[p] ?? `property ${p}`;
}

