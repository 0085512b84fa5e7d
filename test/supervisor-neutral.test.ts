import { afterAll, describe, expect, it } from "vitest";
import type { DeviceStatus } from "../src/drivers/protocol.ts";
import { Supervisor, type WorkerSpec } from "../src/drivers/supervisor.ts";
import { Quality } from "../src/points/quality.ts";
import { createRegistry } from "../src/points/registry.ts";
import { PointTable } from "../src/points/table.ts";
import { waitFor } from "./helpers/peers.ts";

/**
 * The supervisor knows no protocol (issue 15 §1): a worker of another driver, speaking only the
 * neutral messages, is started, fed writes, restarted and reported exactly like a Modbus bus worker.
 * Its driver's own messages reach the driver, not the supervisor.
 */

const registry = createRegistry([
  {
    name: "fake",
    points: () =>
      ["a", "b"].map((name) => ({ device: "F1", name, label: name, unit: "kW", kind: "analog" as const, writable: name === "b", staleAfterMs: 60_000, owner: { driver: "fake", bus: "F" } })),
  },
]);
const table = PointTable.create({ capacity: registry.points.length, rings: Supervisor.ringsFor(1) });
const seen = { restarts: [] as { bus: string; reason: string; qualities: number[] }[], status: [] as [string, DeviceStatus][], own: [] as string[], attached: 0, detached: [] as string[] };
const spec: WorkerSpec = {
  id: "F",
  driver: "fake",
  kind: "fake-ip",
  url: new URL("./fixtures/neutral-worker.ts", import.meta.url),
  points: [0, 1],
  init: (base) => ({ ...base, points: [0, 1], value: 42 }) as typeof base,
  onMessage: (m) => seen.own.push(m.type),
  attached: () => seen.attached++,
  detached: (reason) => seen.detached.push(reason),
};
const supervisor = new Supervisor(registry, table, [spec], {
  log: () => {},
  deviceStatus: (d, s) => seen.status.push([d, s]),
  // The points are marked stale before the restart is reported: read them then.
  workerRestart: (bus, reason) => seen.restarts.push({ bus, reason, qualities: [table.read(0).quality, table.read(1).quality] }),
  text: () => {},
});

afterAll(() => supervisor.stop());

describe("supervisor with a non-Modbus worker", () => {
  it("starts it on its own ring and handles its neutral messages", async () => {
    supervisor.start();
    await waitFor("values written", () => table.read(0).quality === Quality.GOOD && table.read(0).value === 42, 10_000);
    await waitFor("stats", () => "devices" in supervisor.stats()[0]!);
    expect(supervisor.stats()[0]).toMatchObject({ bus: "F", kind: "fake-ip", connected: true, restarts: 0 });
    expect(seen.status).toEqual([["F1", "ok"]]);
    expect(seen.own).toEqual(["hello"]);
    let ring1 = 0;
    table.drain(1, () => ring1++);
    expect(ring1).toBe(2);
  });

  it("sends a write to the point's worker, and refuses points that are not writable", async () => {
    expect(await supervisor.write(1, 7)).toMatchObject({ ok: true });
    expect(table.read(1).value).toBe(7);
    expect(await supervisor.write(0, 7)).toMatchObject({ ok: false, error: "F1.a is not writable" });
    expect(await supervisor.write(99, 7)).toMatchObject({ ok: false, error: "unknown point" });
  });

  it("restarts it when it dies, marking its points stale meanwhile, and reports the restart", async () => {
    supervisor.crash("F");
    await waitFor("restart reported", () => seen.restarts.length === 1, 5000);
    expect(seen.restarts[0]).toMatchObject({ bus: "F", qualities: [Quality.STALE, Quality.STALE] });
    expect(seen.detached).toEqual(["bus F worker restarted"]);
    await waitFor("good again", () => table.read(0).quality === Quality.GOOD, 5000);
    expect(seen.attached).toBe(2);
    await waitFor("stats again", () => (supervisor.stats()[0] as { restarts: number }).restarts === 1);
  });
});
