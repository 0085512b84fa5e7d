/**
 * The last poll reply of every planned read, in shared memory: bus workers store the data bytes of
 * each successful read (exactly as the device sent them), the gateway's cached mode answers reads of
 * those registers from here without a frame on the wire.
 *
 * Why raw replies and not the point table's engineering values: a register rebuilt from scaled,
 * masked, range-checked values cannot reproduce what the device said (other bits of a masked
 * register, read-through gap registers, "not available" sentinels), and a gateway must be exact.
 *
 * One writer per slot (the bus worker of that device), any number of readers; each slot has a
 * seqlock like the point table (odd = write in progress).
 */

export interface CacheSlot {
  device: string;
  unit: number;
  fc: 1 | 2 | 3 | 4;
  start: number;
  /** Registers or bits. */
  count: number;
  /** Poll period of this read (ms): the default age limit is twice this. */
  periodMs: number;
  /** Byte offset and length of the slot's data. */
  offset: number;
  bytes: number;
}

export interface ReplyCacheBuffers {
  slots: CacheSlot[];
  seq: SharedArrayBuffer;
  ts: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

export interface CachedRead {
  /** Register bytes (FC3/4) or one byte 0/1 per bit (FC1/2), as the Modbus server wants them. */
  data: Uint8Array;
  /** Time of the oldest poll reply used. */
  ts: number;
}

export class ReplyCache {
  private readonly seq: Int32Array;
  private readonly ts: Float64Array;
  private readonly data: Uint8Array;
  /** Slots by device, per function, sorted by start. */
  private readonly index = new Map<string, CacheSlot[]>();
  private readonly slotNo = new Map<CacheSlot, number>();

  static create(slots: Omit<CacheSlot, "offset" | "bytes">[]): ReplyCache {
    let offset = 0;
    const full: CacheSlot[] = slots.map((s) => {
      const bytes = s.fc <= 2 ? (s.count + 7) >> 3 : s.count * 2;
      const slot = { ...s, offset, bytes };
      offset += bytes;
      return slot;
    });
    const n = Math.max(1, full.length);
    return new ReplyCache({
      slots: full,
      seq: new SharedArrayBuffer(n * 4),
      ts: new SharedArrayBuffer(n * 8),
      data: new SharedArrayBuffer(Math.max(1, offset)),
    });
  }

  constructor(readonly buffers: ReplyCacheBuffers) {
    this.seq = new Int32Array(buffers.seq);
    this.ts = new Float64Array(buffers.ts);
    this.data = new Uint8Array(buffers.data);
    buffers.slots.forEach((s, i) => {
      const key = `${s.device}/${s.fc}`;
      let list = this.index.get(key);
      if (!list) this.index.set(key, (list = []));
      list.push(s);
      this.slotNo.set(s, i);
    });
    for (const list of this.index.values()) list.sort((a, b) => a.start - b.start);
  }

  /** Worker side: the data bytes of a successful read (packed bits for FC1/2). */
  store(slot: number, bytes: Uint8Array, ts: number): void {
    const s = this.buffers.slots[slot];
    if (!s || bytes.length < s.bytes) return;
    Atomics.add(this.seq, slot, 1);
    this.data.set(bytes.subarray(0, s.bytes), s.offset);
    this.ts[slot] = ts;
    Atomics.add(this.seq, slot, 1);
  }

  /** Worker side: forget a slot (its device stopped answering or said no). */
  invalidate(slot: number): void {
    if (!this.buffers.slots[slot]) return;
    Atomics.add(this.seq, slot, 1);
    this.ts[slot] = 0;
    Atomics.add(this.seq, slot, 1);
  }

  /**
   * The registers [address, address + count) of `device` by function `fc`, when polled reads cover
   * them all and every reply used is at most `maxAgeMs` old (default: twice the read's period).
   */
  read(device: string, fc: 1 | 2 | 3 | 4, address: number, count: number, now: number, maxAgeMs?: number): CachedRead | undefined {
    const list = this.index.get(`${device}/${fc}`);
    if (!list) return undefined;
    const bits = fc <= 2;
    const out = new Uint8Array(bits ? count : count * 2);
    let at = address;
    const end = address + count;
    let oldest = Infinity;
    for (const s of list) {
      if (at >= end) break;
      if (s.start > at) return undefined; // a hole nobody polls
      const sEnd = s.start + s.count;
      if (sEnd <= at) continue;
      const upto = Math.min(end, sEnd);
      const ts = this.copy(s, at, upto, out, at - address, bits);
      const limit = maxAgeMs ?? 2 * s.periodMs;
      if (ts === 0 || now - ts > limit) return undefined;
      if (ts < oldest) oldest = ts;
      at = upto;
    }
    return at >= end ? { data: out, ts: oldest } : undefined;
  }

  /** Copies [from, to) of slot `s` into out at `outAt` (seqlock-consistent); returns the slot's ts. */
  private copy(s: CacheSlot, from: number, to: number, out: Uint8Array, outAt: number, bits: boolean): number {
    const i = this.slotNo.get(s)!;
    for (let attempt = 0; attempt < 100; attempt++) {
      const before = Atomics.load(this.seq, i);
      if (before & 1) continue;
      if (bits) {
        for (let b = from; b < to; b++) {
          const k = b - s.start;
          out[outAt + b - from] = (this.data[s.offset + (k >> 3)]! >> (k & 7)) & 1;
        }
      } else {
        const o = s.offset + (from - s.start) * 2;
        out.set(this.data.subarray(o, o + (to - from) * 2), outAt * 2);
      }
      const ts = this.ts[i]!;
      if (Atomics.load(this.seq, i) === before) return ts;
    }
    return 0;
  }
}
