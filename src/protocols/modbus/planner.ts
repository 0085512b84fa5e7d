import type { Tag } from "../../config/profile.ts";
import { registerCount } from "./codec.ts";

/**
 * Request planning: merge a device's tags into the fewest reads its limits allow.
 * Computed once per device at start; shown by `busbar check-site` and the communication page.
 */

export interface PlanItem {
  /** Index of the point in the shared table. */
  point: number;
  tag: Tag;
  /** First register (or bit) of the tag relative to the read's start. */
  offset: number;
}

export interface PlannedRead {
  fc: 1 | 2 | 3 | 4;
  start: number;
  /** Registers (FC3/4) or bits (FC1/2). */
  count: number;
  /** Polled at the device's slow rate (energy counters, clocks). */
  slow: boolean;
  items: PlanItem[];
}

export interface PlanLimits {
  maxRegistersPerRead: number;
  maxBitsPerRead: number;
  maxGap: number;
}

export function tagWidth(tag: Tag): number {
  return tag.function === 1 || tag.function === 2 ? 1 : registerCount(tag);
}

/**
 * Tags are grouped by function and rate, sorted by address, then swept: a tag joins the open read
 * when the read stays within the size limit and the hole before it is at most `maxGap`. A tag marked
 * `readAlone` is read on its own. What a device refuses of this plan is learned at run time
 * (learned-plan.ts).
 */
export function planReads(tags: { tag: Tag; point: number }[], limits: PlanLimits): PlannedRead[] {
  const groups = new Map<string, { tag: Tag; point: number }[]>();
  for (const t of tags) {
    if (!t.tag.poll) continue;
    const key = `${t.tag.function}/${t.tag.slow ? 1 : 0}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(t);
  }
  const reads: PlannedRead[] = [];
  for (const [key, group] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const fc = Number(key.split("/")[0]) as 1 | 2 | 3 | 4;
    const slow = key.endsWith("/1");
    const max = fc <= 2 ? limits.maxBitsPerRead : limits.maxRegistersPerRead;
    const gap = fc <= 2 ? limits.maxGap * 16 : limits.maxGap;
    group.sort((a, b) => a.tag.address - b.tag.address || tagWidth(a.tag) - tagWidth(b.tag));
    let open: PlannedRead | undefined;
    for (const { tag, point } of group) {
      const width = tagWidth(tag);
      if (width > max) throw new Error(`tag ${tag.id} spans ${width} registers, more than the ${max} one read may carry`);
      const end = tag.address + width;
      // A register the profile says must be read alone gets a read of its own, joined by nothing.
      if (tag.readAlone) {
        reads.push({ fc, start: tag.address, count: width, slow, items: [{ point, tag, offset: 0 }] });
        open = undefined;
        continue;
      }
      if (open && tag.address - (open.start + open.count) <= gap && end - open.start <= max) {
        open.count = Math.max(open.count, end - open.start);
      } else {
        open = { fc, start: tag.address, count: width, slow, items: [] };
        reads.push(open);
      }
      open.items.push({ point, tag, offset: tag.address - open.start });
    }
  }
  return reads;
}

/** One line per read, for `busbar check-site` and the communication page. */
export function describeRead(r: PlannedRead): string {
  const kind = { 1: "coils", 2: "discrete inputs", 3: "holding registers", 4: "input registers" }[r.fc];
  const hex = (n: number) => `0x${n.toString(16).toUpperCase().padStart(4, "0")}`;
  return `FC${r.fc} ${kind} ${r.start} (${hex(r.start)}) ×${r.count}${r.slow ? " [slow]" : ""}: ${r.items.map((i) => i.tag.id).join(", ")}`;
}
