// Trends with uPlot over the historian: GET /api/history picks the tier that fits the range (raw
// samples, or 1 min … month means with their min–max band) and says which; the page draws what it
// got: bands for aggregated tiers, gaps as gaps (nulls, never a line across), steps (a stored value
// holds until the next one). The live window (≤ 1 h) also appends values from the page's stream.
// One y axis per unit, its unit written level above it. Zoom or pan pauses and fetches the new
// range; "Live" (or a range button) follows now again.
// Touch: one finger drags to pan (a tap shows the values under it), two fingers pinch to zoom.
// Mouse: wheel zooms, drag selects a span to zoom, double-click returns to live.
(function () {
  "use strict";
  const L = window.BusbarLive;
  if (!L || !window.uPlot) return;
  const TZ = document.documentElement.dataset.tz || undefined;
  const COLORS = ["#1f4e9c", "#8a4b12", "#2e6b32", "#6a1b9a", "#00737f", "#5d4037", "#9c1459", "#37474f"];
  const BAND = ["rgba(31,78,156,.18)", "rgba(138,75,18,.18)", "rgba(46,107,50,.18)", "rgba(106,27,154,.18)", "rgba(0,115,127,.18)", "rgba(93,64,55,.18)", "rgba(156,20,89,.18)", "rgba(55,71,79,.18)"];
  const DASH = [undefined, undefined, undefined, undefined, [10, 5], [10, 5], [4, 4], [4, 4]];
  const MIN = 60 * 1000;
  const DAY = 24 * 60 * MIN;
  /** Ranges a button picks, each ending now. */
  const RANGES = { live: 10 * MIN, hour: 60 * MIN, day: DAY, week: 7 * DAY, month: 30 * DAY, year: 365 * DAY };
  /** Windows up to this long keep appending live values; longer ones are refetched every minute. */
  const LIVE_APPEND_MAX = 60 * MIN;

  // ---- formatting: numbers and dates follow the page's language and the site's clock -----------
  const nfs = new Map();
  function nf(d) {
    let f = nfs.get(d);
    if (!f) nfs.set(d, (f = new Intl.NumberFormat(L.locale, { minimumFractionDigits: d, maximumFractionDigits: d })));
    return f;
  }
  function decimalsFor(step) {
    if (!(step > 0)) return 0;
    return Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  }
  const dtf = (o) => new Intl.DateTimeFormat(L.locale, Object.assign({ timeZone: TZ, hourCycle: "h23" }, o));
  const F = {
    sec: dtf({ hour: "2-digit", minute: "2-digit", second: "2-digit" }),
    min: dtf({ hour: "2-digit", minute: "2-digit" }),
    dayMin: dtf({ day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }),
    day: dtf({ day: "2-digit", month: "short" }),
    month: dtf({ month: "short", year: "numeric" }),
    full: dtf({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }),
  };
  function fmtX(ms, stepMs, spanMs) {
    const d = new Date(ms);
    if (stepMs < MIN) return F.sec.format(d);
    if (spanMs <= 2 * DAY) return F.min.format(d);
    if (stepMs < DAY) return F.dayMin.format(d);
    if (spanMs <= 400 * DAY) return F.day.format(d);
    return F.month.format(d);
  }

  async function fetchHistory(ids, from, to, max) {
    const q = "points=" + ids.map(encodeURIComponent).join(",") + "&from=" + Math.floor(from) + "&to=" + Math.ceil(to) + "&max=" + max;
    try {
      const r = await fetch("/api/history?" + q, { cache: "no-store" });
      if (!r.ok) return null;
      return await r.json();
    } catch {
      return null;
    }
  }

  /** A y range that never collapses on a steady value: at least 1 % of its size (or 1) tall. */
  function yRange(u, min, max) {
    if (min == null || max == null) return [0, 1];
    const span = Math.max(max - min, Math.abs(max) * 0.01, 1);
    const mid = (min + max) / 2;
    const [a, b] = uPlot.rangeNum(mid - span / 2, mid + span / 2, 0.1, true);
    return [a, b];
  }

  /**
   * pens: [{id, label, unit, states?}]; opts: {height, windowMs, compact, onMode(live), onData(info)}.
   * Returns {setLive, setWindow, setRange, zoom, pan, destroy, isLive, view, data, info, csv}.
   */
  function create(el, pens, opts) {
    opts = opts || {};
    const n = pens.length;
    let spanMs = opts.windowMs || RANGES.live;
    let live = true;
    let range = null; // [fromMs, toMs] while paused
    let info = { tier: null, intervalMs: null };
    const xs = [];
    const ys = pens.map(() => []);
    const mins = pens.map(() => []);
    const maxs = pens.map(() => []);
    const last = pens.map((p) => L.values.get(p.id) || null);
    const units = [];
    for (const p of pens) if (!units.includes(p.unit || "")) units.push(p.unit || "");
    const height = () => (typeof opts.height === "function" ? opts.height() : opts.height || 300);
    const fmt = (p) => (u, v) => (v == null ? "—" : L.fmtValue({ value: v }, p.states) + (p.unit ? " " + p.unit : ""));
    const steps = uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;
    const axisColor = (u) => (units.length > 1 ? COLORS[pens.findIndex((p) => (p.unit || "") === u) % COLORS.length] : "#333");
    const uopts = {
      width: Math.max(200, el.clientWidth || 300),
      height: height(),
      // Room above the plot for the units, written level (a rotated "V" read as "<").
      padding: [22, 8, 0, 0],
      tzDate: TZ ? (ts) => uPlot.tzDate(new Date(ts * 1e3), TZ) : undefined,
      scales: Object.fromEntries([["x", { time: true, auto: false }], ...units.map((u) => [u || "_", { auto: true, range: yRange }])]),
      series: [
        { label: L.t("trends.time"), value: (u, v) => (v == null ? "—" : F.full.format(new Date(v * 1000))) },
        ...pens.map((p, i) => ({
          label: p.label + (p.unit ? " (" + p.unit + ")" : ""),
          scale: p.unit || "_",
          stroke: COLORS[i % COLORS.length],
          dash: DASH[i % DASH.length],
          width: 2,
          spanGaps: false,
          paths: steps,
          value: fmt(p),
          points: { show: false },
        })),
        // The min and max of aggregated intervals: drawn as a band, not listed in the legend.
        ...[0, 1].flatMap((k) =>
          pens.map((p, i) => ({
            label: p.label + (k ? " max" : " min"),
            class: "tr-band-series",
            scale: p.unit || "_",
            stroke: "transparent",
            width: 0,
            spanGaps: false,
            paths: steps,
            points: { show: false },
            value: fmt(p),
          })),
        ),
      ],
      bands: pens.map((p, i) => ({ series: [1 + 2 * n + i, 1 + n + i], fill: BAND[i % BAND.length] })),
      axes: [
        {
          stroke: "#333",
          grid: { stroke: "#c4c4c4", width: 1 },
          ticks: { stroke: "#999" },
          space: 80,
          values: (self, splits) => {
            const stepMs = splits.length > 1 ? (splits[1] - splits[0]) * 1000 : MIN;
            const spanMs = (self.scales.x.max - self.scales.x.min) * 1000;
            return splits.map((v) => (v == null ? "" : fmtX(v * 1000, stepMs, spanMs)));
          },
        },
        ...units.map((u, i) => ({
          scale: u || "_",
          side: i % 2 ? 1 : 3,
          stroke: axisColor(u),
          grid: { show: i === 0, stroke: "#c4c4c4", width: 1 },
          size: 70,
          values: (self, splits) => {
            const d = decimalsFor(splits.length > 1 ? Math.abs(splits[1] - splits[0]) : 1);
            return splits.map((v) => (v == null ? "" : nf(d).format(v)));
          },
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
            setRange(a * 1000, b * 1000);
          },
        ],
        draw: [() => placeUnits()],
      },
    };
    const u = new uPlot(uopts, [xs, ...ys, ...mins, ...maxs], el);

    /** Each y axis's unit, level, above the axis. */
    function placeUnits() {
      u.axes.forEach((ax, i) => {
        if (i === 0 || !ax._el) return;
        let s = ax._el.querySelector(".tr-unit");
        if (!s) {
          s = document.createElement("span");
          s.className = "tr-unit";
          s.textContent = units[i - 1] || "";
          s.style.color = axisColor(units[i - 1]);
          ax._el.append(s);
        }
      });
    }

    const now = () => L.now(); // the server's clock: the live window ends where its samples do
    const cur = () => (live ? [now() - spanMs, now()] : range);
    function redraw() {
      u.setData([xs, ...ys, ...mins, ...maxs], false);
      const [a, b] = cur();
      u.setScale("x", { min: a / 1000, max: b / 1000 });
    }
    let raf = 0;
    const schedule = () => {
      if (!raf) raf = requestAnimationFrame(() => ((raf = 0), redraw()));
    };

    // ---- data ------------------------------------------------------------------------------------
    let loadSeq = 0;
    let loaded = false;
    const maxPoints = () => Math.max(200, Math.min(4000, Math.round((el.clientWidth || 800) * 1.5)));
    /** Fetches the window shown and replaces the data (one tier for every pen, times merged). */
    async function load() {
      const seq = ++loadSeq;
      const [from, to] = cur();
      el.dataset.ready = "";
      const res = await fetchHistory(
        pens.map((p) => p.id),
        from,
        to,
        maxPoints(),
      );
      if (destroyed || seq !== loadSeq) return;
      const series = (res && res.series) || [];
      const times = new Set();
      for (const s of series) for (const t of s.t) times.add(t);
      const sorted = [...times].sort((a, b) => a - b);
      const index = new Map(sorted.map((t, i) => [t, i]));
      xs.length = 0;
      xs.push(...sorted.map((t) => t / 1000));
      pens.forEach((p, i) => {
        const s = series[i] || { t: [], v: [] };
        for (const [target, src] of [
          [ys[i], s.v],
          [mins[i], s.min],
          [maxs[i], s.max],
        ]) {
          target.length = 0;
          const col = new Array(sorted.length).fill(null);
          if (src) s.t.forEach((t, k) => (col[index.get(t)] = typeof src[k] === "number" ? src[k] : null));
          target.push(...col);
        }
      });
      info = { tier: res ? res.tier : null, intervalMs: res ? res.intervalMs : null, from, to };
      loaded = true;
      if (live && spanMs <= LIVE_APPEND_MAX) sample(now());
      redraw();
      el.dataset.ready = "1";
      el.dataset.tier = info.tier || "";
      opts.onData && opts.onData(info);
    }
    let loadTimer = 0;
    const loadSoon = () => {
      clearTimeout(loadTimer);
      loadTimer = setTimeout(load, 250);
    };

    function valueOf(v) {
      return v && v.quality === "good" && typeof v.value === "number" ? v.value : null;
    }
    /** Live window: the pens' current values at the current second (a new point per second). */
    function sample(ms) {
      const x = Math.floor(ms / 1000);
      const k = xs.length;
      if (k && xs[k - 1] > x) return;
      if (!k || xs[k - 1] < x) {
        xs.push(x);
        for (let i = 0; i < n; i++) {
          ys[i].push(valueOf(last[i]));
          mins[i].push(null);
          maxs[i].push(null);
        }
      } else for (let i = 0; i < n; i++) ys[i][k - 1] = valueOf(last[i]);
      const keepFrom = (ms - spanMs) / 1000;
      let drop = 0;
      while (drop < xs.length - 1 && xs[drop + 1] < keepFrom) drop++;
      if (drop) {
        xs.splice(0, drop);
        for (const a of [...ys, ...mins, ...maxs]) a.splice(0, drop);
      }
    }
    const appending = () => loaded && live && spanMs <= LIVE_APPEND_MAX;
    const onValues = (changed) => {
      let hit = false;
      for (const v of changed) {
        const i = pens.findIndex((p) => p.id === v.id);
        if (i >= 0) {
          last[i] = v;
          hit = true;
        }
      }
      if (hit && appending()) {
        sample(now());
        schedule();
      }
    };
    L.on(onValues);
    let refetchAt = 0;
    const ticker = setInterval(() => {
      if (!loaded || !live) return;
      if (appending()) {
        sample(now());
        schedule();
      } else if (now() > refetchAt) {
        refetchAt = now() + 60_000; // a long window following now: new intervals once a minute
        load();
      } else schedule();
    }, 1000);

    // ---- view ------------------------------------------------------------------------------------
    function mode() {
      opts.onMode && opts.onMode(live);
    }
    /** Follow now with a window of `ms`. */
    function setWindow(ms) {
      spanMs = ms;
      live = true;
      range = null;
      refetchAt = now() + 60_000;
      mode();
      load();
    }
    function setLive(on) {
      if (on) return setWindow(spanMs);
      range = cur();
      live = false;
      mode();
      schedule();
    }
    /** A fixed range (ms); paused. */
    function setRange(a, b) {
      const min = Math.min(a, b);
      const max = Math.max(a, b);
      if (max - min < 5000) return;
      range = [min, max];
      if (live) {
        live = false;
        mode();
      }
      schedule();
      loadSoon();
    }
    /** Live: a shorter or longer window that keeps following now. Paused: zoom around a time. */
    function zoom(f, centerMs) {
      if (live && centerMs === undefined) {
        spanMs = Math.max(10_000, Math.min(10 * 365 * DAY, spanMs * f));
        schedule();
        loadSoon();
        return;
      }
      const [a, b] = cur();
      const c = centerMs ?? (a + b) / 2;
      setRange(c - (c - a) * f, c + (b - c) * f);
    }
    function pan(fraction) {
      const [a, b] = cur();
      const d = (b - a) * fraction;
      setRange(a + d, b + d);
    }

    /** CSV of what is on screen: the visible times, each pen's value (and band), in the page's language. */
    function csv() {
      const fr = L.lang === "fr";
      const sep = fr ? ";" : ",";
      const num = (v) => (v == null ? "" : fr ? String(v).replace(".", ",") : String(v));
      const [a, b] = cur();
      const banded = info.tier && info.tier !== "raw";
      const head = [L.t("trends.time") + (TZ ? " (" + TZ + ")" : "")];
      for (const p of pens) {
        const name = p.label + (p.unit ? " (" + p.unit + ")" : "");
        head.push(name);
        if (banded) head.push(name + " min", name + " max");
      }
      const q = (s) => (/[";,\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s);
      const lines = [head.map(q).join(sep)];
      const iso = dtf({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
      for (let k = 0; k < xs.length; k++) {
        const ms = xs[k] * 1000;
        if (ms < a || ms > b) continue;
        const row = [iso.format(new Date(ms))];
        for (let i = 0; i < n; i++) {
          row.push(num(ys[i][k]));
          if (banded) row.push(num(mins[i][k]), num(maxs[i][k]));
        }
        lines.push(row.join(sep));
      }
      return "\ufeff" + lines.join("\r\n") + "\r\n";
    }

    // ---- touch and mouse -------------------------------------------------------------------------
    const over = u.over;
    let touch = null;
    const xOf = (clientX) => u.posToVal(clientX - over.getBoundingClientRect().left, "x") * 1000;
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
    load();

    const ctl = {
      chart: u,
      isLive: () => live,
      /** The window shown (s), as uPlot's x scale has it. */
      view: () => cur().map((x) => x / 1000),
      info: () => info,
      setLive,
      setWindow,
      setRange,
      zoom,
      pan,
      csv,
      data: () => [xs, ...ys],
      bands: () => [mins, maxs],
      destroy() {
        destroyed = true;
        clearInterval(ticker);
        clearTimeout(loadTimer);
        ro.disconnect();
        L.off(onValues);
        u.destroy();
      },
    };
    // The last chart made, for tests and the browser console.
    window.BusbarTrendLast = ctl;
    return ctl;
  }

  /** Downloads text as a file. */
  function download(name, text, type) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type: type || "text/csv;charset=utf-8" }));
    a.download = name;
    document.body.append(a);
    a.click();
    setTimeout(() => {
      URL.revokeObjectURL(a.href);
      a.remove();
    }, 1000);
  }

  /**
   * The detail panel's trend: one pen, compact; buttons [data-trend-range] beside it (10 min, hour,
   * day, week…) take it back in time.
   */
  function mini(el, id, unit, label) {
    const ctl = create(el, [{ id, unit, label }], { height: 200, compact: true });
    const box = el.closest(".detail-trend") || el.parentElement;
    const buttons = box ? box.querySelectorAll("[data-trend-range]") : [];
    const mark = (key) => buttons.forEach((b) => b.setAttribute("aria-pressed", b.dataset.trendRange === key ? "true" : "false"));
    buttons.forEach((b) =>
      b.addEventListener("click", () => {
        const key = b.dataset.trendRange;
        if (RANGES[key]) ctl.setWindow(RANGES[key]);
        mark(key);
      }),
    );
    mark("live");
    return ctl;
  }

  window.BusbarTrend = { create, mini, download, RANGES };
})();
