import { describe, expect, it } from "vitest";
import { buildFrame, crc16, readPdu, t35Ms, writeRegistersPdu } from "../src/protocols/modbus/rtu-frame.ts";
import { RtuMaster } from "../src/protocols/modbus/rtu-master.ts";
import type { ByteTransport } from "../src/protocols/serial/tty.ts";
import { LinkError } from "../src/protocols/modbus/link.ts";
import { corrupt } from "../src/sim/serial-faults.ts";

/**
 * RTU master framing against a scripted line: each request gets the bytes the script returns,
 * delivered in the chunks it says. No timing assumptions beyond generous timeouts.
 */

type Script = (frame: Uint8Array) => (Uint8Array | number)[] | undefined;

class ScriptedLine implements ByteTransport {
  isOpen = true;
  sent: Uint8Array[] = [];
  onData: (chunk: Uint8Array) => void = () => {};
  onClose: (error?: Error) => void = () => {};
  constructor(private script: Script) {}
  write(data: Uint8Array): void {
    this.sent.push(data.slice());
    const parts = this.script(data);
    if (!parts) return;
    let delay = 1;
    for (const p of parts) {
      if (typeof p === "number") {
        delay += p;
        continue;
      }
      setTimeout(() => this.onData(p), delay);
    }
  }
  async close(): Promise<void> {
    this.isOpen = false;
  }
}

const TIMING = { charMs: 0, t35Ms: 0, silenceMs: 20, broadcastDelayMs: 5 };
const reply = (unit: number, pdu: number[]) => buildFrame(unit, Uint8Array.from(pdu));
const regs = (unit: number, words: number[]) => reply(unit, [3, words.length * 2, ...words.flatMap((w) => [w >> 8, w & 0xff])]);

function master(script: Script, echo = false) {
  const line = new ScriptedLine(script);
  return { line, m: new RtuMaster(line, TIMING, echo) };
}

async function error(p: Promise<unknown>): Promise<LinkError> {
  try {
    await p;
  } catch (e) {
    return e as LinkError;
  }
  throw new Error("expected a failure");
}

describe("RTU framing", () => {
  it("computes the CRC of the TH40C manual's examples", () => {
    // Appendice E: "01 03 80 10 00 02 EC.." (CRC cut off); reply "01 03 04 3E C7 AE 14 3A 0E 49": the CRC is
    // 3A 49, the manual's "0E" between them is a typo (the stray byte would break any CRC).
    const req = buildFrame(1, readPdu(3, 0x8010, 2));
    expect(Array.from(req.subarray(6))).toEqual([crc16(req, 0, 6) & 0xff, crc16(req, 0, 6) >> 8]);
    expect(Array.from(regs(1, [0x3ec7, 0xae14]))).toEqual([0x01, 0x03, 0x04, 0x3e, 0xc7, 0xae, 0x14, 0x3a, 0x49]);
    // Broadcast time set: 00 10 70 00 00 03 06 05 07 14 0f 0a 28 C8 18
    const ts = buildFrame(0, writeRegistersPdu(16, 0x7000, [0x0507, 0x140f, 0x0a28]));
    expect(Array.from(ts)).toEqual([0x00, 0x10, 0x70, 0x00, 0x00, 0x03, 0x06, 0x05, 0x07, 0x14, 0x0f, 0x0a, 0x28, 0xc8, 0x18]);
  });

  it("uses t3.5 of the real character length, fixed 1.75 ms above 19200 baud", () => {
    expect(t35Ms({ baud: 9600, parity: "none", stopBits: 1 })).toBeCloseTo((3.5 * 10 * 1000) / 9600, 6);
    expect(t35Ms({ baud: 19200, parity: "even", stopBits: 1 })).toBeCloseTo((3.5 * 11 * 1000) / 19200, 6);
    expect(t35Ms({ baud: 38400, parity: "even", stopBits: 1 })).toBe(1.75);
    expect(t35Ms({ baud: 115200, parity: "none", stopBits: 2 })).toBe(1.75);
  });
});

