import { describe, expect, it } from "vitest";
import { requestLength } from "../src/protocols/modbus/rtu-frame.ts";
import { TARGETS } from "./fuzz/targets.ts";

/**
 * A short run of every fuzz harness (issue 9 item 19); `npm run bench -- fuzz` runs them with
 * 1,000,000 inputs each. A new seed per CI run would make failures irreproducible: the seed is fixed
 * here and FUZZ_SEED picks another.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const N: Record<string, number> = {
  "modbus-tcp-server": 20_000,
  "gateway-mbap": 10_000,
  "modbus-tcp-client": 3_000,
  "modbus-rtu": 10_000,
  "modbus-codec": 50_000,
  "enlogic-import": 5_000,
  "site-profile-loaders": 3_000,
};

describe("fuzz (short run)", () => {
  for (const [name, run] of Object.entries(TARGETS)) {
    it(`${name}: ${N[name] ?? 2000} inputs, no crash, no hang`, async () => {
      const r = await run(N[name] ?? 2000, SEED);
      expect(r.crashes).toEqual([]);
      expect(r.hangs).toEqual([]);
      expect(r.inputs).toBeGreaterThanOrEqual(N[name] ?? 2000);
    }, 30_000);
  }
});

describe("what the fuzzers found", () => {
  it("RTU: a write request whose byte count makes it longer than 256 bytes cannot be framed", () => {
    // unit 1, FC16, address 0, 123 registers, byte count 246: the largest valid request (255 bytes).
    expect(requestLength(Uint8Array.of(1, 16, 0, 0, 0, 123, 246), 0, 7)).toBe(255);
    expect(requestLength(Uint8Array.of(1, 16, 0, 0, 0, 124, 248), 0, 7)).toBeNull();
    expect(requestLength(Uint8Array.of(1, 15, 0, 0, 0x07, 0xb8, 247), 0, 7)).toBeNull();
  });
  it("Modbus TCP: a read answered with more data bytes than asked for is refused, not returned", async () => {
    // The link once framed replies with modbus-serial, which handed over whatever length it found;
    // before the fix, 5,000 fuzzed reads (seed 1) returned 8 readings of the wrong length.
    const r = await TARGETS["modbus-tcp-client"]!(5000, 1);
    expect(r.crashes.filter((c) => /returned \d+ bytes, not/.test(c))).toEqual([]);
    expect(r.outcomes.read).toBeGreaterThan(1000);
  }, 30_000);
  // The EnLogic findings (character references, one-line maps, line breaks in names, invalid time
  // syncs) are in test/enlogic-hardening.test.ts.
});
