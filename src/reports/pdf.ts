/**
 * A report as a PDF (pdfmake 0.3, the embedded DejaVu font): headline figures, vector bar charts
 * (pdfmake canvas: rectangles and lines, no bitmap), the lines' table, and on every page a footer
 * with the data's completeness. Anything not fully measured is marked where it is shown: ≈ for
 * estimated, — for missing, a shaded cell, a hatched bar; the footer turns amber.
 */
import pdfmake from "pdfmake";
import { Flag } from "../energy/counters.ts";
import { t as tr, type Lang } from "../i18n/index.ts";
import { OffsetFormatter } from "../journal/time.ts";
import { incompleteShare, type ReportData, type ReportLine, type ReportSection } from "./data.ts";
import { reportFonts } from "./fonts.ts";

let fontsReady = false;
export function setupFonts(): void {
  if (fontsReady) return;
  const vfs = (pdfmake as unknown as { virtualfs: { writeFileSync(name: string, data: Uint8Array): void } }).virtualfs;
  for (const [name, data] of Object.entries(reportFonts())) vfs.writeFileSync(name, data);
  pdfmake.setFonts({ DejaVu: { normal: "DejaVuSans.ttf", bold: "DejaVuSans-Bold.ttf", italics: "DejaVuSans.ttf", bolditalics: "DejaVuSans-Bold.ttf" } });
  // Reports read nothing from outside: no URL, no local file.
  const p = pdfmake as unknown as { setUrlAccessPolicy?(f: (u: string) => boolean): void; setLocalAccessPolicy?(f: (p: string) => boolean): void };
  p.setUrlAccessPolicy?.(() => false);
  p.setLocalAccessPolicy?.(() => false);
  fontsReady = true;
}

const INK = "#1f2933";
const MUTED = "#6b7280";
const GRID = "#d9dde3";
const CURRENT = "#4f6f94";
const PREVIOUS = "#b8c2cf";
const WARN_FILL = "#fbeed5";
const WARN_INK = "#8a5300";

type Node = Record<string, unknown> | string;

export function renderPdf(d: ReportData): Promise<Uint8Array> {
  setupFonts();
  const def = reportDefinition(d);
  return (pdfmake.createPdf(def as never) as unknown as { getBuffer(): Promise<Uint8Array> }).getBuffer();
}

