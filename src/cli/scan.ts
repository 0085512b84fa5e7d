/**
 * `busbar scan`: commissioning — which unit ids answer on a bus, and what they look like.
 * Runs on the bus directly, so Busbar must not be polling the same serial port meanwhile (a running
 * Busbar scans through its bus worker instead: POST /api/buses/:id/scan on the communication page).
 */
import { parseArgs } from "node:util";
import { loadProfiles } from "../config/profiles.ts";
import { loadSiteFile, parseSite, SERIAL_DEFAULTS, type ModbusBusConfig } from "../config/site.ts";
import { ConfigError } from "../config/validation.ts";
import { createLink } from "../protocols/modbus/link.ts";
import { DEFAULT_PROBE, describeScan, scanBus, scanCandidate, type ScanCandidate, type ScanRequest } from "../protocols/modbus/rtu-scan.ts";

const USAGE = `Usage:
  busbar scan --site FILE --bus ID [options]        scan a bus of a site file
  busbar scan --port DEVICE [--baud N] [--parity none|even|odd] [--stop-bits 1|2] [options]
  busbar scan --host HOST --tcp-port N [--rtu-over-tcp] [options]

Options:
  --from N        first unit id (default 1; 0..255 on modbus-tcp)
  --to N          last unit id (default 247; up to 255 on modbus-tcp, e.g. a Schneider IFE at 255)
  --timeout MS    answer timeout per unit (default 100; a present device answers at once)
  --profiles DIR  extra profiles to identify devices with
  --json          print the result as JSON
`;

export async function main(argv: string[]): Promise<number> {
  let a;
  try {
    a = parseArgs({
      args: argv,
      options: {
        site: { type: "string" },
        bus: { type: "string" },
        port: { type: "string" },
        baud: { type: "string" },
        parity: { type: "string" },
        "stop-bits": { type: "string" },
        host: { type: "string" },
        "tcp-port": { type: "string" },
        "rtu-over-tcp": { type: "boolean" },
        from: { type: "string" },
        to: { type: "string" },
        timeout: { type: "string" },
        profiles: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const v = a.values;
  if (v.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const int = (s: string | undefined, dflt: number, min: number, max: number, what: string): number => {
    if (s === undefined) return dflt;
    const n = Number(s);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${what}: must be ${min}..${max}, not "${s}"`);
    return n;
  };
  let profiles;
  let bus: ModbusBusConfig;
  let configured: ScanRequest["configured"] = {};
  let from: number, to: number, timeoutMs: number;
  try {
    profiles = loadProfiles(v.profiles);
    // Unit ids: 1..247 on a serial line, a full byte on Modbus TCP (checked once the bus is known).
    const unitRange = (s: string | undefined, dflt: number, what: string): number => {
      const n = s === undefined ? dflt : Number(s);
      if (!Number.isInteger(n) || n < 0 || n > 255) throw new Error(`--${what}: must be 1..247 (0..255 on a modbus-tcp bus), not "${s}"`);
      return n;
    };
    from = unitRange(v.from, 1, "from");
    to = unitRange(v.to, 247, "to");
    if (to < from) throw new Error(`--to: must be at least --from (${from}), not "${v.to}"`);
    timeoutMs = int(v.timeout, 100, 20, 10_000, "timeout");
    if (v.site) {
      if (!v.bus) throw new Error("--site needs --bus ID");
      const site = loadSiteFile(v.site, profiles);
      const b = site.buses.find((x) => x.id === v.bus);
      if (!b) throw new Error(`no bus "${v.bus}" in ${v.site} (buses: ${site.buses.map((x) => x.id).join(", ")})`);
      if (b.kind === "bacnet-ip") throw new Error(`bus "${v.bus}" is BACnet/IP: its devices are found with Who-Is from the communication page`);
      bus = b;
      for (const d of site.devices) if (d.bus === b.id) configured[d.unit] = { device: d.id, profile: d.profile };
    } else {
      const common = { id: "scan", timeoutMs, retries: 0, backoffMs: 1000 };
      const raw = v.port
        ? {
            ...common,
            broadcastDelayMs: 100,
            kind: "modbus-rtu",
            port: v.port,
            baud: int(v.baud, SERIAL_DEFAULTS.baud, 1200, 115200, "baud"),
            parity: v.parity ?? SERIAL_DEFAULTS.parity,
            stopBits: int(v["stop-bits"], SERIAL_DEFAULTS.stopBits, 1, 2, "stop-bits"),
          }
        : v.host
          ? v["rtu-over-tcp"]
            ? { ...common, broadcastDelayMs: 100, kind: "modbus-rtu-tcp", host: v.host, port: int(v["tcp-port"], 502, 1, 65535, "tcp-port") }
            : { ...common, kind: "modbus-tcp", host: v.host, port: int(v["tcp-port"], 502, 1, 65535, "tcp-port") }
          : undefined;
      if (!raw) throw new Error("say which bus: --site FILE --bus ID, --port DEVICE or --host HOST");
      bus = parseSite({ site: { name: "scan" }, buses: [raw] }, profiles, "command line").buses[0]! as ModbusBusConfig;
      configured = undefined;
    }
    if (bus.kind !== "modbus-tcp" && (from < 1 || to > 247)) throw new Error(`--from/--to: units ${from}..${to}: a serial bus (${bus.kind}) has units 1..247`);
  } catch (e) {
    process.stderr.write(`${e instanceof ConfigError ? `Invalid configuration — ${e.message}` : (e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const candidates = [...profiles.values()].map(scanCandidate).filter((c): c is ScanCandidate => c !== undefined);
  const link = createLink(bus);
  try {
    await link.connect();
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 1;
  }
  const where = "port" in bus && bus.kind === "modbus-rtu" ? `${bus.port} ${bus.baud} ${bus.parity} ${bus.stopBits}` : `${(bus as { host: string }).host}:${bus.port}`;
  process.stderr.write(`scanning units ${from}..${to} on ${bus.kind} ${where}, ${timeoutMs} ms per unit...\n`);
  let cancelled = false;
  process.once("SIGINT", () => (cancelled = true));
  const isTty = process.stderr.isTTY;
  const result = await scanBus(
    bus.id,
    { request: (fn) => fn(link) },
    { from, to, timeoutMs, probe: DEFAULT_PROBE, candidates, configured },
    (unit, done, total) => {
      if (isTty) process.stderr.write(`\r  unit ${unit} (${done}/${total})   `);
    },
    () => cancelled,
  ).finally(() => link.close());
  if (isTty) process.stderr.write("\r\x1b[K");
  if (v.json) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  else process.stdout.write(describeScan(result).join("\n") + "\n");
  return 0;
}
