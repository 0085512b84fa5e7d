/**
 * Device clock setting. A profile's `timeSync` names a writable date-time tag and a period; when the
 * device's clock can be read, the drift is checked first and a setting beyond `maxDriftS` is not
 * written: an event is raised instead (the TH40C accepts a setting only within 5 minutes of its own
 * clock, and at most once a day — seed th40c manual, Appendice E).
 *
 * Broadcast (unit 0) settings reach every device of the bus at once: devices of one profile on one
 * bus form a group, set together, and only when every member whose clock could be read is within
 * the limit (a broadcast cannot spare the one that is not).
 *
 * The runner is driven by the bus poller between two poll requests, through `TimeSyncBus`, so the
 * wire stays strictly serialized.
 */
import type { Profile, Tag } from "../../config/profile.ts";
import { decodeRaw, encodeRaw, registerCount } from "../../protocols/modbus/codec.ts";
import type { DriverEvent as BusEvent } from "../protocol.ts";

const FIELDS = ["year", "month", "day", "hour", "minute", "second"] as const;
type Field = (typeof FIELDS)[number];

/** What a bus worker needs to set one device's clock (structured-clone safe). */
export interface TimeSyncSpec {
  write: Tag;
  periodMs: number;
  broadcast: boolean;
  minIntervalMs: number;
  maxDriftMs: number | null;
  clock: Tag | null;
  clockParts: Record<Field, Tag> | null;
  zone: "local" | "utc";
}

export function timeSyncSpec(profile: Profile): TimeSyncSpec | undefined {
  const ts = profile.timeSync;
  if (!ts) return undefined;
  const tag = (id: string) => profile.tags.find((t) => t.id === id)!;
  return {
    write: tag(ts.tag),
    periodMs: ts.periodMin * 60_000,
    broadcast: ts.broadcast,
    minIntervalMs: ts.minIntervalMin * 60_000,
    maxDriftMs: ts.maxDriftS === undefined ? null : ts.maxDriftS * 1000,
    clock: ts.clock ? tag(ts.clock) : null,
    clockParts: ts.clockParts
      ? (Object.fromEntries(FIELDS.map((f) => [f, tag(ts.clockParts![f])])) as Record<Field, Tag>)
      : null,
    zone: ts.clockZone,
  };
}

/** Offset of a time zone from UTC at `epochMs` (ms; Toronto in winter: -5 h). */
export function tzOffsetMs(timeZone: string, epochMs: number): number {
  if (timeZone === "UTC" || timeZone === "Etc/UTC") return 0;
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  }).formatToParts(new Date(epochMs));
  const get = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return asUtc - Math.floor(epochMs / 1000) * 1000;
}

/** One read (fc, start, count) covering every clock tag of the spec. */
export function clockRead(spec: TimeSyncSpec): { fc: 1 | 2 | 3 | 4; start: number; count: number; tags: Tag[] } | undefined {
  const tags = spec.clock ? [spec.clock] : spec.clockParts ? FIELDS.map((f) => spec.clockParts![f]) : [];
  if (!tags.length) return undefined;
  const fc = tags[0]!.function;
  const start = Math.min(...tags.map((t) => t.address));
  const end = Math.max(...tags.map((t) => t.address + registerCount(t)));
  return { fc, start, count: end - start, tags };
}

/**
 * The device's clock as a UTC epoch (ms) from the read's bytes; NaN when it is not a valid time.
 * Broken-down fields are read as the device's wall clock (local time unless the zone is utc).
 */
export function deviceClock(spec: TimeSyncSpec, bytes: Uint8Array, start: number, timeZone: string): number {
  let wall: number;
  if (spec.clock) {
    const v = decodeRaw(bytes, (spec.clock.address - start) * 2, spec.clock);
    wall = typeof v === "number" ? v : NaN;
  } else {
    const p = spec.clockParts!;
    const f = Object.fromEntries(
      FIELDS.map((k) => {
        const t = p[k];
        const v = decodeRaw(bytes, (t.address - start) * 2, t);
        return [k, typeof v === "number" ? v * t.scale + t.offset : NaN];
      }),
    ) as Record<Field, number>;
    const year = f.year < 100 ? 2000 + f.year : f.year;
    if (![year, f.month, f.day, f.hour, f.minute, f.second].every(Number.isInteger)) return NaN;
    if (f.month < 1 || f.month > 12 || f.day < 1 || f.day > 31 || f.hour > 23 || f.minute > 59 || f.second > 59) return NaN;
    wall = Date.UTC(year, f.month - 1, f.day, f.hour, f.minute, f.second);
  }
  if (!Number.isFinite(wall)) return NaN;
  if (spec.zone === "utc") return wall;
  // Wall clock → UTC: subtract the zone's offset at (about) that time.
  return wall - tzOffsetMs(timeZone, wall - tzOffsetMs(timeZone, wall));
}

