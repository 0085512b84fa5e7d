import { DICTS, LANGS } from "../../i18n/index.ts";
import { ATS_H, ATS_W, BRK, LINE_H, SRC } from "./geometry.ts";
import type { NodeModel, OneLineModel, ValueLine } from "./model.ts";

/**
 * Positions of the one-line's symbols, wires and busbars, computed from the model alone so any
 * site file draws sensibly: two orientations of the same drawing.
 *
 * - "wide" (control-room 1920×1080): busbars side by side (joined by their tie breakers), each with
 *   its incomers' upstream chains above (ATS and its two sources, or a source) and its feeders below
 *   in columns, wrapped onto continuation bars when there are more than fit a row.
 * - "tall" (phone, 390 px): busbars stacked, each drawn as a vertical bar on the left with one
 *   feeder per row, upstream chains above it.
 *
 * Vertical gaps are computed from how many text rows each level carries, so nothing overlaps.
 * Every wire carries `e`, the node whose energization it shows (the upstream node's side of a
 * breaker shows that node, its downstream side the downstream node or the feeder's load `ID>`).
 */

export type Orientation = "wide" | "tall";

export interface TextAt {
  x: number;
  y: number;
  anchor: "start" | "middle" | "end";
  /** On the phone: the width the slot has for a site-file name (label, load name); see fitName. */
  maxW?: number;
}

export interface PlacedNode {
  id: string;
  x: number;
  y: number;
  /** Breakers: direction of the wire through the symbol. */
  orient: "v" | "h";
  label: TextAt;
  state: TextAt;
  /** Where the short quality reason goes ("no comm.") when a point is not good. */
  reason: TextAt;
  /** `rows`: each value line's row from `y` when they are not consecutive (phone rows). */
  lines: TextAt & { step: number; rows?: number[] };
  /** Lines with their own label (a meter) take two rows: label, then value. */
  split: boolean;
  /** Tap target (≥ 48 px on screen). */
  hit: { x: number; y: number; w: number; h: number };
}

export interface Wire {
  d: string;
  /** Node whose energization this wire shows. */
  e: string;
}

export interface Bar {
  id: string;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  /** Only the first bar of a busbar carries its label. */
  label?: TextAt;
}

export interface RefText {
  text: string;
  x: number;
  y: number;
  anchor: "start" | "middle" | "end";
}

export interface OneLineLayout {
  orientation: Orientation;
  width: number;
  height: number;
  nodes: PlacedNode[];
  wires: Wire[];
  bars: Bar[];
  refs: RefText[];
}

/** Virtual node id of the load a feeder supplies. */
export const loadNodeId = (breakerId: string) => `${breakerId}>`;

interface Ctx {
  m: OneLineModel;
  nodes: PlacedNode[];
  wires: Wire[];
  bars: Bar[];
  refs: RefText[];
  placed: Set<string>;
  tall: boolean;
}

const node = (m: OneLineModel, id: string): NodeModel | undefined => m.nodes.get(id);
const isBus = (m: OneLineModel, id: string | undefined) => !!id && m.nodes.get(id)?.kind === "busbar";
const allLines = (n: NodeModel): ValueLine[] => [...n.lines, ...n.meters.flatMap((x) => x.lines)];
const isLiteral = (l: ValueLine) => l.label.startsWith("=");

// ---- estimated text widths (the layout runs on the server, without fonts) ---------------------
// Average em per character of busbar.css's text classes, measured in Chromium and rounded up: a
// row that leaves air beats one whose texts touch. The layout serves both languages, so each word
// slot takes its widest translation.
const EM = { state: 0.8, label: 0.75, text: 0.6, reason: 0.72 } as const;

/** Estimated width in px of `chars` characters at `px`. */
const estW = (chars: number, px: number, em: number) => Math.ceil(chars * px * em);
const len = (s: string | undefined) => [...(s ?? "")].length;
const widestChars = (keys: string[]) => Math.max(0, ...LANGS.flatMap((l) => keys.map((k) => len(DICTS[l][k] ?? k))));
const keysOf = (prefix: string, names: string[]) => names.map((n) => `${prefix}.${n}`);
/** The widest state word each kind can show (15 px bold capitals: TRIPPED and EMERGENCY are drawn larger). */
const STATE_CHARS: Record<string, number> = {
  breaker: widestChars(keysOf("brk", ["closed", "open", "tripped", "unknown"])),
  ats: widestChars([...keysOf("ats", ["normal", "emergency", "neutral", "unknown"]), "src.nodata"]),
  source: widestChars(keysOf("src", ["live", "lost", "running", "stopped", "unknown", "nodata"])),
};
const stateW = (n: NodeModel) => estW(STATE_CHARS[n.kind] ?? 0, 15, EM.state);
/** The widest quality reason a node can show ("no comm.", "out of range"; "no device" without one; 12 px). */
const BAD = keysOf("qs", ["init", "stale", "comm-fail", "device-exception", "not-available", "out-of-range", "manual", "bad-data", "estimated"]);
const reasonW = (n: NodeModel) => estW(Math.max(n.points.length ? widestChars(BAD) : 0, n.noData ? widestChars(["qs.nodata"]) : 0), 12, EM.reason);
/** A value at its widest, as drawn: "−12 345 ?" (4 significant digits, a not-good value carries " ?"). */
const VALUE_CHARS = 9;
/** Width of a value line ("P −888,8 ? kW", "I a / b / c A"), or of a meter's name row and value row. */
function lineW(l: ValueLine, split: boolean): number[] {
  const values = l.points.length * VALUE_CHARS + (l.points.length - 1) * 3 + 1 + len(l.unit);
  if (isLiteral(l) && split) return [estW(len(l.label) - 1, 13, EM.text), estW(values, 15, EM.text)];
  const label = isLiteral(l) ? len(l.label) - 1 : widestChars([l.label]);
  return [estW(label + 1 + values, 15, EM.text)];
}

