import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseYaml } from "../src/config/profile.ts";
import { parseBacnetProfile } from "../src/protocols/bacnet/profile.ts";
import { BacnetDriver } from "../src/drivers/bacnet/driver.ts";
import type { BacnetWorkerDevice, FromBacnetWorker } from "../src/drivers/bacnet/messages.ts";
import { PointTable } from "../src/points/table.ts";
import { Quality } from "../src/points/quality.ts";
import { BACNET_BIN, bacTool, decodeFrames, freeUdpPort, startBacserv, startCapture, type Bacserv, type Capture } from "./helpers/bacnet.ts";

/**
 * The BACnet driver against bacnet-stack's bacserv (an independent C implementation) over real UDP
 * on loopback: RPM and RP reads, commissioning's missing object, writes with priority and
 * relinquish checked with the peer's own bacrp, COV notifications and renewals, and every frame
 * Busbar sent decoded by tshark without malformed or error flags.
 */

const INSTANCE = 4100 + Math.floor(Math.random() * 800);
const profile = parseBacnetProfile(parseYaml(readFileSync(join(import.meta.dirname, "fixtures/bacserv-demo.bacnet.yaml"), "utf8"), "bacserv-demo"));
const index = (id: string) => profile.points.findIndex((p) => p.id === id);

const waitFor = async (cond: () => boolean, ms: number, what: string) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe.skipIf(!BACNET_BIN)("BACnet driver against bacserv", () => {
  let server: Bacserv;
  let capture: Capture;
  let driver: BacnetDriver;
  let table: PointTable;
  let busbarPort: number;
  let serverPort: number;
  let toolPort: number;
  const messages: FromBacnetWorker[] = [];
  let writeId = 1;

  const device = (over: Partial<BacnetWorkerDevice> = {}): BacnetWorkerDevice => ({
    id: "SRV",
    instance: INSTANCE,
    pollMs: 300,
    cov: "confirmed",
    covLifetimeS: 4,
    points: profile.points.map((point, i) => ({ index: i, point })),
    ...over,
  });
  const write = (point: number, value: number | null, priority?: number) =>
    new Promise<Extract<FromBacnetWorker, { type: "write-result" }>>((resolve) => {
      const id = writeId++;
      const t = setInterval(() => {
        const m = messages.find((x) => x.type === "write-result" && x.id === id);
        if (m) {
          clearInterval(t);
          resolve(m as any);
        }
      }, 20);
      driver.enqueueWrite({ id, point, value, priority });
    });
  const rp = (type: number, inst: number, prop: number) => bacTool("bacrp", [INSTANCE, type, inst, prop], toolPort, serverPort);

  beforeAll(async () => {
    [busbarPort, serverPort, toolPort] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
    capture = await startCapture([busbarPort]);
    server = await startBacserv(INSTANCE, serverPort, busbarPort);
    table = PointTable.create({ capacity: profile.points.length, rings: 2 });
    driver = new BacnetDriver(
      { id: "bn1", kind: "bacnet-ip", port: busbarPort, interface: "127.0.0.1", broadcast: `127.255.255.255:${serverPort}`, timeoutMs: 500, retries: 1, backoffMs: 1000 },
      [device()],
      table,
      1,
      (m) => messages.push(m),
    );
    void driver.run();
  }, 20_000);

  afterAll(async () => {
    if (process.env.DEBUG_BACNET) console.log(JSON.stringify(messages.filter((m) => m.type !== "stats"), null, 1), JSON.stringify(driver.info()));
    driver?.stop();
    await server?.stop();
    await capture?.stop();
  });

  test("binds by Who-Is/I-Am and reads every object with RPM; the absent object carries the device's error", async () => {
    await waitFor(() => table.read(index("ai1")).quality === Quality.GOOD, 8000, "AI:1 good");
    await waitFor(() => driver.info()[0]!.missing.length > 0, 5000, "commissioning report");
    const info = driver.info()[0]!;
    expect(info.address).toBe(`127.0.0.1:${serverPort}`);
    expect(info.rpmSize).toBeGreaterThan(5);
    expect(info.missing).toEqual([{ object: "AV:99", error: "object/unknown-object" }]);
    expect(messages.some((m) => m.type === "event" && m.event.kind === "device.commissioning" && m.event.message.includes("AV:99 (object/unknown-object)"))).toBe(true);
    expect(table.read(index("av99")).quality).toBe(Quality.DEVICE_EXCEPTION);
    expect(table.read(index("msv1"))).toMatchObject({ value: Number(rp(19, 1, 85)), quality: Quality.GOOD });
    expect(table.read(index("bv1")).value).toBe(rp(5, 1, 85) === "active" ? 1 : 0);
    expect(messages.some((m) => m.type === "text" && m.point === index("av1_name") && m.value === rp(2, 1, 77).replace(/"/g, ""))).toBe(true);
    const stats = driver.stats();
    expect(stats.bacnet.discovered.find((d) => d.instance === INSTANCE)).toMatchObject({ vendorId: Number(rp(8, INSTANCE, 120)), maxApdu: 1476, segmentation: 3, device: "SRV" });
  }, 20_000);

  test("writes AO:1 at priority 9 and relinquishes it; the peer's bacrp sees both", async () => {
    const ao = index("ao1");
    const r = await write(ao, 42.5, 9);
    expect(r).toMatchObject({ ok: true });
    const arr = rp(1, 1, 87);
    expect(arr.split(",")[8]).toMatch(/42\.5/);
    expect(Number(rp(1, 1, 85))).toBe(42.5);
    await waitFor(() => table.read(ao).value === 42.5, 3000, "AO:1 = 42.5 in the table");
    const rel = await write(ao, null, 9);
    expect(rel).toMatchObject({ ok: true });
    expect(rp(1, 1, 87).split(",")[8]).toMatch(/Null/);
    expect(Number(rp(1, 1, 85))).toBe(0);
    // The device refuses a write to an input: its Error is the result.
    const bad = await write(index("ai1"), 3);
    expect(bad.ok).toBe(false);
  }, 20_000);

  test("COV: subscribed, notified when another client writes, renewed at half-life", async () => {
    await waitFor(() => driver.info()[0]!.cov === "active", 8000, "COV active");
    const ao = index("ao1");
    bacTool("bacwp", [INSTANCE, 1, 1, 85, 10, -1, 4, 77.25], toolPort, serverPort);
    await waitFor(() => table.read(ao).value === 77.25, 3000, "COV notification of AO:1");
    const before = driver.info()[0]!.notifications;
    expect(before).toBeGreaterThan(0);
    // Lifetime 4 s → renewals every 2 s; each renewal brings a notification.
    await new Promise((r) => setTimeout(r, 4500));
    expect(driver.info()[0]!.cov).toBe("active");
    expect(driver.info()[0]!.notifications).toBeGreaterThan(before);
    bacTool("bacwp", [INSTANCE, 1, 1, 85, 10, -1, 0, 0], toolPort, serverPort);
  }, 20_000);

  test("every frame Busbar sent decodes in tshark without malformed or error flags", async () => {
    await capture.stop();
    const frames = decodeFrames(capture.file, busbarPort, [busbarPort, serverPort]);
    if (process.env.DEBUG_BACNET) console.log(decodeFrames(capture.file, serverPort, [busbarPort, serverPort]).map((f) => f.info).join("\n"), frames.map((f) => f.info + " " + f.severity).join("\n"));
    expect(frames.length).toBeGreaterThan(10);
    const bad = frames.filter((f) => f.malformed || /error/i.test(f.severity) || f.severity === "8388608");
    expect(bad).toEqual([]);
    const infos = frames.map((f) => f.info).join("\n");
    expect(infos).toMatch(/who-Is/i);
    expect(infos).toMatch(/readPropertyMultiple/);
    expect(infos).toMatch(/readProperty\[/);
    expect(infos).toMatch(/writeProperty/);
    expect(infos.match(/subscribeCOV/g)!.length).toBeGreaterThanOrEqual(2);
    expect(infos).toMatch(/Simple-ACK\s+confirmedCOVNotification/);
  }, 20_000);
});
