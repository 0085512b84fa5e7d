/**
 * Deterministic input generation for the fuzz harnesses: a seeded PRNG and byte/text mutators. A
 * failure prints its seed and input number, so `FUZZ_SEED=… ` reproduces it exactly.
 */

/** mulberry32: small, fast, good enough to drive mutations. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x10, 0x20, 0x7d, 0x7e];

/** Byte mutations: flips, interesting values, inserts, deletes, duplicated and spliced chunks, truncation. */
export function mutateBytes(rng: Rng, input: Uint8Array, others: readonly Uint8Array[] = [], maxLen = 1024): Uint8Array {
  let b = Array.from(input);
  const rounds = 1 + rng.int(rng.chance(0.2) ? 8 : 3);
  for (let r = 0; r < rounds; r++) {
    const at = b.length ? rng.int(b.length) : 0;
    switch (rng.int(9)) {
      case 0:
        if (b.length) b[at] = b[at]! ^ (1 << rng.int(8));
        break;
      case 1:
        if (b.length) b[at] = rng.pick(INTERESTING);
        break;
      case 2:
        if (b.length) b[at] = rng.int(256);
        break;
      case 3:
        b.splice(at, 0, ...rng.bytes(1 + rng.int(4)));
        break;
      case 4:
        b.splice(at, 1 + rng.int(4));
        break;
      case 5: {
        const len = 1 + rng.int(Math.min(16, Math.max(1, b.length)));
        b.splice(rng.int(b.length + 1), 0, ...b.slice(at, at + len));
        break;
      }
      case 6:
        b = b.slice(0, rng.int(b.length + 1));
        break;
      case 7: {
        const o = others.length ? rng.pick(others) : input;
        const from = rng.int(o.length + 1);
        b.splice(at, rng.int(8), ...o.slice(from, from + 1 + rng.int(32)));
        break;
      }
      default:
        // 16-bit big-endian fields are what Modbus is made of: set one to an edge value.
        if (b.length > 1) {
          const v = rng.pick([0, 1, 0x7d, 0x7e, 0x7b, 0x7c, 0x7d0, 0x7d1, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff]);
          b[at] = v >> 8;
          if (at + 1 < b.length) b[at + 1] = v & 0xff;
        }
    }
  }
  if (b.length > maxLen) b.length = maxLen;
  return Uint8Array.from(b);
}

/** Text mutations by tokens a parser cares about, then (sometimes) bytes. */
export function mutateText(rng: Rng, input: string, tokens: readonly string[], others: readonly string[] = [], maxLen = 16_384): string {
  let s = input;
  const rounds = 1 + rng.int(rng.chance(0.2) ? 10 : 4);
  for (let r = 0; r < rounds; r++) {
    const at = rng.int(s.length + 1);
    switch (rng.int(7)) {
      case 0:
        s = s.slice(0, at) + rng.pick(tokens) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + rng.int(8));
        break;
      case 2: {
        const len = 1 + rng.int(40);
        s = s.slice(0, at) + s.slice(at, at + len).repeat(1 + rng.int(4)) + s.slice(at);
        break;
      }
      case 3: {
        const o = others.length ? rng.pick(others) : input;
        const from = rng.int(o.length + 1);
        s = s.slice(0, at) + o.slice(from, from + 1 + rng.int(80)) + s.slice(at + rng.int(20));
        break;
      }
      case 4: {
        // Replace a number with an edge value.
        const m = /-?\d+(\.\d+)?/g;
        const nums = [...s.matchAll(m)];
        if (nums.length) {
          const n = rng.pick(nums);
          s = s.slice(0, n.index) + rng.pick(["0", "-1", "255", "256", "65535", "65536", "1e309", "-0", "0x10", "NaN", "2147483648", "9007199254740993", "0.5", "1_000"]) + s.slice(n.index! + n[0].length);
        }
        break;
      }
      case 5:
        s = s.slice(0, at) + String.fromCharCode(rng.pick([0, 9, 10, 13, 0x85, 0xa0, 0x2028, 0xfeff, 0xd800, 0x41f, rng.int(0x10000)])) + s.slice(at);
        break;
      default:
        s = s.slice(0, rng.int(s.length + 1));
    }
  }
  return s.length > maxLen ? s.slice(0, maxLen) : s;
}

/** Mutates a parsed JSON-like value in place: wrong types, edge numbers, dropped and extra keys. */
export function mutateValue(rng: Rng, v: unknown, depth = 0): unknown {
  const EDGE: unknown[] = [null, true, false, 0, -1, 1.5, 255, 256, 65535, 65536, 1e309, -1e309, NaN, "", "x", "Mars/Olympus_Mons", "x".repeat(3000), [], {}, [null], { a: 1 }, "0x10", "1"];
  if (depth > 6 || rng.chance(0.08)) return rng.pick(EDGE);
  if (Array.isArray(v)) {
    const a = v.slice();
    if (a.length && rng.chance(0.5)) a[rng.int(a.length)] = mutateValue(rng, a[rng.int(a.length)], depth + 1);
    if (rng.chance(0.15)) a.push(mutateValue(rng, a.length ? a[rng.int(a.length)] : {}, depth + 1));
    if (a.length && rng.chance(0.15)) a.splice(rng.int(a.length), 1);
    if (a.length && rng.chance(0.05)) a.push(structuredClone(a[rng.int(a.length)])); // duplicates: ids, units
    return a;
  }
  if (v !== null && typeof v === "object") {
    const o: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    const keys = Object.keys(o);
    if (keys.length && rng.chance(0.6)) {
      const k = rng.pick(keys);
      o[k] = mutateValue(rng, o[k], depth + 1);
    }
    if (keys.length && rng.chance(0.1)) delete o[rng.pick(keys)];
    if (rng.chance(0.05)) o[rng.pick(["extra", "__proto__", "constructor", "toString", ...keys])] = rng.pick(EDGE);
    return o;
  }
  if (rng.chance(0.5)) return rng.pick(EDGE);
  if (typeof v === "number") return rng.pick([v + 1, v - 1, -v, v * 1000, v / 3, Math.floor(v / 2)]);
  if (typeof v === "string") return rng.chance(0.5) ? v + rng.pick(["_", ".", " ", "é", "\n"]) : v.slice(0, rng.int(v.length + 1));
  return v;
}
