import type { Database } from "bun:sqlite";
import { emptySamples } from "../../src/historian/aggregate.ts";
import { readSampleLog } from "../../src/historian/samplelog.ts";
import { decodeBlock } from "../../src/historian/store.ts";

export interface StoredSample {
  point: number;
  ts: number;
  v: number | string | null;
  q: number;
}

/**
 * Every committed sample of a history file, wherever it is kept: h_block (closed minutes), h_raw
 * (late samples, older versions), h_recent
 * (an older Busbar's or a backup's open minutes) and the sample log beside the file (open minutes).
 * A sample in several places counts once (the log, written last, wins). Sorted by point, then time.
 */
export function storedSamples(db: Database, path: string, point?: number): StoredSample[] {
  const where = point === undefined ? "" : " WHERE point = ?";
  const args = point === undefined ? [] : [point];
  const blocks: StoredSample[] = [];
  for (const b of db.query(`SELECT point, ts, data FROM h_block${where}`).all(...args) as { point: number; ts: number; data: Uint8Array | string }[]) {
    const s = emptySamples();
    decodeBlock(b.ts, b.data, s);
    for (let k = 0; k < s.ts.length; k++) blocks.push({ point: b.point, ts: s.ts[k]!, v: s.v[k]!, q: s.q[k]! });
  }
  const rows = [
    ...blocks,
    ...(db.query(`SELECT point, ts, value AS v, quality AS q FROM h_raw${where}`).all(...args) as StoredSample[]),
    ...(db.query(`SELECT point, ts, value AS v, quality AS q FROM h_recent${where}`).all(...args) as StoredSample[]),
    ...readSampleLog(path)
      .filter((r) => point === undefined || r.pid === point)
      .map((r) => ({ point: r.pid, ts: r.ts, v: r.v, q: r.q })),
  ];
  const byKey = new Map<string, StoredSample>();
  for (const r of rows) byKey.set(`${r.point}:${r.ts}`, { point: r.point, ts: r.ts, v: r.v, q: r.q });
  return [...byKey.values()].sort((a, b) => a.point - b.point || a.ts - b.ts);
}