export function reportDefinition(d: ReportData): Record<string, unknown> {
  const lang = d.req.lang as Lang;
  const t = (k: string, p?: Record<string, string | number>) => tr(lang, k, p);
  const locale = lang === "fr" ? "fr-CA" : "en-CA";
  const nf = new Map<number, Intl.NumberFormat>();
  const num = (x: number, digits = 0) => {
    let f = nf.get(digits);
    if (!f) nf.set(digits, (f = new Intl.NumberFormat(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits })));
    return f.format(x);
  };
  const digitsFor = (x: number) => (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  const qty = (x: number) => num(x, digitsFor(x));
  const axisFmt = (x: number) => num(x, x === 0 || Math.abs(x) >= 10 ? 0 : 1);
  // A share that is not zero never reads as 0,0 %.
  const pct = (x: number) => (x > 0 && x < 0.0005 ? `< ${num(0.1, 1)}` : num(x * 100, 1));
  const dateF = new Intl.DateTimeFormat(locale, { timeZone: d.timezone, dateStyle: "medium" });
  const dtF = new Intl.DateTimeFormat(locale, { timeZone: d.timezone, dateStyle: "medium", timeStyle: "short", hourCycle: "h23" });
  const shortF = new Intl.DateTimeFormat(locale, { timeZone: d.timezone, dateStyle: "short", timeStyle: "short", hourCycle: "h23" });
  const monthF = new Intl.DateTimeFormat(locale, { timeZone: d.timezone, month: "short" });
  const dayF = new Intl.DateTimeFormat(locale, { timeZone: d.timezone, day: "numeric" });
  const titleF = new Intl.DateTimeFormat(locale, { timeZone: d.timezone, ...(d.req.period === "month" ? { month: "long", year: "numeric" } : d.req.period === "year" ? { year: "numeric" } : { dateStyle: "long" }) });
  const offset = new OffsetFormatter(d.timezone).format(d.from + 12 * 3_600_000).slice(-6);
  const detailed = d.req.kind === "detailed";
  const landscape = detailed && d.req.period === "year";
  const pageW = (landscape ? 842 : 595) - 80;
  const bucketName = t(`report.bucket.${d.bucket}`);
  const hourF = new Intl.DateTimeFormat(locale, { timeZone: d.timezone, hour: "2-digit", hourCycle: "h23" });
  const bucketLabel = (ts: number) => (d.bucket === "hour" ? hourF.format(ts) : d.bucket === "day" ? dayF.format(ts + 3_600_000) : monthF.format(ts + 12 * 3_600_000).replace(/\.$/, ""));
  const change = (cur: number, prev: number | null, approx = false) => (prev === null || prev === 0 ? "—" : `${approx ? "≈ " : ""}${cur >= prev ? "+" : "−"}${num(Math.abs((100 * (cur - prev)) / prev), 1)} %`);
  /** Share measured, rounded down: 99.97 % measured is not "100 %". */
  const measured = (q: Pick<ReportLine, "expected" | "estimated" | "missing">) => num(Math.min(incompleteShare(q) > 0 ? 99.9 : 100, Math.floor((1 - incompleteShare(q)) * 1000) / 10), 1);
  /** The previous period was not fully measured: its figure and the change are approximate. */
  const prevPartial = (l: ReportLine) => l.previous !== null && incompleteShare(l.previousQuality) > 0;
  const money = (x: number | null) => (x === null ? t("report.noTariff") : num(x, 2));
  const periodTitle = d.req.period === "week" ? `${titleF.format(d.from + 12 * 3_600_000)} – ${titleF.format(d.to - 12 * 3_600_000)}` : titleF.format(d.from + 12 * 3_600_000);
  const capital = (s: string) => s.charAt(0).toLocaleUpperCase(locale) + s.slice(1);

  /** Nothing measured at all: no figure is shown, not a zero. */
  const unread = (l: ReportLine) => l.expected > 0 && l.missing >= l.expected;
  /** A bucket's value as the table shows it: marked when not fully measured. */
  const cell = (v: number, flags: number, future: boolean): Node => {
    if (future) return { text: "", alignment: "right" };
    const missing = (flags & Flag.MISSING) !== 0;
    const est = (flags & Flag.ESTIMATED) !== 0;
    if (missing && v === 0) return { text: "—", alignment: "right", fillColor: WARN_FILL, color: WARN_INK };
    if (missing || est) return { text: `≈ ${qty(v)}`, alignment: "right", fillColor: WARN_FILL, color: WARN_INK };
    return { text: qty(v), alignment: "right" };
  };
  const qualityCells = (l: ReportLine): Node[] => {
    const e = l.expected ? l.estimated / l.expected : 0;
    const m = l.expected ? l.missing / l.expected : 0;
    const mark = (x: number, n: number): Node => (n ? { text: `${pct(x)} %`, alignment: "right", fillColor: WARN_FILL, color: WARN_INK, bold: true } : { text: "0 %", alignment: "right", color: MUTED });
    return [mark(e, l.estimated), mark(m, l.missing)];
  };

  const content: Node[] = [
    { text: d.site, style: "site" },
    { text: `${t(`report.title.${d.req.kind}`)} — ${capital(periodTitle)}`, style: "title" },
    { text: t("report.period", { from: dtF.format(d.from), to: dtF.format(d.to), tz: d.timezone, offset: `UTC${offset.replace("-", "−")}` }), style: "muted" },
    { text: t("report.generated", { at: dtF.format(d.generatedAt) }), style: "muted", margin: [0, 0, 0, 6] },
  ];
  if (d.inProgress) content.push({ text: t("report.inProgress", { at: dtF.format(d.generatedAt) }), color: WARN_INK, fillColor: WARN_FILL, bold: true, margin: [0, 0, 0, 6] });

  for (const s of d.sections) content.push(...section(s));
  if (!d.sections.length) content.push({ text: t("report.none"), margin: [0, 20, 0, 0] });

  function section(s: ReportSection): Node[] {
    const out: Node[] = [{ text: t(`report.commodity.${s.commodity}`), style: "h2" }];
    const T = s.total;
    const kpi = (label: string, value: string, sub?: string, warn = false): Node => ({
      stack: [{ text: label, style: "kpiLabel" }, { text: value, style: "kpi", color: warn ? WARN_INK : INK }, sub ? { text: sub, style: "muted" } : ""],
    });
    const totalShare = incompleteShare(T);
    out.push({
      columns: [
        kpi(t("report.kpi.consumption"), unread(T) ? t("report.noData") : `${totalShare ? "≈ " : ""}${qty(T.value)} ${s.unit}`, undefined, totalShare > 0),
        kpi(t("report.kpi.cost"), unread(T) ? "—" : T.cost === null ? t("report.noTariff") : `${money(T.cost)} ${s.currency}`),
        s.commodity === "electricity" ? kpi(t("report.kpi.peak"), T.peakKw === null ? "—" : `${num(T.peakKw, 1)} kW`, T.peakAt === null ? undefined : dtF.format(T.peakAt)) : "",
        kpi(
          t("report.kpi.previous"),
          T.previous === null ? t("report.noPrevious") : `${prevPartial(T) ? "≈ " : ""}${qty(T.previous)} ${s.unit}`,
          `${t("report.kpi.change")} ${change(T.value, T.previous, prevPartial(T) || totalShare > 0)}${prevPartial(T) ? ` — ${t("report.prevPartial", { pct: measured(T.previousQuality) })}` : ""}`,
          prevPartial(T),
        ),
      ],
      columnGap: 10,
      margin: [0, 2, 0, 8],
    });
    if (s.demand?.periods.length) {
      const dm = s.demand;
      const one = dm.periods.length === 1 ? dm.periods[0]! : undefined;
      const text = one
        ? t("report.demand.one", { kw: num(one.peakKw, 1), price: one.price === null ? "—" : num(one.price, 2), charge: one.price === null ? t("report.noTariff") : `${money(one.price * one.peakKw)} ${s.currency}`, from: dateF.format(one.from), to: dateF.format(one.to - 1) })
        : t("report.demand.many", { n: dm.periods.length, charge: dm.charge === null ? t("report.noTariff") : `${money(dm.charge)} ${s.currency}` });
      const all = T.cost !== null && dm.charge !== null ? t("report.demand.total", { total: `${money(T.cost + dm.charge)} ${s.currency}` }) : "";
      out.push({ text: [{ text: text }, all ? { text: `  ${all}`, bold: true } : ""], margin: [0, 0, 0, 6] });
    }
    const held = T.held + s.lines.reduce((a, l) => a + (l.id === T.id ? 0 : l.held), 0);
    // Charts: consumption per bucket (this period beside the previous one), then cost.
    const future = d.starts.map((x) => x >= Math.min(d.to, d.generatedAt));
    out.push({ text: t("report.chart.consumption", { bucket: bucketName, unit: s.unit }), style: "h3" });
    const prevBuckets = T.previousBuckets;
    out.push(
      barChart({
        w: pageW,
        h: 120,
        labels: d.starts.map(bucketLabel),
        series: [
          { values: prevBuckets, color: PREVIOUS },
          { values: T.buckets.map((v, i) => (future[i] ? null : v)), color: CURRENT, flags: T.bucketFlags },
        ],
        fmt: axisFmt,
      }),
    );
    out.push(legend([[CURRENT, t("report.legend.current")], [PREVIOUS, t("report.legend.previous")], ["hatch", t("report.legend.estimated")]]));
    if (T.cost !== null && s.currency) {
      out.push({ text: t("report.chart.cost", { bucket: bucketName, currency: s.currency }), style: "h3" });
      out.push(barChart({ w: pageW, h: 80, labels: d.starts.map(bucketLabel), series: [{ values: T.costBuckets.map((v, i) => (future[i] ? null : v)), color: "#7a9a6a", flags: T.bucketFlags }], fmt: axisFmt }));
    }
    // The lines' table, the total last.
    const head = [t("report.col.line"), t("report.col.consumption", { unit: s.unit }), t("report.col.previous", { unit: s.unit }), t("report.col.change"), t("report.col.cost", { currency: s.currency || "—" })];
    const elec = s.commodity === "electricity";
    if (elec) head.push(t("report.col.peak"), t("report.col.peakAt"));
    head.push(t("report.col.estimated"), t("report.col.missing"));
    const row = (l: ReportLine, bold = false): Node[] => {
      const share = incompleteShare(l);
      const none = unread(l);
      const r: Node[] = [
        { text: l.label, bold },
        none ? { text: "—", alignment: "right", bold, color: WARN_INK, fillColor: WARN_FILL } : share ? { text: `≈ ${qty(l.value)}`, alignment: "right", bold, color: WARN_INK, fillColor: WARN_FILL } : { text: qty(l.value), alignment: "right", bold },
        prevPartial(l) ? { text: `≈ ${qty(l.previous!)}`, alignment: "right", color: WARN_INK, fillColor: WARN_FILL } : { text: l.previous === null ? "—" : qty(l.previous), alignment: "right" },
        { text: none ? "—" : change(l.value, l.previous, prevPartial(l) || share > 0), alignment: "right" },
        { text: none ? "—" : money(l.cost), alignment: "right" },
      ];
      if (elec) r.push({ text: l.peakKw === null ? "—" : num(l.peakKw, 1), alignment: "right" }, { text: l.peakAt === null ? "—" : shortF.format(l.peakAt), fontSize: 7 });
      r.push(...qualityCells(l));
      return r;
    };
    const lines = s.lines.filter((l) => l.id !== T.id);
    const widths = elec ? ["*", 64, 56, 54, 50, 36, 56, 44, 44] : ["*", 70, 66, 48, 60, 48, 48];
    out.push({ text: " ", fontSize: 4 });
    out.push({
      table: { headerRows: 1, widths, body: [head.map((h, i) => ({ text: h, style: "th", alignment: i === 0 || (elec && i === 6) ? "left" : "right" })), ...lines.map((l) => row(l)), row(T, true)] },
      layout: tableLayout,
      fontSize: 8,
    });
    if (held > 0) out.push({ text: t("report.held", { value: qty(held), unit: s.unit }), color: WARN_INK, margin: [0, 4, 0, 0] });
    if (detailed && lines.length) {
      out.push({ text: t("report.chart.lines", { unit: s.unit }), style: "h3", pageBreak: landscape ? "before" : undefined });
      out.push(lineBars(lines));
      out.push(...bucketTable(lines, T, s));
    }
    out.push({ text: t("report.marks"), style: "muted", margin: [0, 6, 0, 0] });
    return out;
  }

  function lineBars(lines: ReportLine[]): Node {
    const max = Math.max(1e-9, ...lines.map((l) => Math.max(l.value, l.previous ?? 0)));
    const barW = pageW * 0.45;
    const body = lines.map((l) => [
      { text: l.label, fontSize: 8 },
      {
        canvas: [
          { type: "rect", x: 0, y: 1, w: Math.max(0.5, (barW * l.value) / max), h: 6, color: CURRENT },
          { type: "rect", x: 0, y: 8, w: Math.max(0.5, (barW * (l.previous ?? 0)) / max), h: 4, color: PREVIOUS },
        ],
      },
      { text: `${incompleteShare(l) ? "≈ " : ""}${qty(l.value)}`, alignment: "right", fontSize: 8, color: incompleteShare(l) ? WARN_INK : INK },
    ]);
    return { table: { widths: ["*", barW + 4, 60], body }, layout: "noBorders", margin: [0, 0, 0, 6] };
  }

  function bucketTable(lines: ReportLine[], total: ReportLine, s: ReportSection): Node[] {
    const future = d.starts.map((x) => x >= Math.min(d.to, d.generatedAt));
    const out: Node[] = [{ text: t("report.table.buckets", { bucket: bucketName, unit: s.unit }), style: "h3" }];
    if (d.bucket === "month" || d.bucket === "hour") {
      // Lines down, months across.
      const head = [{ text: t("report.col.line"), style: "th" }, ...[...d.starts.map(bucketLabel), t("report.col.total")].map((h) => ({ text: h, style: "th", alignment: "right" }))];
      const row = (l: ReportLine, bold = false) => [{ text: l.label, bold }, ...l.buckets.map((v, i) => cell(v, l.bucketFlags[i]!, future[i]!)), incompleteShare(l) ? { text: `≈ ${qty(l.value)}`, alignment: "right", bold, color: WARN_INK, fillColor: WARN_FILL } : { text: qty(l.value), alignment: "right", bold }];
      out.push({ table: { headerRows: 1, widths: ["*", ...d.starts.map(() => 38), 46], body: [head, ...lines.map((l) => row(l)), row(total, true)] }, layout: tableLayout, fontSize: 6.5 });
    } else {
      // Days down, lines across (a few lines per table).
      const per = 7;
      for (let k = 0; k < lines.length; k += per) {
        const chunk = lines.slice(k, k + per);
        const cols = k + per >= lines.length ? [...chunk, total] : chunk;
        const head = [{ text: capital(t("report.bucket.day")), style: "th" }, ...cols.map((l) => ({ text: l.label, style: "th", alignment: "right" }))];
        const body = d.starts.map((ts, i) => [{ text: dateF.format(ts + 3_600_000) }, ...cols.map((l) => cell(l.buckets[i]!, l.bucketFlags[i]!, future[i]!))]);
        out.push({ table: { headerRows: 1, widths: [58, ...cols.map(() => "*")], body: [head, ...body] }, layout: tableLayout, fontSize: 7, margin: [0, 0, 0, 8] });
      }
    }
    return out;
  }

  const overall = d.sections.reduce((a, s) => ({ expected: a.expected + s.completeness.expected, estimated: a.estimated + s.completeness.estimated, missing: a.missing + s.completeness.missing }), { expected: 0, estimated: 0, missing: 0 });
  const footerText =
    overall.estimated + overall.missing === 0
      ? t("report.footer.complete", { n: num(overall.expected) })
      : t("report.footer.incomplete", {
          good: measured(overall),
          n: num(overall.expected),
          est: pct(overall.expected ? overall.estimated / overall.expected : 0),
          miss: pct(overall.expected ? overall.missing / overall.expected : 0),
        });
  const incomplete = overall.estimated + overall.missing > 0;

  return {
    pageSize: "A4",
    pageOrientation: landscape ? "landscape" : "portrait",
    pageMargins: [40, 36, 40, 44],
    info: { title: `${d.site} — ${t(`report.title.${d.req.kind}`)} — ${periodTitle}`, creator: "Busbar", producer: "Busbar" },
    defaultStyle: { font: "DejaVu", fontSize: 9, color: INK },
    styles: {
      site: { fontSize: 10, color: MUTED },
      title: { fontSize: 16, bold: true, margin: [0, 2, 0, 2] },
      h2: { fontSize: 12, bold: true, margin: [0, 8, 0, 4] },
      h3: { fontSize: 9, bold: true, margin: [0, 6, 0, 3] },
      muted: { fontSize: 8, color: MUTED },
      kpiLabel: { fontSize: 7.5, color: MUTED },
      kpi: { fontSize: 12, bold: true },
      th: { bold: true, fontSize: 7, color: INK, fillColor: "#eef1f4" },
    },
    content,
    footer: (page: number, pages: number) => ({
      columns: [
        { text: footerText, color: incomplete ? WARN_INK : MUTED, bold: incomplete, fontSize: 7.5 },
        { text: t("report.page", { n: page, of: pages }), alignment: "right", width: 70, fontSize: 7.5, color: MUTED },
      ],
      margin: [40, 14, 40, 0],
    }),
    header: (page: number) => (page > 1 ? { text: `${d.site} — ${t(`report.title.${d.req.kind}`)} — ${periodTitle}`, fontSize: 7.5, color: MUTED, margin: [40, 18, 40, 0] } : undefined),
  };
}