/**
 * A site-file name cut to its slot on the phone, with "…" (`kind`: the node's label, 16 px bold,
 * or its load name, 14 px). The symbol's aria-label and the detail panel keep it whole.
 */
export function fitName(text: string, maxW: number | undefined, kind: "label" | "sub"): string {
  if (maxW === undefined) return text;
  // Here the average of the measured widths, not the generous one: cut only what is clearly too long.
  const [px, em] = kind === "label" ? [16, 0.7] : [14, 0.58];
  const chars = [...text];
  if (estW(chars.length, px, em) <= maxW) return text;
  return `${chars.slice(0, Math.max(1, Math.floor(maxW / (px * em)) - 1)).join("").trimEnd()}…`;
}

/** Text rows of a node's value lines. */
export function lineRows(n: NodeModel, split: boolean): number {
  return allLines(n).reduce((s, l) => s + (split && isLiteral(l) ? 2 : 1), 0);
}

/** Does the node show a state text (breaker, ATS, a source with a status)? */
const hasState = (n: NodeModel) => n.kind !== "busbar";

/** Text rows under/beside a symbol: label, sublabel, state, values. */
function rows(n: NodeModel, split: boolean): number {
  return 1 + (n.sublabel ? 1 : 0) + (hasState(n) ? 1 : 0) + lineRows(n, split);
}

/** Half height of a node's symbol. */
const halfH = (n: NodeModel | undefined) => (!n ? SRC : n.kind === "ats" ? ATS_H : n.kind === "breaker" ? BRK : SRC);
const halfW = (n: NodeModel | undefined) => (!n ? SRC : n.kind === "ats" ? ATS_W : n.kind === "breaker" ? BRK : SRC);

/** Busbars in drawing order: tie chains kept together, otherwise site-file order. */
function orderBusbars(m: OneLineModel): string[] {
  const ties = new Map<string, string[]>();
  for (const id of m.breakers) {
    const b = node(m, id)!;
    if (isBus(m, b.from) && isBus(m, b.to)) {
      ties.set(b.from!, [...(ties.get(b.from!) ?? []), b.to!]);
      ties.set(b.to!, [...(ties.get(b.to!) ?? []), b.from!]);
    }
  }
  const out: string[] = [];
  const seen = new Set<string>();
  for (const start of m.busbars) {
    if (seen.has(start)) continue;
    const queue = [start];
    seen.add(start);
    while (queue.length) {
      const id = queue.shift()!;
      out.push(id);
      for (const nb of ties.get(id) ?? []) if (!seen.has(nb)) (seen.add(nb), queue.push(nb));
    }
  }
  return out;
}

interface Section {
  bus: string;
  incomers: string[];
  feeders: string[];
}

function sections(m: OneLineModel): { list: Section[]; ties: string[] } {
  const list = orderBusbars(m).map((bus) => ({ bus, incomers: [] as string[], feeders: [] as string[] }));
  const byBus = new Map(list.map((s) => [s.bus, s]));
  const ties: string[] = [];
  for (const id of m.breakers) {
    const b = node(m, id)!;
    if (isBus(m, b.from) && isBus(m, b.to)) ties.push(id);
    else if (isBus(m, b.to)) byBus.get(b.to!)!.incomers.push(id);
    else if (isBus(m, b.from)) byBus.get(b.from!)!.feeders.push(id);
  }
  return { list, ties };
}

const tieBetween = (m: OneLineModel, ties: string[], a: string, b: string) =>
  ties.find((t) => {
    const n = node(m, t)!;
    return (n.from === a && n.to === b) || (n.to === a && n.from === b);
  });

/** Children of a node in the upstream tree (toward the sources). */
function upstreamOf(m: OneLineModel, id: string): string[] {
  const n = node(m, id);
  if (!n) return [];
  if (n.kind === "breaker") return n.from && !isBus(m, n.from) && m.nodes.has(n.from) ? [n.from] : [];
  if (n.kind === "ats") return [n.normal!, n.emergency!].filter((x) => m.nodes.has(x));
  return [];
}

function treeWidth(m: OneLineModel, id: string, depth = 0): number {
  if (depth > 16) return 1;
  const kids = upstreamOf(m, id);
  return Math.max(1, kids.reduce((s, k) => s + treeWidth(m, k, depth + 1), 0));
}

