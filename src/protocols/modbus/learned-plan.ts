import { describeRead, tagWidth, type PlanItem, type PlannedRead } from "./planner.ts";

/**
 * The request plan a device has taught us. The planner merges tags across undocumented gaps, but
 * many devices answer exception 02 (illegal data address) or 03 for a read that touches a register
 * they do not map, and then the whole block is lost. On such an answer the read is split in two
 * (bisection, at a hole between tags where there is one) and both halves are read at once; a read
 * down to one tag's own registers that is still refused is a hole: its points show device-exception
 * and it is asked again only every `reprobeMs`. The good parts stay good from the first cycle.
 *
 * The learned plan lives in the bus worker and goes back to the configured plan when the device
 * goes comm-fail (the way a restart or a replacement shows on the bus: a device that comes back may
 * map other registers) and when the worker restarts.
 */

/** A refused register is asked again this often (a device mode, an option board fitted later). */
export const REPROBE_MS = 15 * 60_000;

export interface LearnedRead extends PlannedRead {
  /** Index of the configured read this one comes from (the gateway's reply-cache slot). */
  origin: number;
  /** The configured read itself, unsplit. */
  whole: boolean;
  /** One tag's registers that the device refuses; polled only at `reprobeAt`. */
  refused: boolean;
  reprobeAt: number;
}

/** What the pages and /api/plan show of one read. */
export interface PlanReadView {
  fc: number;
  start: number;
  count: number;
  slow: boolean;
  tags: string[];
  text: string;
  state: "ok" | "refused";
  /** When a refused read is asked again (ms since 1970). */
  reprobeAt?: number;
}

/** A device's plan in force as the worker reports it; `learned` false is the configured plan. */
export interface LearnedPlanView {
  learned: boolean;
  /** When the plan last changed (ms since 1970). */
  at: number;
  reads: PlanReadView[];
  /** Tags whose registers the device refuses. */
  refused: string[];
  /** Reads split so far since the last reset. */
  splits: number;
}

/** Refusals that mean "not this address range" (not "busy" or "failed"), which splitting can fix. */
export function isRangeRefusal(exceptionCode: number | undefined): boolean {
  return exceptionCode === 2 || exceptionCode === 3;
}

function makeRead(fc: PlannedRead["fc"], slow: boolean, items: PlanItem[], origin: number): LearnedRead {
  const start = Math.min(...items.map((i) => i.tag.address));
  const end = Math.max(...items.map((i) => i.tag.address + tagWidth(i.tag)));
  return {
    fc,
    start,
    count: end - start,
    slow,
    items: items.map((i) => ({ ...i, offset: i.tag.address - start })),
    origin,
    whole: false,
    refused: false,
    reprobeAt: 0,
  };
}

/**
 * Two reads covering a read's tags, or null when it holds one tag's registers only (tags sharing
 * registers, e.g. masked bits of one word, stay together). The cut goes at a hole between tags
 * nearest the middle (unmapped registers hide in holes), else at the middle: each refusal halves
 * what is left to search.
 */
export function splitRead(read: PlannedRead, origin = 0): [LearnedRead, LearnedRead] | null {
  const items = [...read.items].sort((a, b) => a.tag.address - b.tag.address);
  // Cut candidates: index k where item k starts at or after everything before it ends.
  const cuts: { k: number; gap: boolean }[] = [];
  let end = -1;
  items.forEach((it, k) => {
    if (k > 0 && it.tag.address >= end) cuts.push({ k, gap: it.tag.address > end });
    end = Math.max(end, it.tag.address + tagWidth(it.tag));
  });
  if (!cuts.length) return null;
  const gapped = cuts.filter((c) => c.gap);
  const pool = gapped.length ? gapped : cuts;
  const middle = items.length / 2;
  const cut = pool.reduce((best, c) => (Math.abs(c.k - middle) < Math.abs(best.k - middle) ? c : best));
  return [makeRead(read.fc, read.slow, items.slice(0, cut.k), origin), makeRead(read.fc, read.slow, items.slice(cut.k), origin)];
}

export class LearnedPlan {
  /** The reads in force, in poll order; changed in place so a poll cycle can walk it while it learns. */
  readonly reads: LearnedRead[] = [];
  private splits = 0;
  private changedAt = Date.now();

  constructor(
    private readonly configured: readonly PlannedRead[],
    private readonly reprobeMs = REPROBE_MS,
  ) {
    this.reset();
  }

  get learned(): boolean {
    return this.splits > 0 || this.reads.some((r) => r.refused);
  }

  /** Back to the configured plan. Returns whether anything had been learned. */
  reset(now = Date.now()): boolean {
    const was = this.learned;
    this.reads.splice(0, this.reads.length, ...this.configured.map((r, i) => ({ ...r, origin: i, whole: true, refused: false, reprobeAt: 0 })));
    this.splits = 0;
    if (was) this.changedAt = now;
    return was;
  }

  /** A refused read waits for its re-probe time; everything else is polled at its rate. */
  due(read: LearnedRead, now: number): boolean {
    return !read.refused || read.reprobeAt <= now;
  }

  /**
   * The device refused `read` (exception 02/03). Returns "split" when it was replaced by two halves
   * (read next, in its place), "refused" when it is one tag's registers: now a hole.
   */
  refuse(read: LearnedRead, now = Date.now()): "split" | "refused" {
    const at = this.reads.indexOf(read);
    const parts = splitRead(read, read.origin);
    if (!parts) {
      read.refused = true;
      read.reprobeAt = now + this.reprobeMs;
      this.changedAt = now;
      return "refused";
    }
    if (at >= 0) this.reads.splice(at, 1, ...parts);
    this.splits++;
    this.changedAt = now;
    return "split";
  }

  /** A refused read answered on its re-probe: it is polled again. Returns whether it was refused. */
  accept(read: LearnedRead, now = Date.now()): boolean {
    if (!read.refused) return false;
    read.refused = false;
    read.reprobeAt = 0;
    this.changedAt = now;
    return true;
  }

  view(): LearnedPlanView {
    return {
      learned: this.learned,
      at: this.changedAt,
      splits: this.splits,
      reads: this.reads.map((r) => ({
        fc: r.fc,
        start: r.start,
        count: r.count,
        slow: r.slow,
        tags: r.items.map((i) => i.tag.id),
        text: describeRead(r),
        state: r.refused ? "refused" : "ok",
        ...(r.refused ? { reprobeAt: r.reprobeAt } : {}),
      })),
      refused: this.reads.filter((r) => r.refused).flatMap((r) => r.items.map((i) => i.tag.id)),
    };
  }
}

/** The configured plan as a view (before the worker has reported anything). */
export function configuredView(reads: readonly PlannedRead[]): LearnedPlanView {
  return new LearnedPlan(reads).view();
}
