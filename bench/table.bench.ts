/**
 * Shared point table throughput: single-writer writes/s (seqlock + history + change ring), reads/s,
 * and reads/s while two real worker threads write at full speed (the contention case).
 */
import { PointTable } from "../src/points/table.ts";
import { Quality } from "../src/points/quality.ts";
import { report } from "./report.ts";

const N = 20_000;
const table = PointTable.create({ capacity: N, rings: 3, historySlots: 600, historySlotMs: 1000 });

function timeIt(label: string, ops: number, fn: () => void): number {
  fn(); // warm-up
  const t0 = performance.now();
  fn();
  const s = (performance.now() - t0) / 1000;
  return ops / s;
}

const ROUNDS = 50;
let k = 0;
const writes = timeIt("writes", N * ROUNDS, () => {
  const ts = Date.now();
  for (let r = 0; r < ROUNDS; r++) {
    k++;
    for (let i = 0; i < N; i++) table.write(i, k + i * 0.001, ts, Quality.GOOD, 1);
    table.drain(1, () => {});
  }
});
const sample = { value: 0, ts: 0, quality: 0 };
let sink = 0;
const reads = timeIt("reads", N * ROUNDS, () => {
  for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < N; i++) sink += table.read(i, sample).value;
});

// Contention: two workers write the table's halves while this thread reads everything.
const writerUrl = new URL("../test/fixtures/table-writer.ts", import.meta.url);
const ms = 2000;
const workers = [1, 2].map((ring) => {
  const w = new Worker(writerUrl);
  const done = new Promise<{ writes: number }>((resolve) => (w.onmessage = (e) => resolve(e.data)));
  w.postMessage({ buffers: table.buffers, ring, start: ring === 1 ? 0 : N / 2, end: ring === 1 ? N / 2 : N, ms });
  return { w, done };
});
await Bun.sleep(50);
let contendedReads = 0;
const t0 = performance.now();
while (performance.now() - t0 < ms - 300) {
  for (let i = 0; i < N; i++) sink += table.read(i, sample).ts;
  contendedReads += N;
  table.drainAll(() => {});
}
const contendedRate = contendedReads / ((performance.now() - t0) / 1000);
const results = await Promise.all(workers.map((x) => x.done));
workers.forEach((x) => x.w.terminate());
const workerWrites = results.reduce((s, r) => s + r.writes, 0) / (ms / 1000);

console.log(`table: ${N} points, ${(table.bytes / 1048576).toFixed(1)} MiB shared (incl. 10 min history)`);
report("table writes/s (one writer, with history + change ring)", Math.round(writes), "ops/s", { min: 1_000_000, note: "20,000 points at 1 s need 20,000/s" });
report("table reads/s (consistent seqlock reads)", Math.round(reads), "ops/s", { min: 1_000_000 });
report("table reads/s while 2 workers write at full speed", Math.round(contendedRate), "ops/s");
report("table writes/s by 2 workers under contention", Math.round(workerWrites), "ops/s");
if (sink === 42) console.log(""); // keep the reads from being optimised away
process.exit(0);