/**
 * Nodes of the upstream trees by level (1 = the roots), and the nodes that hang under a fan-out
 * (an ATS's inputs and what feeds them): on the phone those share the width and carry their texts
 * under the symbol.
 */
function levels(m: OneLineModel, roots: string[]): { lv: NodeModel[][]; fanned: Set<string> } {
  const out: NodeModel[][] = [];
  const fanned = new Set<string>();
  const walk = (id: string, level: number, seen: Set<string>, inFan: boolean) => {
    if (level > 16 || seen.has(id)) return;
    seen.add(id);
    const n = node(m, id);
    if (!n) return;
    (out[level - 1] ??= []).push(n);
    if (inFan) fanned.add(id);
    const kids = upstreamOf(m, id);
    for (const k of kids) walk(k, level + 1, seen, inFan || kids.length > 1);
  };
  for (const r of roots) walk(r, 1, new Set(), false);
  return { lv: out, fanned };
}

/** On the phone: does the node carry its texts under its symbol (sources, and anything in a fan-out)? */
const textsUnder = (tall: boolean, n: NodeModel, fanned: boolean) => tall && (n.kind === "source" || fanned);
/** Baseline of the first text under a symbol (a breaker's wire steps aside above it, see placeUpstream). */
const underY = (n: NodeModel) => halfH(n) + (n.kind === "source" ? 18 : 24);
/** The quality reason's row, where the node can show one. */
const reasonRows = (n: NodeModel) => (reasonW(n) ? 1 : 0);
/** Rows of texts under a symbol: label, sublabel, state, quality reason, values. */
const underRows = (n: NodeModel) => rows(n, true) + reasonRows(n);

/**
 * y of each level above the bar, as offsets upward from the bar (index 0 = the roots), sized so a
 * level's texts clear the level below and the bar.
 */
function levelOffsets(m: OneLineModel, roots: string[], tall: boolean): number[] {
  const { lv, fanned } = levels(m, roots);
  const offsets: number[] = [];
  let y = 0;
  lv.forEach((nodes, i) => {
    const hh = Math.max(...nodes.map(halfH));
    const under = nodes.filter((n) => textsUnder(tall, n, fanned.has(n.id)));
    const beside = nodes.filter((n) => !under.includes(n));
    // On the phone the quality reason is one more row of the side texts (see pushUpstreamNode).
    const r = Math.max(1, ...beside.map((n) => rows(n, false) + (tall ? reasonRows(n) : 0)));
    if (i === 0) {
      // Roots: their side texts must end above the bar (and leave room for the bar's label).
      y = Math.max(hh + 44, -hh + 12 + (r - 1) * LINE_H + 40);
    } else {
      const below = lv[i - 1]!;
      const hp = Math.max(...below.map(halfH));
      const side = beside.length ? hp - hh + 12 + (r - 1) * LINE_H + 34 : 0;
      const texts = Math.max(0, ...under.map((n) => underY(n) + (underRows(n) - 1) * LINE_H + 32 + hp));
      y += Math.max(hp + hh + 46, side, texts);
    }
    offsets.push(y);
  });
  return offsets;
}

function pushUpstreamNode(ctx: Ctx, n: NodeModel, x: number, y: number, unit: number, fanned: boolean): void {
  const hh = halfH(n);
  const hw = halfW(n);
  if (textsUnder(ctx.tall, n, fanned)) {
    // Narrow: texts under the symbol, centred in its share of the width.
    const r = underRows(n);
    const w = Math.min(Math.max(unit - 8, 110), 2 * Math.min(x - 2, TALL_W - 2 - x)); // inside the drawing
    const labelY = y + underY(n);
    const stateY = labelY + LINE_H * (n.sublabel ? 2 : 1);
    ctx.nodes.push({
      id: n.id,
      x,
      y,
      orient: "v",
      label: { x, y: labelY, anchor: "middle", maxW: w - 8 },
      state: { x, y: stateY, anchor: "middle" },
      reason: { x, y: stateY + LINE_H, anchor: "middle" },
      lines: { x, y: stateY + LINE_H * (1 + reasonRows(n)), anchor: "middle", step: LINE_H },
      split: true,
      hit: { x: x - w / 2, y: y - hh - 6, w, h: underY(n) - 6 + hh + r * LINE_H },
    });
    return;
  }
  // On the phone the quality reason is the last row of the side texts: beside the symbol it would
  // leave the drawing or cross the wire the symbol hangs on.
  const r = rows(n, false) + (ctx.tall ? reasonRows(n) : 0);
  let textW = Math.max(unit / 2 - hw - 14, 100);
  const first = y - hh + 12;
  // Texts right of the symbol; on a narrow drawing, left of it (within its own share of the width)
  // when the right edge is too close.
  const left = ctx.tall && x + hw + 10 + Math.max(textW, 130) > TALL_W;
  if (left) textW = Math.max(unit / 2 - hw - 14, 40);
  const tx = left ? x - hw - 10 : x + hw + (n.kind === "ats" ? 16 : 10); // an ATS's "?" badge sits on its corner
  const anchor = left ? "end" : "start";
  // The side texts' estimated width ("AUCUNE DONNÉE", "I a / b / c A"): the tap target covers them.
  const longest = Math.max(estW(len(n.label), 16, EM.label), estW(len(n.sublabel), 14, EM.text), stateW(n), ...allLines(n).flatMap((l) => lineW(l, false)), ctx.tall ? reasonW(n) : 0);
  const hitX = left ? Math.max(2, x - hw - 8 - (n.kind === "ats" ? Math.max(textW, longest) : textW)) : x - hw - 8;
  const hitW = left ? x + hw + 8 - hitX : ctx.tall ? Math.min(Math.max(hw * 2 + 18 + textW, tx - hitX + longest + 6), TALL_W - 2 - hitX) : hw * 2 + 18 + textW;
  const row = (k: number) => first + LINE_H * k;
  const sub = n.sublabel ? 1 : 0;
  ctx.nodes.push({
    id: n.id,
    x,
    y,
    orient: "v",
    label: { x: tx, y: first, anchor, maxW: ctx.tall ? (left ? tx - 4 : TALL_W - 8 - tx) : undefined },
    state: { x: tx, y: row(1 + sub), anchor },
    reason: ctx.tall ? { x: tx, y: row(r - 1), anchor } : { x: x - hw - 8, y: y + 5, anchor: "end" },
    lines: { x: tx, y: row(2 + sub), anchor, step: LINE_H },
    split: false,
    hit: { x: hitX, y: first - 18, w: hitW, h: Math.max(2 * hh + 16, r * LINE_H + 10, 56) },
  });
}

