import type { Lang, T } from "../../i18n/index.ts";
import type { PointValue } from "../../points/live.ts";
import type { PointRegistry } from "../../points/registry.ts";
import { fmtValue, statesFor } from "../format.ts";
import { LINE_H, SRC } from "./geometry.ts";
import { fitName, loadNodeId, type OneLineLayout, type PlacedNode, type TextAt } from "./layout.ts";
import type { NodeModel, OneLineModel, ValueLine } from "./model.ts";
import { atsPosition, breakerState, energize, nodeQuality, sourceState, type Tri, type Values } from "./state.ts";
import { AtsSymbol, BreakerSymbol, SourceSymbol } from "./symbols.tsx";

/**
 * The one-line diagram as SVG: wires, busbars, then one tappable group per node. Everything live
 * carries a binding public/oneline.js updates in place (no re-render):
 *   data-p="DEV.tag"  a value's text       data-e="node"  a wire's energization
 *   data-id / data-k  a node (its state, quality and "?" mark are recomputed from its points)
 */

export interface DiagramProps {
  model: OneLineModel;
  layout: OneLineLayout;
  values: Map<string, PointValue>;
  registry: PointRegistry;
  lang: Lang;
  t: T;
}

const eClass = (e: Tri | undefined) => (e === 1 ? "e1" : e === 0 ? "e0" : "eu");

function Txt(props: { at: TextAt; dy?: number; cls: string; children?: unknown }) {
  return (
    <text class={props.cls} x={props.at.x} y={props.at.y + (props.dy ?? 0)} text-anchor={props.at.anchor}>
      {props.children as string}
    </text>
  );
}

function Value(props: { id: string; d: DiagramProps }) {
  const { d, id } = props;
  const v = d.values.get(id);
  const info = d.registry.byId.get(id);
  const states = info ? statesFor(info, d.lang) : undefined;
  const bad = !v || v.quality !== "good";
  const text = v ? fmtValue(v, d.lang, states) + (bad ? " ?" : "") : "—";
  return (
    <tspan class={bad ? "v vb" : "v"} data-p={id} data-s={states ? JSON.stringify(states) : undefined}>
      {text}
    </tspan>
  );
}

function Line(props: { line: ValueLine; at: TextAt; row: number; split: boolean; d: DiagramProps }) {
  const { line, d, at } = props;
  const literal = line.label.startsWith("=");
  const label = literal ? line.label.slice(1) : d.t(line.label);
  const y = at.y + props.row * LINE_H;
  const values = (
    <>
      {line.points.map((p, i) => (
        <>
          {i > 0 ? <tspan class="sep"> / </tspan> : null}
          <Value id={p} d={d} />
        </>
      ))}
      <tspan class="u"> {line.unit}</tspan>
    </>
  );
  if (literal && props.split) {
    // A meter's own line: its name, then its value.
    return (
      <>
        <text class="vl vl-name" x={at.x} y={y} text-anchor={at.anchor}>
          {label}
        </text>
        <text class="vl" x={at.x} y={y + LINE_H} text-anchor={at.anchor}>
          {values}
        </text>
      </>
    );
  }
  return (
    <text class="vl" x={at.x} y={y} text-anchor={at.anchor}>
      <tspan class="ql">{label} </tspan>
      {values}
    </text>
  );
}

/** Each line with the text row it starts on (a meter's line takes two rows when split). */
function lineRowsOf(lines: ValueLine[], split: boolean): [ValueLine, number][] {
  let row = 0;
  return lines.map((l) => {
    const at = row;
    row += split && l.label.startsWith("=") ? 2 : 1;
    return [l, at];
  });
}

function stateOf(n: NodeModel, values: Values, t: T): { cls: string; text: string } {
  switch (n.kind) {
    case "breaker": {
      const s = breakerState(n, values);
      return { cls: `st-${s}`, text: t(`brk.${s}`) };
    }
    case "ats": {
      const p = atsPosition(n, values);
      return { cls: n.noData ? "pos-unknown" : `pos-${p}`, text: n.noData ? t("src.nodata") : t(`ats.${p}`) };
    }
    case "source": {
      const s = sourceState(n, values);
      return { cls: `ss-${s}`, text: s === "none" ? "" : t(`src.${s}`) };
    }
    default:
      return { cls: "", text: "" };
  }
}

