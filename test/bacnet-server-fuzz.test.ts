/**
 * Fuzzing the BACnet server's decoding path (BVLC → NPDU → APDU → service request → answer): valid
 * requests of every served service, mutated (bit flips, truncations, insertions, length and tag
 * bytes, routing headers) and pure noise, fed to the server's packet handler. Zero crashes means no
 * exception other than the Reject the decoders throw on purpose, and the server still answering.
 * CI runs a short version; `BACNET_FUZZ_PACKETS=1000000 bunx --bun vitest run test/bacnet-server-fuzz.test.ts`
 * runs the long one.
 */
import { describe, expect, it } from "vitest";
import { ConfirmedServiceChoice as CS, ObjectType, PduType, PropertyIdentifier as P, UnconfirmedServiceChoice as US } from "@bacnet-js/client";
import * as asn1 from "@bacnet-js/client/dist/lib/asn1.js";
import * as apdu from "@bacnet-js/client/dist/lib/apdu.js";
import ReadProperty from "@bacnet-js/client/dist/lib/services/ReadProperty.js";
import ReadPropertyMultiple from "@bacnet-js/client/dist/lib/services/ReadPropertyMultiple.js";
import SubscribeCov from "@bacnet-js/client/dist/lib/services/SubscribeCov.js";
import WhoHas from "@bacnet-js/client/dist/lib/services/WhoHas.js";
import WhoIs from "@bacnet-js/client/dist/lib/services/WhoIs.js";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseYaml } from "../src/config/profile.ts";
import { parseSite } from "../src/config/site.ts";
import { openDatabase } from "../src/db/database.ts";
import { DEMO_SITE } from "../src/embedded.ts";
import { buildRegistry } from "../src/drivers/index.ts";
import { BacnetServer } from "../src/bacnet-server/server.ts";
import { BacnetStore } from "../src/bacnet-server/store.ts";
import { BmsWrites } from "../src/bacnet-server/writes.ts";

const PACKETS = Number(process.env.BACNET_FUZZ_PACKETS ?? 20_000);

type B = { buffer: Buffer; offset: number };
const enc = (fn: (b: B) => void): Buffer => {
  const b = { buffer: Buffer.alloc(1500), offset: 0 };
  fn(b);
  return Buffer.from(b.buffer.subarray(0, b.offset));
};
const frame = (apduBytes: Uint8Array, npduHead: Uint8Array = Buffer.from([0x01, 0x04]), fn = 0x0a): Buffer => {
  const len = 4 + npduHead.length + apduBytes.length;
  return Buffer.concat([Buffer.from([0x81, fn, (len >> 8) & 0xff, len & 0xff]), npduHead, apduBytes]);
};
const conf = (service: number, body: (b: B) => void, invokeId = 1) =>
  enc((b) => {
    apdu.encodeConfirmedServiceRequest(b, PduType.CONFIRMED_REQUEST, service, 0, 5, invokeId);
    body(b);
  });
const unconf = (service: number, body: (b: B) => void) =>
  enc((b) => {
    apdu.encodeUnconfirmedServiceRequest(b, PduType.UNCONFIRMED_REQUEST, service);
    body(b);
  });

