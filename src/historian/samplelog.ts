import { closeSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/**
 * The open minutes' samples, appended once per commit to a file beside the history database
 * (`history.db-samples.N`): one write() per commit of every sample the commit makes durable.
 *
 * Why not a table: an append-only table (h_recent, the earlier design) cost a row insert per sample
 * at every commit and a row delete per sample once its minute had moved to h_raw: at 2,000 samples/s
 * that was a third of the historian's CPU, for rows read back only after a crash. Here a commit is
 * one record (header, CRC-32, 32 bytes per sample), a closed minute is dropped by starting a new
 * segment with the samples still open and deleting the older ones. Like the WAL at
 * synchronous=NORMAL, a written record survives kill -9 (it is in the OS's cache); a torn last
 * record after a power loss fails its CRC and is ignored, never read as data.
 *
 * Segments are deleted only once the database's WAL is fully checkpointed (see Historian.rotateLog),
 * so a power loss never leaves h_raw without samples the deleted segment held.
 */

const MAGIC = 0x4c534242; // "BBSL"
const HEADER = 16; // magic, samples, text bytes, CRC-32 of what follows
const WIDTH = 4; // per sample: point id, ts, value (NaN: not a number), quality — as float64
const HEAD_SLOTS = HEADER / 8;

export interface LoggedSample {
  pid: number;
  ts: number;
  v: number | string | null;
  q: number;
}

const PREFIX = (dbPath: string) => `${basename(dbPath)}-samples.`;

/** The log's segment files of a history database, oldest first. */
export function sampleLogFiles(dbPath: string): string[] {
  if (dbPath === ":memory:") return [];
  const prefix = PREFIX(dbPath);
  let names: string[];
  try {
    names = readdirSync(dirname(dbPath));
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)))
    .sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)))
    .map((n) => join(dirname(dbPath), n));
}

/** Every intact record of every segment, in write order (a segment ends at its first bad record). */
export function readSampleLog(dbPath: string): LoggedSample[] {
  const out: LoggedSample[] = [];
  for (const file of sampleLogFiles(dbPath)) {
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch {
      continue;
    }
    let at = 0;
    while (at + HEADER <= buf.length) {
      if (buf.readUInt32LE(at) !== MAGIC) break;
      const n = buf.readUInt32LE(at + 4);
      const textBytes = buf.readUInt32LE(at + 8);
      const end = at + HEADER + n * WIDTH * 8 + textBytes;
      if (end > buf.length) break;
      const body = buf.subarray(at + HEADER, end);
      if ((Bun.hash.crc32(body) >>> 0) !== buf.readUInt32LE(at + 12)) break;
      const texts = textBytes ? new Map(JSON.parse(body.subarray(n * WIDTH * 8).toString("utf8")) as [number, string][]) : undefined;
      const f = new Float64Array(body.buffer.slice(body.byteOffset, body.byteOffset + n * WIDTH * 8));
      for (let k = 0; k < n; k++) {
        const v = f[k * WIDTH + 2]!;
        out.push({ pid: f[k * WIDTH]!, ts: f[k * WIDTH + 1]!, v: v === v ? v : (texts?.get(k) ?? null), q: f[k * WIDTH + 3]! });
      }
      at = end;
    }
  }
  return out;
}

/** Removes every segment (a restore puts another database in place). */
export function removeSampleLog(dbPath: string): void {
  for (const f of sampleLogFiles(dbPath)) rmSync(f, { force: true });
}

export class SampleLog {
  private fd = -1;
  private seq = 0;
  /**
   * The record being built, header included: HEADER bytes (two float64 slots), then the samples. A
   * record without text goes to write() straight from here: the copies into a header + body Buffer
   * were ~64 kB of garbage a second at 2,000 samples/s (the RSS between collections).
   */
  private buf = new Float64Array(HEAD_SLOTS + 1024 * WIDTH);
  private bytes = new Uint8Array(this.buf.buffer);
  private head = new DataView(this.buf.buffer, 0, HEADER);
  private n = 0;
  private texts: [number, string][] = [];
  /** Segments older than the current one, kept until the database is known durable. */
  private old: string[] = [];
  readonly enabled: boolean;
  /** Records that could not be written (disk full, I/O error). */
  failures = 0;
  private failureLoggedAt = 0;

