/**
 * Per-point state of the historian kept in typed arrays (struct of arrays, indexed by point or by
 * slot) instead of an object or three JS arrays per point: at 20,000 points those were ~60,000
 * arrays and ~60,000 objects on the JS heap, and the allocator's memory around them (RSS).
 */

/**
 * A column of sample values: numbers in a Float64Array, the rare others (text, a NaN number) in a
 * map beside it. Null is a NaN with no map entry (the unset state), so a gap costs no map entry.
 */
export class ValueColumn {
  num: Float64Array;
  private readonly other = new Map<number, string | number>();

  constructor(size: number) {
    this.num = new Float64Array(size).fill(NaN);
  }

  get(k: number): number | string | null {
    const v = this.num[k]!;
    if (v === v) return v;
    return this.other.size ? (this.other.get(k) ?? null) : null;
  }

  set(k: number, v: number | string | null): void {
    if (typeof v === "number" && v === v) {
      this.num[k] = v;
      if (this.other.size) this.other.delete(k);
      return;
    }
    this.num[k] = NaN;
    if (v === null) {
      if (this.other.size) this.other.delete(k);
    } else this.other.set(k, v);
  }

  grow(size: number): void {
    const num = new Float64Array(size).fill(NaN);
    num.set(this.num);
    this.num = num;
  }
}

/**
 * The open minutes' committed samples of every point: one shared pool of slots (ts, value,
 * quality), each point's samples a time-ordered singly linked list through `next`, freed slots
 * reused. Samples nearly always arrive in time order (append at the tail); a late one is inserted
 * in place, a sample at the same time replaces (as h_recent → h_raw does with INSERT OR REPLACE).
 */
export class OpenSamples {
  private readonly head: Int32Array;
  private readonly tail: Int32Array;
  private readonly count: Int32Array;
  private next: Int32Array;
  private ts: Float64Array;
  private q: Int32Array;
  private readonly v: ValueColumn;
  private free = -1;
  private top = 0;

  constructor(points: number, slots = 1024) {
    this.head = new Int32Array(points).fill(-1);
    this.tail = new Int32Array(points).fill(-1);
    this.count = new Int32Array(points);
    this.next = new Int32Array(slots);
    this.ts = new Float64Array(slots);
    this.q = new Int32Array(slots);
    this.v = new ValueColumn(slots);
  }

  /** Samples held for point i. */
  length(i: number): number {
    return this.count[i]!;
  }

  /** Point i's earliest slot, -1 when none; walk on with after(). */
  first(i: number): number {
    return this.head[i]!;
  }

  last(i: number): number {
    return this.tail[i]!;
  }

  after(slot: number): number {
    return this.next[slot]!;
  }

  tsAt(slot: number): number {
    return this.ts[slot]!;
  }

  valueAt(slot: number): number | string | null {
    return this.v.get(slot);
  }

  /** The slot's value as a number: NaN when it is none (or not a number). */
  numAt(slot: number): number {
    return this.v.num[slot]!;
  }

  qualityAt(slot: number): number {
    return this.q[slot]!;
  }

  /** Slots in use (free list excluded): for tests and diagnostics. */
  get size(): number {
    let n = 0;
    for (let i = 0; i < this.count.length; i++) n += this.count[i]!;
    return n;
  }

  insert(i: number, ts: number, v: number | string | null, q: number): void {
    const t = this.tail[i]!;
    if (t >= 0 && this.ts[t]! >= ts) {
      if (this.ts[t] === ts) return this.write(t, ts, v, q);
      // Late: find the first sample not before ts (there is one: the tail is after ts).
      let prev = -1;
      let cur = this.head[i]!;
      while (this.ts[cur]! < ts) {
        prev = cur;
        cur = this.next[cur]!;
      }
      if (this.ts[cur] === ts) return this.write(cur, ts, v, q);
      const s = this.alloc();
      this.write(s, ts, v, q);
      this.next[s] = cur;
      if (prev < 0) this.head[i] = s;
      else this.next[prev] = s;
      this.count[i]++;
      return;
    }
    const s = this.alloc();
    this.write(s, ts, v, q);
    this.next[s] = -1;
    if (t < 0) this.head[i] = s;
    else this.next[t] = s;
    this.tail[i] = s;
    this.count[i]++;
  }

  /** Drops point i's earliest sample. */
  shift(i: number): void {
    const s = this.head[i]!;
    if (s < 0) return;
    const n = this.next[s]!;
    this.head[i] = n;
    if (n < 0) this.tail[i] = -1;
    this.count[i]--;
    this.v.set(s, null);
    this.next[s] = this.free;
    this.free = s;
  }

  private write(s: number, ts: number, v: number | string | null, q: number): void {
    this.ts[s] = ts;
    this.v.set(s, v);
    this.q[s] = q;
  }

  private alloc(): number {
    if (this.free >= 0) {
      const s = this.free;
      this.free = this.next[s]!;
      return s;
    }
    if (this.top === this.ts.length) {
      // Doubling: a minute's samples at full load settle the pool after the first minutes.
      const size = this.ts.length * 2;
      const next = new Int32Array(size);
      next.set(this.next);
      this.next = next;
      const ts = new Float64Array(size);
      ts.set(this.ts);
      this.ts = ts;
      const q = new Int32Array(size);
      q.set(this.q);
      this.q = q;
      this.v.grow(size);
    }
    return this.top++;
  }
}