/**
 * Places an upstream tree with its root at (cx, levelY[0]); children one level up each.
 * Returns the right edge its texts reach.
 */
function placeUpstream(ctx: Ctx, id: string, cx: number, levelY: number[], level: number, unit: number, childCx = cx, fanned = false): number {
  const { m } = ctx;
  const n = node(m, id);
  const y = levelY[level] ?? levelY[levelY.length - 1]! - 120;
  if (!n) return cx;
  if (ctx.placed.has(id) || level > 16) {
    ctx.refs.push({ text: `↑ ${n.label}`, x: cx, y, anchor: "middle" });
    return cx + 60;
  }
  ctx.placed.add(id);
  let right = cx + halfW(n) + 10 + Math.max(unit / 2 - halfW(n) - 14, 100);
  const kids = upstreamOf(m, id);
  const widths = kids.map((k) => treeWidth(m, k));
  const total = widths.reduce((s, w) => s + w, 0);
  let left = childCx - (total * unit) / 2;
  const childY = levelY[level + 1] ?? y - 120;
  // On the phone a chain (one input) stays in its column, its texts on the right where there is
  // room; the tree fans out, centred as asked, where a node has several inputs (an ATS).
  const chain = ctx.tall && kids.length === 1;
  const kidsFanned = fanned || kids.length > 1;
  kids.forEach((k, i) => {
    const kx = chain ? cx : left + (widths[i]! * unit) / 2;
    left += widths[i]! * unit;
    right = Math.max(right, placeUpstream(ctx, k, kx, levelY, level + 1, unit, chain ? childCx : kx, kidsFanned));
    const kn = node(m, k);
    // Where the wire comes down to: an ATS's input, or the node's top.
    const toX = n.kind === "ats" ? cx + (i === 0 ? -ATS_W * 0.6 : ATS_W * 0.6) : cx;
    const toY = n.kind === "ats" ? y - ATS_H : y - halfH(n);
    const dropY = toY - 18;
    if (kn && textsUnder(ctx.tall, kn, kidsFanned) && kn.kind !== "source") {
      // On the phone a breaker (or ATS) with its texts under it: its wire steps aside to the edge
      // of its share, clear of them, toward where it goes.
      const edge = kx + (toX > kx ? 1 : -1) * (unit / 2 - 4);
      const out = childY + halfH(kn) + 6;
      ctx.wires.push({ d: `M${kx} ${childY + halfH(kn)} V${out} H${edge} V${dropY} H${toX} V${toY}`, e: k });
      return;
    }
    // On the phone a source's texts sit under it: its wire leaves below them, never through them.
    const top = kn && textsUnder(ctx.tall, kn, kidsFanned) ? childY + halfH(kn) + 6 + underRows(kn) * LINE_H : childY + halfH(kn);
    if (n.kind === "ats" || kx !== cx) ctx.wires.push({ d: `M${kx} ${top} V${dropY} H${toX} V${toY}`, e: k });
    else ctx.wires.push({ d: `M${kx} ${top} V${toY}`, e: k });
  });
  if (n.kind === "breaker" && isBus(m, n.from)) {
    // A breaker fed from another busbar: a reference instead of a long wire across the drawing.
    ctx.refs.push({ text: `↑ ${node(m, n.from!)!.label}`, x: cx, y: y - BRK - 30, anchor: "middle" });
    ctx.wires.push({ d: `M${cx} ${y - BRK - 24} V${y - BRK}`, e: n.from! });
  }
  pushUpstreamNode(ctx, n, cx, y, unit, fanned);
  return right;
}

