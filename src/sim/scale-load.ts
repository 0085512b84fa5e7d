/**
 * Scale load generator for the benchmark: N Modbus TCP devices, each with `floats` contiguous
 * float32 values (ABCD, high word first) in holding registers from address 0 (FC3; FC4 serves the
 * same data), changing once a second.
 *
 *   bun src/sim/scale-load.ts --devices 40 --floats 500 --port 15500 [--ports-per 1] [--host 127.0.0.1]
 *
 * `--changing F`: only the first fraction F of each device's floats change each second (default 1).
 * `--ports-per K`: K devices (units 1..K) per port, on ports port, port+1, ... (default: every
 * device on one port, at most 247). `--port 0` picks free ports. Prints one `listening <port>
 * units 1..K` line per port, then `ready <first port>` once everything listens.
 *
 * Value of float i (0-based) of unit u at wall-clock second s: `u*1000 + i + (s % 8) / 8`, exact
 * in float32, so a poller can check what it decoded (see `scaleValue`). Reads are answered by
 * slicing a buffer refreshed once a second; the process lowers its own priority (`--no-nice` to
 * keep it) so it does not steal CPU from the measured process.
 */
import { setPriority } from "node:os";
import { Exceptions, type ModbusRequestHandler, type ModbusTcpServer, startModbusTcpServer } from "../protocols/modbus/tcp-server.ts";

export interface ScaleLoadOptions {
  devices: number;
  floats: number;
  port: number;
  /** Devices per port (default: all on one port). */
  perPort?: number;
  /** Fraction of each device's floats that change every second (default 1); the others hold `u*1000 + i`. */
  changing?: number;
  host?: string;
}

export interface ScaleLoad {
  /** One entry per port, in device order. */
  readonly ports: number[];
  readonly unitsPerPort: number;
  stop(): void;
}

/** What float `index` of `unit` reads during wall-clock second `second` (epoch seconds). */
export function scaleValue(unit: number, index: number, second: number): number {
  return unit * 1000 + index + (second % 8) / 8;
}

export function startScaleLoad(o: ScaleLoadOptions): ScaleLoad {
  const { devices, floats } = o;
  if (!(devices >= 1)) throw new Error("--devices must be ≥ 1");
  if (!(floats >= 1 && floats <= 32767)) throw new Error("--floats must be 1..32767");
  const perPort = o.perPort ?? Math.min(devices, 247);
  if (!(perPort >= 1 && perPort <= 247)) throw new Error("--ports-per must be 1..247");
  const nPorts = Math.ceil(devices / perPort);
  const regs = floats * 2;

  // One image per device; refreshed together once a second.
  const images: { unit: number; bytes: Uint8Array; view: DataView }[] = [];
  const servers: ModbusTcpServer[] = [];
  const ports: number[] = [];
  const host = o.host ?? "127.0.0.1";
  try {
    for (let p = 0; p < nPorts; p++) {
      const byUnit: (Uint8Array | undefined)[] = new Array(256);
      const first = p * perPort;
      for (let i = first; i < Math.min(devices, first + perPort); i++) {
        const bytes = new Uint8Array(regs * 2);
        const unit = i - first + 1;
        images.push({ unit, bytes, view: new DataView(bytes.buffer) });
        byUnit[unit] = bytes;
      }
      const handler: ModbusRequestHandler = {
        acceptsUnit: (u) => byUnit[u] !== undefined,
        readRegisters(u, _fc, a, c) {
          const b = byUnit[u]!;
          if (a + c > regs) return Exceptions.illegalDataAddress;
          return b.subarray(a * 2, (a + c) * 2);
        },
        readBits: () => Exceptions.illegalFunction,
        writeRegisters: () => Exceptions.illegalDataAddress,
        writeBits: () => Exceptions.illegalFunction,
      };
      const s = startModbusTcpServer({ host, port: o.port === 0 ? 0 : o.port + p, handler, maxConnections: 1024 });
      servers.push(s);
      ports.push(s.port);
    }
  } catch (e) {
    for (const s of servers) s.stop();
    throw e;
  }

  let lastSecond = -1;
  const refresh = () => {
    const second = Math.floor(Date.now() / 1000);
    if (second === lastSecond) return;
    lastSecond = second;
    const frac = (second % 8) / 8;
    const moving = Math.round(floats * (o.changing ?? 1));
    for (const im of images) {
      const v = im.view;
      const base = im.unit * 1000;
      for (let i = 0; i < floats; i++) v.setFloat32(i * 4, base + i + (i < moving ? frac : 0));
    }
  };
  refresh();
  // Wake just after each second boundary.
  let timer: ReturnType<typeof setTimeout> | null = null;
  const schedule = () => {
    timer = setTimeout(
      () => {
        refresh();
        schedule();
      },
      1005 - (Date.now() % 1000),
    );
  };
  schedule();

  return {
    ports,
    unitsPerPort: perPort,
    stop() {
      if (timer) clearTimeout(timer);
      timer = null;
      for (const s of servers) s.stop();
    },
  };
}

function parseArgs(argv: string[]): ScaleLoadOptions & { nice: boolean } {
  const out: ScaleLoadOptions & { nice: boolean } = { devices: 40, floats: 500, port: 15500, nice: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = () => {
      const v = Number(next());
      if (!Number.isInteger(v)) throw new Error(`${a} needs a whole number`);
      return v;
    };
    switch (a) {
      case "--devices":
        out.devices = int();
        break;
      case "--changing": {
        const f = Number(next());
        if (!(f >= 0 && f <= 1)) throw new Error("--changing needs a fraction 0..1");
        out.changing = f;
        break;
      }
      case "--floats":
        out.floats = int();
        break;
      case "--port":
        out.port = int();
        break;
      case "--ports-per":
        out.perPort = int();
        break;
      case "--host":
        out.host = next();
        break;
      case "--no-nice":
        out.nice = false;
        break;
      case "-h":
      case "--help":
        console.log("usage: bun src/sim/scale-load.ts --devices N --floats F --port P [--ports-per K] [--host H] [--no-nice]");
        process.exit(0);
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  return out;
}

if (import.meta.main) {
  let opts: ReturnType<typeof parseArgs>;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`scale-load: ${(e as Error).message}`);
    process.exit(2);
  }
  if (opts.nice) {
    try {
      setPriority(10);
    } catch {
      /* not allowed: run at normal priority */
    }
  }
  let load: ScaleLoad;
  try {
    load = startScaleLoad(opts);
  } catch (e) {
    console.error(`scale-load: ${(e as Error).message}`);
    process.exit(1);
  }
  load.ports.forEach((p, i) => console.log(`listening ${p} units 1..${Math.min(load.unitsPerPort, opts.devices - i * load.unitsPerPort)}`));
  console.log(`ready ${load.ports[0]}`);
  const quit = () => {
    load.stop();
    process.exit(0);
  };
  process.on("SIGTERM", quit);
  process.on("SIGINT", quit);
}
