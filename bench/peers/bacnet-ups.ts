/**
 * The simulated Socomec UPS in its own process for the BACnet bench, so its CPU is not counted as
 * Busbar's. Args: DEVICE_PORT. Prints "ready"; on stdin "blast N" sends N COV notifications to its
 * subscribers and prints "sent N".
 */
import { loadProfiles } from "../../src/config/profiles.ts";
import { parseSite } from "../../src/config/site.ts";
import { SimDevice } from "../../src/sim/device.ts";
import { BacnetSimDevice } from "../../src/sim/bacnet-device.ts";
import { UpsModel } from "../../src/sim/models/ups.ts";
import { DEAD_BUS } from "../../src/sim/electrical.ts";

const port = Number(process.argv[2]);
const site = parseSite(
  { site: { name: "bench" }, buses: [{ id: "bn", kind: "bacnet-ip" }], devices: [{ id: "UPS", bus: "bn", instance: 1338, profile: "socomec-ups" }] },
  loadProfiles(),
  "bench",
);
const profile = site.profiles.get("socomec-ups")!;
const dev = new SimDevice(site.devices[0]!, profile);
const ups = new UpsModel("UPS", dev);
const live = { ...DEAD_BUS, live: true, vln: [347, 347, 347] as [number, number, number], vll: [600, 600, 600] as [number, number, number], f: 60 };
const ctx = { now: Date.now(), dtH: 0, dtMs: 0, local: new Date(), hour: 12, weekend: false, seed: 1, slot: 0 };
ups.update(ctx, live, 30);
const sim = new BacnetSimDevice(dev, profile.bacnet!, { instance: 1338, port, profileName: "factor_10" });
setInterval(() => {
  ctx.now = Date.now();
  ctx.dtH = 1 / 3600;
  ups.update(ctx, live, 30 + 5 * Math.sin(ctx.now / 5000));
}, 1000);
console.log("ready");
for await (const line of console) {
  const m = /^blast (\d+)/.exec(line);
  if (m) console.log(`sent ${await sim.blast(Number(m[1]))}`);
}
