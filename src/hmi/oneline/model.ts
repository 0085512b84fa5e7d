import { pointForRole, type Site } from "../../config/site.ts";
import type { PointRegistry } from "../../points/registry.ts";

/**
 * What the one-line diagram shows, read from the site file's `topology` alone: every node with the
 * points bound to it (by explicit reference, else by the device profile's tag roles). No positions
 * here (see layout.ts), no drawing (see symbols.tsx, diagram.tsx).
 */

export type NodeKind = "source" | "ats" | "busbar" | "breaker";
export type SourceKind = "utility" | "generator" | "ups" | "bess" | "pv";

/** One line of live values beside a symbol, e.g. "I 812 / 815 / 809 A". */
export interface ValueLine {
  /** i18n key of the short label (q.p, q.v, q.i, q.f, q.soc...) or a literal label prefixed "=". */
  label: string;
  /** One or more points shown side by side ("/" between them). */
  points: string[];
  unit: string;
}

export interface MeterModel {
  id: string;
  label: string;
  device: string;
  lines: ValueLine[];
  main?: string;
}

export interface NodeModel {
  id: string;
  kind: NodeKind;
  sourceKind?: SourceKind;
  /** Main text under the symbol (breaker id, source label...). */
  label: string;
  /** Second text (a feeder's load name), when it says something the first does not. */
  sublabel?: string;
  device?: string;
  /** Breaker: state points. */
  closed?: string;
  tripped?: string;
  /** ATS: position points. */
  onNormal?: string;
  onEmergency?: string;
  /** ATS inputs (node ids). */
  normal?: string;
  emergency?: string;
  /** Source: live when 1. */
  available?: string;
  /** Source: running state (generator). */
  running?: string;
  /** Breaker: upstream and downstream node ids (`to` absent for a feeder to a load). */
  from?: string;
  to?: string;
  load?: string;
  lines: ValueLine[];
  meters: MeterModel[];
  /** The measurement trended in the detail panel. */
  main?: string;
  /** A source or ATS without a device: nothing to read, the diagram says "no data". */
  noData: boolean;
  /** Every point the symbol depends on (state, values, meters): its quality marks the symbol. */
  points: string[];
}

export interface OneLineModel {
  nodes: Map<string, NodeModel>;
  /** Topology order of each kind, as in the site file. */
  sources: string[];
  ats: string[];
  busbars: string[];
  breakers: string[];
  /** Every point any symbol shows: the page's SSE lease. */
  points: string[];
}

const dedupe = (xs: (string | undefined)[]) => [...new Set(xs.filter((x): x is string => !!x))];

