/**
 * A pure-JS serial port for Bun: the line is configured with `stty`, the device is opened
 * non-blocking, bytes are read through `Bun.file(fd).stream()` (Bun polls the fd itself) and written
 * with non-blocking `writeSync`. No native addon, no file lookups next to the module: works the same
 * from source and in the compiled binary. (The native `serialport` binding crashes Bun:
 * `uv_poll_init` is unsupported.)
 *
 * Linux only (stty -F). Baud rates are the POSIX ones between 1200 and 115200.
 */
import { closeSync, constants, openSync, realpathSync, writeSync } from "node:fs";

export const STANDARD_BAUDS = [1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600, 115200] as const;

export interface SerialOptions {
  baud: number;
  parity: "none" | "even" | "odd";
  stopBits: 1 | 2;
  dataBits?: 7 | 8;
}

/** A byte pipe: a serial port or a TCP socket carrying raw RTU frames. */
export interface ByteTransport {
  readonly isOpen: boolean;
  /** Writes all bytes (throws when the transport is gone). */
  write(data: Uint8Array): void;
  /** Called for every chunk received. */
  onData: (chunk: Uint8Array) => void;
  /** Called once when the transport closes by itself (device gone, peer closed). */
  onClose: (error?: Error) => void;
  close(): Promise<void>;
}

export class SerialError extends Error {}

/** The stty arguments for a line setting (raw 8-bit, no flow control, no echo, no modem hang-up). */
export function sttyArgs(path: string, o: SerialOptions): string[] {
  if (!(STANDARD_BAUDS as readonly number[]).includes(o.baud))
    throw new SerialError(`baud ${o.baud} is not a standard rate (${STANDARD_BAUDS.join(", ")})`);
  return [
    "-F",
    path,
    String(o.baud),
    o.dataBits === 7 ? "cs7" : "cs8",
    o.stopBits === 2 ? "cstopb" : "-cstopb",
    o.parity === "none" ? "-parenb" : "parenb",
    o.parity === "odd" ? "parodd" : "-parodd",
    "raw",
    "-echo",
    "-echoe",
    "-echok",
    "-echoctl",
    "-echoke",
    "-ixon",
    "-ixoff",
    "-crtscts",
    "clocal",
    "cread",
    "-hupcl",
    "min",
    "1",
    "time",
    "0",
  ];
}

/** Configures the line. Throws a SerialError with stty's own message. */
export function configureLine(path: string, o: SerialOptions): void {
  let r: ReturnType<typeof Bun.spawnSync>;
  try {
    r = Bun.spawnSync(["stty", ...sttyArgs(path, o)], { stdout: "ignore", stderr: "pipe" });
  } catch (e) {
    throw new SerialError(`cannot run stty to configure ${path}: ${(e as Error).message}`);
  }
  if (r.exitCode !== 0) {
    const msg = (r.stderr?.toString() ?? "").trim().replace(/^stty: /, "");
    // A pseudo-terminal (socat's virtual null-modem) has no parity hardware: Linux keeps PARENB off
    // and stty reports a partial setting. Bytes pass unchanged, which is all a pty can do.
    if (/unable to perform all requested operations/.test(msg) && isPty(path)) return;
    throw new SerialError(`cannot configure ${path}: ${msg || `stty exited with ${r.exitCode}`}`);
  }
}

function isPty(path: string): boolean {
  try {
    return realpathSync(path).startsWith("/dev/pts/");
  } catch {
    return false;
  }
}

const EAGAIN_RETRY_MS = 200;

export class SerialPort implements ByteTransport {
  private fd: number | null = null;
  private reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  private closing = false;
  onData: (chunk: Uint8Array) => void = () => {};
  onClose: (error?: Error) => void = () => {};

  private constructor(
    readonly path: string,
    readonly options: SerialOptions,
  ) {}

  /** Configures and opens the port; reading starts at once. */
  static open(path: string, options: SerialOptions): SerialPort {
    const port = new SerialPort(path, options);
    configureLine(path, options);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    } catch (e) {
      throw new SerialError(`cannot open ${path}: ${(e as Error).message}`);
    }
    port.fd = fd;
    port.startReading(fd);
    return port;
  }

  get isOpen(): boolean {
    return this.fd !== null && !this.closing;
  }

  private startReading(fd: number): void {
    const reader = Bun.file(fd).stream().getReader();
    this.reader = reader;
    void (async () => {
      let error: Error | undefined;
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          if (value && value.length) {
            try {
              this.onData(value);
            } catch (e) {
              // A consumer's bug must neither stop the port nor kill its worker: report it, keep reading.
              console.error(`${this.path}: error handling received bytes:`, e);
            }
          }
        }
      } catch (e) {
        error = e as Error;
      }
      if (!this.closing) {
        this.release();
        this.onClose(error ?? new SerialError(`${this.path} closed`));
      }
    })();
  }

  write(data: Uint8Array): void {
    if (this.fd === null || this.closing) throw new SerialError(`${this.path} is not open`);
    let off = 0;
    let until = 0;
    while (off < data.length) {
      try {
        off += writeSync(this.fd, data, off, data.length - off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "EAGAIN") throw new SerialError(`write to ${this.path}: ${(e as Error).message}`);
        // Output buffer full (nobody draining a pty, flow-controlled adapter): wait a little.
        const now = performance.now();
        if (until === 0) until = now + EAGAIN_RETRY_MS;
        else if (now > until) throw new SerialError(`write to ${this.path}: output blocked`);
        Bun.sleepSync(1);
      }
    }
  }

  private release(): void {
    const fd = this.fd;
    this.fd = null;
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    }
  }

  async close(): Promise<void> {
    if (this.fd === null || this.closing) return;
    this.closing = true;
    try {
      await this.reader?.cancel();
    } catch {
      /* stream already failed */
    }
    this.release();
  }
}
