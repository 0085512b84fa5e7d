import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LinkError, TcpLink } from "../src/protocols/modbus/link.ts";

/**
 * Busbar's own Modbus TCP framing (src/protocols/modbus/tcp-link.ts), against a server scripted
 * here byte by byte: each test sets how the next request is answered. The MBAP vectors are the
 * Modbus Messaging on TCP/IP guide's: read holding registers 0x006B ×3 from unit 0x11.
 */

type Answer = (req: Uint8Array) => Uint8Array[];
let answer: Answer = () => [];
const requests: Uint8Array[] = [];
let server: Bun.TCPSocketListener<undefined>;
let link: TcpLink;

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const tidOf = (req: Uint8Array) => req.subarray(0, 2);
const withTid = (req: Uint8Array, rest: Uint8Array) => Uint8Array.of(...tidOf(req), ...rest);

beforeAll(() => {
  server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      binaryType: "uint8array",
      data(s, data: Uint8Array) {
        requests.push(data.slice());
        for (const part of answer(data)) s.write(part);
      },
    },
  });
  link = new TcpLink({ kind: "modbus-tcp", host: "127.0.0.1", port: server.port, timeoutMs: 300 });
});

afterAll(async () => {
  await link.close();
  server.stop(true);
});

async function refusal(p: Promise<unknown>): Promise<LinkError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(LinkError);
  return e as LinkError;
}

describe("Modbus TCP link (MBAP framing)", () => {
  it("sends the guide's request bytes and returns exactly the register bytes, even from a reply cut in pieces", async () => {
    // Reply: 3 registers 0x022B 0x0000 0x0064, sent one byte at a time.
    answer = (req) => [...withTid(req, hex("0000000911" + "0306" + "022B00000064"))].map((b) => Uint8Array.of(b));
    const got = await link.read(0x11, 3, 0x006b, 3, 300);
    expect([...got]).toEqual([0x02, 0x2b, 0x00, 0x00, 0x00, 0x64]);
    const req = requests.at(-1)!;
    expect([...req.subarray(2)]).toEqual([...hex("0000000611" + "03006B0003")]);
  });

  it("numbers transactions and refuses a reply carrying another transaction id, then resyncs on a new connection", async () => {
    answer = (req) => [Uint8Array.of(req[0]! ^ 0xff, req[1]!, ...hex("0000000911" + "0306" + "022B00000064"))];
    const e = await refusal(link.read(0x11, 3, 0x006b, 3, 300));
    expect(e.kind).toBe("bad-reply");
    expect(link.isOpen).toBe(false);
    answer = (req) => [withTid(req, hex("0000000511" + "0302" + "1234"))];
    expect([...(await link.read(0x11, 3, 0, 1, 300))]).toEqual([0x12, 0x34]);
    const tids = requests.slice(-2).map((r) => (r[0]! << 8) | r[1]!);
    expect(tids[1]).toBe((tids[0]! + 1) & 0xffff);
  });

  it("turns an exception reply into its exception, and keeps the connection", async () => {
    answer = (req) => [withTid(req, hex("0000000311" + "8302"))];
    const e = await refusal(link.read(0x11, 3, 0x006b, 3, 300));
    expect(e.kind).toBe("exception");
    expect(e.exceptionCode).toBe(2);
    expect(link.isOpen).toBe(true);
  });

  it("refuses a read answered with more or fewer data bytes than asked, a reply from another unit, a length beyond an ADU", async () => {
    const cases: [string, Answer][] = [
      ["longer", (req) => [withTid(req, hex("0000000711" + "0304" + "12345678"))]],
      ["shorter", (req) => [withTid(req, hex("0000000311" + "0300"))]],
      ["other unit", (req) => [withTid(req, hex("0000000512" + "0302" + "1234"))]],
      ["huge length", (req) => [withTid(req, hex("0000FFFF11" + "0302" + "1234"))]],
      ["protocol id", (req) => [withTid(req, hex("0001000511" + "0302" + "1234"))]],
      ["bytes after the frame", (req) => [withTid(req, hex("0000000511" + "0302" + "1234" + "FF"))]],
    ];
    for (const [name, a] of cases) {
      answer = a;
      const e = await refusal(link.read(0x11, 3, 0, 1, 300));
      expect(e.kind, name).toBe("bad-reply");
      expect(e.message, name).toMatch(/malformed reply/);
    }
  });

  it("times out on silence, drops the connection, and answers again on the next request", async () => {
    answer = () => [];
    const t0 = performance.now();
    const e = await refusal(link.read(0x11, 3, 0, 1, 150));
    expect(e.kind).toBe("timeout");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(link.isOpen).toBe(false);
    answer = (req) => [withTid(req, hex("0000000511" + "0302" + "ABCD"))];
    expect([...(await link.read(0x11, 3, 0, 1, 300))]).toEqual([0xab, 0xcd]);
  });

  it("checks a write's echo: FC6 and FC16 accepted when repeated, refused otherwise", async () => {
    answer = (req) => [withTid(req, req.slice(2))]; // echo the whole request: right for FC6
    await link.writeRegisters(0x11, 6, 0x0001, [0x0003], 300);
    expect([...requests.at(-1)!.subarray(7)]).toEqual([0x06, 0x00, 0x01, 0x00, 0x03]);
    answer = (req) => [withTid(req, hex("0000000611" + "10000100" + "03"))]; // quantity 3, asked 2
    const e = await refusal(link.writeRegisters(0x11, 16, 0x0001, [0x000a, 0x0102], 300));
    expect(e.kind).toBe("bad-reply");
  });

  it("sends a write to unit 0 as a broadcast, without waiting for an answer; a read at unit 0 is an ordinary request", async () => {
    answer = () => [];
    const t0 = performance.now();
    await link.writeRegisters(0, 6, 0x7000, [1], 2000);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(requests.at(-1)![6]).toBe(0);
    answer = (req) => [withTid(req, hex("0000000500" + "0302" + "0102"))];
    expect([...(await link.read(0, 3, 0, 1, 300))]).toEqual([0x01, 0x02]);
  });

  it("serialises concurrent requests: one transaction on the wire at a time", async () => {
    const before = requests.length;
    answer = (req) => [withTid(req, hex("0000000511" + "0302" + "0001"))];
    const all = await Promise.all(Array.from({ length: 8 }, () => link.read(0x11, 3, 0, 1, 300)));
    expect(all.every((b) => b[1] === 1)).toBe(true);
    // Each request arrived alone (12 bytes), sent only once the previous one was answered.
    expect(requests.slice(before).map((r) => r.length)).toEqual(Array(8).fill(12));
  });

  it("says who could not be reached", async () => {
    const dead = new TcpLink({ kind: "modbus-tcp", host: "127.0.0.1", port: 1, timeoutMs: 300 });
    const e = await refusal(dead.read(1, 3, 0, 1, 300));
    expect(e.kind).toBe("disconnected");
    expect(e.message).toMatch(/cannot connect to 127\.0\.0\.1:1/);
  });
});
