import type { ModbusBusConfig as BusConfig } from "../../config/site.ts";
import { decodeBit, decodeRaw, encodeRaw } from "../../protocols/modbus/codec.ts";
import { LinkError, type ModbusLink } from "../../protocols/modbus/link.ts";
import type { PlannedRead } from "../../protocols/modbus/planner.ts";
import { isRangeRefusal, LearnedPlan, REPROBE_MS, type LearnedRead } from "../../protocols/modbus/learned-plan.ts";
import { Quality } from "../../points/quality.ts";
import { multiplierOf, toEngineering, toRaw } from "./scaling.ts";
import type { PointTable } from "../../points/table.ts";
import type { BusStats, DeviceStats, DeviceStatus, ForwardOp, ForwardResult, FromWorker, WorkerDevice } from "./protocol.ts";
import type { ReplyCache } from "../../gateway/reply-cache.ts";
import { scanBus, type ScanRequest } from "../../protocols/modbus/rtu-scan.ts";
import { charMs } from "../../protocols/modbus/rtu-frame.ts";
import { TimeSyncRunner, type TimeSyncBus } from "./timesync.ts";
import { LinkSilence } from "./link-silence.ts";

/**
 * The poll loop of one bus: one request at a time; the device whose reads are due first goes next;
 * queued writes go between two requests. A device that stops answering is marked comm-fail and
 * then probed with a single request once per backoff period, so it costs the bus at most one
 * timeout per period while the other devices keep their rate.
 *
 * Besides polls and writes the bus carries "side jobs", one request each: requests other masters
 * send through the gateway, and the scanner's probes. When both are waiting they alternate with
 * poll requests (poll, side, poll, side...), so neither starves the other and the wire stays strictly
 * serialized. Device clock settings (time sync) run between two polls when due.
 *
 * A link that stops answering altogether (a hung gateway whose connection stays open, a cut line)
 * is told from one dead device by timeouts of several answering devices in a row (link-silence.ts):
 * then every device is comm-fail at once, and the link is probed with one request per backoff
 * period until something answers, when every device is asked again at once.
 */

interface DeviceState {
  cfg: WorkerDevice;
  nextFast: number;
  nextSlow: number;
  /** While failed: when the next single probe may be sent. */
  retryAt: number;
  failed: boolean;
  /**
   * A read timed out and its retry waits until the devices already due have had their turn (a
   * silent device must not starve the healthy ones). `retryAt` is when the timeout happened.
   */
  retrying: boolean;
  /** Consecutive timed-out attempts; the device fails after `retries + 1`. */
  timeoutStreak: number;
  hasFast: boolean;
  hasSlow: boolean;
  stats: DeviceStats;
  mult: Map<number, number>;
  /** The reads in force: the configured plan, split where the device refused a merged read. */
  plan: LearnedPlan;
  /** The plan changed during this cycle: report it once the cycle ends. */
  planChanged: boolean;
  /** Last answer of any kind (ms; 0: never). A device never heard is no witness of a silent link. */
  answeredAt: number;
}

interface PendingWrite {
  id: number;
  point: number;
  value: number;
}

interface SideJob {
  run(): Promise<void>;
  fail(error: LinkError): void;
}

export interface PollerOptions {
  /** Where successful poll replies go for the gateway's cached mode. */
  replyCache?: ReplyCache;
  /** Site time zone, for device clocks kept in local time. */
  timezone?: string;
  /** Last clock setting per device (ms), from the main thread. */
  lastTimeSync?: Record<string, number>;
}

const REPORT_MS = 1000;
/** A bus polling back to back hands over its changes once they are this old (at once when it goes quiet). */
const SIGNAL_AFTER_MS = 5;
/** Gateway exception codes. */
const GATEWAY_PATH_UNAVAILABLE = 0x0a;
const GATEWAY_TARGET_FAILED = 0x0b;

