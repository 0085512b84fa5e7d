#!/usr/bin/env bun
/**
 * The `busbar` command. Configuration errors print every problem with its path and exit 2,
 * never a stack trace.
 */
import { parseArgs } from "node:util";
import { freePort, freeUdpPort, portIsFree, udpPortIsFree } from "./server/ports.ts";
import { ConfigError } from "./config/validation.ts";
import { loadProfiles } from "./config/profiles.ts";
import { loadSiteFile, parseSite, type Site } from "./config/site.ts";
import { parseYaml } from "./config/profile.ts";
import { DEMO_SITE } from "./embedded.ts";
import { buildRegistry } from "./drivers/index.ts";
import { describeRead } from "./protocols/modbus/planner.ts";
import { planSite } from "./drivers/modbus/driver.ts";
import { describeGateway } from "./gateway/gateway.ts";

const USAGE = `Busbar — runs a building's electrical room.

Usage:
  busbar demo [--http PORT] [--db FILE]        run the built-in demo site with its simulator
  busbar run --site FILE [--db FILE] [--http PORT] [--profiles DIR]
                                               poll a real site
  busbar check-site FILE [--profiles DIR]      validate a site file and print each device's request plan
  busbar import-enlogic FILE.io [--out DIR]    convert an EnLogic device map into Busbar profiles
  busbar scan --site FILE --bus ID             find the devices answering on a bus (commissioning)
  busbar user add|list|passwd|pin|role|disable|enable|remove …
                                               accounts (the first admin: busbar user add NAME --role admin)
  busbar journal verify|export [--db FILE] …   check the event journal's hash chain; export it as CSV
  busbar export history|energy|alarms|journal [--site FILE] [--from DATE] [--to DATE] [--sep ";"] [--decimal ","] …
                                               CSV of device history, energy and cost, alarms or the journal (as /export)
  busbar report [--site FILE] [--db FILE] [--kind general|detailed] [--period month|year] [--year Y] [--month M] [--lang fr|en] [--out FILE]
                                               an energy report as PDF (as /reports)
  busbar notify list|outbox|test ID [--to ADDR] [--db FILE]
                                               notification channels, outbox, a test message
  busbar backup [--db FILE] [--out FILE]       online backup: configuration, journal, alarms, history
  busbar restore FILE [--db FILE]              check a backup, then put it in place (Busbar stopped)
  busbar help

Options:
  --site FILE      site file (YAML): buses, devices, one-line topology
  --db FILE        SQLite database (default: data/busbar.db, demo: data/demo.db)
  --http PORT      HTTP port of the pages and API (default 8080)
  --profiles DIR   extra device profiles (*.yaml), beside the built-in ones
`;

function fail(message: string, code = 2): never {
  process.stderr.write(message.endsWith("\n") ? message : message + "\n");
  process.exit(code);
}

function parsePort(s: string | undefined, fallback: number): number {
  if (s === undefined) return fallback;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`--http: must be a port number 0..65535, not "${s}"`);
  return n;
}

function loadSiteOrExit(file: string, profilesDir?: string): Site {
  try {
    return loadSiteFile(file, loadProfiles(profilesDir));
  } catch (e) {
    if (e instanceof ConfigError) fail(`Invalid configuration — ${e.message}`);
    throw e;
  }
}

function checkSite(file: string, profilesDir?: string): void {
  const site = loadSiteOrExit(file, profilesDir);
  const registry = buildRegistry(site);
  const plans = planSite(site, registry);
  console.log(`${file}: OK — ${site.buses.length} bus(es), ${site.devices.length} device(s), ${registry.points.length} point(s)`);
  for (const bus of site.buses) {
    console.log(`\nbus ${bus.id} (${bus.kind}${"host" in bus ? ` ${bus.host}:${bus.port}` : ` ${bus.port}`})`);
    if (bus.kind === "bacnet-ip") {
      // No register plan: the objects each device is read for (RPM sized at bind, from its I-Am).
      for (const d of site.devices.filter((x) => x.bus === bus.id)) {
        const points = registry.byDevice.get(d.id) ?? [];
        const objects = new Set(site.profiles.get(d.profile)?.bacnet?.points.filter((p) => points.some((i) => i.name === p.id)).map((p) => `${p.objectTypeName}:${p.instance}`));
        console.log(`  ${d.id} instance ${d.instance} profile ${d.profile}: ${points.length} point(s) from ${objects.size} object(s), ${d.cov === "off" ? `polled every ${d.pollMs} ms` : `COV (${d.cov}, ${d.covLifetimeS} s)`}`);
      }
      continue;
    }
    for (const d of site.devices.filter((x) => x.bus === bus.id)) {
      const reads = plans.get(d.id) ?? [];
      console.log(`  ${d.id} unit ${d.unit} profile ${d.profile}: ${reads.length} read(s) per cycle`);
      for (const r of reads) console.log(`    ${describeRead(r)}`);
    }
  }
  const gateway = describeGateway(site);
  if (gateway.length) console.log(`\n${gateway.join("\n")}`);
}

