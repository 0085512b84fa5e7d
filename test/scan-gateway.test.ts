import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TcpLink } from "../src/protocols/modbus/link.ts";
import { DEFAULT_PROBE, scanBus } from "../src/protocols/modbus/rtu-scan.ts";

/**
 * A scan through a Modbus TCP gateway: the gateway answers exception 11 (target failed to respond)
 * or 10 (path unavailable) for units with nobody behind them. Those are the gateway's words, not a
 * device's: no hit. Unit 4 answers, unit 9 refuses the register (exception 2): both are devices.
 */
let server: Bun.TCPSocketListener<undefined>;

beforeAll(() => {
  server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      binaryType: "uint8array",
      data(s, req: Uint8Array) {
        const unit = req[6]!;
        const fc = req[7]!;
        const pdu = unit === 4 ? [fc, 2, 0x00, 0x2a] : unit === 9 ? [fc | 0x80, 2] : [fc | 0x80, unit % 2 ? 0x0b : 0x0a];
        s.write(Uint8Array.of(req[0]!, req[1]!, 0, 0, 0, pdu.length + 1, unit, ...pdu));
      },
    },
  });
});
afterAll(() => server.stop(true));

describe("scan through a Modbus TCP gateway", () => {
  it("counts devices only: the gateway's exceptions 10 and 11 are nobody", async () => {
    const link = new TcpLink({ kind: "modbus-tcp", host: "127.0.0.1", port: server.port, timeoutMs: 300 });
    const res = await scanBus("gw", { request: (fn) => fn(link) }, { from: 1, to: 12, timeoutMs: 300, probe: DEFAULT_PROBE, candidates: [] });
    await link.close();
    expect(res.probes).toBe(12);
    expect(res.hits.map((h) => [h.unit, h.answer, h.exception ?? null])).toEqual([
      [4, "reply", null],
      [9, "exception", 2],
    ]);
  });
});
