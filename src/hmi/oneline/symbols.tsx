/**
 * The one-line's SVG symbols, each drawn around (0, 0). States are drawn by shape, and the CSS in
 * public/busbar.css (section "one-line") shows the parts that match the state class the group
 * carries (st-closed, st-open, st-tripped, st-unknown; pos-normal...; q-bad):
 *
 *   CLOSED   solid filled square (the circuit goes through)
 *   OPEN     hollow square with the blade lifted (a gap in the circuit)
 *   TRIPPED  hollow doubled square, blade lifted, a "!" flag; colour only here (abnormal)
 *   UNKNOWN  hatched square, dashed outline, "?"
 */

import { ATS_H, ATS_W, BRK } from "./geometry.ts";
import type { SourceKind } from "./model.ts";

export function BreakerSymbol(props: { orient: "v" | "h" }) {
  // Drawn vertical; a horizontal breaker is the same symbol turned a quarter.
  return (
    <g class="sym brk-sym" transform={props.orient === "h" ? "rotate(-90)" : undefined}>
      <rect class="b-trip-outer" x={-BRK - 4} y={-BRK - 4} width={2 * BRK + 8} height={2 * BRK + 8} rx="3" />
      <rect class="b-box" x={-BRK} y={-BRK} width={2 * BRK} height={2 * BRK} rx="2" />
      {/* Open blade: from the bottom contact lifted to the upper left; the gap shows the open circuit. */}
      <path class="b-blade" d={`M0 ${BRK - 4} L${-BRK + 5} ${-BRK + 7}`} />
      <circle class="b-contact" cx="0" cy={-BRK + 4} r="2.5" />
      <text class="b-q" x="0" y="7" text-anchor="middle">
        ?
      </text>
      <g class="b-flag" transform={props.orient === "h" ? "rotate(90)" : undefined}>
        <path d={`M${BRK + 2} ${-BRK - 14} l9 16 h-18 z`} />
        <text x={BRK + 2} y={-BRK - 0.5} text-anchor="middle">
          !
        </text>
      </g>
    </g>
  );
}

export function SourceSymbol(props: { kind: SourceKind | undefined; r: number; socPoint?: string; labelUps: string }) {
  const r = props.r;
  switch (props.kind) {
    case "generator":
      return (
        <g class="sym src-sym">
          <circle class="s-body" r={r} />
          <text class="s-glyph" y="9" text-anchor="middle">
            G
          </text>
        </g>
      );
    case "bess":
      return (
        <g class="sym src-sym">
          <rect class="s-body" x={-r} y={-r * 0.62} width={2 * r - 6} height={r * 1.24} rx="3" />
          <rect class="s-nub" x={r - 6} y={-r * 0.25} width="6" height={r * 0.5} />
          <rect class="s-soc" data-bar={props.socPoint} x={-r + 4} y={-r * 0.62 + 4} width="0" height={r * 1.24 - 8} data-w={2 * r - 14} />
          <text class="s-glyph small" y="6" x="-3" text-anchor="middle">
            +  −
          </text>
        </g>
      );
    case "ups":
      return (
        <g class="sym src-sym">
          <rect class="s-body" x={-r} y={-r * 0.7} width={2 * r} height={r * 1.4} rx="3" />
          <path class="s-line" d={`M${-r} ${r * 0.7} L${r} ${-r * 0.7}`} />
          <text class="s-glyph small" x={-r * 0.45} y={-r * 0.1} text-anchor="middle">
            ~
          </text>
          <text class="s-glyph small" x={r * 0.45} y={r * 0.45} text-anchor="middle">
            =
          </text>
          <text class="s-tag" x="0" y={r * 0.7 + 13} text-anchor="middle">
            {props.labelUps}
          </text>
        </g>
      );
    case "pv":
      return (
        <g class="sym src-sym">
          <rect class="s-body" x={-r} y={-r * 0.7} width={2 * r} height={r * 1.4} />
          <path class="s-line" d={`M${-r} ${-r * 0.7} L${r} ${r * 0.7} M${-r * 0.3} ${-r * 0.7} V${r * 0.7} M${r * 0.3} ${-r * 0.7} V${r * 0.7}`} />
        </g>
      );
    default:
      // Utility: the grid, a circle with a sine.
      return (
        <g class="sym src-sym">
          <circle class="s-body" r={r} />
          <path class="s-line" d={`M${-r * 0.55} 0 c ${r * 0.18} ${-r * 0.5}, ${r * 0.37} ${-r * 0.5}, ${r * 0.55} 0 s ${r * 0.37} ${r * 0.5}, ${r * 0.55} 0`} />
        </g>
      );
  }
}

export function AtsSymbol() {
  const xin = ATS_W * 0.6;
  return (
    <g class="sym ats-sym">
      <rect class="a-box" x={-ATS_W} y={-ATS_H} width={2 * ATS_W} height={2 * ATS_H} rx="4" />
      <circle class="a-contact" cx={-xin} cy={-ATS_H + 8} r="4" />
      <circle class="a-contact" cx={xin} cy={-ATS_H + 8} r="4" />
      <circle class="a-pivot" cx="0" cy={ATS_H - 10} r="4" />
      <path class="a-in" d={`M${-xin} ${-ATS_H} V${-ATS_H + 8} M${xin} ${-ATS_H} V${-ATS_H + 8} M0 ${ATS_H - 10} V${ATS_H}`} />
      {/* One blade per position; CSS shows the one that matches. */}
      <path class="a-blade a-n" d={`M0 ${ATS_H - 10} L${-xin} ${-ATS_H + 8}`} />
      <path class="a-blade a-e" d={`M0 ${ATS_H - 10} L${xin} ${-ATS_H + 8}`} />
      <path class="a-blade a-0" d={`M0 ${ATS_H - 10} L0 ${-ATS_H + 14}`} />
      <text class="a-q" x="0" y="4" text-anchor="middle">
        ?
      </text>
      <text class="a-lbl" x={-xin} y={ATS_H - 6} text-anchor="middle">
        N
      </text>
      <text class="a-lbl" x={xin} y={ATS_H - 6} text-anchor="middle">
        E
      </text>
    </g>
  );
}

/** The hatch used for anything whose value is not trustworthy; defined once per page. */
export function SymbolDefs() {
  return (
    <svg class="defs" width="0" height="0" aria-hidden="true">
      <defs>
        <pattern id="hatch" patternUnits="userSpaceOnUse" width="7" height="7" patternTransform="rotate(45)">
          <rect width="7" height="7" fill="#cfcfcf" />
          <line x1="0" y1="0" x2="0" y2="7" stroke="#7a7a7a" stroke-width="2.5" />
        </pattern>
      </defs>
    </svg>
  );
}
