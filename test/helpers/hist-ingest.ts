/**
 * Child process of the crash test: ingests numbered samples into a historian as fast as a busy site
 * would (20,000 samples/s over 50 points) and prints the highest number committed after each commit.
 *   bun test/helpers/hist-ingest.ts DB RUN
 */
import { historianSchema } from "../../src/historian/config.ts";
import { Historian } from "../../src/historian/historian.ts";
import type { HistPoint } from "../../src/historian/points.ts";
import { Quality } from "../../src/points/quality.ts";

const [path, runArg] = process.argv.slice(2);
const run = Number(runArg);
const POINTS = 50;
const points: HistPoint[] = Array.from({ length: POINTS }, (_, i) => ({
  index: i,
  name: `C.p${i}`,
  device: "C",
  kind: "analog",
  unit: "",
  deadband: 0,
  relDeadband: 0,
  heartbeatMs: 60_000,
  store: true,
}));
const t0 = performance.now();
let seq = 0;
let queuedUpTo = 0;
const h: Historian = new Historian({
  path: path!,
  points,
  config: historianSchema.parse({}),
  timeZone: "UTC",
  flushMs: 200,
  onCommit: () => process.stdout.write(`committed ${committing}\n`),
});
let committing = 0;
// Record what the coming commit holds: everything queued before the writer's flush starts.
const flush = h.flush.bind(h);
h.flush = (now?: number) => {
  committing = queuedUpTo;
  return flush(now);
};
h.start();
const base = run * 1e9;
const lastTs = new Float64Array(POINTS);
setInterval(() => {
  const now = Date.now();
  for (let k = 0; k < 100; k++) {
    seq++;
    const p = seq % POINTS;
    const ts = (lastTs[p] = Math.max(now, lastTs[p]! + 1));
    h.enqueue(p, ts, base + seq, Quality.GOOD);
  }
  queuedUpTo = seq;
}, 5);
process.stdout.write(`ready ${(performance.now() - t0).toFixed(0)} ms\n`);
