// Trends page: the pens chosen (kept in the URL, ?p=A.x,B.y), the chart (trend.js), the toolbar.
(function () {
  "use strict";
  const L = window.BusbarLive;
  const T = window.BusbarTrend;
  const catEl = document.getElementById("trend-catalog");
  if (!L || !T || !catEl) return;
  const cat = JSON.parse(catEl.textContent);
  const MAX = 8;
  let selected = cat.selected.slice(0, MAX);
  const chartEl = document.getElementById("trend-chart");
  const pensEl = document.getElementById("pens");
  const root = document.querySelector(".trends");
  const modeEl = document.querySelector(".tr-mode");
  const tierEl = document.querySelector(".tr-tier");
  const liveBtn = document.querySelector('[data-act="toggle"]');
  const customForm = document.querySelector(".tr-custom");
  const customBtn = document.querySelector('[data-range="custom"]');
  let chart = null;
  /** The range chosen (kept in the URL too: ?r=day, or ?from=&to= for a custom one). */
  const url0 = new URL(location.href);
  let rangeKey = T.RANGES[url0.searchParams.get("r")] ? url0.searchParams.get("r") : "live";
  let custom = null;
  if (url0.searchParams.get("from") && url0.searchParams.get("to")) {
    const a = Number(url0.searchParams.get("from"));
    const b = Number(url0.searchParams.get("to"));
    if (b > a) {
      custom = [a, b];
      rangeKey = "custom";
    }
  }
  /** A pen's name: the device's designation and label, then the point's (never its id). */
  const penName = (id) => {
    const p = cat.points[id];
    const dev = !p.dl ? p.d : p.dl.includes(p.d) ? p.dl : p.d + " " + p.dl;
    return dev + " · " + p.l;
  };
  function markRange() {
    for (const b of document.querySelectorAll(".tr-range")) b.setAttribute("aria-pressed", b.dataset.range === rangeKey ? "true" : "false");
  }
  function onData(info) {
    const tier = info.tier ? L.t("trends.tier." + info.tier) : "";
    tierEl.textContent = tier + (info.tier && info.tier !== "raw" && info.tier !== "live-ring" ? " · " + L.t("trends.band") : "");
    tierEl.dataset.tier = info.tier || "";
  }

  const height = () => Math.max(260, Math.min(620, window.innerHeight - 300));

  function onMode(live) {
    modeEl.dataset.mode = live ? "live" : "paused";
    modeEl.textContent = L.t(live ? "trends.live" : "trends.paused");
    liveBtn.textContent = L.t(live ? "trends.pause" : "trends.resume");
    liveBtn.setAttribute("aria-pressed", live ? "false" : "true");
  }

  function renderPens() {
    pensEl.innerHTML = "";
    if (!selected.length) {
      const li = document.createElement("li");
      li.className = "pens-none";
      li.textContent = L.t("trends.none");
      pensEl.append(li);
    }
    selected.forEach((id, i) => {
      const p = cat.points[id];
      const li = document.createElement("li");
      li.className = "pen pen-" + i;
      const name = document.createElement("span");
      name.className = "pen-name";
      name.textContent = penName(id) + (p.u ? " (" + p.u + ")" : "");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "btn pen-remove";
      b.dataset.id = id;
      b.textContent = "✕";
      b.setAttribute("aria-label", L.t("trends.remove", { label: p.l }));
      li.append(name, b);
      pensEl.append(li);
    });
    for (const b of document.querySelectorAll(".pick")) b.setAttribute("aria-pressed", selected.includes(b.dataset.id) ? "true" : "false");
  }

  function build() {
    if (chart) chart.destroy();
    chart = null;
    chartEl.innerHTML = "";
    const u = new URL(location.href);
    if (selected.length) u.searchParams.set("p", selected.join(","));
    else u.searchParams.delete("p");
    for (const k of ["r", "from", "to"]) u.searchParams.delete(k);
    if (rangeKey === "custom" && custom) {
      u.searchParams.set("from", String(Math.round(custom[0])));
      u.searchParams.set("to", String(Math.round(custom[1])));
    } else if (rangeKey !== "live") u.searchParams.set("r", rangeKey);
    history.replaceState(null, "", u.pathname + (u.search ? u.search.replace(/%2C/g, ",") : ""));
    L.setStream("/api/stream?fmt=c&" + (selected.length ? "points=" + selected.map(encodeURIComponent).join(",") : "view=none"));
    renderPens();
    if (!selected.length) return;
    const pens = selected.map((id) => ({ id, label: penName(id), unit: cat.points[id].u, states: cat.points[id].s }));
    chart = T.create(chartEl, pens, { height, windowMs: T.RANGES[rangeKey] || T.RANGES.live, onMode, onData });
    if (rangeKey === "custom" && custom) chart.setRange(custom[0], custom[1]);
    else onMode(true);
    markRange();
  }

  document.addEventListener("click", (e) => {
    const pick = e.target.closest(".pick");
    if (pick) {
      const id = pick.dataset.id;
      if (selected.includes(id)) selected = selected.filter((x) => x !== id);
      else if (selected.length < MAX) selected = [...selected, id];
      else {
        // No dialog on a touchscreen: say it where the pens are listed.
        const li = document.createElement("li");
        li.className = "pens-none";
        li.textContent = L.t("trends.maxPens");
        pensEl.append(li);
        return;
      }
      build();
      return;
    }
    const rm = e.target.closest(".pen-remove");
    if (rm) {
      selected = selected.filter((x) => x !== rm.dataset.id);
      build();
      return;
    }
    const rb = e.target.closest(".tr-range");
    if (rb) {
      if (rb.dataset.range === "custom") {
        const open = customForm.hidden;
        customForm.hidden = !open;
        customBtn.setAttribute("aria-expanded", open ? "true" : "false");
        if (open) fillCustom();
        return;
      }
      rangeKey = rb.dataset.range;
      custom = null;
      customForm.hidden = true;
      if (chart) chart.setWindow(T.RANGES[rangeKey]);
      markRange();
      keepUrl();
      return;
    }
    const act = e.target.closest("[data-act]");
    if (act && act.dataset.act === "csv") {
      if (!chart) return;
      const stamp = new Date().toISOString().slice(0, 16).replace(/[-:]/g, "").replace("T", "-");
      T.download("trend-" + stamp + ".csv", chart.csv());
      return;
    }
    if (act && chart) {
      const a = act.dataset.act;
      if (a === "toggle") chart.setLive(!chart.isLive());
      else if (a === "zoomIn") chart.zoom(0.5);
      else if (a === "zoomOut") chart.zoom(2);
      else if (a === "panLeft") chart.pan(-0.25);
      else if (a === "panRight") chart.pan(0.25);
    }
  });

  // Custom range: the native date-time pickers (touch-friendly on a kiosk), prefilled with the view.
  const TZ = document.documentElement.dataset.tz || undefined;
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  function toLocalInput(ms) {
    const o = Object.fromEntries(parts.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
    return o.year + "-" + o.month + "-" + o.day + "T" + o.hour + ":" + o.minute;
  }
  /** A wall-clock time of the site's zone (yyyy-mm-ddThh:mm) as ms since 1970. */
  function fromLocalInput(s) {
    const guess = Date.parse(s + ":00Z");
    if (Number.isNaN(guess)) return NaN;
    const back = Date.parse(toLocalInput(guess) + ":00Z");
    return guess - (back - guess);
  }
  function fillCustom() {
    const [a, b] = chart ? chart.view().map((x) => x * 1000) : [Date.now() - 86400000, Date.now()];
    customForm.elements.from.value = toLocalInput(a);
    customForm.elements.to.value = toLocalInput(b);
  }
  customForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const a = fromLocalInput(customForm.elements.from.value);
    const b = fromLocalInput(customForm.elements.to.value);
    if (!(b > a)) return;
    custom = [a, b];
    rangeKey = "custom";
    if (chart) chart.setRange(a, b);
    markRange();
    keepUrl();
  });
  function keepUrl() {
    const u = new URL(location.href);
    for (const k of ["r", "from", "to"]) u.searchParams.delete(k);
    if (rangeKey === "custom" && custom) {
      u.searchParams.set("from", String(Math.round(custom[0])));
      u.searchParams.set("to", String(Math.round(custom[1])));
    } else if (rangeKey !== "live") u.searchParams.set("r", rangeKey);
    history.replaceState(null, "", u.pathname + (u.search ? u.search.replace(/%2C/g, ",") : ""));
  }

  build();
})();
