import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import { parseBacnetProfile } from "../src/protocols/bacnet/profile.ts";
import { BacnetDriver } from "../src/drivers/bacnet/driver.ts";
import type { BacnetWorkerDevice, FromBacnetWorker } from "../src/drivers/bacnet/messages.ts";
import { PointTable } from "../src/points/table.ts";
import { Quality } from "../src/points/quality.ts";
import { freeUdpPort, startCapture, type Capture } from "./helpers/bacnet.ts";
import { SegmentingDevice } from "./helpers/segmenting-device.ts";

/**
 * Segmented answers (clause 5.4): two devices of max APDU 128 answer Busbar's RPM chunks and their
 * Object_List in segments. The client library reassembles in one store per client, so the driver
 * asks segmenting devices one at a time across the port; polled together, both devices' values
 * must still arrive whole and right. tshark reassembles and decodes every frame both ways.
 */

const COUNT = 60;
const devices = [
  { instance: 3100 + Math.floor(Math.random() * 400), base: 1000 },
  { instance: 3600 + Math.floor(Math.random() * 400), base: 2000 },
];
const profile = parseBacnetProfile(
  { profile: "seg", protocol: "bacnet", name: "segmenting test device", source: "test/helpers/segmenting-device.ts", points: Array.from({ length: COUNT }, (_, i) => ({ id: `av${i}`, object: `AV:${i}`, label: `AV ${i}` })) },
  "seg",
);

describe("BACnet segmented answers", () => {
  const peers = devices.map((d) => new SegmentingDevice(d.instance, COUNT, d.base));
  let capture: Capture;
  let driver: BacnetDriver;
  let table: PointTable;
  let busbarPort: number;
  const ports: number[] = [];
  const messages: FromBacnetWorker[] = [];

  beforeAll(async () => {
    busbarPort = await freeUdpPort();
    for (const p of peers) {
      const port = await freeUdpPort();
      ports.push(port);
      await p.start(port);
    }
    capture = await startCapture([busbarPort]);
    table = PointTable.create({ capacity: COUNT * peers.length, rings: 2 });
    const cfg = (i: number): BacnetWorkerDevice => ({
      id: `SEG${i}`,
      instance: devices[i]!.instance,
      address: `127.0.0.1:${ports[i]}`,
      pollMs: 200,
      cov: "off",
      covLifetimeS: 60,
      points: profile.points.map((point, k) => ({ index: i * COUNT + k, point })),
    });
    driver = new BacnetDriver({ id: "bn", kind: "bacnet-ip", port: busbarPort, interface: "127.0.0.1", broadcast: `127.255.255.255:${ports[0]}`, timeoutMs: 1000, retries: 0, backoffMs: 1000 }, [cfg(0), cfg(1)], table, 1, (m) => messages.push(m));
    // Each device answers the unicast Who-Is at its known address with its I-Am (segmentation both).
    void driver.run();
  }, 20_000);

  afterAll(async () => {
    driver?.stop();
    for (const p of peers) p.stop();
    await capture?.stop();
  });

  test("both devices' segmented RPM answers and Object_List are reassembled right while polled together", async () => {
    const allRight = () => peers.every((p, i) => profile.points.every((_, k) => {
      const s = table.read(i * COUNT + k);
      return s.quality === Quality.GOOD && Math.abs(s.value - (devices[i]!.base + k + 0.25)) < 1e-3;
    }));
    const t0 = Date.now();
    while (!allRight() && Date.now() - t0 < 8000) await new Promise((r) => setTimeout(r, 50));
    // A few more cycles, both devices polled at once.
    const before = peers.map((p) => p.segmentedReplies);
    await new Promise((r) => setTimeout(r, 1500));
    expect(allRight()).toBe(true);
    for (const [i, info] of driver.info().entries()) {
      // Sized from the I-Am (max APDU 128, segmented answers): more per request than one APDU holds.
      expect(info).toMatchObject({ address: `127.0.0.1:${ports[i]}`, missing: [] });
      expect(info.rpmSize).toBeGreaterThan(8);
    }
    const stats = driver.stats();
    if (process.env.DEBUG_BACNET) console.log(JSON.stringify(stats.devices), JSON.stringify(messages.filter((m) => m.type !== "stats")));
    expect(stats.devices.map((d) => [d.status, d.timeouts, d.errors])).toEqual([["ok", 0, 0], ["ok", 0, 0]]);
    expect(stats.badReplies).toBe(0);
    peers.forEach((p, i) => {
      expect(p.badAcks).toBe(0);
      // Every poll of a device is ≥ 5 segmented answers (60 objects in chunks of 13).
      expect(p.segmentedReplies - before[i]!).toBeGreaterThanOrEqual(10);
    });
    expect(messages.filter((m) => m.type === "device-status" && m.status !== "ok")).toEqual([]);

    await capture.stop();
    const fields = spawnSync("tshark", ["-r", capture.file, ...[busbarPort, ...ports].flatMap((p) => ["-d", `udp.port==${p},bvlc`]), "-T", "fields", "-E", "separator=|", "-e", "udp.srcport", "-e", "bacapp.type", "-e", "_ws.malformed", "-e", "_ws.expert.severity", "-e", "_ws.col.Info"], { encoding: "utf8" });
    const frames = fields.stdout.split("\n").filter(Boolean).map((l) => {
      const [src, type, malformed, severity, ...info] = l.split("|");
      return { src: Number(src), type: Number(type), malformed: !!malformed, severity: severity ?? "", info: info.join("|") };
    });
    if (process.env.DEBUG_BACNET) console.log(frames.slice(0, 30).map((f) => JSON.stringify(f)).join("\n"));
    expect(frames.filter((f) => f.malformed || /error/i.test(f.severity) || f.severity === "8388608")).toEqual([]);
    // Segments from the devices (Complex-ACK, PDU type 3) and Busbar's SegmentACKs (type 4).
    expect(frames.filter((f) => ports.includes(f.src) && f.type === 3 && /Message fragment|Reassembled/.test(f.info)).length).toBeGreaterThan(20);
    expect(frames.filter((f) => f.src === busbarPort && f.type === 4).length).toBeGreaterThan(20);
  }, 30_000);
});
