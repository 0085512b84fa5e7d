import { crc32 } from "node:zlib";

/**
 * A streamed ZIP of several CSV files (stored, no compression: a spreadsheet opens them straight
 * away and nothing is buffered). Each entry's CRC and sizes follow its data (data descriptor), so
 * an entry is written while it is produced. UTF-8 names. No ZIP64: an entry or the archive reaching
 * 4 GiB is refused (an export that size belongs in smaller ranges).
 */

const LIMIT = 0xffff_ffff;

export function* zipPieces(entries: { name: string; pieces: Iterable<string>; mtime?: number }[]): Generator<Uint8Array> {
  const enc = new TextEncoder();
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const { time, date } = dosTime(e.mtime ?? Date.now());
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true); // version needed
    local.setUint16(6, 0x0808, true); // bit 3: sizes in the data descriptor; bit 11: UTF-8 names
    local.setUint16(8, 0, true); // stored
    local.setUint16(10, time, true);
    local.setUint16(12, date, true);
    local.setUint16(26, name.length, true);
    const start = offset;
    yield new Uint8Array(local.buffer);
    yield name;
    offset += 30 + name.length;
    let crc = 0;
    let size = 0;
    for (const p of e.pieces) {
      const b = enc.encode(p);
      crc = crc32(b, crc);
      size += b.length;
      if (size >= LIMIT) throw new Error(`${e.name}: over 4 GiB, choose a shorter range`);
      yield b;
    }
    offset += size;
    const dd = new DataView(new ArrayBuffer(16));
    dd.setUint32(0, 0x08074b50, true);
    dd.setUint32(4, crc >>> 0, true);
    dd.setUint32(8, size, true);
    dd.setUint32(12, size, true);
    yield new Uint8Array(dd.buffer);
    offset += 16;
    if (offset >= LIMIT) throw new Error("archive over 4 GiB, choose a shorter range");
    const c = new DataView(new ArrayBuffer(46));
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 0x031e, true); // made by: Unix, 3.0
    c.setUint16(6, 20, true);
    c.setUint16(8, 0x0808, true);
    c.setUint16(10, 0, true);
    c.setUint16(12, time, true);
    c.setUint16(14, date, true);
    c.setUint32(16, crc >>> 0, true);
    c.setUint32(20, size, true);
    c.setUint32(24, size, true);
    c.setUint16(28, name.length, true);
    c.setUint32(38, 0o100644 << 16, true); // a regular file, rw-r--r--
    c.setUint32(42, start, true);
    central.push(new Uint8Array(c.buffer), name);
  }
  let cdSize = 0;
  for (const b of central) {
    cdSize += b.length;
    yield b;
  }
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, entries.length, true);
  end.setUint16(10, entries.length, true);
  end.setUint32(12, cdSize, true);
  end.setUint32(16, offset, true);
  yield new Uint8Array(end.buffer);
}

/** MS-DOS date and time fields (local wall clock of the server, as zip tools expect; 2 s resolution). */
function dosTime(ms: number): { time: number; date: number } {
  const d = new Date(ms);
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | Math.floor(d.getSeconds() / 2),
    date: (Math.max(0, d.getFullYear() - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

/** Bytes pieces as a stream, one per pull, the event loop turning between (see journal/csv.ts piecesStream). */
export function bytesStream(pieces: Generator<Uint8Array>): ReadableStream<Uint8Array> {
  let first = true;
  return new ReadableStream<Uint8Array>(
    {
      async pull(ctrl) {
        if (!first) await new Promise<void>((r) => setImmediate(r));
        first = false;
        try {
          const next = pieces.next();
          if (next.done) ctrl.close();
          else ctrl.enqueue(next.value);
        } catch (e) {
          ctrl.error(e);
        }
      },
      cancel() {
        pieces.return(undefined);
      },
    },
    { highWaterMark: 1 },
  );
}