export function buildOneLineModel(site: Site, registry: PointRegistry): OneLineModel {
  const t = site.topology;
  const exists = (p: string | undefined) => (p && registry.byId.has(p) ? p : undefined);
  const role = (device: string | undefined, r: string) => exists(pointForRole(site, device, r));
  const unitOf = (p: string) => registry.byId.get(p)?.unit ?? "";
  const nodes = new Map<string, NodeModel>();

  /** Measurement lines a device offers through its profile's roles, in the order an operator reads them. */
  const electricalLines = (device: string | undefined, power?: string): ValueLine[] => {
    const lines: ValueLine[] = [];
    const v = role(device, "voltage.ab") ?? role(device, "voltage.an");
    if (v) lines.push({ label: "q.v", points: [v], unit: unitOf(v) });
    const currents = dedupe(["current.a", "current.b", "current.c"].map((r) => role(device, r)));
    if (currents.length) lines.push({ label: "q.i", points: currents, unit: unitOf(currents[0]!) });
    const p = power ?? role(device, "power.total");
    if (p) lines.push({ label: "q.p", points: [p], unit: unitOf(p) });
    const f = role(device, "frequency");
    if (f) lines.push({ label: "q.f", points: [f], unit: unitOf(f) });
    return lines;
  };
  const extraLines = (points: string[]): ValueLine[] =>
    points.filter((p) => exists(p)).map((p) => ({ label: `=${registry.byId.get(p)!.name}`, points: [p], unit: unitOf(p) }));

  const metersAt = (at: string): MeterModel[] =>
    t.meters
      .filter((m) => m.at === at)
      .map((m) => {
        const main = role(m.device, "power.total") ?? role(m.device, "meter.accumulated") ?? role(m.device, "energy.total");
        return { id: m.id, label: m.label ?? m.id, device: m.device, lines: main ? [{ label: `=${m.label ?? m.id}`, points: [main], unit: unitOf(main) }] : [], main };
      });

  for (const s of t.sources) {
    const lines: ValueLine[] = [];
    const soc = role(s.device, "bess.soc");
    if (soc) lines.push({ label: "q.soc", points: [soc], unit: unitOf(soc) });
    // A UPS: what feeds its load (normal, battery, bypass, off), how loaded it is, how much battery is left.
    const upsMode = role(s.device, "ups.load-status");
    if (upsMode) lines.push({ label: "q.mode", points: [upsMode], unit: "" });
    const upsLoad = role(s.device, "ups.load");
    if (upsLoad) lines.push({ label: "q.load", points: [upsLoad], unit: unitOf(upsLoad) });
    const upsBattery = role(s.device, "ups.battery");
    if (upsBattery) lines.push({ label: "q.batt", points: [upsBattery], unit: unitOf(upsBattery) });
    const upsAutonomy = role(s.device, "ups.autonomy");
    if (upsAutonomy) lines.push({ label: "q.auton", points: [upsAutonomy], unit: unitOf(upsAutonomy) });
    const bp = role(s.device, "bess.power");
    const p = bp ?? role(s.device, "power.total");
    if (p) lines.push({ label: "q.p", points: [p], unit: unitOf(p) });
    lines.push(...extraLines(s.points));
    const running = role(s.device, "generator.running");
    const available = exists(s.available);
    const n: NodeModel = {
      id: s.id,
      kind: "source",
      sourceKind: s.kind,
      label: s.label ?? s.id,
      device: s.device,
      available,
      running,
      lines,
      meters: metersAt(s.id),
      main: p ?? soc ?? lines[0]?.points[0],
      noData: !s.device && s.points.length === 0 && !available,
      points: [],
    };
    nodes.set(s.id, n);
  }
  for (const a of t.ats) {
    const onNormal = exists(a.onNormal) ?? role(a.device, "ats.normal");
    const onEmergency = exists(a.onEmergency) ?? role(a.device, "ats.emergency");
    const lines = [...electricalLines(a.device).filter((l) => l.label === "q.p" || l.label === "q.f"), ...extraLines(a.points)];
    nodes.set(a.id, {
      id: a.id,
      kind: "ats",
      label: a.label ?? a.id,
      device: a.device,
      onNormal,
      onEmergency,
      normal: a.normal,
      emergency: a.emergency,
      lines,
      meters: metersAt(a.id),
      main: role(a.device, "power.total"),
      noData: !a.device && !onNormal && !onEmergency,
      points: [],
    });
  }
  for (const b of t.busbars) {
    nodes.set(b.id, { id: b.id, kind: "busbar", label: b.label ?? b.id, lines: [], meters: metersAt(b.id), noData: false, points: [] });
  }
  for (const b of t.breakers) {
    const power = exists(b.power) ?? role(b.device, "power.total");
    const name = b.load ?? b.label;
    nodes.set(b.id, {
      id: b.id,
      kind: "breaker",
      label: b.id,
      sublabel: name && name !== b.id ? name : undefined,
      device: b.device,
      closed: exists(b.closed) ?? role(b.device, "breaker.closed"),
      tripped: exists(b.tripped) ?? role(b.device, "breaker.tripped"),
      from: b.from,
      to: b.to,
      load: b.load,
      lines: [...electricalLines(b.device, power), ...extraLines(b.points)],
      meters: metersAt(b.id),
      main: power,
      noData: false,
      points: [],
    });
  }
  for (const n of nodes.values()) {
    n.points = dedupe([
      n.closed,
      n.tripped,
      n.onNormal,
      n.onEmergency,
      n.available,
      n.running,
      ...n.lines.flatMap((l) => l.points),
      ...n.meters.flatMap((m) => m.lines.flatMap((l) => l.points)),
    ]);
  }
  return {
    nodes,
    sources: t.sources.map((s) => s.id),
    ats: t.ats.map((a) => a.id),
    busbars: t.busbars.map((b) => b.id),
    breakers: t.breakers.map((b) => b.id),
    points: dedupe([...nodes.values()].flatMap((n) => n.points)),
  };
}

/** The devices whose points a node's detail panel lists. */
export function devicesOfNode(site: Site, n: NodeModel): string[] {
  const devs = [n.device, ...n.meters.map((m) => m.device)];
  return dedupe(devs).filter((d) => site.devices.some((x) => x.id === d));
}