/** Places a feeder's downstream node (a BESS, a UPS fed from the bus) centred at (x, y), texts below. */
function placeDownstream(ctx: Ctx, n: NodeModel, x: number, y: number, hitW: number): boolean {
  if (!n.to) return false;
  const d = node(ctx.m, n.to);
  if (!d || ctx.placed.has(d.id)) {
    if (d) ctx.refs.push({ text: `→ ${d.label}`, x, y, anchor: "middle" });
    return false;
  }
  ctx.placed.add(d.id);
  const hh = halfH(d);
  ctx.nodes.push({
    id: d.id,
    x,
    y,
    orient: "v",
    // Under the symbol: label, sublabel, state, quality reason (beside the symbol it ran into the
    // "?" badge), values.
    label: { x, y: y + hh + 18, anchor: "middle" },
    state: { x, y: y + hh + 18 + LINE_H * (d.sublabel ? 2 : 1), anchor: "middle" },
    reason: { x, y: y + hh + 18 + LINE_H * (d.sublabel ? 3 : 2), anchor: "middle" },
    lines: { x, y: y + hh + 18 + LINE_H * ((d.sublabel ? 3 : 2) + reasonRows(d)), anchor: "middle", step: LINE_H },
    split: true,
    hit: { x: x - hitW / 2, y: y - hh - 6, w: hitW, h: 2 * hh + 12 + underRows(d) * LINE_H },
  });
  return true;
}

const downstreamH = (m: OneLineModel, n: NodeModel) => {
  const d = n.to ? node(m, n.to) : undefined;
  return d && d.kind !== "busbar" ? 2 * halfH(d) + 40 + underRows(d) * LINE_H : 0;
};

/** Standalone nodes: not placed by any section (a UPS no breaker reaches, an unconnected ATS...). */
function restRoots(ctx: Ctx): string[] {
  const { m } = ctx;
  const out: string[] = [];
  const feeds = (id: string) => m.breakers.some((b) => !ctx.placed.has(b) && node(m, b)!.from === id) || m.ats.some((a) => !ctx.placed.has(a) && (node(m, a)!.normal === id || node(m, a)!.emergency === id));
  for (const id of [...m.breakers, ...m.ats, ...m.sources]) {
    if (ctx.placed.has(id) || feeds(id)) continue;
    out.push(id);
  }
  return out;
}

/**
 * Texts of a row on the phone (a feeder or tie breaker off the vertical bar): name, load name and
 * quality reason down the left from `x`; state, then values, right-aligned at the drawing's edge.
 * Each right-hand text takes the first row (after the previous one) where it clears the left-hand
 * text beside it, by estimated widths of the widest words, so a long load name or "DÉCLENCHÉ"
 * pushes a value down a row instead of running into it. Returns the texts and the rows they take.
 */
function phoneRowTexts(n: NodeModel, x: number, baseline: number): Pick<PlacedNode, "label" | "state" | "reason" | "lines"> & { rows: number } {
  const right = TALL_W - 8;
  const left = [Math.min(estW(len(n.label), 16, EM.label), right - x), ...(n.sublabel ? [Math.min(estW(len(n.sublabel), 14, EM.text), right - x)] : [])];
  // The quality reason takes a row of its own, under the names (only where the node can show one).
  const reasonRow = left.length;
  if (reasonW(n)) left.push(reasonW(n));
  // Below the left texts every row is free (even for a text wider than the row: it cannot do better).
  const fits = (row: number, w: number) => row >= left.length || left[row]! + 14 + w <= right - x;
  const place = (from: number, w: number) => {
    let r = from;
    while (!fits(r, w)) r++;
    return r;
  };
  const stateRow = place(0, stateW(n));
  // Each value line's first row; a split meter line keeps its name and value on consecutive rows.
  const lineRow: number[] = [];
  let next = stateRow + 1;
  for (const l of allLines(n)) {
    const ws = lineW(l, true);
    let r = next;
    while (!ws.every((w, i) => fits(r + i, w))) r++;
    lineRow.push(r);
    next = r + ws.length;
  }
  const at = (row: number, tx: number, anchor: TextAt["anchor"]): TextAt => ({ x: tx, y: baseline + row * LINE_H, anchor });
  return {
    label: { ...at(0, x, "start"), maxW: right - x },
    state: at(stateRow, right, "end"),
    reason: at(reasonRow, x, "start"),
    lines: { ...at(0, right, "end"), step: LINE_H, rows: lineRow },
    rows: Math.max(left.length, next),
  };
}

// ---------------------------------------------------------------------------------------------
// Wide
// ---------------------------------------------------------------------------------------------

const UNIT = 270;
const TIE_GAP = 170;
const SECTION_GAP = 70;
const MAX_WIDE = 1860;
const MARGIN = 20;