describe("BACnet server decoding path under fuzz", () => {
  it(`${PACKETS.toLocaleString("en")} generated packets: zero crashes, the server still answers`, { timeout: 600_000 }, async () => {
    const raw = parseYaml(DEMO_SITE, "demo") as Record<string, any>;
    raw.bacnetServer.writeClients = ["0.0.0.0/0"]; // every fuzzed write goes the whole way
    const site = parseSite(raw, loadProfiles(), "demo");
    const registry = buildRegistry(site);
    const db = openDatabase(":memory:");
    const writes = new BmsWrites(async () => ({ ok: true, ms: 0 }), db.journal, "fr");
    // Values of every quality, so every health path is read.
    const live = {
      read: (i: number) => ({ value: i % 7 === 0 ? NaN : i * 1.5, quality: i % 9, ts: Date.now() - (i % 3) * 10_000 }),
      alarm: (i: number) => (i % 11 === 0 ? ("high" as const) : undefined),
      subscribe: () => () => {},
    };
    const server = new BacnetServer({ site, config: site.bacnetServer!, registry, store: new BacnetStore(db.sqlite), live, writes, version: "fuzz", log: () => {} });
    const sent: Buffer[] = [];
    let replies = 0;
    (server as unknown as { send: (p: Buffer) => void }).send = (p: Buffer) => {
      replies++;
      if (sent.length > 1000) sent.splice(0, 500);
      sent.push(p);
    };
    const dev = site.bacnetServer!.instance;
    const objs = server.set.objects;
    const seeds = ([
      frame(conf(CS.READ_PROPERTY, (b) => ReadProperty.encode(b, ObjectType.DEVICE, dev, P.OBJECT_LIST, 3))),
      frame(conf(CS.READ_PROPERTY, (b) => ReadProperty.encode(b, objs[5]!.type, objs[5]!.instance, P.PRESENT_VALUE, 0xffffffff))),
      frame(
        conf(CS.READ_PROPERTY_MULTIPLE, (b) =>
          ReadPropertyMultiple.encode(b, [
            { objectId: { type: objs[1]!.type, instance: objs[1]!.instance }, properties: [{ id: P.ALL, index: 0xffffffff }] },
            { objectId: { type: ObjectType.DEVICE, instance: dev }, properties: [{ id: P.OBJECT_NAME, index: 0xffffffff }, { id: P.PRIORITY_ARRAY, index: 2 }] },
          ]),
        ),
      ),
      ...objs
        .filter((o) => o.writable)
        .map((o) =>
          frame(
            conf(CS.WRITE_PROPERTY, (b) => {
              asn1.encodeContextObjectId(b, 0, o.type, o.instance);
              asn1.encodeContextEnumerated(b, 1, P.PRESENT_VALUE);
              asn1.encodeOpeningTag(b, 3);
              if (o.type === ObjectType.ANALOG_VALUE) asn1.bacappEncodeApplicationData(b, { type: 4, value: 300 } as never);
              else asn1.encodeApplicationEnumerated(b, 1);
              asn1.encodeClosingTag(b, 3);
              asn1.encodeContextUnsigned(b, 4, 8);
            }),
          ),
        ),
      frame(conf(CS.SUBSCRIBE_COV, (b) => SubscribeCov.encode(b, 9, { type: objs[2]!.type, instance: objs[2]!.instance }, false, true, 30))),
      frame(conf(CS.SUBSCRIBE_COV, (b) => SubscribeCov.encode(b, 9, { type: objs[2]!.type, instance: objs[2]!.instance }, true))),
      // Active_COV_Subscriptions, with local and routed (SNET/SADR) subscribers in the list.
      frame(conf(CS.READ_PROPERTY, (b) => ReadProperty.encode(b, ObjectType.DEVICE, dev, P.ACTIVE_COV_SUBSCRIPTIONS, 0xffffffff))),
      frame(conf(CS.SUBSCRIBE_COV, (b) => SubscribeCov.encode(b, 10, { type: objs[4]!.type, instance: objs[4]!.instance }, false, false, 60)), Buffer.from([0x01, 0x2c, 0xff, 0xff, 0x00, 0x00, 0x05, 0x01, 0x42, 0xff])),
      frame(unconf(US.WHO_IS, (b) => WhoIs.encode(b, 0, 4194303)), Buffer.from([0x01, 0x00]), 0x0b),
      frame(unconf(US.WHO_HAS, (b) => WhoHas.encode(b, -1, -1, undefined as never, objs[3]!.name)), Buffer.from([0x01, 0x00]), 0x0b),
      // Routed: DNET/DLEN/DADR + SNET/SLEN/SADR + hop count; and a Forwarded-NPDU.
      frame(conf(CS.READ_PROPERTY, (b) => ReadProperty.encode(b, ObjectType.DEVICE, dev, P.OBJECT_NAME, 0xffffffff)), Buffer.from([0x01, 0x2c, 0xff, 0xff, 0x00, 0x00, 0x05, 0x01, 0x42, 0xff])),
      Buffer.concat([Buffer.from([0x81, 0x04, 0, 0, 10, 0, 0, 9, 0xba, 0xc0]), Buffer.from([0x01, 0x04]), conf(CS.READ_PROPERTY, (b) => ReadProperty.encode(b, ObjectType.DEVICE, dev, P.SYSTEM_STATUS, 0xffffffff))]).map((x, i, a) => (i === 3 ? a.length : x)),
    ] as Uint8Array[]).map((x) => Buffer.from(x));
    let seed = 0x9e3779b9;
    const rnd = (n: number) => ((seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) % n);
    const mutate = (p: Buffer): Buffer => {
      const b = Buffer.from(p);
      const k = rnd(8);
      if (k === 0) return b.subarray(0, rnd(b.length + 1)); // truncation
      if (k === 1) {
        const n = 1 + rnd(200);
        const r = Buffer.alloc(n);
        for (let i = 0; i < n; i++) r[i] = rnd(256);
        return rnd(2) ? r : Buffer.concat([b.subarray(0, 6), r]); // noise, or noise after valid headers
      }
      if (k === 2) return Buffer.concat([b.subarray(0, rnd(b.length)), Buffer.from([rnd(256), rnd(256)]), b.subarray(rnd(b.length))]);
      for (let f = 1 + rnd(4); f > 0; f--) b[6 + rnd(Math.max(1, b.length - 6))] = rnd(256); // flips past the BVLC/NPDU, where it parses furthest
      if (k === 3) b[rnd(b.length)] = rnd(256); // anywhere, the length too
      if (k === 4 && b.length > 4) {
        // Keep the BVLC length right so the mutation reaches the APDU decoders.
        b[2] = b.length >> 8;
        b[3] = b.length & 0xff;
      }
      return b;
    };
    const fix = (b: Buffer) => {
      if (b.length >= 4 && b[0] === 0x81 && rnd(4) !== 0) {
        b[2] = (b.length >> 8) & 0xff;
        b[3] = b.length & 0xff;
      }
      return b;
    };
    const t0 = performance.now();
    for (let i = 0; i < PACKETS; i++) {
      const p = fix(mutate(seeds[rnd(seeds.length)]!));
      server.onPacket(p, { address: `10.0.${rnd(4)}.${1 + rnd(3)}`, port: 47808 + rnd(3) });
      if ((i & 0x3fff) === 0) await new Promise((r) => setTimeout(r, 0)); // let relayed writes settle
    }
    const ms = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 50));
    console.log(
      `BACnet fuzz: ${PACKETS.toLocaleString("en")} packets in ${(ms / 1000).toFixed(1)} s; received ${server.stats.received}, ignored ${server.stats.ignored}, rejected ${server.stats.rejected}, aborted ${server.stats.aborted}, errors answered ${server.stats.errors}, crashes ${server.stats.crashes}, packets sent back ${replies}`,
    );
    expect(server.stats.crashes).toBe(0);
    expect(server.stats.rejected).toBeGreaterThan(0);
    // Still answering a valid request.
    sent.length = 0;
    server.onPacket(seeds[0]!, { address: "10.0.0.9", port: 47808 });
    expect(sent.at(-1)![6]).toBe(PduType.COMPLEX_ACK);
    server.covs.stop();
    db.close();
  });
});
