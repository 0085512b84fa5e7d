import { BACnetClient } from "../../protocols/bacnet/client.ts";
import { BacnetTransport, RequestTimeouts } from "../../protocols/bacnet/transport.ts";
import { Quality } from "../../points/quality.ts";
import type { PointTable } from "../../points/table.ts";
import { decodePoint, deviceFactorOf, encodeWriteValue, type AppValue } from "../../protocols/bacnet/decode.ts";
import { classifyFailure, objectRef, OBJECT_TYPES, PROP, segmentsReplies, type RequestFailure } from "../../protocols/bacnet/objects.ts";
import { chunk, RpmSizer } from "../../protocols/bacnet/rpm-size.ts";
import type { DeviceStats, DeviceStatus } from "../protocol.ts";
import type { BacnetDeviceInfo, BacnetPortConfig, BacnetStats, BacnetWorkerDevice, ForeignRegistration, FromBacnetWorker, IAmInfo } from "./messages.ts";

/**
 * One BACnet/IP port: discovery (Who-Is/I-Am, re-binding), per-device polling with sized
 * ReadPropertyMultiple (ReadProperty fallback), COV subscriptions with renewal and fallback to
 * polling, and WriteProperty with priority. Runs inside the port's worker (src/workers/bacnet-port.ts); every value
 * goes into the shared point table, nothing else leaves but statuses and events.
 */

/** ConfirmedServiceChoice numbers the driver answers or names. */
const SERVICE = { CONFIRMED_COV_NOTIFICATION: 1, READ_PROPERTY_MULTIPLE: 14 } as const;
/** Application tag NULL: relinquishes a commanded priority. */
const NULL_VALUE = { type: 0, value: null };
/** ErrorCode 45 optional-functionality-not-supported, 29 service-request-denied; class services = 5. */
const SERVICE_REFUSED = new Set([29, 45]);
/** BACNET_ARRAY_ALL: the whole property, not one array element. */
const ARRAY_ALL = 0xffffffff;
const COV_RETRY_AFTER_MS = 10 * 60_000;
const STATS_EVERY_MS = 1000;
const RECV_BUFFER_BYTES = 4 << 20;

interface Read {
  objectType: number;
  instance: number;
  property: number;
  /** Table entries fed by this property (a bit-string feeds one per bit). */
  points: BacnetWorkerDevice["points"];
  /** This property as an RPM request item, built once rather than on every poll. */
  spec: { objectId: { type: number; instance: number }; properties: { id: number; index: number }[] };
}

interface DeviceRun {
  cfg: BacnetWorkerDevice;
  reads: Read[];
  readByKey: Map<string, Read>;
  address: string | null;
  boundAt: number | null;
  iam: IAmInfo | null;
  sizer: RpmSizer | null;
  factor: number | undefined;
  status: DeviceStatus;
  lastError: string | null;
  lastErrorAt: number | null;
  requests: number;
  errors: number;
  timeouts: number;
  cycleMs: number | null;
  lastGoodAt: number | null;
  missing: { object: string; error: string }[];
  commissioned: boolean;
  cov: "off" | "active" | "polling";
  covReason: string | null;
  /** Objects (key) under an accepted subscription → time of their last notification or renewal. */
  covered: Map<string, number>;
  /** Objects that refused a first subscription: polled, not asked again until the device re-binds. */
  covRefused: Set<string>;
  covRenewAt: number;
  covRetryAt: number;
  notifications: number;
  wake: (() => void) | null;
  writes: { id: number; point: number; value: number | null; priority?: number; result: "write-result" | "bacnet-write-result" }[];
  nextWhoIsAt: number;
  /** Its address answered I-Am with another instance: not polled until the right device answers. */
  conflict: string | null;
}

const keyOf = (type: number, instance: number, property: number) => `${type}:${instance}:${property}`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface DriverOptions {
  /** For tests: an already-made client (e.g. bound to a namespace address). */
  client?: BACnetClient;
  /** For the bench: every answered request's duration (ms). */
  onResponse?: (ms: number) => void;
  /** RPM sizes learned by an earlier worker (a device that refused bigger requests still does). */
  learned?: Record<string, { size: number; reason: string | null }>;
}

export class BacnetDriver {
  readonly client: BACnetClient;
  private readonly devices: DeviceRun[];
  private readonly byInstance = new Map<number, DeviceRun>();
  private readonly pointOwner = new Map<number, DeviceRun>();
  private readonly heard = new Map<number, IAmInfo>();
  private stopped = false;
  private listening = false;
  private totals = { requests: 0, errors: 0, timeouts: 0, exceptions: 0, badReplies: 0, notifications: 0 };
  private window = { requests: 0, responseMs: 0, maxMs: 0, busyMs: 0, notifications: 0, at: Date.now() };
  private readonly processId: number;
  private statsTimer: ReturnType<typeof setTimeout> | undefined;
  private scans: { id: number; low?: number; high?: number; found: IAmInfo[] }[] = [];