export class BusPoller {
  private readonly devices: DeviceState[];
  private readonly writes: PendingWrite[] = [];
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly busStats: BusStats;
  private periodStart = Date.now();
  private periodRequests = 0;
  private periodResponseSum = 0;
  private periodResponseMax = 0;
  private periodBusy = 0;
  private linkDown = false;
  private readonly eng = { value: 0, quality: 0 };
  private readonly lastText = new Map<number, string>();
  private reportTimer: ReturnType<typeof setInterval> | undefined;
  private readonly side: SideJob[] = [];
  /** A side job goes next when one is waiting (alternation with poll requests). */
  private sideTurn = true;
  private readonly byId = new Map<string, DeviceState>();
  private readonly scans = new Map<number, { cancelled: boolean }>();
  private readonly timeSync: TimeSyncRunner | undefined;
  private readonly cache: ReplyCache | undefined;
  private forwarded = 0;
  /** The last poll was a probe of a failed device. */
  private lastWasProbe = false;
  private readonly silence: LinkSilence;
  /** While the link is silent: the devices to probe it with, most recently answering first. */
  private linkProbes: DeviceState[] = [];

  constructor(
    private readonly bus: BusConfig,
    devices: WorkerDevice[],
    private readonly table: PointTable,
    private readonly ring: number,
    private readonly link: ModbusLink,
    private readonly post: (msg: FromWorker) => void,
    opts: PollerOptions = {},
  ) {
    const now = Date.now();
    this.cache = opts.replyCache;
    this.silence = new LinkSilence(bus.retries);
    this.devices = devices.map((cfg) => ({
      cfg,
      nextFast: now,
      nextSlow: now,
      retryAt: now,
      failed: false,
      retrying: false,
      timeoutStreak: 0,
      hasFast: cfg.reads.some((r) => !r.slow),
      hasSlow: cfg.reads.some((r) => r.slow),
      mult: new Map(),
      plan: new LearnedPlan(cfg.reads),
      planChanged: false,
      answeredAt: 0,
      stats: {
        id: cfg.id,
        unit: cfg.unit,
        status: "unknown",
        lastError: null,
        lastErrorAt: null,
        requests: 0,
        errors: 0,
        timeouts: 0,
        cycleMs: null,
        pollMs: cfg.pollMs,
        lastGoodAt: null,
      },
    }));
    this.busStats = {
      bus: bus.id,
      kind: bus.kind,
      connected: false,
      requests: 0,
      errors: 0,
      timeouts: 0,
      exceptions: 0,
      badReplies: 0,
      reconnects: 0,
      responseMs: null,
      maxResponseMs: null,
      requestsPerSec: 0,
      busy: 0,
      devices: this.devices.map((d) => d.stats),
      at: now,
    };
    for (const d of this.devices) this.byId.set(d.cfg.id, d);
    const syncing = devices.filter((d) => d.timeSync).map((d) => ({ device: d.id, unit: d.unit, spec: d.timeSync! }));
    if (syncing.length) this.timeSync = new TimeSyncRunner(syncing, opts.timezone ?? "UTC", opts.lastTimeSync ?? {}, now);
  }

  /** Queues a write; it runs before the next poll request. */
  enqueueWrite(w: PendingWrite): void {
    this.writes.push(w);
    this.wake?.();
  }

  /** Queues a request from a gateway client; `done` gets the device's answer or an exception code. */
  enqueueForward(unit: number, device: string | undefined, op: ForwardOp, done: (r: ForwardResult) => void): void {
    this.side.push({
      run: () => this.executeForward(unit, device, op).then(done),
      fail: (e) => done({ ok: false, exception: GATEWAY_PATH_UNAVAILABLE, error: e.message, busMs: 0 }),
    });
    this.wake?.();
  }