  constructor(private readonly dbPath: string) {
    this.enabled = dbPath !== ":memory:";
    const files = sampleLogFiles(dbPath);
    this.old = files;
    const last = files[files.length - 1];
    this.seq = last ? Number(last.slice(last.lastIndexOf(".") + 1)) : 0;
  }

  get buffered(): number {
    return this.n;
  }

  add(pid: number, ts: number, v: number | string | null, q: number): void {
    if (!this.enabled) return;
    if (HEAD_SLOTS + (this.n + 1) * WIDTH > this.buf.length) {
      const b = new Float64Array(HEAD_SLOTS + (this.buf.length - HEAD_SLOTS) * 2);
      b.set(this.buf);
      this.buf = b;
      this.bytes = new Uint8Array(b.buffer);
      this.head = new DataView(b.buffer, 0, HEADER);
    }
    const o = HEAD_SLOTS + this.n * WIDTH;
    this.buf[o] = pid;
    this.buf[o + 1] = ts;
    if (typeof v === "number") this.buf[o + 2] = v;
    else {
      this.buf[o + 2] = NaN;
      if (v !== null) this.texts.push([this.n, v]);
    }
    this.buf[o + 3] = q;
    this.n++;
  }

  /** Appends what was added as one record (one write); nothing when nothing was added. */
  write(): void {
    if (!this.enabled || this.n === 0) return;
    const end = HEADER + this.n * WIDTH * 8;
    const data = this.bytes.subarray(HEADER, end);
    const text = this.texts.length ? Buffer.from(JSON.stringify(this.texts), "utf8") : undefined;
    const body = text ? Buffer.concat([data, text]) : data;
    const h = this.head;
    h.setUint32(0, MAGIC, true);
    h.setUint32(4, this.n, true);
    h.setUint32(8, text?.length ?? 0, true);
    h.setUint32(12, Bun.hash.crc32(body) >>> 0, true);
    try {
      if (this.fd < 0) this.fd = openSync(this.segment(this.seq === 0 ? ++this.seq : this.seq), "a");
      // Without text the record is contiguous in buf: one write, no copy (text is rare: copied).
      if (text) writeSync(this.fd, Buffer.concat([this.bytes.subarray(0, HEADER), body]));
      else writeSync(this.fd, this.bytes, 0, end);
    } catch (e) {
      this.closeFd(); // the next record opens the segment again
      // A full or failing disk: these samples still reach the database when their minute closes;
      // only their crash copy is lost. Never thrown: a throw here would leave them queued and put
      // them in the open minutes again at the next commit.
      this.failures++;
      const now = Date.now();
      if (now - this.failureLoggedAt >= 60_000) {
        this.failureLoggedAt = now;
        console.error(`historian: sample log write failed (${(e as Error).message}); ${this.failures} so far`);
      }
    }
    this.n = 0;
    this.texts = [];
  }

  /**
   * Starts a new segment holding `still` (the samples not in the database yet: call `add` for each
   * inside it), then deletes the older segments if `durable` (their content is safely in the
   * database), else keeps them for a later rotation (a replay of a sample already stored is harmless).
   */
  rotate(still: () => void, durable: boolean): void {
    if (!this.enabled) return;
    const prev = this.fd >= 0 ? this.segment(this.seq) : undefined;
    this.closeFd();
    if (prev) this.old.push(prev);
    this.seq++;
    this.n = 0;
    this.texts = [];
    still();
    this.write(); // opens the new segment (a failure to is counted there, never thrown)
    if (durable) {
      // One that cannot be removed now is tried again at the next rotation (a replay is harmless).
      this.old = this.old.filter((f) => {
        try {
          rmSync(f, { force: true });
          return false;
        } catch {
          return true;
        }
      });
    }
  }

  close(): void {
    this.closeFd();
  }

  private closeFd(): void {
    try {
      if (this.fd >= 0) closeSync(this.fd);
    } catch {
      // already gone (a failed disk): nothing to keep
    }
    this.fd = -1;
  }

  private segment(seq: number): string {
    return join(dirname(this.dbPath), PREFIX(this.dbPath) + seq);
  }
}
