/* Energy bars (src/views/energy/energy-page.tsx). Stacked circuits or side-by-side devices/zones, the
 * previous period as a thin grey bar beside each, estimated buckets hatched, bad data marked "!",
 * buckets without data left empty with a dash. All numbers come from the page's JSON. */
(function () {
  "use strict";
  const el = document.getElementById("energy-chart");
  const dataEl = document.getElementById("energy-data");
  if (!el || !dataEl || typeof uPlot === "undefined") return;
  const v = JSON.parse(dataEl.textContent);
  // Colours and share bars through the CSSOM: the page's CSP allows no inline style attributes.
  for (const d of document.querySelectorAll(".en-dot[data-color]")) d.style.background = d.dataset.color;
  for (const b of document.querySelectorAll(".en-bar[data-pct]")) b.style.width = `${b.dataset.pct}%`;
  const EST = 1, BAD = 2, MISSING = 8;
  const n = v.starts.length;
  const xs = v.starts.map((_, i) => i);
  const fmtX = (() => {
    const o = { timeZone: v.tz };
    if (v.bucket === "hour") Object.assign(o, { hour: "2-digit", hourCycle: "h23" });
    else if (v.bucket === "day") Object.assign(o, { day: "numeric" });
    else if (v.bucket === "month") Object.assign(o, { month: "short" });
    else Object.assign(o, { year: "numeric" });
    const f = new Intl.DateTimeFormat(v.locale, o);
    return (i) => (i >= 0 && i < n ? f.format(v.starts[i] + 1) : "");
  })();
  const costView = v.req.view === "cost";
  const val = (s) => (costView ? s.cost.map((c) => (c === null ? 0 : c)) : s.value);
  // Stacks: each stacked series drawn to its cumulative height, largest first, so they read as one column.
  const stacked = v.series.filter((s) => s.stacked);
  const sideBySide = v.series.filter((s) => !s.stacked);
  const cum = [];
  let acc = new Array(n).fill(0);
  for (const s of stacked) {
    const vals = val(s);
    acc = acc.map((a, i) => a + Math.max(0, vals[i]));
    cum.push(acc.slice());
  }
  const missing = (i) => v.series.every((s) => s.flags[i] & MISSING);
  const series = [{ label: v.i18n.when }];
  const data = [xs];
  const bars = (size, align) => uPlot.paths.bars({ size: [size, 90], align });
  const groups = (v.previous ? 1 : 0) + (stacked.length ? 1 : 0) + sideBySide.length;
  const width = Math.min(0.8 / Math.max(1, groups), 0.6);
  if (v.previous && !costView) {
    series.push({ label: v.i18n.previous, stroke: "#8f8f8f", fill: "#d4d4d4", width: 1, paths: bars(width * 0.7, -1), points: { show: false } });
    data.push(v.previous.value.map((x) => (Number.isNaN(x) ? null : x)));
  }
  for (let k = stacked.length - 1; k >= 0; k--) {
    const s = stacked[k];
    series.push({ label: s.label, stroke: s.color, fill: s.color, width: 0, paths: bars(width, v.previous && !costView ? 1 : 0), points: { show: false } });
    data.push(cum[k].map((x, i) => (missing(i) ? null : x)));
  }
  // Up to two overlapping series side by side as bars; more (zones share devices, so they must not
  // stack) as lines with a dot per bucket.
  const asLines = sideBySide.length > 2;
  sideBySide.forEach((s, k) => {
    if (asLines) series.push({ label: s.label, stroke: s.color, width: 2.5, points: { show: true, size: 7, fill: s.color } });
    else series.push({ label: s.label, stroke: s.color, fill: s.color, width: 0, paths: bars(width, sideBySide.length > 1 ? (k === 0 ? -1 : 1) : 1), points: { show: false } });
    data.push(val(s).map((x, i) => (s.flags[i] & MISSING ? null : x)));
  });
  const flagsAt = (i) => v.series.reduce((f, s) => f | s.flags[i], 0);
  const num = new Intl.NumberFormat(v.locale, { maximumFractionDigits: 0 });
  /** Marks drawn over the bars: hatch for estimated, "!" for held bad data, a dash for no data. */
  const marks = (u) => {
    const ctx = u.ctx;
    const dpr = devicePixelRatio || 1;
    ctx.save();
    ctx.font = `${700} ${14 * dpr}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    for (let i = 0; i < n; i++) {
      const f = flagsAt(i);
      const x = u.valToPos(i, "x", true);
      const w = (u.bbox.width / n) * 0.8;
      const top = u.valToPos(Math.max(0, ...data.slice(1).map((d) => d[i] || 0)), "y", true);
      const bottom = u.valToPos(0, "y", true);
      if (f & EST && !missing(i)) {
        ctx.strokeStyle = "rgba(20,20,20,.55)";
        ctx.lineWidth = 1.5 * dpr;
        ctx.beginPath();
        ctx.rect(x - w / 2, top, w, bottom - top);
        ctx.clip();
        for (let y = top - w; y < bottom + w; y += 7 * dpr) {
          ctx.moveTo(x - w / 2, y + w);
          ctx.lineTo(x + w / 2, y);
        }
        ctx.stroke();
        ctx.restore();
        ctx.save();
        ctx.font = `${700} ${14 * dpr}px system-ui, sans-serif`;
        ctx.textAlign = "center";
        ctx.fillStyle = "#1a1a1a";
        ctx.fillText("≈", x, top - 4 * dpr);
      }
      if (f & BAD) {
        ctx.fillStyle = "#b8007a";
        ctx.fillText("!", x, top - 18 * dpr);
      }
      if (missing(i) && v.starts[i] < (window.BusbarLive ? window.BusbarLive.now() : Date.now())) {
        ctx.fillStyle = "#6b6b6b";
        ctx.fillText("–", x, bottom - 6 * dpr);
      }
    }
    ctx.restore();
  };
  const unit = costView ? v.currency : "kWh";
  const opts = {
    width: el.clientWidth || 800,
    height: Math.max(240, Math.min(520, Math.round((el.clientWidth || 800) * 0.42))),
    scales: { x: { time: false, range: [-0.6, n - 0.4] }, y: { range: (u, mn, mx) => [0, mx > 0 ? mx * 1.12 : 1] } },
    axes: [
      { values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? fmtX(t) : "")), incrs: [1, 2, 3, 4, 6, 12], grid: { show: false }, stroke: "#333" },
      { label: unit, values: (u, ticks) => ticks.map((t) => num.format(t)), size: 70, stroke: "#333", grid: { stroke: "#bdbdbd", width: 1 } },
    ],
    legend: { live: true },
    cursor: { points: { show: false }, drag: { x: false, y: false } },
    series,
    hooks: { draw: [marks] },
  };
  // Legend values: the series' own amount, not the stack's height.
  series.forEach((s, k) => {
    if (k === 0) {
      s.value = (u, i) => (i == null ? "" : fmtX(i));
      return;
    }
    s.value = (u, y, si, i) => {
      if (i == null || y == null) return "–";
      const own = si - (v.previous && !costView ? 1 : 0);
      let amount = y;
      const ks = stacked.length - 1 - own;
      if (own >= 0 && own < stacked.length) amount = val(stacked[ks])[i];
      return `${num.format(amount)} ${unit}`;
    };
  });
  let u = new uPlot(opts, data, el);
  let w = el.clientWidth;
  new ResizeObserver(() => {
    if (Math.abs(el.clientWidth - w) < 4) return;
    w = el.clientWidth;
    u.setSize({ width: w, height: Math.max(240, Math.min(520, Math.round(w * 0.42))) });
  }).observe(el);
  // The lobby screen refreshes itself: the period stays, the numbers move.
  if (document.body.classList.contains("lobby")) setTimeout(() => location.reload(), 60_000);
})();
