import { afterEach, describe, expect, test } from "vitest";
import { createSocket } from "node:dgram";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { buildRegistry } from "../src/drivers/index.ts";
import { PointTable } from "../src/points/table.ts";
import { Quality } from "../src/points/quality.ts";
import { SimDevice } from "../src/sim/device.ts";
import { BacnetSimDevice, type BacnetSimFaults } from "../src/sim/bacnet-device.ts";
import { BacnetDriver } from "../src/drivers/bacnet/driver.ts";
import { bacnetWorkerDevices, portConfig } from "../src/drivers/bacnet/setup.ts";
import type { FromBacnetWorker } from "../src/drivers/bacnet/messages.ts";
import { freeUdpPort } from "./helpers/bacnet.ts";
import { waitFor } from "./helpers/peers.ts";

/**
 * Bad replies never crash the driver and always leave a clear status: truncated APDUs, wrong invoke
 * ids, Abort/Reject (RPM shrunk and remembered, or ReadProperty), an I-Am with another instance, an
 * Error for one property inside an RPM answer, and random datagrams.
 */

const profiles = loadProfiles();
const running: { stop(): void }[] = [];
afterEach(() => {
  for (const r of running.splice(0)) r.stop();
});

async function setup(faults: BacnetSimFaults, opts: { instance?: number; withAddress?: boolean; device?: Record<string, unknown>; maxApdu?: number } = {}) {
  const [busPort, devPort] = [await freeUdpPort(), await freeUdpPort()];
  const raw = {
    site: { name: "bad" },
    buses: [{ id: "bn", kind: "bacnet-ip", port: busPort, broadcast: `127.255.255.255:${devPort}`, timeoutMs: 200, retries: 0, backoffMs: 400 }],
    devices: [{ id: "UPS", bus: "bn", instance: 1338, profile: "socomec-ups", pollMs: 300, ...opts.device, ...(opts.withAddress === false ? {} : { address: `127.0.0.1:${devPort}` }) }],
  };
  const site = parseSite(raw, profiles, "bad");
  const registry = buildRegistry(site);
  const table = PointTable.create({ capacity: registry.points.length, rings: 2 });
  const simDev = new SimDevice(site.devices[0]!, site.profiles.get("socomec-ups")!);
  for (const p of registry.points) simDev.set(p.name, p.states ? 1 : 12);
  const sim = new BacnetSimDevice(simDev, site.profiles.get("socomec-ups")!.bacnet!, { instance: opts.instance ?? 1338, port: devPort, profileName: "no_factor", faults, maxApdu: opts.maxApdu });
  const messages: FromBacnetWorker[] = [];
  const bus = site.buses[0]!;
  if (bus.kind !== "bacnet-ip") throw new Error("bus");
  const driver = new BacnetDriver(portConfig(bus), bacnetWorkerDevices(site, registry, "bn"), table, 1, (m) => messages.push(m));
  running.push({ stop: () => driver.stop() }, { stop: () => sim.close() });
  void driver.run();
  const q = (id: string) => table.read(registry.byId.get(`UPS.${id}`)!.index);
  const status = () => [...messages].reverse().find((m) => m.type === "device-status") as Extract<FromBacnetWorker, { type: "device-status" }> | undefined;
  return { driver, sim, q, status, messages, devPort, busPort };
}

