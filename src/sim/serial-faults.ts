/**
 * Line faults for drills and tests, applied per unit to the replies a slave sends: dropped bytes,
 * a bad CRC, noise before the reply, a late reply, or no reply at all. Used by the simulator's RTU
 * slave (serial.ts) and by `FaultyRelay`, which sits between two serial ports (Busbar's and an
 * independent device's) and corrupts what the device answers.
 */
import { SerialPort, type SerialOptions } from "../protocols/serial/tty.ts";

export interface ReplyFaults {
  /** Never answer. */
  silent?: boolean;
  /** Answer this many ms later than normal. */
  lateMs?: number;
  /** Remove this many bytes from the middle of the reply (a short frame). */
  dropBytes?: number;
  /** Corrupt the CRC. */
  badCrc?: boolean;
  /** Random bytes sent just before the reply. */
  noise?: number;
  /** Echo the request back before answering (a half-duplex adapter without echo suppression). */
  echo?: boolean;
  /** Only for the next N replies, then the fault clears. Default: until changed. */
  count?: number;
  /** Each reply is faulty with this probability (0..1). Default 1. */
  probability?: number;
  /** Only every n-th reply is faulty (2: one in two, so a retry gets through). Default 1. */
  every?: number;
}

/** Per-unit faults with their remaining counts. */
export class FaultTable {
  private readonly faults = new Map<number, ReplyFaults>();
  private readonly seen = new Map<number, number>();
  /** Replies corrupted so far, per unit. */
  readonly applied = new Map<number, number>();

  set(unit: number, f: ReplyFaults | null): void {
    this.seen.delete(unit);
    if (f === null) this.faults.delete(unit);
    else this.faults.set(unit, { ...f });
  }

  clear(): void {
    this.faults.clear();
  }

  /** The faults to apply to the next reply of `unit`, if any (consumes one of `count`). */
  take(unit: number): ReplyFaults | undefined {
    const f = this.faults.get(unit);
    if (!f) return undefined;
    const n = (this.seen.get(unit) ?? 0) + 1;
    this.seen.set(unit, n);
    if (f.every !== undefined && f.every > 1 && (n - 1) % f.every !== 0) return undefined;
    if (f.probability !== undefined && Math.random() >= f.probability) return undefined;
    if (f.count !== undefined) {
      f.count--;
      if (f.count <= 0) this.faults.delete(unit);
    }
    this.applied.set(unit, (this.applied.get(unit) ?? 0) + 1);
    return f;
  }
}

/** The bytes to send for `frame` under `f` (null: send nothing). */
export function corrupt(frame: Uint8Array, f: ReplyFaults | undefined): Uint8Array | null {
  if (!f) return frame;
  if (f.silent) return null;
  let out = frame;
  if (f.badCrc) {
    out = out.slice();
    out[out.length - 1]! ^= 0x5a;
  }
  if (f.dropBytes) {
    const n = Math.min(f.dropBytes, out.length - 1);
    const at = Math.max(1, (out.length - n) >> 1);
    const shorter = new Uint8Array(out.length - n);
    shorter.set(out.subarray(0, at));
    shorter.set(out.subarray(at + n), at);
    out = shorter;
  }
  if (f.noise) {
    const noisy = new Uint8Array(out.length + f.noise);
    for (let i = 0; i < f.noise; i++) noisy[i] = (Math.random() * 256) | 0;
    noisy.set(out, f.noise);
    out = noisy;
  }
  return out;
}

/**
 * Relays bytes between Busbar's serial port and a device's, corrupting the device's replies per
 * unit (the unit is the reply's first byte). Replies are gathered until the device's side has been
 * quiet for `gapMs`, then forwarded (late ones after their delay).
 */
export class FaultyRelay {
  readonly faults = new FaultTable();
  private masterSide: SerialPort;
  private deviceSide: SerialPort;
  private pending: number[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private lastRequest: Uint8Array | null = null;

  constructor(masterPath: string, devicePath: string, line: SerialOptions, private readonly gapMs = 3) {
    this.masterSide = SerialPort.open(masterPath, line);
    this.deviceSide = SerialPort.open(devicePath, line);
    this.masterSide.onData = (chunk) => {
      this.lastRequest = chunk.slice();
      this.deviceSide.write(chunk);
    };
    this.deviceSide.onData = (chunk) => {
      for (const b of chunk) this.pending.push(b);
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = setTimeout(() => this.flush(), this.gapMs);
    };
  }

  private flush(): void {
    const frame = Uint8Array.from(this.pending);
    this.pending = [];
    if (!frame.length) return;
    const f = this.faults.take(frame[0]!);
    let out = corrupt(frame, f);
    if (!out) return;
    if (f?.echo && this.lastRequest) {
      const withEcho = new Uint8Array(this.lastRequest.length + out.length);
      withEcho.set(this.lastRequest);
      withEcho.set(out, this.lastRequest.length);
      out = withEcho;
    }
    const send = out;
    if (f?.lateMs) setTimeout(() => this.safeWrite(send), f.lateMs);
    else this.safeWrite(send);
  }

  private safeWrite(b: Uint8Array): void {
    try {
      this.masterSide.write(b);
    } catch {
      /* relay closing */
    }
  }

  async close(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await this.masterSide.close();
    await this.deviceSide.close();
  }
}
