import type { BusConfig } from "../config/site.ts";
import { decodeBit, decodeRaw, encodeRaw } from "../protocols/modbus/codec.ts";
import { LinkError, type ModbusLink } from "../protocols/modbus/link.ts";
import type { PlannedRead } from "../protocols/modbus/planner.ts";
import { Quality } from "../points/quality.ts";
import { multiplierOf, toEngineering, toRaw } from "../points/scaling.ts";
import type { PointTable } from "../points/table.ts";
import type { BusStats, DeviceStats, DeviceStatus, FromWorker, WorkerDevice } from "./protocol.ts";

/**
 * The poll loop of one bus: one request at a time; the device whose reads are due first goes next;
 * queued writes go between two requests. A device that stops answering is marked comm-fail and
 * then probed with a single request once per backoff period, so it costs the bus at most one
 * timeout per period while the other devices keep their rate.
 */

interface DeviceState {
  cfg: WorkerDevice;
  nextFast: number;
  nextSlow: number;
  /** While failed: when the next single probe may be sent. */
  retryAt: number;
  failed: boolean;
  hasFast: boolean;
  hasSlow: boolean;
  stats: DeviceStats;
  mult: Map<number, number>;
}

interface PendingWrite {
  id: number;
  point: number;
  value: number;
}

const REPORT_MS = 1000;

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

  constructor(
    private readonly bus: BusConfig,
    devices: WorkerDevice[],
    private readonly table: PointTable,
    private readonly ring: number,
    private readonly link: ModbusLink,
    private readonly post: (msg: FromWorker) => void,
  ) {
    const now = Date.now();
    this.devices = devices.map((cfg) => ({
      cfg,
      nextFast: now,
      nextSlow: now,
      retryAt: now,
      failed: false,
      hasFast: cfg.reads.some((r) => !r.slow),
      hasSlow: cfg.reads.some((r) => r.slow),
      mult: new Map(),
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
  }

  /** Queues a write; it runs before the next poll request. */
  enqueueWrite(w: PendingWrite): void {
    this.writes.push(w);
    this.wake?.();
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
    if (this.reportTimer) clearInterval(this.reportTimer);
  }

  async run(): Promise<void> {
    this.reportTimer = setInterval(() => this.report(), REPORT_MS);
    while (!this.stopped) {
      if (!this.link.isOpen) {
        if (!(await this.reconnect())) continue;
      }
      if (this.writes.length) {
        await this.executeWrite(this.writes.shift()!);
        continue;
      }
      const now = Date.now();
      let next: DeviceState | undefined;
      let nextDue = Infinity;
      for (const d of this.devices) {
        const due = d.failed ? d.retryAt : Math.min(d.hasFast ? d.nextFast : Infinity, d.hasSlow ? d.nextSlow : Infinity);
        if (due < nextDue) {
          nextDue = due;
          next = d;
        }
      }
      if (!next) {
        await this.sleep(1000);
        continue;
      }
      if (nextDue > now) {
        await this.sleep(nextDue - now);
        continue;
      }
      await this.pollDevice(next, now);
    }
    await this.link.close().catch(() => {});
  }

  private async reconnect(): Promise<boolean> {
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
    for (const read of d.cfg.reads) {
      if (read.slow ? !slowDue : !fastDue) continue;
      // Writes are queued between poll requests, never behind a whole cycle.
      while (this.writes.length && !this.stopped) await this.executeWrite(this.writes.shift()!);
      const outcome = await this.executeRead(d, read);
      if (outcome === "device-failed") {
        ok = false;
        break;
      }
      if (outcome !== "ok") ok = false;
    }
    const end = Date.now();
    if (!d.failed) {
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

  /** One planned read with retries. "device-failed" means the device stopped answering. */
  private async executeRead(d: DeviceState, read: PlannedRead): Promise<"ok" | "degraded" | "device-failed"> {
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
        this.storeRead(d, read, bytes, Date.now());
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
        if (err.kind === "exception") {
          // The device is alive and said no: no point asking again.
          this.busStats.exceptions++;
          this.markRead(read, Quality.DEVICE_EXCEPTION);
          this.noteError(d, `${describe(read)}: ${err.message}`, "exception");
          return "degraded";
        }
        if (err.kind === "bad-reply") this.busStats.badReplies++;
        if (err.kind === "disconnected") break;
      }
    }
    const now = Date.now();
    const message = `${describe(read)}: ${last!.message}`;
    if (last!.kind === "bad-reply") {
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
  }

  private markRead(read: PlannedRead, quality: number): void {
    const ts = Date.now();
    for (const item of read.items) this.table.write(item.point, NaN, ts, quality, this.ring);
  }

  private failDevice(d: DeviceState, now: number, message: string, status: DeviceStatus): void {
    const first = !d.failed;
    d.failed = true;
    d.retryAt = now + this.bus.backoffMs;
    if (first || d.stats.status !== status) {
      // Keep the last value for display, marked comm-fail; its timestamp stays the last good read.
      for (const p of d.cfg.points) {
        const s = this.table.read(p);
        this.table.write(p, s.value, s.ts, Quality.COMM_FAIL, this.ring);
      }
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

  private report(): void {
    const now = Date.now();
    const elapsed = Math.max(1, now - this.periodStart);
    const s = this.busStats;
    s.connected = this.link.isOpen;
    s.requestsPerSec = Math.round((this.periodRequests * 1000 * 10) / elapsed) / 10;
    s.responseMs = this.periodRequests ? Math.round((this.periodResponseSum / this.periodRequests) * 100) / 100 : null;
    s.maxResponseMs = this.periodRequests ? Math.round(this.periodResponseMax * 100) / 100 : null;
    s.busy = Math.min(1, Math.round((this.periodBusy / elapsed) * 1000) / 1000);
    s.at = now;
    this.periodStart = now;
    this.periodRequests = 0;
    this.periodResponseSum = 0;
    this.periodResponseMax = 0;
    this.periodBusy = 0;
    this.post({ type: "stats", stats: s });
  }
}

function describe(r: PlannedRead): string {
  return `FC${r.fc} ${r.start}×${r.count}`;
}