function NodeView(props: { n: NodeModel; p: PlacedNode; d: DiagramProps }) {
  const { n, p, d } = props;
  const values = d.values as Values;
  const st = stateOf(n, values, d.t);
  const q = nodeQuality(n, values);
  const bad = q !== "good";
  const lines: { line: ValueLine }[] = [...n.lines.map((line) => ({ line })), ...n.meters.flatMap((m) => m.lines.map((line) => ({ line })))];
  const subAt = p.label;
  const linesAt = p.lines;
  const badgeX = n.kind === "ats" ? 65 : n.kind === "breaker" ? 14 : SRC - 2;
  const badgeY = n.kind === "ats" ? -30 : n.kind === "breaker" ? -16 : -SRC + 2;
  return (
    <g
      class={`nd nd-${n.kind}${n.sourceKind ? ` src-${n.sourceKind}` : ""} ${st.cls} ${bad ? "q-bad" : "q-good"}`}
      data-id={n.id}
      data-k={n.kind}
      data-q={q}
      role="button"
      tabindex="0"
      aria-label={`${n.label}${n.sublabel ? ` ${n.sublabel}` : ""}`}
    >
      <rect class="hit" x={p.hit.x} y={p.hit.y} width={p.hit.w} height={p.hit.h} rx="6" />
      <g transform={`translate(${p.x} ${p.y})`}>
        {n.kind === "breaker" ? (
          <BreakerSymbol orient={p.orient} />
        ) : n.kind === "ats" ? (
          <AtsSymbol />
        ) : (
          <SourceSymbol kind={n.sourceKind} r={SRC} socPoint={n.lines.find((l) => l.label === "q.soc")?.points[0]} labelUps={d.t("src.ups")} />
        )}
        <g class="qbadge" transform={`translate(${badgeX} ${badgeY})`}>
          <circle r="10" />
          <text y="5" text-anchor="middle">
            ?
          </text>
        </g>
      </g>
      <Txt at={p.label} cls="lbl">
        {fitName(n.label, p.label.maxW, "label")}
      </Txt>
      {n.sublabel ? (
        <Txt at={subAt} dy={LINE_H} cls="sub">
          {fitName(n.sublabel, p.label.maxW, "sub")}
        </Txt>
      ) : null}
      <Txt at={p.state} cls="st">
        {st.text}
      </Txt>
      <Txt at={p.reason} cls="qr">
        {bad ? d.t(`qs.${q}`) : ""}
      </Txt>
      {lineRowsOf(lines.map((l) => l.line), p.split).map(([line, row], i) => (
        <Line line={line} at={linesAt} row={p.lines.rows?.[i] ?? row} split={p.split} d={d} />
      ))}
    </g>
  );
}

export function OneLineSvg(props: DiagramProps) {
  const { layout, model } = props;
  const e = energize(model, props.values as Values);
  const placed = new Map(layout.nodes.map((p) => [p.id, p]));
  return (
    <svg
      class={`oneline ol-${layout.orientation}`}
      viewBox={`0 0 ${layout.width} ${layout.height}`}
      data-orient={layout.orientation}
      preserveAspectRatio="xMidYMin meet"
      role="img"
      aria-label={props.t("oneline.title")}
    >
      <g class="wires">
        {layout.wires.map((w) => (
          <path class={`w ${eClass(e.get(w.e))}`} data-e={w.e} d={w.d} />
        ))}
      </g>
      <g class="bars">
        {layout.bars.map((b) => (
          <line class={`bar ${eClass(e.get(b.id))}`} data-e={b.id} x1={b.x1} y1={b.y1} x2={b.x2} y2={b.y2} />
        ))}
        {layout.bars
          .filter((b) => b.label)
          .map((b) => (
            <Txt at={b.label!} cls="bar-lbl">
              {model.nodes.get(b.id)?.label ?? b.id}
            </Txt>
          ))}
      </g>
      <g class="refs">
        {layout.refs.map((r) => (
          <text class="ref" x={r.x} y={r.y} text-anchor={r.anchor}>
            {r.text}
          </text>
        ))}
      </g>
      <g class="nodes">
        {[...model.nodes.values()]
          .filter((n) => placed.has(n.id))
          .map((n) => (
            <NodeView n={n} p={placed.get(n.id)!} d={props} />
          ))}
      </g>
    </svg>
  );
}

/** What public/oneline.js needs to recompute states and energization (same rules as state.ts). */
export function clientGraph(model: OneLineModel): Record<string, unknown> {
  const nodes: Record<string, unknown> = {};
  for (const n of model.nodes.values()) {
    nodes[n.id] = {
      k: n.kind,
      sk: n.sourceKind,
      closed: n.closed,
      tripped: n.tripped,
      onN: n.onNormal,
      onE: n.onEmergency,
      normal: n.normal,
      emergency: n.emergency,
      avail: n.available,
      run: n.running,
      from: n.from,
      to: n.to,
      load: n.kind === "breaker" && !n.to ? loadNodeId(n.id) : undefined,
      noData: n.noData || undefined,
      lbl: n.kind === "source" ? n.label : undefined,
      pts: n.points,
    };
  }
  return { nodes };
}