  constructor(
    private readonly bus: BacnetPortConfig,
    devices: BacnetWorkerDevice[],
    private readonly table: PointTable,
    private readonly ring: number,
    private readonly post: (m: FromBacnetWorker) => void,
    private readonly opts: DriverOptions = {},
  ) {
    // One subscriber process id per worker start: notifications for an older incarnation's
    // subscriptions are recognised as stale (and left to expire) instead of being taken as fresh.
    this.processId = 1 + Math.floor(Math.random() * 0x3fffff);
    const fd = bus.bbmd;
    this.bbmd = fd && { ttlS: fd.ttlS, address: fd.address.includes(":") ? fd.address : `${fd.address}:47808` };
    this.client =
      opts.client ??
      new BACnetClient({
        apduTimeout: bus.timeoutMs,
        // Another process on our port would silently take our unicast replies (peers/README.md).
        transport: new BacnetTransport({ port: bus.port, interface: bus.interface, broadcastAddress: bus.broadcast, reuseAddr: false }) as any,
      });
    this.devices = devices.map((cfg) => {
      const reads: Read[] = [];
      const readByKey = new Map<string, Read>();
      for (const p of cfg.points) {
        const k = keyOf(p.point.objectType, p.point.instance, p.point.property);
        let r = readByKey.get(k);
        if (!r) {
          const { objectType, instance, property } = p.point;
          r = { objectType, instance, property, points: [], spec: { objectId: { type: objectType, instance }, properties: [{ id: property, index: ARRAY_ALL }] } };
          readByKey.set(k, r);
          reads.push(r);
        }
        r.points.push(p);
      }
      const run: DeviceRun = {
        cfg,
        reads,
        readByKey,
        address: cfg.address ?? null,
        boundAt: null,
        iam: null,
        sizer: null,
        factor: undefined,
        status: "unknown",
        lastError: null,
        lastErrorAt: null,
        requests: 0,
        errors: 0,
        timeouts: 0,
        cycleMs: null,
        lastGoodAt: null,
        missing: [],
        commissioned: false,
        cov: cfg.cov === "off" ? "off" : "polling",
        covReason: null,
        covered: new Map(),
        covRefused: new Set(),
        covRenewAt: 0,
        covRetryAt: 0,
        notifications: 0,
        wake: null,
        writes: [],
        nextWhoIsAt: 0,
        conflict: null,
      };
      this.byInstance.set(cfg.instance, run);
      for (const p of cfg.points) this.pointOwner.set(p.index, run);
      return run;
    });
    if (!opts.client) (this.client as any)._requestManager = new RequestTimeouts(bus.timeoutMs);
    this.guardReceive();
    this.client.on("iAm", (m: any) => this.onIAm(m));
    this.client.on("covNotify", (m: any) => this.onCov(m, true));
    this.client.on("covNotifyUnconfirmed", (m: any) => this.onCov(m, false));
    this.client.on("listening", () => {
      this.listening = true;
      // A power event makes every device notify at once: room for a burst of COV notifications
      // (the kernel caps it at net.core.rmem_max).
      try {
        (this.client as any)._transport?._server?.setRecvBufferSize?.(RECV_BUFFER_BYTES);
      } catch {
        /* not supported here: the default buffer */
      }
    });
    this.client.on("error", (e: Error) => {
      this.post({ type: "log", level: "error", msg: `bacnet ${bus.id}: socket error: ${e.message}` });
      // The port could not be bound (another program holds it): nothing will be heard; say why on every device.
      if (!this.listening) {
        this.bindError = `UDP port ${bus.port} not available: ${e.message}`;
        for (const d of this.devices) this.failDevice(d, this.bindError, "comm-fail");
      }
    });
  }

  /**
   * The library decodes datagrams inside the socket's event handler: a frame it chokes on (cut
   * short, a wrong tag) would throw there, uncaught, and take the worker down. Count it instead.
   */
  private guardReceive(): void {
    const transport = (this.client as any)._transport;
    const receive = (this.client as any)._receiveData;
    if (!transport?.removeAllListeners || typeof receive !== "function") return;
    transport.removeAllListeners("message");
    transport.on("message", (msg: Buffer, from: string) => {
      try {
        receive.call(this.client, msg, from);
      } catch (e) {
        this.totals.badReplies++;
        this.badFrames++;
        const d = this.devices.find((x) => x.address === from);
        if (d) this.setStatus(d, "bad-reply", `undecodable frame from ${from} (${(e as Error).message})`);
      }
    });
  }

  private readonly texts = new Map<number, string>();
  /** A device not heard within its timeouts after start is comm-fail ("no I-Am"). */
  private readonly startedAt = Date.now();

  /** Why the port could not be opened, if it could not. */
  private bindError: string | null = null;

  /** Frames the library could not decode (cut short, wrong tags): never fatal, counted here. */
  badFrames = 0;

  /** Registration with the BBMD, when the port is a foreign device. */
  private foreign: ForeignRegistration | undefined;
  /**
   * The BBMD as `ip:port`: the site file may leave out the standard port, the library's
   * registration accepts only the full form (and failed on every attempt without it).
   */
  private readonly bbmd: { address: string; ttlS: number } | undefined;

