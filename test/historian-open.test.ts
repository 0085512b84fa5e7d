import { describe, expect, it } from "vitest";
import { OpenSamples, ValueColumn } from "../src/historian/open.ts";

/** The historian's typed-array state (open.ts) against a plain per-point array model. */
const list = (o: OpenSamples, i: number) => {
  const out: [number, number | string | null, number][] = [];
  for (let k = o.first(i); k >= 0; k = o.after(k)) out.push([o.tsAt(k), o.valueAt(k), o.qualityAt(k)]);
  return out;
};

describe("historian open-minute pool", () => {
  it("keeps each point's samples in time order: late ones inserted, equal times replaced, freed slots reused", () => {
    const o = new OpenSamples(3, 2);
    o.insert(0, 100, 1, 0);
    o.insert(1, 50, "on", 0);
    o.insert(0, 300, 3, 0);
    o.insert(0, 200, 2, 0); // late: between
    o.insert(0, 50, null, 4); // late: before the head
    o.insert(0, 300, 33, 1); // same time as the tail: replaces
    o.insert(0, 200, Number.NaN, 0); // same time mid-list: replaces, NaN kept as NaN
    expect(list(o, 0)).toEqual([
      [50, null, 4],
      [100, 1, 0],
      [200, Number.NaN, 0],
      [300, 33, 1],
    ]);
    expect(list(o, 1)).toEqual([[50, "on", 0]]);
    expect(list(o, 2)).toEqual([]);
    expect(o.length(0)).toBe(4);
    expect(o.valueAt(o.last(0))).toBe(33);
    o.shift(0);
    o.shift(0);
    expect(list(o, 0)).toEqual([
      [200, Number.NaN, 0],
      [300, 33, 1],
    ]);
    o.shift(1);
    expect(o.first(1)).toBe(-1);
    expect(o.last(1)).toBe(-1);
    // Freed slots come back without a text value left behind.
    o.insert(2, 10, 7, 0);
    o.insert(2, 20, 8, 0);
    o.insert(2, 30, 9, 0);
    expect(list(o, 2)).toEqual([
      [10, 7, 0],
      [20, 8, 0],
      [30, 9, 0],
    ]);
    expect(o.size).toBe(5);
  });

  it("matches a per-point array model over random interleaved inserts and shifts (growth included)", () => {
    const points = 7;
    const o = new OpenSamples(points, 1);
    const model: [number, number | string | null, number][][] = Array.from({ length: points }, () => []);
    let seed = 12345;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    for (let step = 0; step < 5000; step++) {
      const i = rnd(points);
      if (rnd(4) === 0) {
        o.shift(i);
        model[i]!.shift();
        continue;
      }
      const ts = rnd(400);
      const v = rnd(10) === 0 ? "t" + ts : rnd(10) === 0 ? null : ts / 4;
      const q = rnd(3);
      const m = model[i]!;
      const at = m.findIndex((s) => s[0] >= ts);
      if (at < 0) m.push([ts, v, q]);
      else if (m[at]![0] === ts) m[at] = [ts, v, q];
      else m.splice(at, 0, [ts, v, q]);
      o.insert(i, ts, v, q);
    }
    for (let i = 0; i < points; i++) {
      expect(list(o, i)).toEqual(model[i]);
      expect(o.length(i)).toBe(model[i]!.length);
    }
  });

  it("value column: numbers, text, null and NaN round-trip; unset is null", () => {
    const c = new ValueColumn(2);
    expect(c.get(0)).toBeNull();
    c.set(0, "x");
    c.set(1, 2.5);
    expect([c.get(0), c.get(1)]).toEqual(["x", 2.5]);
    c.set(0, null);
    c.set(1, Number.NaN);
    expect(c.get(0)).toBeNull();
    expect(c.get(1)).toBeNaN();
    c.grow(4);
    c.set(3, 1);
    expect([c.get(1), c.get(2), c.get(3)]).toEqual([Number.NaN, null, 1]);
  });
});
