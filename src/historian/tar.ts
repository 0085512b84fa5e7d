import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";

/**
 * Minimal POSIX ustar: a backup is a plain tar (`tar tf` lists it) of manifest.json and the
 * database files. Only regular files, names < 100 bytes.
 */

function header(name: string, size: number, mtimeS: number): Uint8Array {
  const h = new Uint8Array(512);
  const put = (off: number, len: number, s: string) => h.set(new TextEncoder().encode(s).subarray(0, len), off);
  const oct = (off: number, len: number, n: number) => put(off, len, n.toString(8).padStart(len - 1, "0") + "\0");
  put(0, 100, name);
  oct(100, 8, 0o644);
  oct(108, 8, 0);
  oct(116, 8, 0);
  oct(124, 12, size);
  oct(136, 12, Math.floor(mtimeS));
  put(148, 8, "        ");
  put(156, 1, "0");
  put(257, 6, "ustar\0");
  put(263, 2, "00");
  let sum = 0;
  for (const b of h) sum += b;
  put(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** Writes `entries` (a file path or bytes each) into a new tar at `out`. */
export function writeTar(out: string, entries: { name: string; path?: string; data?: Uint8Array }[]): void {
  const fd = openSync(out, "w");
  try {
    const buf = new Uint8Array(1 << 20);
    for (const e of entries) {
      if (e.data) {
        writeSync(fd, header(e.name, e.data.length, Date.now() / 1000));
        writeSync(fd, e.data);
        const pad = (512 - (e.data.length % 512)) % 512;
        if (pad) writeSync(fd, new Uint8Array(pad));
        continue;
      }
      const src = openSync(e.path!, "r");
      try {
        const size = fstatSync(src).size;
        writeSync(fd, header(e.name, size, Date.now() / 1000));
        let done = 0;
        while (done < size) {
          const n = readSync(src, buf, 0, Math.min(buf.length, size - done), done);
          if (n <= 0) throw new Error(`${e.path} shrank while being archived`);
          writeSync(fd, buf, 0, n);
          done += n;
        }
        const pad = (512 - (size % 512)) % 512;
        if (pad) writeSync(fd, new Uint8Array(pad));
      } finally {
        closeSync(src);
      }
    }
    writeSync(fd, new Uint8Array(1024)); // end of archive
  } finally {
    closeSync(fd);
  }
}

export interface TarEntry {
  name: string;
  size: number;
  /** Byte offset of the content in the archive. */
  offset: number;
  /** False when the archive ends before the content does. */
  complete: boolean;
}

/** Lists a tar's entries; throws when it is not a tar. */
export function listTar(path: string): TarEntry[] {
  const fd = openSync(path, "r");
  try {
    const total = fstatSync(fd).size;
    const out: TarEntry[] = [];
    const h = new Uint8Array(512);
    let off = 0;
    while (off + 512 <= total) {
      readSync(fd, h, 0, 512, off);
      if (h.every((b) => b === 0)) break;
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
      const text = (a: number, l: number) => new TextDecoder().decode(h.subarray(a, a + l)).replace(/\0.*$/s, "");
      const stored = parseInt(text(148, 8).trim(), 8);
      if (text(257, 5) !== "ustar" || stored !== sum) throw new Error("not a tar archive");
      const size = parseInt(text(124, 12).trim(), 8);
      out.push({ name: text(0, 100), size, offset: off + 512, complete: off + 512 + size <= total });
      off += 512 + Math.ceil(size / 512) * 512;
    }
    if (!out.length) throw new Error("not a tar archive");
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Copies one entry's content out to `dest`; returns its SHA-256 (hex). */
export function extractEntry(archive: string, e: TarEntry, dest?: string): string {
  const src = openSync(archive, "r");
  const dst = dest ? openSync(dest, "w") : undefined;
  const hash = new Bun.CryptoHasher("sha256");
  try {
    const buf = new Uint8Array(1 << 20);
    let done = 0;
    const total = fstatSync(src).size;
    const size = Math.min(e.size, total - e.offset);
    while (done < size) {
      const n = readSync(src, buf, 0, Math.min(buf.length, size - done), e.offset + done);
      if (n <= 0) break;
      hash.update(buf.subarray(0, n));
      if (dst !== undefined) writeSync(dst, buf, 0, n);
      done += n;
    }
  } finally {
    closeSync(src);
    if (dst !== undefined) closeSync(dst);
  }
  return hash.digest("hex");
}

export function sha256File(path: string): string {
  const fd = openSync(path, "r");
  const hash = new Bun.CryptoHasher("sha256");
  try {
    const buf = new Uint8Array(1 << 20);
    let off = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, off);
      if (n <= 0) break;
      hash.update(buf.subarray(0, n));
      off += n;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}