async function runSite(site: Site, dbPath: string, httpPort: number, banner: string[], extra: { kiosk?: string[]; sim?: import("./sim/simulator.ts").Sim } = {}): Promise<void> {
  const { hostBusbar } = await import("./server/host.ts");
  let host;
  try {
    // Hosted: a restore from the browser restarts it in place on the restored databases.
    host = await hostBusbar({ site, dbPath, httpPort, ...extra });
  } catch (e) {
    fail(`Cannot start: ${(e as Error).message}`, 1);
  }
  const busbar = host.current;
  console.log([...banner, `Busbar is running: ${busbar.url}  (${busbar.registry.points.length} points, database ${dbPath})`].join("\n"));
  const shutdown = async () => {
    await host.stop();
    process.exit(0);
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

async function demo(dbPath: string, httpPort: number): Promise<void> {
  const profiles = loadProfiles();
  const raw = parseYaml(DEMO_SITE, "demo-site.yaml") as { buses: { kind: string; host?: string; port?: number | string }[]; gateway?: { port: number }; bacnetServer?: { port?: number } };
  // The demo's RS-485/IP gateways are simulated on loopback; pick free ports so a busy port never stops a newcomer.
  for (const bus of raw.buses) {
    if (bus.kind !== "modbus-tcp") continue;
    bus.host = "127.0.0.1";
    bus.port = await freePort();
  }
  // Busbar's own Modbus TCP gateway for the BMS: its usual demo port, or a free one when that is taken.
  if (raw.gateway && !(await portIsFree(raw.gateway.port))) raw.gateway.port = await freePort();
  // The BACnet/IP device for the BMS: UDP 47808, or a free port when another BACnet program has it.
  if (raw.bacnetServer && !(await udpPortIsFree(raw.bacnetServer.port ?? 47808))) raw.bacnetServer.port = await freeUdpPort();
  let site: Site;
  try {
    site = parseSite(raw, profiles, "demo-site.yaml");
  } catch (e) {
    if (e instanceof ConfigError) fail(`The built-in demo site is invalid — ${e.message}`, 1);
    throw e;
  }
  const { startSimulator } = await import("./sim/simulator.ts");
  const sim = startSimulator(site, {});
  // The demo's BESS is left in remote-setpoint control, the permissive Busbar's dispatch needs.
  if (site.microgrid?.bess?.control) sim.setValue(site.microgrid.bess.device, "p_control_mode", 1);
  // One account per role, fresh secrets at every start; this machine is the demo's kiosk (issue 4).
  const { resetDemoUsers } = await import("./cli/demo-users.ts");
  const { openDatabase } = await import("./db/database.ts");
  const usersDb = openDatabase(dbPath);
  const accounts = await resetDemoUsers(usersDb);
  usersDb.close();
  await runSite(site, dbPath, httpPort, [
    `Demo site "${site.site.name}": simulator serving ${site.devices.length} devices on ${site.buses.map((b) => ("host" in b ? `${b.host}:${b.port}` : b.port)).join(", ")}`,
    ...(site.gateway ? [`Modbus TCP gateway for the BMS: ${site.gateway.host}:${site.gateway.port} (${site.gateway.mode}, ${site.gateway.writes.enabled ? `writes from ${site.gateway.writes.clients.join(", ")}` : "read-only"}), e.g. mbpoll -m tcp -p ${site.gateway.port} -a 1 -r 32066 -t 4:float -B -1 ${site.gateway.host}`] : []),
    ...(site.bacnetServer
      ? [`BACnet/IP device ${site.bacnetServer.instance} "${site.bacnetServer.name}" for the BMS on UDP ${site.bacnetServer.port} (objects, COV subscriptions and the EDE export: /bacnet)`]
      : []),
    ...accounts,
  ], { kiosk: ["127.0.0.1", "::1", "::ffff:127.0.0.1"], sim });
}

export async function main(argv: string[]): Promise<void> {
  // Commands with their own options (src/cli/*.ts).
  if (argv[0] === "import-enlogic") process.exit(await (await import("./cli/import-enlogic.ts")).main(argv.slice(1)));
  if (argv[0] === "scan") process.exit(await (await import("./cli/scan.ts")).main(argv.slice(1)));
  if (argv[0] === "user") process.exit(await (await import("./cli/user.ts")).main(argv.slice(1)));
  if (argv[0] === "export") process.exit(await (await import("./cli/export.ts")).main(argv.slice(1)));
  if (argv[0] === "report") process.exit(await (await import("./cli/report.ts")).main(argv.slice(1)));
  if (argv[0] === "notify") process.exit(await (await import("./cli/notify.ts")).main(argv.slice(1)));
  if (argv[0] === "journal") process.exit(await (await import("./cli/journal.ts")).main(argv.slice(1)));
  if (argv[0] === "backup" || argv[0] === "restore") process.exit(await (await import("./cli/backup.ts")).main(argv));
  const { values, positionals } = (() => {
    try {
      return parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          site: { type: "string" },
          db: { type: "string" },
          http: { type: "string" },
          profiles: { type: "string" },
          help: { type: "boolean", short: "h" },
        },
      });
    } catch (e) {
      fail(`${(e as Error).message}\n\n${USAGE}`);
    }
  })();
  const command = positionals[0] ?? (values.site ? "run" : "help");
  if (values.help || command === "help") {
    console.log(USAGE);
    return;
  }
  switch (command) {
    case "demo":
      return demo(values.db ?? "data/demo.db", parsePort(values.http, 8080));
    case "run": {
      if (!values.site) fail(`run needs --site FILE\n\n${USAGE}`);
      const site = loadSiteOrExit(values.site, values.profiles);
      return runSite(site, values.db ?? "data/busbar.db", parsePort(values.http, 8080), []);
    }
    case "check-site": {
      const file = positionals[1] ?? values.site;
      if (!file) fail(`check-site needs a FILE\n\n${USAGE}`);
      return checkSite(file, values.profiles);
    }
    default:
      fail(`unknown command "${command}"\n\n${USAGE}`);
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((e) => fail(`busbar: ${(e as Error).message}`, 1));
}