export function layoutWide(m: OneLineModel): OneLineLayout {
  const ctx: Ctx = { m, nodes: [], wires: [], bars: [], refs: [], placed: new Set(), tall: false };
  const { list, ties } = sections(m);
  const incomers = list.flatMap((s) => s.incomers);
  const rest0 = m.sources.filter((id) => !m.breakers.some((b) => node(m, b)!.from === id || node(m, b)!.to === id) && !m.ats.some((a) => node(m, a)!.normal === id || node(m, a)!.emergency === id));
  const offsets = levelOffsets(m, incomers, false);
  const topOffset = offsets.length ? offsets[offsets.length - 1]! : 0;
  const topHalf = 36;
  const busY = MARGIN + topHalf + topOffset + (incomers.length ? 0 : rest0.length ? 2 * SRC + 60 : 30);
  const levelY = offsets.map((o) => busY - o);

  // Feeder columns wide enough for their longest value line (three currents need more).
  const feeders = list.flatMap((s) => s.feeders);
  const wideText = feeders.some((f) => node(m, f)!.lines.some((l) => l.points.length > 1));
  const pitch = wideText ? 156 : 124;
  const nSec = Math.max(1, list.length);
  const perRow = Math.max(4, Math.floor((MAX_WIDE - (nSec - 1) * TIE_GAP) / nSec / pitch));

  let x0 = MARGIN;
  let bottom = busY + 40;
  let topRight = MARGIN;
  list.forEach((s, si) => {
    const incUnits = s.incomers.reduce((sum, i) => sum + treeWidth(m, i), 0);
    const cols = Math.min(Math.max(1, s.feeders.length), perRow);
    const width = Math.max(incUnits * UNIT, cols * pitch, 280);
    // Incomers: centred over the section.
    let left = x0 + (width - incUnits * UNIT) / 2;
    for (const inc of s.incomers) {
      const w = treeWidth(m, inc) * UNIT;
      const cx = left + w / 2;
      left += w;
      topRight = Math.max(topRight, placeUpstream(ctx, inc, cx, levelY, 0, UNIT));
      ctx.wires.push({ d: `M${cx} ${levelY[0]! + BRK} V${busY}`, e: s.bus });
    }
    // Feeder rows hanging from the bar, wrapped onto continuation bars.
    const rowsOfFeeders: string[][] = [];
    for (let i = 0; i < s.feeders.length; i += perRow) rowsOfFeeders.push(s.feeders.slice(i, i + perRow));
    if (!rowsOfFeeders.length) rowsOfFeeders.push([]);
    let rowTop = busY;
    rowsOfFeeders.forEach((row, r) => {
      ctx.bars.push({
        id: s.bus,
        x1: x0,
        y1: rowTop,
        x2: x0 + (r === 0 ? width : Math.max(row.length * pitch, pitch)),
        y2: rowTop,
        label: r === 0 ? { x: x0, y: rowTop - 12, anchor: "start" } : undefined,
      });
      let rowH = 60;
      row.forEach((fid, c) => {
        const n = node(m, fid)!;
        const x = x0 + c * pitch + pitch / 2;
        const by = rowTop + 46;
        ctx.wires.push({ d: `M${x} ${rowTop} V${by - BRK}`, e: s.bus });
        // Under the symbol: state, quality reason, then id, load name and values.
        const stateY = by + BRK + 20;
        const textTop = stateY + 38;
        const textH = (rows(n, true) - 1) * LINE_H; // rows without the state
        const dsH = downstreamH(m, n);
        const ds = n.to ? node(m, n.to) : undefined;
        const dsY = textTop + textH + 12 + (ds ? halfH(ds) : 0);
        // Below the breaker: a stub to the load, or a wire to the downstream node that steps aside
        // to the column's edge, clear of the breaker's texts, and comes back above the node (a
        // wire behind texts reads as crossing them, halo or not). Texts are centred and narrower
        // than the column, so its edge is free.
        if (ds) {
          const side = x + pitch / 2 - 3;
          const top = dsY - halfH(ds);
          ctx.wires.push({ d: `M${x} ${by + BRK} V${by + BRK + 4} H${side} V${top - 7} H${x} V${top}`, e: n.to! });
        } else ctx.wires.push({ d: `M${x} ${by + BRK} V${by + BRK + 4}`, e: loadNodeId(fid) });
        ctx.placed.add(fid);
        ctx.nodes.push({
          id: fid,
          x,
          y: by,
          orient: "v",
          label: { x, y: textTop, anchor: "middle" },
          state: { x, y: stateY, anchor: "middle" },
          reason: { x, y: stateY + 16, anchor: "middle" },
          lines: { x, y: textTop + LINE_H * (n.sublabel ? 2 : 1), anchor: "middle", step: LINE_H },
          split: true,
          hit: { x: x - pitch / 2 + 3, y: rowTop + 10, w: pitch - 6, h: textTop - rowTop - 10 + textH + 4 },
        });
        if (ds) placeDownstream(ctx, n, x, dsY, pitch - 6);
        rowH = Math.max(rowH, textTop - rowTop + textH + dsH + 26);
      });
      if (r < rowsOfFeeders.length - 1) {
        const next = rowTop + rowH;
        ctx.wires.push({ d: `M${x0 + 4} ${rowTop} V${next}`, e: s.bus });
        rowTop = next;
      } else bottom = Math.max(bottom, rowTop + rowH);
    });
    const next = list[si + 1];
    const tie = next ? tieBetween(m, ties, s.bus, next.bus) : undefined;
    if (next && tie) {
      const b = node(m, tie)!;
      const tx = x0 + width + TIE_GAP / 2;
      const leftE = b.from === s.bus ? b.from : b.to!;
      const rightE = leftE === b.from ? b.to! : b.from!;
      ctx.wires.push({ d: `M${x0 + width} ${busY} H${tx - BRK}`, e: leftE });
      ctx.wires.push({ d: `M${tx + BRK} ${busY} H${x0 + width + TIE_GAP}`, e: rightE });
      ctx.placed.add(tie);
      ctx.nodes.push({
        id: tie,
        x: tx,
        y: busY,
        orient: "h",
        label: { x: tx, y: busY + BRK + 22, anchor: "middle" },
        // Above the symbol, clear of its TRIPPED flag.
        state: { x: tx, y: busY - BRK - 18, anchor: "middle" },
        reason: { x: tx, y: busY - BRK - 36, anchor: "middle" },
        lines: { x: tx, y: busY + BRK + 22 + LINE_H * (b.sublabel ? 2 : 1), anchor: "middle", step: LINE_H },
        split: true,
        hit: { x: tx - TIE_GAP / 2 + 8, y: busY - BRK - 52, w: TIE_GAP - 16, h: 2 * BRK + 68 + rows(b, true) * LINE_H },
      });
      x0 += width + TIE_GAP;
    } else x0 += width + SECTION_GAP;
  });
  let right = x0 - SECTION_GAP + MARGIN;

  // Whatever no section drew: standalone sources in the top band, right of the upstream trees;
  // unconnected ATS or breakers as their own trees.
  const topY = levelY.length ? levelY[levelY.length - 1]! : MARGIN + topHalf;
  // Far enough right that its "no device" reason (left of it) clears the texts before it.
  let rx = Math.max(topRight + 120, list.length ? 0 : MARGIN);
  for (const id of restRoots(ctx)) {
    const n = node(m, id)!;
    if (n.kind === "source") {
      placeUpstream(ctx, id, rx + SRC, [topY], 0, UNIT);
      rx += UNIT * 0.8;
    } else {
      const w = treeWidth(m, id) * UNIT;
      const offs = levelOffsets(m, [id], false);
      const ys = offs.map((o) => bottom + 40 + offs[offs.length - 1]! - o + SRC);
      placeUpstream(ctx, id, MARGIN + w / 2, ys, 0, UNIT);
      bottom = ys[0]! + 140;
    }
    right = Math.max(right, rx + MARGIN);
  }
  return { orientation: "wide", width: Math.ceil(Math.max(right, 400)), height: Math.ceil(bottom + MARGIN), ...ctx };
}