const tableLayout = {
  hLineWidth: (i: number) => (i === 0 ? 0 : 0.4),
  vLineWidth: () => 0,
  hLineColor: () => GRID,
  paddingLeft: () => 3,
  paddingRight: () => 3,
  paddingTop: () => 1.5,
  paddingBottom: () => 1.5,
};

function legend(items: [string, string][]): Node {
  return {
    columns: items.map(([color, label]) => ({
      width: "auto",
      columns: [
        { width: 10, canvas: color === "hatch" ? hatch(0, 1, 8, 7, CURRENT) : [{ type: "rect", x: 0, y: 1, w: 8, h: 7, color }] },
        { width: "auto", text: label, fontSize: 7.5, color: MUTED },
      ],
      columnGap: 3,
    })),
    columnGap: 14,
    margin: [0, 2, 0, 4],
  };
}

/** A bar drawn hatched: outlined, with diagonal strokes (not fully measured, seen in grey print too). */
function hatch(x: number, y: number, w: number, h: number, color: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [{ type: "rect", x, y, w, h, color: "#ffffff", lineColor: color, lineWidth: 0.8 }];
  for (let k = -h; k < w; k += 3) {
    const x1 = Math.max(x, x + k);
    const y1 = y + h - Math.max(0, -k);
    const x2 = Math.min(x + w, x + k + h);
    const y2 = y + h - (x2 - (x + k));
    if (x2 > x1) out.push({ type: "line", x1, y1, x2, y2, lineWidth: 0.6, lineColor: color });
  }
  return out;
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** A text at a position relative to the flow, in a box of `w` (a positioned text alone ignores its width and alignment). */
function placed(x: number, y: number, w: number, text: Record<string, unknown>): Node {
  return { relativePosition: { x, y }, table: { widths: [w - 2], body: [[{ ...text, margin: [0, 0, 0, 0] }]] }, layout: { defaultBorder: false, paddingLeft: () => 0, paddingRight: () => 0, paddingTop: () => 0, paddingBottom: () => 0 } };
}

/** Grouped vertical bars with a value axis; a missing bucket gets a "—" under its slot. */
function barChart(o: { w: number; h: number; labels: string[]; series: { values: (number | null)[]; color: string; flags?: number[] }[]; fmt: (x: number) => string }): Node {
  const axisW = 44;
  const plotW = o.w - axisW;
  const n = o.labels.length;
  const max = niceMax(Math.max(0, ...o.series.flatMap((s) => s.values.filter((v): v is number => v !== null))));
  const min = Math.min(0, ...o.series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  const span = max - min || 1;
  const y = (v: number) => o.h - ((v - min) / span) * o.h;
  const canvas: Record<string, unknown>[] = [];
  const texts: Node[] = [];
  for (let k = 0; k <= 4; k++) {
    const v = min + (span * k) / 4;
    canvas.push({ type: "line", x1: axisW, y1: y(v), x2: o.w, y2: y(v), lineWidth: 0.4, lineColor: GRID });
    texts.push(placed(0, y(v) - o.h - 4 - 12, axisW - 4, { text: o.fmt(v), fontSize: 6.5, color: MUTED, alignment: "right" }));
  }
  const groupW = plotW / n;
  const barW = Math.min(18, (groupW * 0.78) / o.series.length);
  o.series.forEach((s, si) => {
    s.values.forEach((v, i) => {
      const f = s.flags?.[i] ?? 0;
      const x = axisW + i * groupW + (groupW - barW * o.series.length) / 2 + si * barW;
      if (v === null) return;
      if (f & Flag.MISSING && v === 0) {
        texts.push(placed(x - 4, -12 - 10, barW + 8, { text: "—", fontSize: 7, color: WARN_INK, alignment: "center" }));
        return;
      }
      const top = Math.min(y(v), y(0));
      const h = Math.max(0.5, Math.abs(y(v) - y(0)));
      if (f & (Flag.ESTIMATED | Flag.MISSING)) canvas.push(...hatch(x, top, barW, h, s.color));
      else canvas.push({ type: "rect", x, y: top, w: barW, h, color: s.color });
    });
  });
  canvas.push({ type: "line", x1: axisW, y1: y(0), x2: o.w, y2: y(0), lineWidth: 0.6, lineColor: MUTED });
  const step = n > 16 ? 1 : 1;
  for (let i = 0; i < n; i += step)
    texts.push(placed(axisW + i * groupW, -10, groupW, { text: o.labels[i]!, fontSize: n > 16 ? 5.5 : 7, color: MUTED, alignment: "center" }));
  return { stack: [{ canvas }, { text: " ", fontSize: 9 }, ...texts], margin: [0, 4, 0, 0], unbreakable: true };
}