/** Register words to write for the time `epochMs` (UTC), in the device's zone. */
export function timeWords(spec: TimeSyncSpec, epochMs: number, timeZone: string): number[] {
  const wall = spec.zone === "utc" ? epochMs : epochMs + tzOffsetMs(timeZone, epochMs);
  const bytes = encodeRaw(wall, spec.write);
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  return words;
}

/** Whole-second types: the setting is timed so that its frame ends as a second begins. */
export function secondResolution(tag: Tag): boolean {
  return !["dt48_ms", "dt48_2", "dt64", "dt64_1", "dt64_2", "dt64_3"].includes(tag.type);
}

// ---------------------------------------------------------------------------------------------

/** The bus, as the runner sees it (implemented by the bus poller). */
export interface TimeSyncBus {
  read(unit: number, fc: 1 | 2 | 3 | 4, start: number, count: number): Promise<Uint8Array>;
  writeRegisters(unit: number, fc: 6 | 16, address: number, words: number[]): Promise<void>;
  /** Milliseconds a frame of `bytes` takes on the wire (0 when unknown). */
  wireMs(bytes: number): number;
  /** The device is known not to answer now (comm-fail). */
  isFailed(device: string): boolean;
  event(e: BusEvent): void;
  synced(devices: string[], at: number): void;
}

export interface SyncMember {
  device: string;
  unit: number;
  spec: TimeSyncSpec;
}

interface Group {
  key: string;
  members: SyncMember[];
  spec: TimeSyncSpec;
  /** Last setting written (ms since 1970), from the main thread's memory or this run. */
  lastSync: number | null;
  /** Next attempt. */
  nextAt: number;
}

/** First attempt this long after start, once the devices have been polled. */
const FIRST_DELAY_MS = 5_000;
/** After a failed or refused attempt, try again after this long (or the period, if shorter). */
const RETRY_MS = 3_600_000;

export class TimeSyncRunner {
  private readonly groups: Group[] = [];

  constructor(
    members: SyncMember[],
    private readonly timeZone: string,
    lastSync: Record<string, number>,
    now = Date.now(),
  ) {
    const byKey = new Map<string, Group>();
    for (const m of members) {
      const key = m.spec.broadcast ? `broadcast/${m.spec.write.id}/${m.spec.write.address}` : `device/${m.device}`;
      let g = byKey.get(key);
      if (!g) {
        g = { key, members: [], spec: m.spec, lastSync: null, nextAt: now + FIRST_DELAY_MS };
        byKey.set(key, g);
        this.groups.push(g);
      }
      g.members.push(m);
      const last = lastSync[m.device];
      if (last !== undefined && (g.lastSync === null || last > g.lastSync)) g.lastSync = last;
    }
    for (const g of this.groups) if (g.lastSync !== null) g.nextAt = Math.max(now, this.earliest(g));
  }

  private earliest(g: Group): number {
    return g.lastSync === null ? 0 : g.lastSync + Math.max(g.spec.periodMs, g.spec.minIntervalMs);
  }

  /** The soonest time a group is due (Infinity without time sync). */
  nextDue(): number {
    let t = Infinity;
    for (const g of this.groups) if (g.nextAt < t) t = g.nextAt;
    return t;
  }

  /** Runs every due group, one after the other. */
  async runDue(bus: TimeSyncBus, now = Date.now()): Promise<void> {
    for (const g of this.groups) if (g.nextAt <= now) await this.run(g, bus);
  }

