import type { PointValue } from "../../points/live.ts";
import { loadNodeId } from "./layout.ts";
import type { NodeModel, OneLineModel } from "./model.ts";

/**
 * States the one-line derives from point values: breaker CLOSED/OPEN/TRIPPED/UNKNOWN, ATS
 * position, source status, and which parts of the network are energized. public/oneline.js holds
 * the same rules for live updates; test/hmi-oneline.test.ts checks both agree.
 */

export type Values = ReadonlyMap<string, Pick<PointValue, "value" | "quality">>;
export type BreakerState = "closed" | "open" | "tripped" | "unknown";
export type AtsPosition = "normal" | "emergency" | "neutral" | "unknown";
export type SourceState = "live" | "lost" | "running" | "stopped" | "unknown" | "nodata" | "none";
export type Tri = 1 | 0 | -1; // yes, no, unknown

/** 1 / 0 for a good discrete value, -1 when missing or not good. */
function bit(values: Values, id: string | undefined): Tri {
  if (!id) return -1;
  const v = values.get(id);
  if (!v || v.quality !== "good" || typeof v.value !== "number") return -1;
  return v.value ? 1 : 0;
}

/** TRIPPED wins (a tripped breaker is open); otherwise the OF contact, when both are trustworthy. */
export function breakerState(n: NodeModel, values: Values): BreakerState {
  const tripped = bit(values, n.tripped);
  const closed = bit(values, n.closed);
  if (tripped === 1) return "tripped";
  if (closed === -1 || (n.tripped && tripped === -1)) return "unknown";
  return closed === 1 ? "closed" : "open";
}

export function atsPosition(n: NodeModel, values: Values): AtsPosition {
  const a = bit(values, n.onNormal);
  const b = bit(values, n.onEmergency);
  if (a === -1 || b === -1) {
    // One indication is enough when the other is not configured.
    if (a === 1 && !n.onEmergency) return "normal";
    if (b === 1 && !n.onNormal) return "emergency";
    return "unknown";
  }
  if (a === 1 && b === 0) return "normal";
  if (b === 1 && a === 0) return "emergency";
  if (a === 0 && b === 0) return "neutral";
  return "unknown";
}

export function sourceState(n: NodeModel, values: Values): SourceState {
  if (n.noData) return "nodata";
  if (n.running) {
    const r = bit(values, n.running);
    return r === 1 ? "running" : r === 0 ? "stopped" : "unknown";
  }
  if (n.available) {
    const a = bit(values, n.available);
    return a === 1 ? "live" : a === 0 ? "lost" : "unknown";
  }
  // A BESS or UPS read through its values only: no status word of its own.
  return n.sourceKind === "utility" || n.sourceKind === "generator" ? "unknown" : "none";
}

/** Does the source put voltage on the network? Only utility, generator and PV feed the diagram. */
function sourceLive(n: NodeModel, values: Values): Tri {
  if (n.sourceKind !== "utility" && n.sourceKind !== "generator" && n.sourceKind !== "pv") return 0;
  if (n.available) return bit(values, n.available);
  if (n.running) return bit(values, n.running);
  return -1;
}

/**
 * Energization per node id: 1 live, 0 dead, -1 unknown (a path through an UNKNOWN breaker or from a
 * source whose status is not trustworthy). A breaker id maps to its downstream side.
 */
export function energize(m: OneLineModel, values: Values): Map<string, Tri> {
  const after = (id: string) => {
    const n = m.nodes.get(id);
    return n?.kind === "breaker" ? (n.to ?? loadNodeId(id)) : id;
  };
  const edges: [string, string, Tri][] = [];
  for (const n of m.nodes.values()) {
    if (n.kind === "ats") {
      const pos = atsPosition(n, values);
      const sel = (want: AtsPosition): Tri => (pos === "unknown" ? -1 : pos === want ? 1 : 0);
      if (n.normal) edges.push([after(n.normal), n.id, sel("normal")]);
      if (n.emergency) edges.push([after(n.emergency), n.id, sel("emergency")]);
    } else if (n.kind === "breaker" && n.from) {
      const st = breakerState(n, values);
      edges.push([after(n.from), n.to ?? loadNodeId(n.id), st === "closed" ? 1 : st === "unknown" ? -1 : 0]);
    }
  }
  const roots: [string, Tri][] = [];
  for (const n of m.nodes.values()) if (n.kind === "source") roots.push([n.id, sourceLive(n, values)]);
  const reach = (optimistic: boolean) => {
    const ok = (c: Tri) => c === 1 || (optimistic && c === -1);
    const seen = new Set<string>();
    const queue = roots.filter(([, c]) => ok(c)).map(([id]) => id);
    for (const id of queue) seen.add(id);
    while (queue.length) {
      const id = queue.pop()!;
      for (const [a, b, c] of edges) {
        if (!ok(c)) continue;
        const other = a === id ? b : b === id ? a : undefined;
        if (other !== undefined && !seen.has(other)) (seen.add(other), queue.push(other));
      }
    }
    return seen;
  };
  const sure = reach(false);
  const maybe = reach(true);
  const out = new Map<string, Tri>();
  const all = new Set<string>();
  for (const n of m.nodes.values()) {
    all.add(n.id);
    if (n.kind === "breaker") all.add(n.to ?? loadNodeId(n.id));
  }
  for (const id of all) out.set(id, sure.has(id) ? 1 : maybe.has(id) ? -1 : 0);
  for (const n of m.nodes.values()) if (n.kind === "breaker") out.set(n.id, out.get(after(n.id))!);
  return out;
}

/** The worst quality among a node's points (anything but good), for the "?" mark and its reason. */
export function nodeQuality(n: NodeModel, values: Values): string {
  for (const p of n.points) {
    const q = values.get(p)?.quality ?? "init";
    if (q !== "good") return q;
  }
  return n.noData ? "nodata" : "good";
}