// ---------------------------------------------------------------------------------------------
// Tall
// ---------------------------------------------------------------------------------------------

const TALL_W = 390;
const BUS_X = 24;

export function layoutTall(m: OneLineModel): OneLineLayout {
  const ctx: Ctx = { m, nodes: [], wires: [], bars: [], refs: [], placed: new Set(), tall: true };
  const { list, ties } = sections(m);
  let y = 10;

  // Standalone sources (nothing connects them) first, side by side.
  const standalone = m.sources.filter(
    (id) => !m.breakers.some((b) => node(m, b)!.from === id || node(m, b)!.to === id) && !m.ats.some((a) => node(m, a)!.normal === id || node(m, a)!.emergency === id),
  );
  const perRowS = Math.min(3, Math.max(1, standalone.length));
  for (let i = 0; i < standalone.length; i += perRowS) {
    const row = standalone.slice(i, i + perRowS);
    const unit = TALL_W / perRowS;
    const h = Math.max(...row.map((id) => 2 * SRC + 20 + (rows(node(m, id)!, true) + 1) * LINE_H));
    row.forEach((id, j) => placeUpstream(ctx, id, unit * j + unit / 2, [y + SRC + 6], 0, unit));
    y += h;
  }

  list.forEach((s, si) => {
    const tie = si > 0 ? tieBetween(m, ties, list[si - 1]!.bus, s.bus) : undefined;
    let barTop = y;
    if (tie) {
      // The tie breaker sits on the vertical bar between the two busbars.
      const b = node(m, tie)!;
      const upE = b.from === s.bus ? b.to! : b.from!;
      const ty = y + 30;
      const texts = phoneRowTexts(b, BUS_X + 34, ty - 2); // clear of the TRIPPED flag
      const below = Math.max(44, (texts.rows - 1) * LINE_H + 22);
      ctx.wires.push({ d: `M${BUS_X} ${y - 24} V${ty - BRK}`, e: upE });
      ctx.wires.push({ d: `M${BUS_X} ${ty + BRK} V${ty + below}`, e: s.bus });
      ctx.placed.add(tie);
      ctx.nodes.push({
        id: tie,
        x: BUS_X,
        y: ty,
        orient: "v",
        label: texts.label,
        state: texts.state,
        reason: texts.reason,
        lines: texts.lines,
        split: true,
        hit: { x: 2, y: ty - 28, w: TALL_W - 4, h: below + 12 },
      });
      y = ty + below;
      barTop = y;
    }
    if (!s.incomers.length) y += 24; // room for the bar's label
    // Incomers one under the other, each with the full width for its upstream tree, joined to
    // the vertical bar from the right: the root a little left so its texts have room.
    s.incomers.forEach((inc, i) => {
      const unit = Math.min((TALL_W - 40) / treeWidth(m, inc), 240);
      const offsets = levelOffsets(m, [inc], true);
      const join = y + 30 + offsets[offsets.length - 1]!;
      const levelY = offsets.map((o) => join - o);
      const rootX = 112;
      placeUpstream(ctx, inc, rootX, levelY, 0, unit, 40 + (TALL_W - 40) / 2);
      const root = ctx.nodes.find((n) => n.id === inc);
      if (root) root.hit.w = TALL_W - 2 - root.hit.x;
      ctx.wires.push({ d: `M${rootX} ${levelY[0]! + BRK} V${join} H${BUS_X}`, e: s.bus });
      if (i === 0 && !tie) barTop = join;
      else ctx.wires.push({ d: `M${BUS_X} ${i === 0 ? y : barTop} V${join}`, e: s.bus });
      y = join + 10;
    });
    if (s.incomers.length) y += 24; // room for the bar's label
    const labelY = y - 6;
    let rowY = y + 8;
    for (const fid of s.feeders) {
      const n = node(m, fid)!;
      const c = rowY + 26;
      const bx = BUS_X + 44;
      const texts = phoneRowTexts(n, bx + BRK + 14, c - 4);
      let h = Math.max(60, texts.rows * LINE_H + 16); // 10 px above the first text and below the last
      const ds = n.to ? node(m, n.to) : undefined;
      ctx.wires.push({ d: `M${BUS_X} ${c} H${bx - BRK}`, e: s.bus });
      ctx.placed.add(fid);
      ctx.nodes.push({
        id: fid,
        x: bx,
        y: c,
        orient: "h",
        label: texts.label,
        state: texts.state,
        reason: texts.reason,
        lines: texts.lines,
        split: true,
        hit: { x: BUS_X + 8, y: rowY + 2, w: TALL_W - BUS_X - 10, h: h - 4 },
      });
      if (ds && ds.kind !== "busbar") {
        // The downstream node hangs under the breaker, its texts to its right.
        const dsx = bx + BRK + 4;
        const dy = rowY + h + halfH(ds) + 4;
        ctx.wires.push({ d: `M${bx + BRK} ${c} H${dsx} V${dy - halfH(ds)}`, e: n.to! });
        if (placeDownstream(ctx, n, dsx, dy, TALL_W - BUS_X - 10)) {
          const placed = ctx.nodes[ctx.nodes.length - 1]!;
          const tx = dsx + halfW(ds) + 12;
          const first = dy - halfH(ds) + 12;
          // Label, sublabel, state, values, then the quality reason: the last row, as upstream.
          const r = rows(ds, false) + reasonRows(ds);
          placed.label = { x: tx, y: first, anchor: "start", maxW: TALL_W - 8 - tx };
          placed.state = { x: tx, y: first + LINE_H * (ds.sublabel ? 2 : 1), anchor: "start" };
          placed.lines = { x: tx, y: first + LINE_H * (ds.sublabel ? 3 : 2), anchor: "start", step: LINE_H };
          placed.split = false;
          placed.reason = { x: tx, y: first + LINE_H * (r - 1), anchor: "start" };
          const dh = Math.max(2 * halfH(ds) + 12, r * LINE_H + 8);
          placed.hit = { x: BUS_X + 8, y: dy - halfH(ds) - 6, w: TALL_W - BUS_X - 10, h: dh };
          h += dh + 10;
        }
      } else {
        ctx.wires.push({ d: `M${bx + BRK} ${c} H${bx + BRK + 8}`, e: n.to ?? loadNodeId(fid) });
      }
      rowY += h;
    }
    const barBottom = Math.max(rowY - 12, barTop + 30);
    ctx.bars.push({ id: s.bus, x1: BUS_X, y1: barTop, x2: BUS_X, y2: barBottom, label: { x: BUS_X + 12, y: labelY, anchor: "start" } });
    y = barBottom + 30;
  });

  for (const id of restRoots(ctx)) {
    const offsets = levelOffsets(m, [id], true);
    const top = offsets[offsets.length - 1]!;
    const levelY = offsets.map((o) => y + 40 + top - o);
    placeUpstream(ctx, id, TALL_W / 2, levelY, 0, Math.min((TALL_W - 40) / treeWidth(m, id), 240));
    y = levelY[0]! + 100;
  }
  return { orientation: "tall", width: TALL_W, height: Math.ceil(y + 10), ...ctx };
}

export function layoutOneLine(m: OneLineModel, orientation: Orientation): OneLineLayout {
  return orientation === "wide" ? layoutWide(m) : layoutTall(m);
}