  /** Runs one request on the bus as a side job (the scanner's probes). */
  private enqueueSide<T>(fn: (link: ModbusLink) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.side.push({
        run: async () => {
          const t0 = performance.now();
          try {
            resolve(await fn(this.link));
          } catch (e) {
            reject(e);
          } finally {
            this.account(performance.now() - t0);
          }
        },
        fail: reject,
      });
      this.wake?.();
    });
  }

  /** Scans unit ids for commissioning, interleaved with the polls. */
  startScan(id: number, request: ScanRequest): void {
    const state = { cancelled: false };
    this.scans.set(id, state);
    scanBus(
      this.bus.id,
      { request: (fn) => this.enqueueSide(fn) },
      request,
      (unit, done, total) => this.post({ type: "scan-progress", id, unit, done, total }),
      () => state.cancelled || this.stopped,
    )
      .then((result) => this.post({ type: "scan-done", id, result }))
      .catch((e) =>
        this.post({
          type: "scan-done",
          id,
          result: { bus: this.bus.id, from: request.from, to: request.to, probes: 0, hits: [], missing: [], durationMs: 0, cancelled: true, startedAt: Date.now(), error: (e as Error).message },
        }),
      )
      .finally(() => this.scans.delete(id));
  }

  cancelScan(id: number): void {
    const s = this.scans.get(id);
    if (s) s.cancelled = true;
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
    if (this.reportTimer) clearInterval(this.reportTimer);
    this.failSide("bus stopping");
  }

  private failSide(message: string): void {
    const jobs = this.side.splice(0);
    for (const j of jobs) j.fail(new LinkError("disconnected", message));
  }

  private async runSide(): Promise<void> {
    const job = this.side.shift();
    this.sideTurn = false;
    if (job) await job.run();
  }

  async run(): Promise<void> {
    this.reportTimer = setInterval(() => this.report(), REPORT_MS);
    while (!this.stopped) {
      if (!this.link.isOpen) {
        if (!(await this.reconnect())) {
          this.failSide(`bus ${this.bus.id} not connected`);
          continue;
        }
      }
      if (this.writes.length) {
        await this.executeWrite(this.writes.shift()!);
        continue;
      }
      const now = Date.now();
      let next: DeviceState | undefined;
      let nextDue = Infinity;
      let healthy: DeviceState | undefined;
      let healthyDue = Infinity;
      for (const d of this.devices) {
        const due = d.failed || d.retrying ? d.retryAt : Math.min(d.hasFast ? d.nextFast : Infinity, d.hasSlow ? d.nextSlow : Infinity);
        if (due < nextDue) {
          nextDue = due;
          next = d;
        }
        if (!d.failed && due < healthyDue) {
          healthyDue = due;
          healthy = d;
        }
      }
      // Probes of silent devices never run back to back while a healthy device is due: each costs a
      // full timeout, and several in a row would age the healthy devices' values into "stale".
      if (next?.failed && this.lastWasProbe && healthy && healthyDue <= now) {
        next = healthy;
        nextDue = healthyDue;
      }
      if (this.side.length && (this.sideTurn || nextDue > now)) {
        await this.runSide();
        continue;
      }
      const syncDue = this.timeSync?.nextDue() ?? Infinity;
      if (syncDue <= now) {
        await this.timeSync!.runDue(this.syncBus, now);
        continue;
      }
      if (!next) {
        await this.sleep(Math.min(1000, syncDue - now));
        continue;
      }
      if (nextDue > now) {
        await this.sleep(Math.min(nextDue, syncDue) - now);
        continue;
      }
      this.lastWasProbe = next.failed;
      await this.pollDevice(next, now);
    }
    this.failSide("bus stopped");
    await this.link.close().catch(() => {});
  }

  private async reconnect(): Promise<boolean> {
    this.table.signal();
    this.busStats.connected = false;
    try {
      await this.link.connect();
      this.busStats.connected = true;
      if (this.linkDown) {
        this.busStats.reconnects++;
        this.post({ type: "log", level: "info", msg: `bus ${this.bus.id}: reconnected` });
      }
      this.linkDown = false;
      return true;
    } catch (e) {
      if (!this.linkDown) this.post({ type: "log", level: "warn", msg: `bus ${this.bus.id}: ${(e as Error).message}` });
      this.linkDown = true;
      const now = Date.now();
      for (const d of this.devices) this.failDevice(d, now, (e as Error).message, "comm-fail");
      await this.sleep(Math.min(this.bus.backoffMs, 1000));
      return false;
    }
  }

  private sleep(ms: number): Promise<void> {
    // The bus goes quiet: what it just read goes to the pages now, as one batch.
    this.table.signal();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(t);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }

  private async pollDevice(d: DeviceState, now: number): Promise<void> {
    const fastDue = d.failed || d.nextFast <= now;
    const slowDue = d.failed || d.nextSlow <= now;
    const started = Date.now();
    let ok = true;
    let answered = 0;
    let refused = 0;
    // Indexed: a refused read is replaced in place by its two halves, read next in this same cycle.
    const reads = d.plan.reads;
    for (let i = 0; i < reads.length; i++) {
      const read = reads[i]!;
      if (read.slow ? !slowDue : !fastDue) continue;
      if (!d.plan.due(read, now)) continue;
      // Writes are queued between poll requests, never behind a whole cycle.
      while (this.writes.length && !this.stopped) await this.executeWrite(this.writes.shift()!);
      // Gateway requests and scanner probes alternate with poll requests.
      if (this.side.length && this.sideTurn && !this.stopped) await this.runSide();
      const outcome = await this.executeRead(d, read);
      this.sideTurn = true;
      if (outcome === "split") {
        i--;
        continue;
      }
      if (outcome === "device-failed" || outcome === "retry-later") {
        ok = false;
        break;
      }
      if (outcome === "ok") answered++;
      if (outcome === "refused") refused++;
      // A register the device refuses is a property of the device, not a fault of this cycle.
      if (outcome !== "ok" && outcome !== "refused") ok = false;
    }
    // ...unless it refuses everything asked (a wrong profile, a wrong unit): that is no "OK". A
    // cycle that asked nothing (its only reads wait for their re-probe) changes nothing either.
    if (ok && !answered) {
      ok = false;
      if (refused) this.setStatus(d, "exception", d.stats.lastError);
    }
    if (d.planChanged) {
      d.planChanged = false;
      this.post({ type: "plan", device: d.cfg.id, plan: d.plan.view() });
    }
    const end = Date.now();
    if (!d.failed && !d.retrying) {
      if (fastDue) {
        d.stats.cycleMs = end - started;
        // Keep the cadence; after an overrun start again from now rather than bursting to catch up.
        d.nextFast = Math.max(d.nextFast + d.cfg.pollMs, end);
      }
      if (slowDue) d.nextSlow = Math.max(d.nextSlow + d.cfg.slowPollMs, end);
      if (ok) {
        d.stats.lastGoodAt = end;
        this.setStatus(d, "ok", null);
      }
    }
  }

  /**
   * One planned read with retries. "device-failed" means the device stopped answering;
   * "retry-later" that it timed out and is retried after the devices already due.
   */
  private async executeRead(d: DeviceState, read: LearnedRead): Promise<"ok" | "degraded" | "device-failed" | "retry-later" | "split" | "refused"> {
    const attempts = d.failed ? 1 : this.bus.retries + 1;
    let last: LinkError | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const t0 = performance.now();
      try {
        d.stats.requests++;
        this.busStats.requests++;
        this.periodRequests++;
        const bytes = await this.link.read(d.cfg.unit, read.fc, read.start, read.count, this.bus.timeoutMs);
        this.account(performance.now() - t0);
        const ts = Date.now();
        this.storeRead(d, read, bytes, ts);
        // The gateway's cache holds configured reads: a part of a split one cannot fill its slot.
        const slot = read.whole ? d.cfg.cacheSlots?.[read.origin] : undefined;
        if (slot !== undefined) this.cache?.store(slot, bytes, ts);
        if (d.plan.accept(read, ts)) d.planChanged = true;
        d.timeoutStreak = 0;
        d.retrying = false;
        d.answeredAt = ts;
        this.linkAnswered();
        if (d.failed) {
          d.failed = false;
          // Recovered: poll everything now.
          d.nextFast = d.nextSlow = Date.now();
        }
        return "ok";
      } catch (e) {
        const err = e instanceof LinkError ? e : new LinkError("disconnected", String(e));
        this.account(performance.now() - t0);
        last = err;
        d.stats.errors++;
        this.busStats.errors++;
        if (err.kind === "timeout") {
          d.stats.timeouts++;
          this.busStats.timeouts++;
        }
        // Any answer, even a refusal or garbage, shows the link itself is alive.
        // (Garbage may be another unit's late reply: it shows the link alive, not this device.)
        if (err.kind === "exception") d.answeredAt = Date.now();
        if (err.kind === "exception" || err.kind === "bad-reply") this.linkAnswered();
        if (err.kind === "exception") {
          // The device is alive and said no: no point asking again.
          this.busStats.exceptions++;
          const slot = d.cfg.cacheSlots?.[read.origin];
          if (slot !== undefined) this.cache?.invalidate(slot);
          if (isRangeRefusal(err.exceptionCode)) {
            // "Not this address range": split the read and learn which registers the device maps.
            d.planChanged = true;
            if (d.plan.refuse(read) === "split") return "split";
            this.markRead(read, Quality.DEVICE_EXCEPTION);
            d.stats.lastError = `${describe(read)}: ${err.message}; ${read.items.map((i) => i.tag.id).join(", ")} refused, asked again every ${REPROBE_MS / 60_000} min`;
            d.stats.lastErrorAt = Date.now();
            return "refused";
          }
          this.markRead(read, Quality.DEVICE_EXCEPTION);
          this.noteError(d, `${describe(read)}: ${err.message}`, "exception");
          return "degraded";
        }
        if (err.kind === "bad-reply") this.busStats.badReplies++;
        if (err.kind === "disconnected") break;
        // Only devices that were answering count: configured units never heard (absent at
        // commissioning) say nothing about the link.
        if (err.kind === "timeout" && !d.failed && d.answeredAt > 0) {
          const answering = this.devices.reduce((n, x) => n + (!x.failed && x.answeredAt > 0 ? 1 : 0), 0);
          if (this.silence.timedOut(d.cfg.id, answering)) {
            this.silenceLink(`${describe(read)}: ${err.message}`);
            return "device-failed";
          }
        }
        // A silent device must not starve the healthy ones: its retry waits until the devices
        // already due have had their turn (on a serial line several silent devices would otherwise
        // queue their timeouts back to back and age everyone else's values into "stale").
        if (err.kind === "timeout" && !d.failed && this.devices.length > 1) {
          d.timeoutStreak++;
          if (d.timeoutStreak <= this.bus.retries) {
            d.retrying = true;
            d.retryAt = Date.now();
            return "retry-later";
          }
          break;
        }
      }
    }
    const now = Date.now();
    const message = `${describe(read)}: ${last!.message}`;
    // A device in backoff stays comm-fail until it answers properly: garbage heard during its probe
    // (often another unit's late reply on a serial line) is not an answer from it.
    if (last!.kind === "bad-reply" && !d.failed) {
      this.markRead(read, Quality.BAD_DATA);
      this.noteError(d, message, "bad-reply");
      return "degraded";
    }
    this.failDevice(d, now, message, "comm-fail");
    return "device-failed";
  }

  private account(ms: number): void {
    this.periodResponseSum += ms;
    this.periodBusy += ms;
    if (ms > this.periodResponseMax) this.periodResponseMax = ms;
  }

  private storeRead(d: DeviceState, read: PlannedRead, bytes: Uint8Array, ts: number): void {
    const eng = this.eng;
    const table = this.table;
    const bits = read.fc <= 2;
    for (const item of read.items) {
      const tag = item.tag;
      let raw: number | string;
      try {
        raw = bits ? decodeBit(bytes, item.offset) : decodeRaw(bytes, item.offset * 2, tag);
      } catch {
        table.write(item.point, NaN, ts, Quality.BAD_DATA, this.ring);
        continue;
      }
      if (typeof raw === "string") {
        if (this.lastText.get(item.point) !== raw) {
          this.lastText.set(item.point, raw);
          this.post({ type: "text", point: item.point, value: raw });
        }
        table.write(item.point, raw.length, ts, Quality.GOOD, this.ring);
        continue;
      }
      let mult = d.mult.get(item.point);
      if (mult === undefined) d.mult.set(item.point, (mult = multiplierOf(tag, d.cfg)));
      toEngineering(raw, tag, mult, eng);
      table.write(item.point, eng.value, ts, eng.quality, this.ring);
    }
    table.signalIfOlder(SIGNAL_AFTER_MS);
  }

  private markRead(read: PlannedRead, quality: number): void {
    const ts = Date.now();
    for (const item of read.items) this.table.write(item.point, NaN, ts, quality, this.ring);
    this.table.signalIfOlder(SIGNAL_AFTER_MS);
  }

  /**
   * Nothing on the link answers: every device is comm-fail now, and from here on one device at a
   * time probes the link, once per backoff period (the whole bus costs one timeout per period).
   */
  private silenceLink(cause: string): void {
    const now = Date.now();
    const { timeouts, devices } = this.silence.streak;
    const where = "host" in this.bus ? `${this.bus.host}:${this.bus.port}` : this.bus.port;
    const message = `no device answers on ${where} (${timeouts} timeouts in a row from ${devices} devices; gateway or line silent); last: ${cause}`;
    this.post({ type: "log", level: "warn", msg: `bus ${this.bus.id}: ${message}` });
    this.linkProbes = [];
    for (const d of this.devices) if (!d.failed || d.stats.status !== "comm-fail") this.failDevice(d, now, message, "comm-fail");
    this.linkProbes = [...this.devices].sort((a, b) => (b.stats.lastGoodAt ?? 0) - (a.stats.lastGoodAt ?? 0));
    for (const d of this.devices) d.retryAt = Infinity;
    // The first probe goes one poll period later, not a whole backoff: a silent link leaves the bus
    // nothing else to do, and should several devices have died at once on a live link, the most
    // recently answering one clears the verdict at once.
    const first = this.linkProbes[0]!;
    first.retryAt = now + Math.min(this.bus.backoffMs, first.cfg.pollMs);
  }

  /** A reply came back: after a silence, every device is asked again at once. */
  private linkAnswered(): void {
    if (!this.silence.answered()) return;
    const now = Date.now();
    this.linkProbes = [];
    for (const d of this.devices) if (d.failed) d.retryAt = Math.min(d.retryAt, now);
    this.post({ type: "log", level: "info", msg: `bus ${this.bus.id}: the link answers again` });
  }

  private failDevice(d: DeviceState, now: number, message: string, status: DeviceStatus): void {
    const first = !d.failed;
    // A device that went silent may come back restarted or replaced, mapping other registers:
    // it is learned again from the configured plan.
    if (first && d.plan.reset(now)) this.post({ type: "plan", device: d.cfg.id, plan: d.plan.view() });
    d.failed = true;
    d.retrying = false;
    d.timeoutStreak = 0;
    d.retryAt = now + this.bus.backoffMs;
    if (this.silence.silent && this.linkProbes.length > 1) {
      // Its probe went unanswered: the next device probes the link one backoff period from now
      // (in turn, so one that is really dead cannot keep the link marked silent).
      const i = this.linkProbes.indexOf(d);
      if (i >= 0) {
        d.retryAt = Infinity;
        this.linkProbes[(i + 1) % this.linkProbes.length]!.retryAt = now + this.bus.backoffMs;
      }
    }
    // The gateway must not answer for a device that stopped answering.
    if (this.cache) for (const slot of d.cfg.cacheSlots ?? []) this.cache.invalidate(slot);
    if (first || d.stats.status !== status) {
      // Keep the last value for display, marked comm-fail; its timestamp stays the last good read.
      for (const p of d.cfg.points) {
        const s = this.table.read(p);
        this.table.write(p, s.value, s.ts, Quality.COMM_FAIL, this.ring);
      }
      this.table.signalIfOlder(SIGNAL_AFTER_MS);
    }
    this.noteError(d, message, status);
  }

  private noteError(d: DeviceState, message: string, status: DeviceStatus): void {
    d.stats.lastError = message;
    d.stats.lastErrorAt = Date.now();
    this.setStatus(d, status, message);
  }

  private setStatus(d: DeviceState, status: DeviceStatus, error: string | null): void {
    if (d.stats.status === status) return;
    d.stats.status = status;
    this.post({ type: "device-status", device: d.cfg.id, status, error });
  }

  private async executeWrite(w: PendingWrite): Promise<void> {
    const t0 = performance.now();
    const reply = (ok: boolean, error?: string) =>
      this.post({ type: "write-result", id: w.id, ok, error, ms: Math.round((performance.now() - t0) * 10) / 10 });
    const d = this.devices.find((x) => x.cfg.writable[w.point] !== undefined);
    const tag = d?.cfg.writable[w.point];
    if (!d || !tag || tag.write === undefined) return reply(false, "point is not writable");
    try {
      const raw = toRaw(w.value, tag, multiplierOf(tag, d.cfg));
      if (tag.write === 5 || tag.write === 15) {
        await this.link.writeBits(d.cfg.unit, tag.write, tag.address, [raw !== 0], this.bus.timeoutMs);
      } else {
        const bytes = encodeRaw(raw, tag);
        const words: number[] = [];
        for (let i = 0; i < bytes.length; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
        const fc = tag.write === 6 && words.length > 1 ? 16 : tag.write;
        await this.link.writeRegisters(d.cfg.unit, fc, tag.address, words, this.bus.timeoutMs);
      }
      this.account(performance.now() - t0);
      // Read back soon so screens show the device's own view of the result.
      d.nextFast = Date.now();
      reply(true);
    } catch (e) {
      const err = e instanceof LinkError ? e : e instanceof RangeError ? e : new LinkError("disconnected", String(e));
      reply(false, err.message);
    }
  }

  /**
   * One gateway request on the bus, retried like a poll. A device the poller knows is not answering
   * gets exception 0x0B at once: a client polling a dead device must not cost the bus a timeout each time.
   */
  private async executeForward(unit: number, device: string | undefined, op: ForwardOp): Promise<ForwardResult> {
    const d = device !== undefined ? this.byId.get(device) : undefined;
    if (d?.failed) return { ok: false, exception: GATEWAY_TARGET_FAILED, error: `${device} is not answering (comm-fail)`, busMs: 0 };
    if (!this.link.isOpen) return { ok: false, exception: GATEWAY_PATH_UNAVAILABLE, error: "bus not connected", busMs: 0 };
    this.forwarded++;
    const t0 = performance.now();
    const timeout = this.bus.timeoutMs;
    let last: LinkError | undefined;
    try {
      for (let attempt = 0; attempt <= this.bus.retries; attempt++) {
        try {
          this.busStats.requests++;
          this.periodRequests++;
          switch (op.fc) {
            case 1:
            case 2:
              return { ok: true, data: unpackBits(await this.link.read(unit, op.fc, op.address, op.count, timeout), op.count), busMs: performance.now() - t0 };
            case 3:
            case 4:
              return { ok: true, data: (await this.link.read(unit, op.fc, op.address, op.count, timeout)).slice(0, op.count * 2), busMs: performance.now() - t0 };
            case 5:
            case 15:
              await this.link.writeBits(unit, op.fc, op.address, op.bits.map((b) => b !== 0), timeout);
              break;
            case 6:
            case 16:
              await this.link.writeRegisters(unit, op.fc, op.address, op.words, timeout);
              break;
          }
          if (d) d.nextFast = Date.now(); // read back what the other master wrote
          return { ok: true, busMs: performance.now() - t0 };
        } catch (e) {
          last = e instanceof LinkError ? e : new LinkError("disconnected", String(e));
          this.busStats.errors++;
          if (last.kind === "exception") return { ok: false, exception: last.exceptionCode ?? 4, error: last.message, busMs: performance.now() - t0 };
          if (last.kind === "timeout") this.busStats.timeouts++;
          if (last.kind === "bad-reply") this.busStats.badReplies++;
          if (last.kind === "disconnected") return { ok: false, exception: GATEWAY_PATH_UNAVAILABLE, error: last.message, busMs: performance.now() - t0 };
        }
      }
      return { ok: false, exception: GATEWAY_TARGET_FAILED, error: last!.message, busMs: performance.now() - t0 };
    } finally {
      this.account(performance.now() - t0);
    }
  }

  /** The bus as the time-sync runner sees it. */
  private readonly syncBus: TimeSyncBus = {
    read: (unit, fc, start, count) => this.link.read(unit, fc, start, count, this.bus.timeoutMs),
    writeRegisters: (unit, fc, address, words) => this.link.writeRegisters(unit, fc, address, words, this.bus.timeoutMs),
    wireMs: (bytes) => (this.bus.kind === "modbus-tcp" ? 0 : bytes * charMs(this.bus)),
    isFailed: (device) => this.byId.get(device)?.failed ?? true,
    event: (event) => this.post({ type: "event", event }),
    synced: (devices, at) => this.post({ type: "time-synced", devices, at }),
  };

  private report(): void {
    const now = Date.now();
    const elapsed = Math.max(1, now - this.periodStart);
    const s = this.busStats;
    s.connected = this.link.isOpen;
    s.requestsPerSec = Math.round((this.periodRequests * 1000 * 10) / elapsed) / 10;
    s.responseMs = this.periodRequests ? Math.round((this.periodResponseSum / this.periodRequests) * 100) / 100 : null;
    s.maxResponseMs = this.periodRequests ? Math.round(this.periodResponseMax * 100) / 100 : null;
    s.busy = Math.min(1, Math.round((this.periodBusy / elapsed) * 1000) / 1000);
    s.forwarded = this.forwarded;
    s.silent = this.silence.silent;
    const line = this.link.counters?.();
    if (line) s.line = line;
    s.at = now;
    this.periodStart = now;
    this.periodRequests = 0;
    this.periodResponseSum = 0;
    this.periodResponseMax = 0;
    this.periodBusy = 0;
    this.post({ type: "stats", stats: s });
  }
}

/** Packed FC1/2 reply bits → one byte (0/1) per bit. */
function unpackBits(packed: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = (packed[i >> 3]! >> (i & 7)) & 1;
  return out;
}

function describe(r: PlannedRead): string {
  return `FC${r.fc} ${r.start}×${r.count}`;
}