describe("BACnet driver: bad replies", () => {
  test("Abort on big RPMs: the size is halved until accepted and remembered, also for the next worker", async () => {
    const { driver, q, messages } = await setup({ rpmMaxObjects: 10 });
    await waitFor("values", () => q("battery_ah").quality === Quality.GOOD && q("unit_alarms_overload").quality === Quality.GOOD, 8000);
    const info = driver.info()[0]!;
    expect(info.rpmSize).toBeLessThanOrEqual(10);
    expect(info.rpmSize).toBeGreaterThan(1);
    expect(info.rpmReason).toMatch(/abort segmentation-not-supported/);
    const learned = [...messages].reverse().find((m) => m.type === "rpm-learned") as Extract<FromBacnetWorker, { type: "rpm-learned" }>;
    expect(learned).toMatchObject({ device: "UPS", size: info.rpmSize });
  });

  test("a small device: RPM sized from its max APDU, Object_List read by index", async () => {
    const { driver, q, sim } = await setup({}, { withAddress: false, maxApdu: 206 });
    await waitFor("values", () => q("battery_ah").quality === Quality.GOOD && q("unit_alarms_overload").quality === Quality.GOOD, 8000);
    expect(driver.info()[0]).toMatchObject({ rpmSize: 12, missing: [] });
    // 102 object identifiers do not fit 206 octets: count, then one by one.
    expect(sim.readsByIndex).toBeGreaterThanOrEqual(102);
  });

  test("a device that comes back at another address is re-bound by its I-Am", async () => {
    const { driver, q, busPort, messages, sim } = await setup({});
    await waitFor("values", () => q("battery_ah").quality === Quality.GOOD, 8000);
    const before = driver.info()[0]!.address;
    sim.close();
    const port2 = await freeUdpPort();
    const raw = { site: { name: "b" }, buses: [{ id: "bn", kind: "bacnet-ip" }], devices: [{ id: "UPS", bus: "bn", instance: 1338, profile: "socomec-ups" }] };
    const s2 = parseSite(raw, profiles, "b");
    const moved = new BacnetSimDevice(new SimDevice(s2.devices[0]!, s2.profiles.get("socomec-ups")!), s2.profiles.get("socomec-ups")!.bacnet!, { instance: 1338, port: port2, profileName: "no_factor" });
    running.push({ stop: () => moved.close() });
    await new Promise((r) => setTimeout(r, 200));
    // Back on the network, it announces itself (a device does so at start-up).
    moved.client.iAmResponse({ address: `127.0.0.1:${busPort}` } as any, 1338, 3, 591);
    await waitFor("re-bound", () => driver.info()[0]!.address === `127.0.0.1:${port2}`, 5000);
    expect(before).not.toBe(`127.0.0.1:${port2}`);
    expect(messages.some((m) => m.type === "event" && m.event.kind === "device.rebound")).toBe(true);
    await waitFor("read at the new address", () => driver.stats().devices[0]!.status === "ok" && Date.now() - q("battery_ah").ts < 1000, 5000);
  });

  test("Reject unrecognized-service: read with ReadProperty", async () => {
    const { driver, q, status } = await setup({ noRpm: true });
    await waitFor("values by RP", () => q("battery_ah").quality === Quality.GOOD && status()?.status === "ok", 15_000);
    expect(driver.info()[0]!.rpmSize).toBe(0);
    expect(status()?.status).toBe("ok");
  }, 20_000);

  test("an Error for one property inside RPM marks that point only", async () => {
    const { q, status } = await setup({ errorObjects: ["AV:3"] });
    // The status follows the whole cycle, the first chunk's values come before it.
    await waitFor("values", () => q("ups_output_lr").quality === Quality.GOOD && status() !== undefined, 8000);
    expect(q("ups_output_lr1").quality).toBe(Quality.DEVICE_EXCEPTION);
    expect(status()?.status).toBe("ok");
  });

  test("wrong invoke ids are never taken as answers: the device is comm-fail with a clear reason", async () => {
    const { q, status } = await setup({ wrongInvokeId: true });
    await waitFor("comm-fail", () => status()?.status === "comm-fail", 5000);
    expect(status()!.error).toMatch(/timeout/);
    expect(q("battery_ah").quality).not.toBe(Quality.GOOD);
  });

  test("a truncated APDU is a bad reply, not a crash", async () => {
    const { status, driver } = await setup({ noRpm: true, truncateApdu: 9 });
    await waitFor("bad reply", () => status()?.status === "bad-reply", 8000);
    expect(status()!.error).toMatch(/bad reply|undecodable/);
    expect(driver.info()[0]).toBeDefined();
  });

  test("an I-Am with another instance at the device's address: not polled, said so", async () => {
    const { status, q } = await setup({ iamInstance: 999 });
    await waitFor("conflict", () => status()?.error?.includes("answers as device 999, not 1338"), 5000);
    expect(status()!.status).toBe("bad-reply");
    expect(q("battery_ah").quality).not.toBe(Quality.GOOD);
  });

  test("COV refused: the device is polled instead, with the device's reason", async () => {
    const { driver, q } = await setup({ noCov: true }, { device: { cov: "confirmed", covLifetimeS: 10 } });
    await waitFor("polled values", () => q("battery_ah").quality === Quality.GOOD && driver.info()[0]!.cov === "polling", 8000);
    expect(driver.info()[0]!.covReason).toMatch(/services\/service-request-denied/);
  });

  test("COV renewal refused: polled instead at once, with the device's reason", async () => {
    const { driver, sim, q } = await setup({}, { device: { cov: "confirmed", covLifetimeS: 10 } });
    await waitFor("subscribed", () => driver.info()[0]!.cov === "active", 8000);
    // The device forgets it can do COV (a firmware reload): the renewal at half-life is refused.
    sim.faults.noCov = true;
    // Renewed at half the 10 s lifetime.
    await waitFor("fallback", () => driver.info()[0]!.cov === "polling", 8000);
    expect(driver.info()[0]!.covReason).toMatch(/^renewal of .* refused: services\/service-request-denied/);
    await waitFor("polled", () => Date.now() - q("battery_ah").ts < 1000 && q("battery_ah").quality === Quality.GOOD, 3000);
  }, 20_000);

  test("COV silence: back to polling after half a lifetime, values never silently good", async () => {
    const { driver, q, messages } = await setup({ silentCov: true }, { device: { cov: "unconfirmed", covLifetimeS: 10 } });
    await waitFor("subscribed", () => driver.info()[0]!.cov === "active" && q("battery_ah").quality === Quality.GOOD, 8000);
    await waitFor("fallback", () => driver.info()[0]!.cov === "polling", 9000);
    expect(driver.info()[0]!.covReason).toMatch(/no notification/);
    expect(messages.some((m) => m.type === "event" && m.event.kind === "device.cov")).toBe(true);
    await waitFor("polled again", () => Date.now() - q("battery_ah").ts < 1000, 3000);
  }, 20_000);

  test("random datagrams at the port never crash it; it keeps reading", async () => {
    const { q, busPort, driver } = await setup({});
    await waitFor("values", () => q("battery_ah").quality === Quality.GOOD, 8000);
    const s = createSocket("udp4");
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let i = 0; i < 1500; i++) {
      const len = 4 + Math.floor(rnd() * 60);
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = Math.floor(rnd() * 256);
      // Mostly valid BVLC/NPDU headers, so the fuzz reaches the APDU decoders.
      if (rnd() < 0.8) {
        b[0] = 0x81;
        b[1] = rnd() < 0.5 ? 0x0a : 0x0b;
        b.writeUInt16BE(len, 2);
        if (len > 5) {
          b[4] = 0x01;
          b[5] = rnd() < 0.5 ? 0x00 : 0x04;
        }
      }
      s.send(b, busPort, "127.0.0.1");
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 300));
    s.close();
    const before = driver.info()[0]!;
    expect(before).toBeDefined();
    await waitFor("still reading", () => driver.stats().devices[0]!.status === "ok" && q("battery_ah").quality === Quality.GOOD, 5000);
  });
});

