import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseProfile, type Tag } from "../src/config/profile.ts";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite } from "../src/config/site.ts";
import { LearnedPlan, splitRead, type LearnedPlanView } from "../src/protocols/modbus/learned-plan.ts";
import { planReads, tagWidth } from "../src/protocols/modbus/planner.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { putFloats, startPyModbus, waitFor, type PyModbusServer } from "./helpers/peers.ts";

/**
 * One refused register must not spoil a whole block (issue 9 item 13). The TH40C profile (seed
 * th40c manual, Appendice G) merges its instantaneous floats into one read, 0xA612 ×86, across the
 * holes between its documented registers. A pymodbus server that holds only the documented
 * registers (ModbusSparseDataBlock: exception 02 for anything else) refuses that read; Busbar splits
 * it down to what the device answers, keeps those values good, marks a register the device does not
 * map as device-exception, shows the learned plan, and learns again when the device comes back.
 */

function tags(list: Record<string, unknown>[]): { tag: Tag; point: number }[] {
  const p = parseProfile({ profile: "t", name: "t", source: "test", defaults: { function: 3, type: "uint16" }, tags: list.map((t, i) => ({ id: `t${i}`, label: `t${i}`, ...t })) });
  return p.tags.map((tag, point) => ({ tag, point }));
}
const limits = { maxRegistersPerRead: 125, maxBitsPerRead: 2000, maxGap: 10 };
const span = (r: { start: number; count: number }) => `${r.start}×${r.count}`;

describe("splitting a refused read", () => {
  it("cuts at the hole between tags nearest the middle, else at the middle", () => {
    const [read] = planReads(tags([{ address: 0 }, { address: 1 }, { address: 5 }, { address: 6 }, { address: 9 }, { address: 10 }]), limits);
    expect(span(read!)).toBe("0×11");
    const [a, b] = splitRead(read!)!;
    expect([span(a), span(b)]).toEqual(["0×2", "5×6"]);
    expect(b.items.map((i) => i.offset)).toEqual([0, 1, 4, 5]);
    const [contiguous] = planReads(tags([{ address: 0 }, { address: 1 }, { address: 2 }, { address: 3, type: "float32" }]), limits);
    expect(splitRead(contiguous!)!.map(span)).toEqual(["0×2", "2×3"]);
  });

  it("never splits one tag's registers, nor masked bits of one register", () => {
    const [one] = planReads(tags([{ address: 7, type: "float64" }]), limits);
    expect(splitRead(one!)).toBeNull();
    const [bits] = planReads(tags([{ address: 10, mask: 1 }, { address: 10, mask: 2 }]), limits);
    expect(splitRead(bits!)).toBeNull();
  });

  it("bisects down to the tags' own registers, then holds the refused one back until its re-probe", () => {
    const [read] = planReads(tags([{ address: 0 }, { address: 4 }, { address: 8 }, { address: 12 }]), limits);
    const plan = new LearnedPlan([read!], 60_000);
    // The device maps 0, 4 and 12 but not 8: refuse every read that covers 8.
    const covers8 = (r: { start: number; count: number }) => r.start <= 8 && 8 < r.start + r.count;
    let requests = 0;
    for (let i = 0; i < plan.reads.length; i++) {
      requests++;
      if (covers8(plan.reads[i]!) && plan.refuse(plan.reads[i]!, 1000) === "split") i--;
    }
    // The half without the refused register stays one read.
    expect(plan.reads.map(span)).toEqual(["0×5", "8×1", "12×1"]);
    expect(requests).toBe(5);
    expect(plan.view().refused).toEqual(["t2"]);
    expect(plan.due(plan.reads[1]!, 1000 + 59_999)).toBe(false);
    expect(plan.due(plan.reads[1]!, 1000 + 60_000)).toBe(true);
    expect(plan.due(plan.reads[0]!, 1000)).toBe(true);
    expect(plan.learned).toBe(true);
    expect(plan.reset()).toBe(true);
    expect(plan.reads.map(span)).toEqual(["0×13"]);
  });

  it("lets the profile mark registers that must be read alone", () => {
    const plan = planReads(tags([{ address: 0 }, { address: 1, readAlone: true }, { address: 2 }, { address: 3 }]), limits);
    expect(plan.map(span)).toEqual(["0×1", "1×1", "2×2"]);
  });
});