  async run(): Promise<void> {
    if (this.bbmd) {
      // Register before the first Who-Is: a BBMD may refuse to distribute for a stranger.
      let first!: () => void;
      const registered = new Promise<void>((r) => (first = r));
      void this.foreignDeviceLoop(first);
      await registered;
    }
    this.scheduleStats();
    this.whoIs();
    await Promise.all(this.devices.map((d) => this.deviceLoop(d)));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.statsTimer);
    for (const d of this.devices) d.wake?.();
    // Free the devices' subscription slots now rather than at the end of their lifetime (not awaited:
    // a stopping worker has a few tens of milliseconds).
    if (this.listening)
      for (const d of this.devices)
        for (const k of d.covered.keys()) {
          const [type, instance] = k.split(":").map(Number) as [number, number];
          if (d.address) this.client.subscribeCov({ address: d.address }, { type, instance }, this.processId, true, false, 0).catch(() => {});
        }
    const close = () => {
      try {
        this.client.close();
      } catch {
        /* already closed */
      }
    };
    // Closing a socket still binding throws later (the bind callback's setBroadcast), outside any
    // handler: wait until it is bound and that callback has run.
    if (this.listening) setTimeout(close, 20);
    else this.client.once("listening", () => setTimeout(close, 0));
  }

  // ---- discovery ----------------------------------------------------------------------------

  private whoIs(low?: number, high?: number, to?: string): void {
    const opts = low !== undefined ? { lowLimit: low, highLimit: high ?? low } : undefined;
    try {
      if (to) this.client.whoIs({ address: to }, opts ?? {});
      else if (this.bbmd) this.client.whoIsThroughBBMD({ address: this.bbmd.address }, opts);
      else this.client.whoIs(opts as any);
      this.window.requests++;
    } catch (e) {
      this.post({ type: "log", level: "warn", msg: `bacnet ${this.bus.id}: Who-Is failed: ${(e as Error).message}` });
    }
  }

  private async foreignDeviceLoop(firstDone: () => void): Promise<void> {
    const { address, ttlS } = this.bbmd!;
    const fd: ForeignRegistration = (this.foreign = { bbmd: address, ttlS, registeredAt: null, error: null });
    while (!this.stopped) {
      let ok = false;
      try {
        await this.client.registerForeignDevice({ address }, ttlS);
        ok = true;
        if (fd.error) this.post({ type: "log", level: "info", msg: `bacnet ${this.bus.id}: registered as a foreign device with ${address} again` });
        fd.registeredAt = Date.now();
        fd.error = null;
      } catch (e) {
        const msg = (e as Error).message;
        // The library says "Result:48" for a BVLC-Result NAK (X'0030'), ERR_TIMEOUT for no answer.
        const nak = /Result:(\d+)/.exec(msg);
        const why = nak ? `BBMD refused (BVLC-Result 0x${Number(nak[1]).toString(16).padStart(4, "0")})` : msg.includes("ERR_TIMEOUT") ? "no answer from the BBMD" : msg;
        if (fd.error !== why) this.post({ type: "log", level: "warn", msg: `bacnet ${this.bus.id}: foreign-device registration with ${address} failed: ${why}` });
        fd.error = why;
      }
      firstDone();
      // Re-register at half the TTL, well before the BBMD's entry (TTL + 30 s grace) runs out; after
      // a failure, retry sooner (still not hammering the BBMD).
      await sleep((ok ? Math.max(5, ttlS / 2) : Math.min(Math.max(5, ttlS / 2), 10)) * 1000);
    }
  }

  private onIAm(m: any): void {
    const p = m?.payload;
    const address: string | undefined = m?.header?.sender?.forwardedFrom ?? m?.header?.sender?.address;
    if (!p || typeof p.deviceId !== "number" || !address) return;
    const info: IAmInfo = { instance: p.deviceId, address, vendorId: p.vendorId, maxApdu: p.maxApdu, segmentation: p.segmentation, lastSeen: Date.now() };
    const d = this.byInstance.get(p.deviceId);
    if (d) info.device = d.cfg.id;
    this.heard.set(p.deviceId, info);
    for (const s of this.scans) if ((s.low === undefined || (p.deviceId >= s.low && p.deviceId <= (s.high ?? s.low))) && !s.found.some((f) => f.instance === p.deviceId)) s.found.push(info);
    if (!d) {
      // Someone at a site device's configured address answers as another instance: say so there.
      // Stop talking to it: what it answers is another device's data.
      for (const other of this.devices)
        if (other.address === address && other.cfg.instance !== p.deviceId) {
          other.conflict = `${address} answers as device ${p.deviceId}, not ${other.cfg.instance}`;
          other.address = null;
          other.boundAt = null;
          this.failDevice(other, other.conflict, "bad-reply");
        }
      return;
    }
    d.conflict = null;
    const rebound = d.address !== null && d.address !== address && d.boundAt !== null;
    if (rebound) {
      this.post({ type: "event", event: { kind: "device.rebound", source: d.cfg.id, message: `${d.cfg.id}: device ${p.deviceId} moved from ${d.address} to ${address}`, data: { from: d.address, to: address } } });
      // Subscriptions were made to the old address: renew them at the new one now.
      d.covered.clear();
      d.covRenewAt = 0;
    }
    const apduChanged = !d.iam || d.iam.maxApdu !== info.maxApdu || d.iam.segmentation !== info.segmentation;
    d.address = address;
    d.iam = info;
    if (!d.sizer || apduChanged) {
      d.sizer = new RpmSizer(info.maxApdu, segmentsReplies(info.segmentation));
      const known = this.opts.learned?.[d.cfg.id];
      if (known && known.size < d.sizer.size) {
        d.sizer.size = known.size;
        d.sizer.reason = known.reason;
      }
    }
    if (d.boundAt === null || rebound) {
      d.boundAt = Date.now();
      d.commissioned = false;
      d.covRefused.clear();
    }
    d.wake?.();
  }

  /** Admin's Who-Is scan: every I-Am heard within `waitMs`. */
  async scan(id: number, low: number | undefined, high: number | undefined, waitMs: number): Promise<void> {
    const s = { id, low, high, found: [] as IAmInfo[] };
    this.scans.push(s);
    this.whoIs(low, high);
    await sleep(waitMs);
    this.scans = this.scans.filter((x) => x !== s);
    this.post({ type: "whois-done", id, heard: s.found.sort((a, b) => a.instance - b.instance) });
  }

  // ---- per-device loop ----------------------------------------------------------------------

  private async deviceLoop(d: DeviceRun): Promise<void> {
    while (!this.stopped) {
      if (this.bindError) {
        await this.idle(d, this.bus.backoffMs);
        continue;
      }
      const now = Date.now();
      if (!d.address) {
        if (now >= d.nextWhoIsAt) {
          // Unbound: ask for this instance (unicast to a known address too, for routers that drop broadcasts).
          this.whoIs(d.cfg.instance);
          if (d.cfg.address) this.whoIs(d.cfg.instance, d.cfg.instance, d.cfg.address);
          d.nextWhoIsAt = now + (d.status === "unknown" ? 1000 : this.bus.backoffMs);
        }
        await this.idle(d, 250);
        if (!d.address && d.status !== "comm-fail" && d.status !== "bad-reply" && Date.now() - this.startedAt > this.bus.timeoutMs * (this.bus.retries + 1) + 1000) {
          this.failDevice(d, d.conflict ?? `no I-Am from device ${d.cfg.instance}`, d.conflict ? "bad-reply" : "comm-fail");
        }
        continue;
      }
      const started = Date.now();
      try {
        await this.runWrites(d);
        if (!d.commissioned) await this.commission(d);
        if (d.cfg.cov !== "off") await this.maintainCov(d);
        await this.pollOnce(d, false);
        d.cycleMs = Date.now() - started;
        d.lastGoodAt = Date.now();
        this.maybeStats();
      } catch (e) {
        const f = e instanceof DeviceFailure ? e.failure : classifyFailure(e);
        this.failDevice(d, f.text, f.kind === "timeout" ? "comm-fail" : "bad-reply");
        // A device that stopped answering is asked again only once per backoff period; it may come back elsewhere.
        await this.idle(d, this.bus.backoffMs);
        if (f.kind === "timeout") {
          this.whoIs(d.cfg.instance);
          d.nextWhoIsAt = Date.now() + this.bus.backoffMs;
        }
        continue;
      }
      const wait = d.cfg.pollMs - (Date.now() - started);
      await this.idle(d, Math.max(0, wait));
    }
  }

  private idle(d: DeviceRun, ms: number): Promise<void> {
    if (ms <= 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        d.wake = null;
        resolve();
      }
      d.wake = done;
    });
  }

  /**
   * The library reassembles incoming segmented answers in one store per client: devices that may
   * answer in segments are asked one at a time across the port (the others in parallel).
   */
  private segmentedTail: Promise<void> = Promise.resolve();

  private async request<T>(d: DeviceRun, fn: (addr: { address: string }) => Promise<T>): Promise<T> {
    // Before its I-Am a device may segment too (we always say we accept segments): serialised as well.
    if (d.iam && !segmentsReplies(d.iam.segmentation)) return this.requestNow(d, fn);
    const before = this.segmentedTail;
    let release!: () => void;
    this.segmentedTail = new Promise<void>((r) => (release = r));
    await before;
    try {
      return await this.requestNow(d, fn);
    } finally {
      release();
    }
  }

  /** One confirmed request with retries; failures of the device (not of one property) throw. */
  private async requestNow<T>(d: DeviceRun, fn: (addr: { address: string }) => Promise<T>): Promise<T> {
    let last: RequestFailure | undefined;
    for (let attempt = 0; attempt <= this.bus.retries; attempt++) {
      const t0 = performance.now();
      d.requests++;
      this.totals.requests++;
      this.window.requests++;
      try {
        const r = await fn({ address: d.address! });
        const ms = performance.now() - t0;
        this.opts.onResponse?.(ms);
        this.window.responseMs += ms;
        this.window.busyMs += ms;
        if (ms > this.window.maxMs) this.window.maxMs = ms;
        return r;
      } catch (e) {
        this.window.busyMs += performance.now() - t0;
        last = classifyFailure(e);
        d.errors++;
        this.totals.errors++;
        if (last.kind === "timeout") {
          d.timeouts++;
          this.totals.timeouts++;
          continue;
        }
        if (last.kind === "error" || last.kind === "abort-or-reject") this.totals.exceptions++;
        else this.totals.badReplies++;
        throw new DeviceFailure(last);
      }
    }
    throw new DeviceFailure(last!);
  }

  /** Reads the Device object's facts and checks every profile object exists (commissioning). */
  private async commission(d: DeviceRun): Promise<void> {
    const dev = { type: OBJECT_TYPES.DEV, instance: d.cfg.instance };
    if (d.cfg.deviceFactor) {
      const r = await this.readOne(d, dev, d.cfg.deviceFactor.property);
      const text = r.ok ? r.values[0]?.value : undefined;
      d.factor = deviceFactorOf(d.cfg.deviceFactor, text);
      if (!r.ok || typeof text !== "string" || !(text.trim() in d.cfg.deviceFactor.values))
        this.post({ type: "event", event: { kind: "device.config", source: d.cfg.id, message: `${d.cfg.id}: device factor ${r.ok ? JSON.stringify(text) : r.error} is not one of ${Object.keys(d.cfg.deviceFactor.values).join(", ")}: ${d.factor === undefined ? "scaled points are bad-data" : `factor ${d.factor} used`}` } });
    }
    if (d.cfg.vendorId !== undefined && d.iam && d.iam.vendorId !== d.cfg.vendorId)
      this.post({ type: "event", event: { kind: "device.config", source: d.cfg.id, message: `${d.cfg.id}: vendor ${d.iam.vendorId}, the profile expects ${d.cfg.vendorId}` } });
    d.missing = [];
    const list = await this.readObjectList(d);
    if (list) {
      const have = new Set(list.map((o) => `${o.type}:${o.instance}`));
      const absent = new Map<string, Read>();
      for (const r of d.reads) if (!have.has(`${r.objectType}:${r.instance}`)) absent.set(`${r.objectType}:${r.instance}`, r);
      for (const r of absent.values()) {
        // The device's own words for the missing object, not ours.
        const res = await this.readOne(d, { type: r.objectType, instance: r.instance }, r.property);
        const error = res.ok ? "not in Object_List" : res.error;
        d.missing.push({ object: objectRef({ type: r.objectType, instance: r.instance }), error });
      }
      if (d.missing.length)
        this.post({ type: "event", event: { kind: "device.commissioning", source: d.cfg.id, message: `${d.cfg.id}: ${d.missing.length} profile object(s) missing: ${d.missing.map((m) => `${m.object} (${m.error})`).join(", ")}`, data: { missing: d.missing } } });
    }
    d.commissioned = true;
  }

  private async readOne(d: DeviceRun, obj: { type: number; instance: number }, prop: number, arrayIndex?: number): Promise<{ ok: true; values: AppValue[] } | { ok: false; error: string }> {
    try {
      const r = await this.request(d, (a) => this.client.readProperty(a, obj, prop, arrayIndex !== undefined ? { arrayIndex } : {}));
      return { ok: true, values: r.values as AppValue[] };
    } catch (e) {
      // The device's Error, Abort or Reject is about this property; an answer that cannot be decoded is about the device.
      if (e instanceof DeviceFailure && (e.failure.kind === "error" || e.failure.kind === "abort-or-reject")) return { ok: false, error: e.failure.text };
      throw e;
    }
  }

  /** Object_List whole, else by index (a list too long for one unsegmented answer). */
  private async readObjectList(d: DeviceRun): Promise<{ type: number; instance: number }[] | null> {
    const dev = { type: OBJECT_TYPES.DEV, instance: d.cfg.instance };
    const whole = await this.readOne(d, dev, PROP.OBJECT_LIST);
    if (whole.ok) return whole.values.map((v) => v.value as { type: number; instance: number });
    const count = await this.readOne(d, dev, PROP.OBJECT_LIST, 0);
    if (!count.ok) return null;
    const n = Number(count.values[0]?.value);
    const out: { type: number; instance: number }[] = [];
    for (let i = 1; i <= n && !this.stopped; i++) {
      const item = await this.readOne(d, dev, PROP.OBJECT_LIST, i);
      if (item.ok && item.values[0]) out.push(item.values[0].value as { type: number; instance: number });
    }
    return out;
  }

  /** Reads every property not kept fresh by COV (or all of `only`). */
  private async pollOnce(d: DeviceRun, covOnly: boolean, only?: Read[]): Promise<void> {
    const due = only ?? (covOnly || d.covered.size === 0 ? d.reads : d.reads.filter((r) => !d.covered.has(keyOf(r.objectType, r.instance, r.property))));
    if (!due.length) {
      // Everything comes by COV: still ask one cheap question per poll period, so a device that
      // stops answering is comm-fail within a poll period plus its timeouts, not after the COV silence limit.
      await this.request(d, (a) => this.client.readProperty(a, { type: OBJECT_TYPES.DEV, instance: d.cfg.instance }, PROP.SYSTEM_STATUS));
      if (d.status !== "ok") this.setStatus(d, "ok", null);
      return;
    }
    if (!d.sizer) {
      // Polled before any I-Am (a known address): a conservative start, unless an earlier worker learned better.
      d.sizer = new RpmSizer(480, false);
      const known = this.opts.learned?.[d.cfg.id];
      if (known) {
        d.sizer.size = known.size;
        d.sizer.reason = known.reason;
      }
    }
    const sizer = d.sizer;
    let i = 0;
    while (i < due.length && !this.stopped) {
      if (!sizer.useRpm) {
        const r = due[i]!;
        const res = await this.readOne(d, { type: r.objectType, instance: r.instance }, r.property);
        this.apply(d, r, res.ok ? res.values : [{ type: 105, value: null }], res.ok ? undefined : res.error);
        i++;
        continue;
      }
      const part = due.slice(i, i + sizer.size);
      try {
        const ack = await this.request(d, (a) =>
          this.client.readPropertyMultiple(
            a,
            part.map((r) => r.spec),
            // The library always says "segmented answers accepted" (it turns 0 segments into 65).
            {},
          ),
        );
        this.applyRpm(d, part, ack.values as any[]);
        i += part.length;
      } catch (e) {
        const f = e instanceof DeviceFailure ? e.failure : classifyFailure(e);
        if (f.kind === "abort-or-reject") {
          // Too big, or RPM unknown: halve (remembered for the next cycles); at 1, ReadProperty.
          sizer.shrink(part.length, f.text);
          this.post({ type: "rpm-learned", device: d.cfg.id, size: sizer.size, reason: sizer.reason });
          this.post({ type: "log", level: "info", msg: `bacnet ${d.cfg.id}: RPM of ${part.length} refused (${f.text}); now ${sizer.size || "ReadProperty"}` });
          continue;
        }
        if (f.kind === "error" && f.cls === 5 && SERVICE_REFUSED.has(f.code)) {
          sizer.giveUp(f.text);
          this.post({ type: "rpm-learned", device: d.cfg.id, size: 0, reason: sizer.reason });
          continue;
        }
        throw e;
      }
    }
    this.table.signal();
    if (d.status !== "ok") this.setStatus(d, "ok", null);
  }

  private applyRpm(d: DeviceRun, part: Read[], values: any[]): void {
    const ts = Date.now();
    // Devices answer in the order asked: the i-th result is the i-th item (checked, not assumed);
    // any other order falls back to a lookup.
    let seen: Set<Read> | undefined;
    let inOrder = 0;
    const answer = Array.isArray(values) ? values : [];
    for (let i = 0; i < answer.length; i++) {
      const obj = answer[i];
      const props = obj?.values;
      if (!Array.isArray(props)) continue;
      for (const pv of props) {
        // RPM answers carry the property id as `id` (COV notifications as `property.id`).
        const type = obj.objectId?.type;
        const instance = obj.objectId?.instance;
        const prop = pv?.id ?? pv?.property?.id;
        const expected = part[inOrder];
        let r: Read | undefined;
        if (!seen && expected && expected.objectType === type && expected.instance === instance && expected.property === prop) {
          r = expected;
          inOrder++;
        } else {
          seen ??= new Set(part.slice(0, inOrder));
          r = d.readByKey.get(keyOf(type, instance, prop));
          if (!r || seen.has(r) || !part.includes(r)) continue;
          seen.add(r);
        }
        this.apply(d, r, pv.value, undefined, ts);
      }
    }
    // A property the answer left out is not "unchanged": it is a bad answer for that point.
    for (let i = 0; i < part.length; i++) {
      const r = part[i]!;
      if (seen ? !seen.has(r) : i >= inOrder) this.apply(d, r, [], "missing from the RPM answer", ts);
    }
  }

  private apply(d: DeviceRun, r: Read, values: AppValue[] | undefined, error?: string, ts = Date.now()): void {
    // An answer still in flight when its address turned out to be another device's is not this device's value.
    if (d.conflict) return;
    for (const { index, point } of r.points) {
      const dec = error && (!values || values.length === 0 || values[0]?.type === 105) ? { value: NaN, quality: error.startsWith("missing") ? Quality.BAD_DATA : Quality.DEVICE_EXCEPTION, text: error } : decodePoint(point, values, d.factor);
      this.table.write(index, dec.value, ts, dec.quality, this.ring);
      // Texts travel beside the table, and only when they change.
      if (point.kind === "text" && dec.text !== undefined && dec.quality === Quality.GOOD && this.texts.get(index) !== dec.text) {
        this.texts.set(index, dec.text);
        this.post({ type: "text", point: index, value: dec.text });
      }
    }
  }

  // ---- COV ------------------------------------------------------------------------------------

  private silenceLimitMs(d: DeviceRun): number {
    // Every subscription (and renewal) makes the device send the current value: more than half a
    // lifetime without one means the subscription is gone.
    return (d.cfg.covLifetimeS * 1000) / 2 + this.bus.timeoutMs * (this.bus.retries + 1) + 1000;
  }

  private async maintainCov(d: DeviceRun): Promise<void> {
    const now = Date.now();
    if (d.cov === "active") {
      const limit = this.silenceLimitMs(d);
      for (const [k, at] of d.covered)
        if (now - at > limit) {
          this.covFallback(d, `no notification for ${k} in ${Math.round(limit / 1000)} s`);
          break;
        }
    }
    if (d.cov === "polling" && d.covRetryAt > now) return;
    if (d.cov === "active" && now < d.covRenewAt) return;
    const absent = new Set(d.missing.map((m) => m.object));
    const targets = d.reads.filter((r) => r.points.some((p) => p.point.cov) && !absent.has(objectRef({ type: r.objectType, instance: r.instance })) && !d.covRefused.has(keyOf(r.objectType, r.instance, r.property)));
    if (!targets.length) return;
    const confirmed = d.cfg.cov === "confirmed";
    const accepted: Read[] = [];
    for (const r of targets) {
      try {
        await this.request(d, (a) => this.client.subscribeCov(a, { type: r.objectType, instance: r.instance }, this.processId, false, confirmed, d.cfg.covLifetimeS));
        accepted.push(r);
      } catch (e) {
        const f = e instanceof DeviceFailure ? e.failure : classifyFailure(e);
        if (f.kind === "timeout") throw e;
        if (d.cov === "active") {
          // A renewal refused: the device may have dropped everything; poll until the retry.
          this.covFallback(d, `renewal of ${objectRef({ type: r.objectType, instance: r.instance })} refused: ${f.text}`);
          return;
        }
        // This object has no COV (e.g. not-cov-property): it stays polled, the others are subscribed.
        d.covRefused.add(keyOf(r.objectType, r.instance, r.property));
        d.covReason = `${objectRef({ type: r.objectType, instance: r.instance })}: ${f.text}`;
      }
    }
    if (!accepted.length) {
      this.covFallback(d, d.covReason ?? "no object accepted COV");
      return;
    }
    const fresh = d.cov !== "active";
    const at = Date.now();
    for (const r of accepted) {
      const k = keyOf(r.objectType, r.instance, r.property);
      if (!d.covered.has(k) || fresh) d.covered.set(k, at);
    }
    d.cov = "active";
    d.covRenewAt = at + (d.cfg.covLifetimeS * 1000) / 2;
    // Read right after subscribing: the notification may be lost, the value must not wait for it.
    if (fresh) await this.pollOnce(d, true, accepted);
  }

  private covFallback(d: DeviceRun, why: string): void {
    d.cov = "polling";
    d.covReason = why;
    d.covered.clear();
    d.covRetryAt = Date.now() + Math.max(COV_RETRY_AFTER_MS, d.cfg.covLifetimeS * 1000);
    this.post({ type: "event", event: { kind: "device.cov", source: d.cfg.id, message: `${d.cfg.id}: COV off, polling every ${d.cfg.pollMs} ms (${why})` } });
  }

  private onCov(m: any, confirmed: boolean): void {
    const p = m?.payload;
    const sender = m?.header?.sender;
    if (confirmed && sender && typeof m?.invokeId === "number") {
      // The library does not acknowledge for us: without the ack the device retries and may cancel.
      try {
        this.client.simpleAckResponse(sender, SERVICE.CONFIRMED_COV_NOTIFICATION, m.invokeId);
      } catch {
        /* socket closed */
      }
    }
    const initiator = typeof p?.initiatingDeviceId === "number" ? p.initiatingDeviceId : p?.initiatingDeviceId?.instance;
    if (typeof initiator !== "number") return;
    const d = this.byInstance.get(initiator);
    if (!d || p.subscriberProcessId !== this.processId) return;
    this.totals.notifications++;
    this.window.notifications++;
    d.notifications++;
    const obj = p.monitoredObjectId;
    const now = Date.now();
    for (const v of p.values ?? []) {
      const r = d.readByKey.get(keyOf(obj?.type, obj?.instance, v?.property?.id));
      if (!r) continue;
      const k = keyOf(r.objectType, r.instance, r.property);
      if (d.covered.has(k)) d.covered.set(k, now);
      this.apply(d, r, v.value);
    }
    this.table.signal();
  }

  // ---- writes ---------------------------------------------------------------------------------

  /** `own`: a BACnet write (priority, relinquish) answered with its own result message. */
  enqueueWrite(w: { id: number; point: number; value: number | null; priority?: number }, own = false): void {
    const d = this.pointOwner.get(w.point);
    const result = own ? "bacnet-write-result" : "write-result";
    if (!d) return this.post({ type: result, id: w.id, ok: false, error: "not a point of this port", ms: 0 });
    d.writes.push({ ...w, result });
    d.wake?.();
  }

  private async runWrites(d: DeviceRun): Promise<void> {
    while (d.writes.length) {
      const w = d.writes.shift()!;
      const entry = d.cfg.points.find((p) => p.index === w.point)!;
      const p = entry.point;
      const t0 = Date.now();
      if (!p.writable) {
        this.post({ type: w.result, id: w.id, ok: false, error: `${p.id} is not writable`, ms: 0 });
        continue;
      }
      const priority = w.priority ?? p.priority;
      const value = w.value === null ? NULL_VALUE : encodeWriteValue(p, w.value, d.factor);
      try {
        await this.request(d, (a) => this.client.writeProperty(a, { type: p.objectType, instance: p.instance }, p.property, [value as any], { priority }));
        this.post({ type: w.result, id: w.id, ok: true, ms: Date.now() - t0 });
        // Show what the device now holds (a relinquish may reveal a lower priority's value).
        const r = d.readByKey.get(keyOf(p.objectType, p.instance, p.property));
        if (r) await this.pollOnce(d, true, [r]);
      } catch (e) {
        const f = e instanceof DeviceFailure ? e.failure : classifyFailure(e);
        this.post({ type: w.result, id: w.id, ok: false, error: `device: ${f.text}`, ms: Date.now() - t0 });
        if (f.kind === "timeout") throw e;
      }
    }
  }

  // ---- status and statistics -------------------------------------------------------------------

  private setStatus(d: DeviceRun, status: DeviceStatus, error: string | null): void {
    if (error) {
      d.lastError = error;
      d.lastErrorAt = Date.now();
    }
    if (d.status === status && (status === "ok" || error === d.lastError)) return;
    d.status = status;
    this.post({ type: "device-status", device: d.cfg.id, status, error });
  }

  private failDevice(d: DeviceRun, error: string, status: DeviceStatus): void {
    const ts = Date.now();
    for (const { index } of d.cfg.points) {
      const s = this.table.read(index);
      this.table.write(index, s.value, ts, Quality.COMM_FAIL, this.ring);
    }
    this.table.signal();
    d.covered.clear();
    if (d.cov === "active") d.cov = "polling";
    d.covRetryAt = 0;
    d.commissioned = false;
    this.setStatus(d, status, error);
  }

  info(): BacnetDeviceInfo[] {
    return this.devices.map((d) => ({
      id: d.cfg.id,
      instance: d.cfg.instance,
      address: d.address,
      boundAt: d.boundAt,
      rpmSize: d.sizer?.size ?? 0,
      rpmReason: d.sizer?.reason ?? null,
      cov: d.cov,
      covReason: d.covReason,
      covSubscribed: d.covered.size,
      notifications: d.notifications,
      factor: d.factor ?? null,
      missing: d.missing,
    }));
  }

  stats(): BacnetStats {
    const now = Date.now();
    const w = this.window;
    const secs = Math.max(0.001, (now - w.at) / 1000);
    const devices: DeviceStats[] = this.devices.map((d) => ({
      id: d.cfg.id,
      unit: d.cfg.instance,
      status: d.status,
      lastError: d.lastError,
      lastErrorAt: d.lastErrorAt,
      requests: d.requests,
      errors: d.errors,
      timeouts: d.timeouts,
      cycleMs: d.cycleMs,
      pollMs: d.cfg.pollMs,
      lastGoodAt: d.lastGoodAt,
    }));
    const s: BacnetStats = {
      bus: this.bus.id,
      kind: "bacnet-ip",
      connected: this.listening,
      requests: this.totals.requests,
      errors: this.totals.errors,
      timeouts: this.totals.timeouts,
      exceptions: this.totals.exceptions,
      badReplies: this.totals.badReplies,
      reconnects: 0,
      responseMs: w.requests ? w.responseMs / w.requests : null,
      maxResponseMs: w.requests ? w.maxMs : null,
      requestsPerSec: w.requests / secs,
      busy: Math.min(1, w.busyMs / (secs * 1000)),
      devices,
      at: now,
      bacnet: { discovered: [...this.heard.values()].sort((a, b) => a.instance - b.instance), devices: this.info(), notificationsPerSec: w.notifications / secs, foreign: this.foreign && { ...this.foreign } },
    };
    this.window = { requests: 0, responseMs: 0, maxMs: 0, busyMs: 0, notifications: 0, at: now };
    return s;
  }

  private postStats(): void {
    this.post({ type: "stats", stats: this.stats() });
    this.scheduleStats();
  }

  /**
   * Statistics go out every second, preferably from a poll cycle's own wake-up (maybeStats); this
   * timer fires only when no cycle came in time (devices unreachable, long poll periods).
   */
  private scheduleStats(): void {
    clearTimeout(this.statsTimer);
    // Later than the next cycle would post them, so the two never wake the loop one after the other.
    if (!this.stopped) this.statsTimer = setTimeout(() => this.postStats(), STATS_EVERY_MS + 500);
  }

  /** After a poll cycle: post the statistics now if they are nearly due, saving the timer's wake-up. */
  private maybeStats(): void {
    if (Date.now() - this.window.at >= STATS_EVERY_MS - 200) this.postStats();
  }
}

class DeviceFailure extends Error {
  constructor(readonly failure: RequestFailure) {
    super(failure.text);
  }
}


