import type { PointInfo } from "../points/registry.ts";
import { parseDeadband, type HistorianConfig } from "./config.ts";

/**
 * The one place the historian reads the point model (PointInfo). Everything else in src/historian
 * works on HistPoint, so a protocol-neutral point core changes only this adapter.
 */

/** How a point is stored: analog (deadband), counter (every increase), discrete (every change), text. */
export type HistKind = "analog" | "counter" | "discrete" | "text";

export interface HistPoint {
  /** Index in the live table (and in every per-point array of the historian). */
  index: number;
  /** `DEVICE.tag`: the key history is stored under, stable across site edits. */
  name: string;
  device: string;
  kind: HistKind;
  unit: string;
  /** Absolute deadband (after resolving a percentage of the range). */
  deadband: number;
  /** When the range is unknown, a percentage deadband applies to the value itself. */
  relDeadband: number;
  heartbeatMs: number;
  store: boolean;
}

/** Energy registers and other running totals: kept exactly (last per interval), never deadbanded. */
function isCounter(p: PointInfo): boolean {
  return (p.role ?? "").startsWith("energy") || /^(kWh|kvarh|kVAh|Wh|MWh|m3|m³)$/i.test(p.unit);
}

function kindOf(p: PointInfo): HistKind {
  const k = p.kind;
  if (k === "text" || k === "datetime") return "text";
  if (k === "digital" || k === "multi-state" || p.states) return "discrete";
  return isCounter(p) ? "counter" : "analog";
}

export function histPoints(points: readonly PointInfo[], config: HistorianConfig): HistPoint[] {
  const byPoint = new Map(config.points.filter((o) => o.point).map((o) => [o.point!, o]));
  const byDevice = new Map(config.points.filter((o) => o.device).map((o) => [o.device!, o]));
  return points.map((p) => {
    const kind = kindOf(p);
    const o = { ...byDevice.get(p.device), ...byPoint.get(p.id) };
    const db = parseDeadband(o.deadband ?? (kind === "analog" ? config.deadband : 0));
    const range = p.range;
    const span = range && range.min !== undefined && range.max !== undefined ? range.max - range.min : undefined;
    let deadband = 0;
    let relDeadband = 0;
    if ("abs" in db) deadband = db.abs;
    else if (span !== undefined && span > 0) deadband = db.pct * span;
    else relDeadband = db.pct;
    return {
      index: p.index,
      name: p.id,
      device: p.device,
      kind,
      unit: p.unit,
      deadband: kind === "analog" ? deadband : 0,
      relDeadband: kind === "analog" ? relDeadband : 0,
      heartbeatMs: (o.heartbeatS ?? config.heartbeatS) * 1000,
      store: o.store ?? p.readable,
    };
  });
}