// ---------------------------------------------------------------------------------------------

const th40c = loadProfiles().get("th40c")!;

/** Only the registers the TH40C manual documents (every polled tag, the clock and the time set), minus `missing`. */
function documentedImage(missing: string[], floats: Record<number, number>): Record<number, number> {
  const regs: Record<number, number> = {};
  for (const t of th40c.tags) {
    if (missing.includes(t.id)) continue;
    for (let a = t.address; a < t.address + tagWidth(t); a++) regs[a] = 0;
  }
  for (let a = 0x1040; a <= 0x1045; a++) regs[a] = [2026, 11, 21, 9, 30, 0][a - 0x1040]!;
  putFloats(regs, floats);
  for (const id of missing) {
    const t = th40c.tags.find((x) => x.id === id)!;
    for (let a = t.address; a < t.address + tagWidth(t); a++) delete regs[a];
  }
  return regs;
}

const FLOATS = { 0x8010: 0.39, 0xa612: 230.5, 0xa614: 231.25, 0xa616: 229.75, 0xa622: 12.25, 0xa630: 8.5, 0xa650: 0.875, 0xa660: 9.5, 0xa666: 3.25 };
const POLL_MS = 500;
const BACKOFF_MS = 1000;

let server: PyModbusServer;
let busbar: Busbar;
const point = (id: string) => busbar.live.value(busbar.registry.byId.get(id)!);
const busStats = () => busbar.supervisor.stats()[0] as { exceptions: number; devices: { id: string; status: string; requests: number }[] };
const apiPlan = async () => ((await (await fetch(`${busbar.url}api/plan`)).json()) as Record<string, LearnedPlanView & { configured: { text: string }[] }>).M1!;
const hex = (r: { start: number; count: number }) => `${r.start.toString(16)}×${r.count}`;

