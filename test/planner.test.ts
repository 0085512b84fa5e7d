import { describe, expect, it } from "vitest";
import { parseProfile, type Tag } from "../src/config/profile.ts";
import { planReads } from "../src/protocols/modbus/planner.ts";
import { loadProfiles } from "../src/config/profiles.ts";

function tags(list: Record<string, unknown>[]): { tag: Tag; point: number }[] {
  const p = parseProfile({ profile: "t", name: "t", source: "test", defaults: { function: 3, type: "uint16" }, tags: list.map((t, i) => ({ id: `t${i}`, label: `t${i}`, ...t })) });
  return p.tags.map((tag, point) => ({ tag, point }));
}

const limits = { maxRegistersPerRead: 125, maxBitsPerRead: 2000, maxGap: 10 };

describe("request planner", () => {
  it("merges contiguous and near tags into one read, across small gaps", () => {
    const plan = planReads(tags([{ address: 0 }, { address: 1 }, { address: 5, type: "float32" }, { address: 17 }]), limits);
    expect(plan.map((r) => [r.fc, r.start, r.count])).toEqual([[3, 0, 18]]);
    expect(plan[0]!.items.map((i) => i.offset)).toEqual([0, 1, 5, 17]);
  });

  it("splits at a gap larger than maxGap and at the size limit", () => {
    expect(planReads(tags([{ address: 0 }, { address: 12 }]), limits).map((r) => [r.start, r.count])).toEqual([[0, 1], [12, 1]]);
    const many = Array.from({ length: 100 }, (_, i) => ({ address: 2 * i, type: "float32" }));
    const plan = planReads(tags(many), limits);
    expect(plan.map((r) => [r.start, r.count])).toEqual([[0, 124], [124, 76]]);
    // A device that takes fewer registers per read gets more, smaller reads.
    expect(planReads(tags(many), { ...limits, maxRegistersPerRead: 60 }).map((r) => r.count)).toEqual([60, 60, 60, 20]);
  });

  it("never splits a multi-register value across reads", () => {
    const plan = planReads(tags([{ address: 0, type: "uint16" }, { address: 123, type: "float64" }]), limits);
    expect(plan.map((r) => [r.start, r.count])).toEqual([[0, 1], [123, 4]]);
  });

  it("keeps functions and slow tags apart, and merges masked bits of one register", () => {
    const plan = planReads(
      tags([
        { address: 10, mask: 1 },
        { address: 10, mask: 2 },
        { address: 10, function: 4 },
        { address: 11, slow: true },
        { address: 3, function: 2, type: "bit" },
        { address: 40, function: 2, type: "bit" },
        { address: 20, poll: false, write: 6 },
      ]),
      limits,
    );
    expect(plan.map((r) => `FC${r.fc} ${r.start}×${r.count}${r.slow ? " slow" : ""}`)).toEqual(["FC2 3×38", "FC3 10×1", "FC3 11×1 slow", "FC4 10×1"]);
    expect(plan[1]!.items).toHaveLength(2);
  });

  it("plans the TH40C in four reads: instantaneous floats; clock, active and reactive energies (slow, gaps ≤ 16 merged)", () => {
    const th40c = loadProfiles().get("th40c")!;
    const plan = planReads(th40c.tags.map((tag, point) => ({ tag, point })), { maxRegistersPerRead: th40c.maxRegistersPerRead, maxBitsPerRead: 2000, maxGap: th40c.maxGap });
    expect(plan.map((r) => `${r.start.toString(16)}×${r.count}${r.slow ? " slow" : ""}`)).toEqual(["a612×86", "1040×6 slow", "8010×18 slow", "8110×18 slow"]);
  });
});
