import { describe, expect, it } from "vitest";
import { LiveView } from "../src/points/live.ts";
import { PointTable } from "../src/points/table.ts";
import { Quality } from "../src/points/quality.ts";

describe("PointTable", () => {
  it("writes and reads a point, queueing one change per point until drained", () => {
    const t = PointTable.create({ capacity: 4, rings: 2 });
    expect(t.write(2, 12.5, 1000, Quality.GOOD, 1)).toBe(true);
    expect(t.write(2, 13.5, 1001, Quality.GOOD, 1)).toBe(true);
    expect(t.write(3, 1, 1001, Quality.GOOD, 1)).toBe(true);
    const drained: number[] = [];
    t.drain(1, (i) => drained.push(i));
    expect(drained).toEqual([2, 3]);
    expect(t.read(2)).toEqual({ value: 13.5, ts: 1001, quality: Quality.GOOD });
    // Same value again: not a change, nothing queued.
    expect(t.write(2, 13.5, 1002, Quality.GOOD, 1)).toBe(false);
    expect(t.drain(1, () => {})).toBe(0);
  });

  it("keeps the last value but changes quality on comm-fail, and queues that change", () => {
    const t = PointTable.create({ capacity: 1, rings: 1 });
    t.write(0, 42, 1000, Quality.GOOD, 0);
    t.drain(0, () => {});
    expect(t.write(0, NaN, 2000, Quality.COMM_FAIL, 0)).toBe(true);
    expect(t.read(0)).toEqual({ value: 42, ts: 2000, quality: Quality.COMM_FAIL });
    expect(t.drain(0, () => {})).toBe(1);
  });

  it("never overflows a ring: every point fits once", () => {
    const n = 1000;
    const t = PointTable.create({ capacity: n, rings: 1 });
    for (let round = 1; round <= 5; round++) for (let i = 0; i < n; i++) t.write(i, round, round, Quality.GOOD, 0);
    const seen = new Set<number>();
    t.drain(0, (i) => seen.add(i));
    expect(seen.size).toBe(n);
    expect(t.read(999).value).toBe(5);
  });

  it("keeps a live history on the slot grid with gaps for missed and bad samples", () => {
    const t = PointTable.create({ capacity: 1, rings: 1, historySlots: 10, historySlotMs: 1000 });
    const e = t.historyEpoch;
    t.write(0, 1, e + 20_000, Quality.GOOD, 0);
    t.write(0, 2, e + 21_000, Quality.GOOD, 0);
    t.write(0, 3, e + 24_000, Quality.GOOD, 0); // slots 22, 23 missed
    t.write(0, 4, e + 25_000, Quality.COMM_FAIL, 0);
    const h = t.history(0);
    expect(h.t).toEqual([20, 21, 22, 23, 24, 25].map((s) => e + s * 1000));
    expect(h.v.map((x) => (Number.isNaN(x) ? null : x))).toEqual([1, 2, null, null, 3, null]);
    // Older than the ring's length is gone.
    t.write(0, 9, e + 40_000, Quality.GOOD, 0);
    const h2 = t.history(0);
    expect(h2.t[0]).toBe(e + 31_000);
    expect(h2.v.at(-1)).toBe(9);
    expect(t.history(0, e + 39_000, e + 40_000).t).toEqual([e + 39_000, e + 40_000]);
  });

  it("shows no torn reads while real workers write at full speed", async () => {
    const n = 64;
    const t = PointTable.create({ capacity: n, rings: 3 });
    const ms = 1500;
    const workers = [1, 2].map((ring) => {
      const w = new Worker(new URL("./fixtures/table-writer.ts", import.meta.url));
      const done = new Promise<{ writes: number; lastK: number }>((resolve) => (w.onmessage = (e) => resolve(e.data)));
      w.postMessage({ buffers: t.buffers, ring, start: ring === 1 ? 0 : n / 2, end: ring === 1 ? n / 2 : n, ms });
      return { w, done };
    });
    let reads = 0;
    let torn = 0;
    let sawProgress = 0;
    const stopAt = Date.now() + ms - 100;
    const s = { value: 0, ts: 0, quality: 0 };
    while (Date.now() < stopAt) {
      for (let i = 0; i < n; i++) {
        t.read(i, s);
        reads++;
        if (s.value === 0 || Number.isNaN(s.value)) continue;
        if (s.ts !== 2 * s.value || s.quality !== [1, 6, 7][s.value % 3]) torn++;
        else sawProgress = Math.max(sawProgress, s.value);
      }
      // Drain too, as the main thread does.
      t.drainAll(() => {});
    }
    const results = await Promise.all(workers.map((x) => x.done));
    workers.forEach((x) => x.w.terminate());
    expect(torn).toBe(0);
    expect(reads).toBeGreaterThan(100_000);
    // Writers really were writing concurrently with the reads.
    expect(sawProgress).toBeGreaterThan(1000);
    expect(results.every((r) => r.writes > 100_000)).toBe(true);
  });

  it("announces a change once when the stale sweep runs between the write and the drain", () => {
    const table = PointTable.create({ capacity: 1, rings: 1 });
    const registry = { points: [{ staleAfterMs: 60_000 }] } as unknown as ConstructorParameters<typeof LiveView>[0];
    const live = new LiveView(registry, table);
    const seen: number[] = [];
    live.subscribe((batch) => seen.push(...batch));
    table.write(0, 42.5, Date.now(), Quality.GOOD, 0);
    (live as unknown as { sweepStale(): void }).sweepStale(); // its timer fires before the drain
    live.drain();
    expect(seen).toEqual([0]);
  });

  it("drains a worker's reply as soon as the worker signals it, and unsignalled writes on the idle fallback", async () => {
    const table = PointTable.create({ capacity: 2, rings: 2 });
    // Only `table` is used by the drain loop; the registry only sizes the quality arrays.
    const registry = { points: [{ staleAfterMs: 60_000 }, { staleAfterMs: 60_000 }] } as unknown as ConstructorParameters<typeof LiveView>[0];
    const live = new LiveView(registry, table);
    const seen: { point: number; at: number }[] = [];
    live.subscribe((batch) => {
      for (const i of batch) seen.push({ point: i, at: Date.now() });
    });
    live.start();
    const w = new Worker(new URL("./fixtures/signal-writer.ts", import.meta.url));
    const ask = (m: object) => new Promise<{ at: number }>((resolve) => {
      w.onmessage = (e) => resolve(e.data);
      w.postMessage(m);
    });
    try {
      await ask({ buffers: table.buffers });
      const delays: number[] = [];
      for (let k = 1; k <= 10; k++) {
        seen.length = 0;
        const { at } = await ask({ point: 0, value: k, signal: true });
        const until = Date.now() + 1000;
        while (!seen.length && Date.now() < until) await new Promise((r) => setTimeout(r, 1));
        expect(seen.map((s) => s.point)).toEqual([0]);
        delays.push(seen[0]!.at - at);
        await new Promise((r) => setTimeout(r, 7 * k)); // off any timer grid
      }
      // The idle fallback is 100 ms: a signalled reply must not wait for it.
      delays.sort((a, b) => a - b);
      expect(delays[delays.length - 1]).toBeLessThan(50);

      // A write nobody signalled still gets out, on the fallback.
      seen.length = 0;
      await ask({ point: 1, value: 5, signal: false });
      const until = Date.now() + 1000;
      while (!seen.length && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      expect(seen.map((s) => s.point)).toEqual([1]);
    } finally {
      live.stop();
      w.terminate();
    }
  });
});
