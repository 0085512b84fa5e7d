// Live trends with uPlot: history from GET /api/points/:id/history (the shared live ring today, the
// historian later), then live values from the page's stream, one point per history slot.
// One y axis per unit. Live mode follows "now"; zooming or panning pauses; "Live" resumes.
// Touch: one finger drags to pan (a tap shows the values under it), two fingers pinch to zoom.
// Mouse: wheel zooms, drag selects a span to zoom, double-click returns to live.
(function () {
  "use strict";
  const L = window.BusbarLive;
  if (!L || !window.uPlot) return;
  const TZ = document.documentElement.dataset.tz || undefined;
  const COLORS = ["#1f4e9c", "#8a4b12", "#2e6b32", "#6a1b9a", "#00737f", "#5d4037", "#9c1459", "#37474f"];
  const DASH = [undefined, undefined, undefined, undefined, [10, 5], [10, 5], [4, 4], [4, 4]];
  const SLOT_MS = 1000;
  const KEEP_MS = 60 * 60 * 1000;

  async function history(id, from) {
    try {
      const r = await fetch("/api/points/" + encodeURIComponent(id) + "/history?from=" + from, { cache: "no-store" });
      if (!r.ok) return { t: [], v: [], slotMs: SLOT_MS };
      return await r.json();
    } catch {
      return { t: [], v: [], slotMs: SLOT_MS };
    }
  }

  /**
   * pens: [{id, label, unit, states?}]; opts: {height, windowMs, compact, onMode(live)}.
   * Returns {setPaused, zoom, pan, destroy, isLive, chart}.
   */
  /** A y range that never collapses on a steady value: at least 1 % of its size (or 1) tall. */
  function yRange(u, min, max) {
    if (min == null || max == null) return [0, 1];
    const span = Math.max(max - min, Math.abs(max) * 0.01, 1);
    const mid = (min + max) / 2;
    const [a, b] = uPlot.rangeNum(mid - span / 2, mid + span / 2, 0.1, true);
    return [a, b];
  }

  function create(el, pens, opts) {
    opts = opts || {};
    let windowMs = opts.windowMs || 10 * 60 * 1000;
    let live = true;
    let range = null; // [minS, maxS] while paused
    let slotMs = SLOT_MS;
    const xs = [];
    const ys = pens.map(() => []);
    const last = pens.map((p) => {
      const v = L.values.get(p.id);
      return v ? v : null;
    });
    const units = [];
    for (const p of pens) if (!units.includes(p.unit || "")) units.push(p.unit || "");
    const height = () => (typeof opts.height === "function" ? opts.height() : opts.height || 300);
    const fmt = (p) => (u, v) => (v == null ? "—" : L.fmtValue({ value: v }, p.states) + (p.unit ? " " + p.unit : ""));
    const uopts = {
      width: Math.max(200, el.clientWidth || 300),
      height: height(),
      tzDate: TZ ? (ts) => uPlot.tzDate(new Date(ts * 1e3), TZ) : undefined,
      scales: Object.fromEntries([["x", { time: true, auto: false }], ...units.map((u) => [u || "_", { auto: true, range: yRange }])]),
      series: [
        { label: L.t("trends.time"), value: (u, v) => (v == null ? "—" : L.fmtTime(v * 1000)) },
        ...pens.map((p, i) => ({
          label: p.label + (p.unit ? " (" + p.unit + ")" : ""),
          scale: p.unit || "_",
          stroke: COLORS[i % COLORS.length],
          dash: DASH[i % DASH.length],
          width: 2,
          spanGaps: false,
          value: fmt(p),
          points: { show: false },
        })),
      ],
      axes: [
        {
          stroke: "#333",
          grid: { stroke: "#c4c4c4", width: 1 },
          ticks: { stroke: "#999" },
          // 24 h wall clock; seconds when the span is short.
          space: 70,
          values: (self, splits) => {
            const step = splits.length > 1 ? splits[1] - splits[0] : 60;
            return splits.map((v) => (v == null ? "" : step < 60 ? L.fmtTime(v * 1000) : L.fmtTime(v * 1000).slice(0, 5)));
          },
        },
        ...units.map((u, i) => ({
          scale: u || "_",
          side: i % 2 ? 1 : 3,
          label: u,
          stroke: units.length > 1 ? COLORS[pens.findIndex((p) => (p.unit || "") === u) % COLORS.length] : "#333",
          grid: { show: i === 0, stroke: "#c4c4c4", width: 1 },
          size: 70,
        })),
      ],
      cursor: { drag: { x: true, y: false, setScale: false }, points: { size: 8 } },
      legend: { live: true, show: !opts.compact || pens.length > 0 },
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 8) return;
            const a = u.posToVal(u.select.left, "x");
            const b = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
            setRange(a, b);
          },
        ],
      },
    };
    const u = new uPlot(uopts, [xs, ...ys], el);

    function nowS() {
      return Date.now() / 1000;
    }
    function redraw() {
      u.setData([xs, ...ys], false);
      if (live) u.setScale("x", { min: nowS() - windowMs / 1000, max: nowS() });
      else u.setScale("x", { min: range[0], max: range[1] });
    }
    let raf = 0;
    const schedule = () => {
      if (!raf) raf = requestAnimationFrame(() => ((raf = 0), redraw()));
    };

    function setLive(on) {
      live = on;
      if (on) range = null;
      opts.onMode && opts.onMode(live);
      schedule();
    }
    function setRange(a, b) {
      const min = Math.min(a, b);
      const max = Math.max(a, b);
      if (max - min < 5) return;
      range = [min, max];
      if (live) {
        live = false;
        opts.onMode && opts.onMode(false);
      }
      schedule();
    }
    const cur = () => (live ? [nowS() - windowMs / 1000, nowS()] : range);
    /** Live: a shorter or longer window that keeps following now. Paused: zoom around a time. */
    function zoom(f, centerS) {
      if (live && centerS === undefined) {
        windowMs = Math.max(10_000, Math.min(KEEP_MS, windowMs * f));
        schedule();
        return;
      }
      const [a, b] = cur();
      const c = centerS ?? (a + b) / 2;
      setRange(c - (c - a) * f, c + (b - c) * f);
    }
    function pan(fraction) {
      const [a, b] = cur();
      const d = (b - a) * fraction;
      setRange(a + d, b + d);
    }

    // ---- data ------------------------------------------------------------------------------------
    function valueOf(v) {
      return v && v.quality === "good" && typeof v.value === "number" ? v.value : null;
    }
    /** Writes the pens' current values into the slot of `ms` (appending slots up to it). */
    let gridMs = 0; // the history's slot grid: slot starts are gridMs + k × slotMs
    function sample(ms) {
      const slotS = (Math.floor((ms - gridMs) / slotMs) * slotMs + gridMs) / 1000;
      const n = xs.length;
      if (n && xs[n - 1] > slotS) return;
      if (!n || xs[n - 1] < slotS) {
        xs.push(slotS);
        for (let i = 0; i < pens.length; i++) ys[i].push(valueOf(last[i]));
      } else for (let i = 0; i < pens.length; i++) ys[i][n - 1] = valueOf(last[i]);
      const keepFrom = (ms - KEEP_MS) / 1000;
      let drop = 0;
      while (drop < xs.length && xs[drop] < keepFrom) drop++;
      if (drop) {
        xs.splice(0, drop);
        for (const y of ys) y.splice(0, drop);
      }
    }
    const onValues = (changed) => {
      let hit = false;
      for (const v of changed) {
        const i = pens.findIndex((p) => p.id === v.id);
        if (i >= 0) {
          last[i] = v;
          hit = true;
        }
      }
      if (hit && loaded) {
        sample(Date.now());
        schedule();
      }
    };
    L.on(onValues);
    let loaded = false;
    const ticker = setInterval(() => {
      if (!loaded) return;
      sample(Date.now());
      schedule();
    }, slotMs);

    (async () => {
      const from = Date.now() - windowMs;
      const hs = await Promise.all(pens.map((p) => history(p.id, from)));
      if (destroyed) return;
      slotMs = hs[0]?.slotMs || SLOT_MS;
      const times = new Set();
      for (const h of hs) for (const t of h.t) times.add(t);
      const sorted = [...times].sort((a, b) => a - b);
      if (sorted.length) gridMs = sorted[0] % slotMs;
      const index = new Map(sorted.map((t, i) => [t, i]));
      xs.push(...sorted.map((t) => t / 1000));
      hs.forEach((h, i) => {
        const col = new Array(sorted.length).fill(null);
        h.t.forEach((t, k) => (col[index.get(t)] = h.v[k]));
        ys[i].push(...col);
      });
      loaded = true;
      sample(Date.now());
      redraw();
      el.dataset.ready = "1";
    })();

    // ---- touch and mouse -------------------------------------------------------------------------
    const over = u.over;
    let touch = null;
    const xOf = (clientX) => u.posToVal(clientX - over.getBoundingClientRect().left, "x");
    over.addEventListener(
      "touchstart",
      (e) => {
        const [a, b] = cur();
        if (e.touches.length === 1) {
          const t0 = e.touches[0];
          touch = { mode: "tap", x: t0.clientX, y: t0.clientY, a, b };
        } else if (e.touches.length === 2) {
          const [p, q] = e.touches;
          touch = { mode: "pinch", d: Math.abs(p.clientX - q.clientX) || 1, c: xOf((p.clientX + q.clientX) / 2), a, b };
        }
        e.preventDefault();
      },
      { passive: false },
    );
    over.addEventListener(
      "touchmove",
      (e) => {
        if (!touch) return;
        const w = over.clientWidth || 1;
        if (touch.mode !== "pinch" && e.touches.length === 1) {
          const dx = e.touches[0].clientX - touch.x;
          if (touch.mode === "tap" && Math.abs(dx) > 8) touch.mode = "pan";
          if (touch.mode === "pan") {
            const d = (-dx / w) * (touch.b - touch.a);
            setRange(touch.a + d, touch.b + d);
          }
        } else if (e.touches.length === 2 && touch.mode === "pinch") {
          const [p, q] = e.touches;
          const f = touch.d / (Math.abs(p.clientX - q.clientX) || 1);
          setRange(touch.c - (touch.c - touch.a) * f, touch.c + (touch.b - touch.c) * f);
        }
        e.preventDefault();
      },
      { passive: false },
    );
    over.addEventListener("touchend", (e) => {
      if (touch && touch.mode === "tap") {
        const r = over.getBoundingClientRect();
        u.setCursor({ left: touch.x - r.left, top: touch.y - r.top });
      }
      if (!e.touches.length) touch = null;
    });
    over.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        zoom(e.deltaY > 0 ? 1.25 : 0.8, live ? undefined : xOf(e.clientX));
      },
      { passive: false },
    );
    over.addEventListener("dblclick", () => setLive(true));

    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: height() }));
    ro.observe(el);
    let destroyed = false;

    const ctl = {
      chart: u,
      isLive: () => live,
      /** The x window shown (s): follows now while live. */
      view: () => cur(),
      setLive,
      zoom,
      pan,
      data: () => [xs, ...ys],
      destroy() {
        destroyed = true;
        clearInterval(ticker);
        ro.disconnect();
        L.off(onValues);
        u.destroy();
      },
    };
    // The last chart made, for tests and the browser console.
    window.BusbarTrendLast = ctl;
    return ctl;
  }

  /** The detail panel's trend: one pen, the ring's window, compact. */
  function mini(el, id, unit, label) {
    return create(el, [{ id, unit, label }], { height: 200, compact: true });
  }

  window.BusbarTrend = { create, mini };
})();