beforeAll(async () => {
  // A meter without the per-phase apparent power of phase C (s_c, 0xA666): refused, exception 02.
  // Unit 2 maps none of the TH40C's registers (a wrong profile, another device at that address).
  server = await startPyModbus({ 1: { hr: documentedImage(["s_c"], FLOATS) }, 2: { hr: { 0: 0 } } });
  const site = parseSite(
    {
      site: { name: "learned plan", language: "en" },
      buses: [{ id: "gw", kind: "modbus-tcp", host: "127.0.0.1", port: server.port, timeoutMs: 300, retries: 1, backoffMs: BACKOFF_MS }],
      devices: [
        { id: "M1", bus: "gw", unit: 1, profile: "th40c", pollMs: POLL_MS, slowPollMs: POLL_MS },
        { id: "M2", bus: "gw", unit: 2, profile: "th40c", pollMs: POLL_MS, slowPollMs: POLL_MS },
      ],
    },
    loadProfiles(),
  );
  busbar = await startBusbar({ site, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", kiosk: ["127.0.0.1", "::1", "::ffff:127.0.0.1"], log: () => {} });
});

afterAll(async () => {
  await busbar?.stop();
  await server?.stop();
});

describe("a TH40C that answers only its documented registers (pymodbus)", () => {
  it("keeps every answered value good and marks only the refused register device-exception", async () => {
    expect(busbar.modbus.plans.get("M1")!.map(hex)).toContain("a612×86");
    await waitFor("M1 values", () => point("M1.v_an").quality === "good" && point("M1.s_a").quality === "good" && point("M1.energy_import").quality === "good", 10_000);
    expect(point("M1.v_an").value).toBe(230.5);
    expect(point("M1.v_cn").value).toBe(229.75);
    expect(point("M1.i_a").value).toBe(12.25);
    expect(point("M1.p_total").value).toBe(8.5);
    expect(point("M1.pf_total").value).toBe(0.875);
    expect(point("M1.s_total").value).toBe(9.5);
    expect(point("M1.energy_import").value).toBeCloseTo(0.39, 5);
    expect(point("M1.s_c").quality).toBe("device-exception");
    // The device itself is fine: one register it does not map is not a device fault.
    await waitFor("M1 ok", () => busStats().devices.find((d) => d.id === "M1")?.status === "ok");
  });

  it("does not call a device OK that refuses everything asked", async () => {
    await waitFor("M2 exception", () => busStats().devices.find((d) => d.id === "M2")?.status === "exception", 10_000);
    expect(point("M2.v_an").quality).toBe("device-exception");
    expect(point("M2.energy_import").quality).toBe("device-exception");
  });

  it("shows the learned plan in /api/plan and on the communication page", async () => {
    const plan = await waitFor("learned plan", async () => {
      const p = await apiPlan();
      return p.learned && p.refused.length ? p : undefined;
    });
    expect(plan.refused).toEqual(["s_c"]);
    expect(plan.configured.map((r) => r.text).filter((t) => t.includes("(0xA612) ×86"))).toHaveLength(1);
    const instantaneous = plan.reads.filter((r) => r.fc === 3 && r.start >= 0xa600);
    // Split at the holes between the documented blocks; inside the last block (no hole) by halves
    // down to the refused register, which stands alone.
    expect(instantaneous.filter((r) => r.state === "ok").map(hex)).toEqual(["a612×6", "a622×6", "a630×8", "a640×8", "a650×8", "a660×4", "a664×2"]);
    // The slow energy reads cross undocumented holes too (0x8012…0x801F): split the same way.
    expect(plan.reads.filter((r) => r.slow && r.start >= 0x8000).map(hex)).toEqual(["8010×2", "8020×2", "8110×2", "8120×2"]);
    expect(instantaneous.filter((r) => r.state === "refused").map(hex)).toEqual(["a666×2"]);
    const refused = instantaneous.find((r) => r.state === "refused")!;
    expect(refused.reprobeAt! - Date.now()).toBeGreaterThan(10 * 60_000);
    const html = await (await fetch(`${busbar.url}comm`)).text();
    expect(html).toContain(`Learned from the device: ${plan.reads.length} reads (configured: 4).`);
    expect(html).toContain("Registers the device refuses: s_c.");
    expect(html).toMatch(/<li class="refused" data-state="refused"><code>FC3 holding registers 42598 \(0xA666\) ×2: s_c<\/code>/);
  });

  it("does not ask for the refused registers again every cycle", async () => {
    await waitFor("M2 fully learned", () => busbar.modbus.plan("M2")!.refused.length === th40c.tags.filter((t) => t.poll).length, 5000);
    await new Promise((r) => setTimeout(r, 1100)); // a stats report after the last refusal
    const before = busStats().exceptions;
    const requests = busStats().devices.find((d) => d.id === "M1")!.requests;
    await new Promise((r) => setTimeout(r, 4 * POLL_MS));
    expect(busStats().devices.find((d) => d.id === "M1")!.requests - requests).toBeGreaterThanOrEqual(8 * 2);
    expect(busStats().exceptions - before).toBe(0);
    expect(point("M1.v_an").quality).toBe("good");
  });

  it("learns again when the device comes back: a replacement that maps the register is read whole", async () => {
    await server.stop();
    await waitFor("M1 comm-fail", () => point("M1.v_an").quality === "comm-fail", 5000);
    await waitFor("plan reset", async () => !(await apiPlan()).learned, 5000);
    // The replacement maps s_c (0xA666) too.
    server = await startPyModbus({ 1: { hr: documentedImage([], { ...FLOATS, 0xa612: 240 }) } }, server.port);
    await waitFor("M1 back", () => point("M1.v_an").quality === "good" && point("M1.s_c").quality === "good", BACKOFF_MS + 8000);
    expect(point("M1.v_an").value).toBe(240);
    expect(point("M1.s_c").value).toBe(3.25);
    const plan = await waitFor("relearned", async () => {
      const p = await apiPlan();
      return p.learned ? p : undefined;
    });
    expect(plan.refused).toEqual([]);
    expect(plan.reads.filter((r) => r.start >= 0xa600).map(hex)).toEqual(["a612×6", "a622×6", "a630×8", "a640×8", "a650×8", "a660×8"]);
  });
});
