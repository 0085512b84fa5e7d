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
  const windowMs = (Number(root.dataset.windowMin) || 10) * 60 * 1000;
  const modeEl = document.querySelector(".tr-mode");
  const liveBtn = document.querySelector('[data-act="toggle"]');
  let chart = null;

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
      name.textContent = id + " — " + p.l + (p.u ? " (" + p.u + ")" : "");
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
    history.replaceState(null, "", u.pathname + (u.search ? u.search.replace(/%2C/g, ",") : ""));
    L.setStream("/api/stream?fmt=c&" + (selected.length ? "points=" + selected.map(encodeURIComponent).join(",") : "view=none"));
    renderPens();
    if (!selected.length) return;
    const pens = selected.map((id) => ({ id, label: id, unit: cat.points[id].u, states: cat.points[id].s }));
    chart = T.create(chartEl, pens, { height, windowMs, onMode });
    onMode(true);
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
    const act = e.target.closest("[data-act]");
    if (act && chart) {
      const a = act.dataset.act;
      if (a === "toggle") chart.setLive(!chart.isLive());
      else if (a === "zoomIn") chart.zoom(0.5);
      else if (a === "zoomOut") chart.zoom(2);
      else if (a === "panLeft") chart.pan(-0.25);
      else if (a === "panRight") chart.pan(0.25);
    }
  });

  build();
})();