describe("RTU master", () => {
  it("reads registers, even when the reply comes in pieces", async () => {
    const { m } = master(() => {
      const f = regs(7, [1, 2, 3]);
      return [f.subarray(0, 2), 2, f.subarray(2, 5), 2, f.subarray(5)];
    });
    const r = await m.request(7, readPdu(3, 100, 3), 500);
    expect(Array.from(r!)).toEqual([3, 6, 0, 1, 0, 2, 0, 3]);
    expect(m.counters).toMatchObject({ requests: 1, replies: 1, crcErrors: 0, shortFrames: 0, garbageBytes: 0 });
  });

  it("skips noise and another unit's late reply before the reply", async () => {
    const { m } = master(() => [Uint8Array.of(0xff, 0x00, 0x13), regs(9, [0x1234]), regs(7, [42])]);
    const r = await m.request(7, readPdu(3, 0, 1), 500);
    expect(Array.from(r!)).toEqual([3, 2, 0, 42]);
    expect(m.counters.garbageBytes).toBe(3 + 7);
  });

  it("strips an echo of its own request and counts it", async () => {
    const { m } = master((f) => [f.slice(), regs(7, [5, 6])]);
    const r = await m.request(7, readPdu(3, 0, 2), 500);
    expect(Array.from(r!)).toEqual([3, 4, 0, 5, 0, 6]);
    expect(m.counters.echoes).toBe(1);
    // A known echoing line: FC6's echo equals its reply, the second copy is the device's.
    const { m: m2, line } = master((f) => [f.slice(), 5, reply(7, [6, 0, 1, 0x12, 0x34])], true);
    await m2.request(7, writeRegistersPdu(6, 1, [0x1234]), 500);
    expect(m2.counters.echoes).toBe(1);
    expect(line.sent.length).toBe(1);
  });

  it("turns a bad CRC into a bad-reply error, then recovers on the next request", async () => {
    let n = 0;
    const { m } = master(() => [n++ === 0 ? corrupt(regs(7, [1]), { badCrc: true })! : regs(7, [1])]);
    const e = await error(m.request(7, readPdu(3, 0, 1), 500));
    expect(e).toBeInstanceOf(LinkError);
    expect(e.kind).toBe("bad-reply");
    expect(e.message).toMatch(/CRC/);
    expect(m.counters.crcErrors).toBe(1);
    const r = await m.request(7, readPdu(3, 0, 1), 500);
    expect(Array.from(r!)).toEqual([3, 2, 0, 1]);
  });

  it("reports a short frame (dropped bytes) without waiting for the whole timeout", async () => {
    const { m } = master(() => [corrupt(regs(7, [1, 2, 3, 4]), { dropBytes: 2 })!]);
    const t0 = performance.now();
    const e = await error(m.request(7, readPdu(3, 0, 4), 5000));
    expect(e.kind).toBe("bad-reply");
    expect(m.counters.shortFrames).toBe(1);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it("times out when nobody answers, and passes exceptions through", async () => {
    const { m } = master((f) => (f[0] === 3 ? undefined : [reply(f[0]!, [0x83, 0x02])]));
    const e = await error(m.request(3, readPdu(3, 0, 1), 60));
    expect(e.kind).toBe("timeout");
    expect(m.counters.timeouts).toBe(1);
    const x = await m.request(4, readPdu(3, 0, 1), 500);
    expect(Array.from(x!)).toEqual([0x83, 0x02]);
  });

  it("sends broadcasts without waiting for an answer", async () => {
    const { m, line } = master(() => undefined);
    const r = await m.request(0, writeRegistersPdu(16, 0x7000, [1, 2, 3]), 500);
    expect(r).toBeNull();
    expect(line.sent[0]![0]).toBe(0);
    expect(m.counters.broadcasts).toBe(1);
  });

  it("never sends into a line that does not go quiet, and says so", async () => {
    const line = new ScriptedLine(() => [regs(1, [1])]);
    // A byte every 1 ms against a 40 ms silence: only an event-loop stall of 40 ms (a loaded CI
    // machine) could look like quiet, where 3 ms once did.
    const m = new RtuMaster(line, { ...TIMING, t35Ms: 40 }, false);
    const babble = setInterval(() => line.onData(Uint8Array.of(0xaa)), 1);
    await new Promise((r) => setTimeout(r, 10));
    try {
      const e = await error(m.request(1, readPdu(3, 0, 1), 200));
      expect(e.kind).toBe("bad-reply");
      expect(e.message).toMatch(/never goes quiet/);
      expect(line.sent.length).toBe(0);
    } finally {
      clearInterval(babble);
    }
    await new Promise((r) => setTimeout(r, 20));
    const r = await m.request(1, readPdu(3, 0, 1), 500);
    expect(Array.from(r!)).toEqual([3, 2, 0, 1]);
  });

  it("serializes concurrent requests", async () => {
    const { m, line } = master((f) => [regs(f[0]!, [f[0]!])]);
    const rs = await Promise.all([1, 2, 3, 4].map((u) => m.request(u, readPdu(3, 0, 1), 500)));
    expect(rs.map((r) => r![3])).toEqual([1, 2, 3, 4]);
    expect(line.sent.map((f) => f[0])).toEqual([1, 2, 3, 4]);
  });
});