  private async run(g: Group, bus: TimeSyncBus): Promise<void> {
    const spec = g.spec;
    const retryAt = () => Date.now() + Math.min(RETRY_MS, spec.periodMs);
    // The device's own rule (TH40C: once a day) wins over everything, even a restart of Busbar.
    const earliest = g.lastSync === null ? 0 : g.lastSync + spec.minIntervalMs;
    if (Date.now() < earliest) {
      g.nextAt = earliest;
      return;
    }
    const alive = g.members.filter((m) => !bus.isFailed(m.device));
    if (!alive.length) {
      g.nextAt = retryAt();
      return;
    }
    // Never set a clock that cannot be read first (profiles require a clock; this guards old ones).
    const read = clockRead(spec);
    if (!read) {
      for (const m of alive) bus.event({ kind: "timesync.no-clock", source: m.device, message: `${m.device}: its profile names no clock to read: the clock is not set without a drift check` });
      g.nextAt = Infinity;
      return;
    }
    const ok: SyncMember[] = [];
    const drifts: Record<string, number> = {};
    let refused = false;
    for (const m of alive) {
      try {
        const t0 = Date.now();
        const bytes = await bus.read(m.unit, read.fc, read.start, read.count);
        const t1 = Date.now();
        // A whole-second clock showing 10:00:00 is somewhere in 10:00:00.000 … .999: take the middle.
        const clock = deviceClock(spec, bytes, read.start, this.timeZone) + (spec.clock && !secondResolution(spec.clock) ? 0 : 500);
        if (Number.isNaN(clock)) {
          refused = true;
          bus.event({ kind: "timesync.invalid-clock", source: m.device, message: `${m.device}: the device clock does not hold a valid time; not set` });
          continue;
        }
        // The device read its clock about halfway through the exchange.
        const drift = clock - (t0 + t1) / 2;
        drifts[m.device] = Math.round(drift);
        if (spec.maxDriftMs !== null && Math.abs(drift) > spec.maxDriftMs) {
          refused = true;
          bus.event({
            kind: "timesync.drift",
            source: m.device,
            message: `${m.device}: clock is off by ${fmtDrift(drift)}, more than the ${spec.maxDriftMs / 1000} s the device accepts; not set — set it by hand`,
            data: { driftMs: Math.round(drift), maxDriftMs: spec.maxDriftMs },
          });
          continue;
        }
        ok.push(m);
      } catch (e) {
        bus.event({ kind: "timesync.failed", source: m.device, message: `${m.device}: cannot read the clock: ${(e as Error).message}` });
        refused = true;
      }
    }
    if (spec.broadcast ? refused || !ok.length : !ok.length) {
      g.nextAt = retryAt();
      return;
    }
    try {
      const at = await this.write(spec, spec.broadcast ? 0 : ok[0]!.unit, bus);
      g.lastSync = at;
      g.nextAt = this.earliest(g);
      const devices = (spec.broadcast ? alive : ok).map((m) => m.device);
      bus.synced(devices, at);
      for (const d of devices)
        bus.event({
          kind: "timesync.set",
          source: d,
          // A broadcast is sent, never acknowledged: no device answers unit 0 (Modbus spec), so "set" here
          // means "sent to every device of the bus"; the next drift check shows whether it took.
          message: `${d}: clock set${spec.broadcast ? " (broadcast)" : ""}${drifts[d] !== undefined ? `, it was off by ${fmtDrift(drifts[d]!)}` : ""}${spec.broadcast ? "; sent to unit 0, which no device answers" : ""}`,
          data: { driftMs: drifts[d] ?? null, broadcast: spec.broadcast, acknowledged: !spec.broadcast, at },
        });
    } catch (e) {
      g.nextAt = retryAt();
      for (const m of ok) bus.event({ kind: "timesync.failed", source: m.device, message: `${m.device}: clock setting failed: ${(e as Error).message}` });
    }
  }

  /** Writes the time; whole-second formats are sent so the frame ends as the written second begins. */
  private async write(spec: TimeSyncSpec, unit: number, bus: TimeSyncBus): Promise<number> {
    const tag = spec.write;
    const fc: 6 | 16 = tag.write === 6 && registerCount(tag) === 1 ? 6 : 16;
    const frameBytes = fc === 16 ? 9 + registerCount(tag) * 2 : 8;
    let at = Date.now();
    if (secondResolution(tag)) {
      const wire = bus.wireMs(frameBytes);
      const next = Math.ceil((at + wire + 1) / 1000) * 1000;
      const wait = next - wire - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      at = next;
    }
    await bus.writeRegisters(unit, fc, tag.address, timeWords(spec, at, this.timeZone));
    return at;
  }
}

function fmtDrift(ms: number): string {
  const s = Math.abs(ms) / 1000;
  const sign = ms < 0 ? "behind" : "ahead";
  return s < 120 ? `${s.toFixed(1)} s ${sign}` : `${(s / 60).toFixed(1)} min ${sign}`;
}
