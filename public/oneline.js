// One-line diagram: derived states (breaker CLOSED/OPEN/TRIPPED/UNKNOWN, ATS position, source
// status, energized wires) recomputed from live values with the rules of src/hmi/oneline/state.ts,
// and the detail panel a tap opens (htmx fragment + leased points + live trend).
(function () {
  "use strict";
  const L = window.BusbarLive;
  const graphEl = document.getElementById("ol-graph");
  if (!L || !graphEl) return;
  const G = JSON.parse(graphEl.textContent).nodes;
  const t = L.t;
  const vals = L.values;

  /** point id → node ids that depend on it */
  const byPoint = new Map();
  for (const [id, n] of Object.entries(G)) for (const p of n.pts) (byPoint.get(p) || byPoint.set(p, []).get(p)).push(id);
  /** Points whose change can change energization. */
  const topo = new Set();
  for (const n of Object.values(G)) for (const p of [n.closed, n.tripped, n.onN, n.onE, n.avail, n.run]) if (p) topo.add(p);

  const nodeEls = new Map();
  for (const el of document.querySelectorAll(".nd[data-id]")) (nodeEls.get(el.dataset.id) || nodeEls.set(el.dataset.id, []).get(el.dataset.id)).push(el);
  const wireEls = new Map();
  for (const el of document.querySelectorAll("[data-e]")) (wireEls.get(el.dataset.e) || wireEls.set(el.dataset.e, []).get(el.dataset.e)).push(el);

  // ---- rules (same as state.ts) ------------------------------------------------------------------
  const bit = (id) => {
    if (!id) return -1;
    const v = vals.get(id);
    if (!v || v.quality !== "good" || typeof v.value !== "number") return -1;
    return v.value ? 1 : 0;
  };
  function breakerState(n) {
    const tr = bit(n.tripped);
    const cl = bit(n.closed);
    if (tr === 1) return "tripped";
    if (cl === -1 || (n.tripped && tr === -1)) return "unknown";
    return cl === 1 ? "closed" : "open";
  }
  function atsPosition(n) {
    const a = bit(n.onN);
    const b = bit(n.onE);
    if (a === -1 || b === -1) {
      if (a === 1 && !n.onE) return "normal";
      if (b === 1 && !n.onN) return "emergency";
      return "unknown";
    }
    if (a === 1 && b === 0) return "normal";
    if (b === 1 && a === 0) return "emergency";
    if (a === 0 && b === 0) return "neutral";
    return "unknown";
  }
  function sourceState(n) {
    if (n.noData) return "nodata";
    if (n.run) {
      const r = bit(n.run);
      return r === 1 ? "running" : r === 0 ? "stopped" : "unknown";
    }
    if (n.avail) {
      const a = bit(n.avail);
      return a === 1 ? "live" : a === 0 ? "lost" : "unknown";
    }
    return n.sk === "utility" || n.sk === "generator" ? "unknown" : "none";
  }
  function sourceLive(n) {
    if (n.sk !== "utility" && n.sk !== "generator" && n.sk !== "pv") return 0;
    if (n.avail) return bit(n.avail);
    if (n.run) return bit(n.run);
    return -1;
  }
  function quality(n) {
    for (const p of n.pts) {
      const v = vals.get(p);
      const q = v ? v.quality : "init";
      if (q !== "good") return q;
    }
    return n.noData ? "nodata" : "good";
  }
  /** The node on a breaker's load side (itself for any other node). */
  function after(id) {
    const n = G[id];
    return n && n.k === "breaker" ? n.to || n.load : id;
  }
  /** The switching graph as [from, to, 1 closed | 0 open | -1 unknown] edges (ATS positions, breakers). */
  function switchingEdges() {
    const edges = [];
    for (const [id, n] of Object.entries(G)) {
      if (n.k === "ats") {
        const pos = atsPosition(n);
        const sel = (w) => (pos === "unknown" ? -1 : pos === w ? 1 : 0);
        if (n.normal) edges.push([after(n.normal), id, sel("normal")]);
        if (n.emergency) edges.push([after(n.emergency), id, sel("emergency")]);
      } else if (n.k === "breaker" && n.from) {
        const st = breakerState(n);
        edges.push([after(n.from), n.to || n.load, st === "closed" ? 1 : st === "unknown" ? -1 : 0]);
      }
    }
    return edges;
  }
  function energize() {
    const edges = switchingEdges();
    const roots = [];
    for (const [id, n] of Object.entries(G)) if (n.k === "source") roots.push([id, sourceLive(n)]);
    const reach = (opt) => {
      const ok = (c) => c === 1 || (opt && c === -1);
      const seen = new Set();
      const q = roots.filter(([, c]) => ok(c)).map(([id]) => id);
      for (const id of q) seen.add(id);
      while (q.length) {
        const id = q.pop();
        for (const [a, b, c] of edges) {
          if (!ok(c)) continue;
          const o = a === id ? b : b === id ? a : undefined;
          if (o !== undefined && !seen.has(o)) {
            seen.add(o);
            q.push(o);
          }
        }
      }
      return seen;
    };
    const sure = reach(false);
    const maybe = reach(true);
    const out = new Map();
    const all = new Set();
    for (const [id, n] of Object.entries(G)) {
      all.add(id);
      if (n.k === "breaker") all.add(n.to || n.load);
    }
    for (const id of all) out.set(id, sure.has(id) ? 1 : maybe.has(id) ? -1 : 0);
    for (const [id, n] of Object.entries(G)) if (n.k === "breaker") out.set(id, out.get(after(id)));
    return out;
  }

  // ---- painting ----------------------------------------------------------------------------------
  function stateOf(id, n) {
    if (n.k === "breaker") {
      const s = breakerState(n);
      return ["st-" + s, t("brk." + s)];
    }
    if (n.k === "ats") {
      const p = atsPosition(n);
      return ["pos-" + (n.noData ? "unknown" : p), n.noData ? t("src.nodata") : t("ats." + p)];
    }
    if (n.k === "source") {
      const s = sourceState(n);
      return ["ss-" + s, s === "none" ? "" : t("src." + s)];
    }
    return ["", ""];
  }

  function paintNode(id) {
    const n = G[id];
    const els = nodeEls.get(id);
    if (!n || !els) return;
    const [cls, text] = stateOf(id, n);
    const q = quality(n);
    const bad = q !== "good";
    const full = "nd nd-" + n.k + (n.sk ? " src-" + n.sk : "") + " " + cls + " " + (bad ? "q-bad" : "q-good") + (selected === id ? " sel" : "");
    const reason = bad ? t("qs." + q) : "";
    for (const el of els) {
      // Most updates change a value only: compare before touching the DOM.
      const withSel = full + (el.dataset.selectedBy ? " selby" : "");
      if (el._cls !== withSel) el.setAttribute("class", (el._cls = withSel));
      if (el.dataset.q !== q) el.dataset.q = q;
      const st = el._st || (el._st = el.querySelector(":scope > .st"));
      if (st && st.textContent !== text) st.textContent = text;
      const qr = el._qr || (el._qr = el.querySelector(":scope > .qr"));
      if (qr && qr.textContent !== reason) qr.textContent = reason;
    }
    if (selected === id) {
      const el = panel.querySelector("[data-node-state]");
      if (el) {
        el.textContent = text + (bad ? " — " + t("quality." + q) : "");
        el.className = "detail-state " + cls + (bad ? " q-bad" : "");
      }
    }
  }

  function paintEnergy() {
    const e = energize();
    for (const [id, els] of wireEls) {
      const v = e.get(id);
      const c = v === 1 ? "e1" : v === 0 ? "e0" : "eu";
      for (const el of els) {
        const base = el.classList.contains("bar") ? "bar " : "w ";
        if (el.getAttribute("class") !== base + c) el.setAttribute("class", base + c);
      }
    }
  }

  // ---- readouts: total load and the sources feeding the building --------------------------------
  const sumEls = [...document.querySelectorAll("[data-sum]")].map((el) => ({ el, ids: el.dataset.sum.split(",") }));
  const sumPts = new Set(sumEls.flatMap((s) => s.ids));
  function paintSums() {
    for (const { el, ids } of sumEls) {
      let total = 0;
      for (const id of ids) {
        const v = vals.get(id);
        if (!v || v.quality !== "good" || typeof v.value !== "number") {
          total = null;
          break;
        }
        total += v.value;
      }
      const text = total === null ? "—" : L.fmtNumber(total);
      if (el.textContent !== text) el.textContent = text;
    }
  }
  const fedEl = document.getElementById("fed-from");
  /** Utility and generator sources whose energy reaches a busbar now (amber when a generator does). */
  function paintFedFrom() {
    if (!fedEl) return;
    const names = [];
    let unsure = false;
    let generator = false;
    for (const [id, n] of Object.entries(G)) {
      if (n.k !== "source" || (n.sk !== "utility" && n.sk !== "generator")) continue;
      const live = sourceLive(n);
      if (live === 0) continue;
      const reached = feeds(id);
      if (reached === 1 && live === 1) {
        names.push(n.lbl || id);
        if (n.sk === "generator") generator = true;
      } else if (reached !== 0) unsure = true;
    }
    const text = names.length ? names.join(" / ") + (unsure ? " ?" : "") : unsure ? t("brk.unknown") : t("hmi.fedNone");
    if (fedEl.textContent !== text) fedEl.textContent = text;
    fedEl.classList.toggle("warn", generator);
    fedEl.classList.toggle("bad", !names.length);
  }
  /** 1 when a busbar is energized from `src` through closed switching (sure), -1 maybe, 0 no. */
  function feeds(src) {
    const edges = switchingEdges();
    const best = new Map([[src, 1]]);
    const q = [src];
    while (q.length) {
      const id = q.shift();
      const c0 = best.get(id);
      for (const [a, b, c] of edges) {
        if (c === 0 || (a !== id && b !== id)) continue;
        const o = a === id ? b : a;
        const nc = c0 === 1 && c === 1 ? 1 : -1;
        const prev = best.get(o);
        if (prev === undefined || (prev === -1 && nc === 1)) {
          best.set(o, nc);
          q.push(o);
        }
      }
    }
    let r = 0;
    for (const [id, c] of best) {
      if (!G[id] || G[id].k !== "busbar") continue;
      if (c === 1) return 1;
      r = -1;
    }
    return r;
  }

  L.on((changed) => {
    if (changed.some((v) => sumPts.has(v.id))) paintSums();
    if (changed.some((v) => topo.has(v.id))) paintFedFrom();
    const nodes = new Set();
    let topoChanged = false;
    for (const v of changed) {
      const ns = byPoint.get(v.id);
      if (ns) for (const id of ns) nodes.add(id);
      if (topo.has(v.id)) topoChanged = true;
    }
    for (const id of nodes) paintNode(id);
    if (topoChanged) paintEnergy();
  });

  // ---- detail panel ------------------------------------------------------------------------------
  const panel = document.getElementById("detail");
  let selected = null;
  let trend = null;

  function closeDetail() {
    const was = selected;
    selected = null;
    if (was) paintNode(was);
    if (trend) {
      trend.destroy();
      trend = null;
    }
    panel.hidden = true;
    panel.innerHTML = "";
    document.body.classList.remove("detail-open");
    L.lease("detail", null);
  }

  function openDetail(id) {
    const was = selected;
    selected = id;
    if (was && was !== id) paintNode(was);
    paintNode(id);
    window.htmx.ajax("GET", "/hmi/detail/" + encodeURIComponent(id), { target: "#detail", swap: "innerHTML" });
  }

  /** The panel starts under the header, whatever the header holds (alarm banner, user area). */
  function placePanel() {
    const header = document.querySelector(".topbar");
    if (header && window.innerWidth > 760) panel.style.top = Math.round(header.getBoundingClientRect().bottom) + "px";
    else panel.style.top = "";
  }
  window.addEventListener("resize", placePanel);

  document.addEventListener("htmx:after:swap", () => {
    const inner = panel.querySelector(".detail-inner");
    if (!inner) return;
    placePanel();
    panel.hidden = false;
    document.body.classList.add("detail-open");
    const id = inner.dataset.node;
    const ids = (inner.dataset.lease || "").split(",").filter(Boolean);
    L.lease("detail", ids);
    paintNode(id);
    if (trend) {
      trend.destroy();
      trend = null;
    }
    const tEl = inner.querySelector(".mini-trend");
    if (tEl && window.BusbarTrend) trend = window.BusbarTrend.mini(tEl, tEl.dataset.trend, tEl.dataset.unit, tEl.dataset.label);
  });

  document.addEventListener("click", (ev) => {
    const close = ev.target.closest(".detail-close");
    if (close) {
      closeDetail();
      return;
    }
    const nd = ev.target.closest(".nd[data-id]");
    if (nd) {
      if (selected === nd.dataset.id && !panel.hidden) closeDetail();
      else openDetail(nd.dataset.id);
    }
  });
  // Keyboard: the symbols are buttons (tabindex in the markup); Enter or Space opens them.
  document.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter" && ev.key !== " ") return;
    const nd = ev.target.closest && ev.target.closest(".nd[data-id]");
    if (!nd) return;
    ev.preventDefault();
    if (selected === nd.dataset.id && !panel.hidden) closeDetail();
    else openDetail(nd.dataset.id);
  });

  // Select-before-operate: a breaker someone has selected is marked on every screen, with who.
  document.addEventListener("busbar:selections", (e) => {
    const list = Array.isArray(e.detail) ? e.detail : [];
    const byDevice = new Map(list.map((x) => [x.device, x]));
    for (const [id, n] of Object.entries(G)) {
      const dev = n.pts.map((p) => p.split(".")[0]).find((d) => byDevice.has(d));
      for (const el of nodeEls.get(id) || []) {
        const sel = dev ? byDevice.get(dev) : null;
        if (sel) el.dataset.selectedBy = sel.user;
        else delete el.dataset.selectedBy;
        let tag = el.querySelector(":scope > .sel-tag");
        if (sel && !tag) {
          tag = document.createElementNS("http://www.w3.org/2000/svg", "title");
          tag.setAttribute("class", "sel-tag");
          el.prepend(tag);
        }
        if (tag) tag.textContent = sel ? t("hmi.selectedBy", { user: sel.user }) : "";
      }
      paintNode(id);
    }
  });

  // Deep links: "/?node=2B3" (back from a command) or "/?device=2B3" (a tap on the alarm banner)
  // open that symbol's detail at once.
  const q = new URLSearchParams(location.search);
  const want = q.get("node") || q.get("device");
  if (want) {
    let id = G[want] ? want : null;
    if (!id) for (const [nid, n] of Object.entries(G)) if (n.pts.some((p) => p.startsWith(want + "."))) id = id || nid;
    if (id) openDetail(id);
  }
  // No first paint here: the server rendered the states; the stream's snapshot repaints them.
})();