describe("BACnet driver: its port", () => {
  test("a UDP port another program holds: every device comm-fail with the reason", async () => {
    const port = await freeUdpPort();
    const holder = createSocket("udp4");
    await new Promise<void>((r) => holder.bind(port, "127.0.0.1", () => r()));
    running.push({ stop: () => holder.close() });
    const site = parseSite({ site: { name: "p" }, buses: [{ id: "bn", kind: "bacnet-ip", interface: "127.0.0.1", port }], devices: [{ id: "UPS", bus: "bn", instance: 1, profile: "socomec-ups" }] }, profiles, "p");
    const registry = buildRegistry(site);
    const table = PointTable.create({ capacity: registry.points.length, rings: 2 });
    const messages: FromBacnetWorker[] = [];
    const bus = site.buses[0]!;
    if (bus.kind !== "bacnet-ip") throw new Error("bus");
    const driver = new BacnetDriver(portConfig(bus), bacnetWorkerDevices(site, registry, "bn"), table, 1, (m) => messages.push(m));
    running.push({ stop: () => driver.stop() });
    void driver.run();
    await waitFor("status", () => messages.some((m) => m.type === "device-status" && m.status === "comm-fail" && /UDP port \d+ not available: .*EADDRINUSE/.test(m.error ?? "")), 3000);
    expect(driver.stats().connected).toBe(false);
  });
});
