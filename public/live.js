// Busbar live client — the one SSE stream of a page.
//
// The page names what it shows with [data-stream] (e.g. "/api/stream?view=oneline&fmt=c"); panels
// add points with BusbarLive.lease(key, ids) (the stream is reopened with the union: the server
// sends only leased points, only when they change). Read with fetch() rather than EventSource so
// that every named event can be re-dispatched and the reconnection is ours:
//   - "values": applied to every element bound with data-p / data-pq / data-pt / data-prow / data-bar
//   - "ping": heartbeat (the link is declared lost when nothing arrives for 40 s)
//   - anything else: document event "busbar:<name>" with the parsed data (alarms, ...)
// A lost link shows the banner and body[data-link=lost]; reconnection is automatic (0.5 s → 3 s).
(function () {
  "use strict";
  const I18N = (() => {
    try {
      return JSON.parse(document.getElementById("busbar-i18n")?.textContent || "{}");
    } catch {
      return {};
    }
  })();
  const LANG = document.documentElement.lang === "en" ? "en" : "fr";
  const LOCALE = LANG === "en" ? "en-CA" : "fr-CA";
  const TZ = document.documentElement.dataset.tz || undefined;
  // The server's clock, as the page was made and at each heartbeat: trends and countdowns place
  // "now" on it, so a control-room PC whose clock drifted does not show an hour-old window as live.
  let clockOffset = Number(document.documentElement.dataset.serverNow) - Date.now() || 0;
  const serverNow = () => Date.now() + clockOffset;
  const t = (key, params) => {
    let s = I18N[key] ?? key;
    if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
    return s;
  };

  // Same rules as src/hmi/format.ts.
  const nfCache = new Map();
  const fmtNumber = (x) => {
    const a = Math.abs(x);
    const d = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : a === 0 ? 0 : 3;
    let nf = nfCache.get(d);
    if (!nf) nfCache.set(d, (nf = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: d, minimumFractionDigits: d })));
    return nf.format(x);
  };
  const fmtValue = (v, states) => {
    if (v.value === null || v.value === undefined) return "—";
    if (typeof v.value === "string") return v.value;
    if (states && states[String(v.value)] !== undefined) return states[String(v.value)];
    return fmtNumber(v.value);
  };
  // HH:MM:SS on the site's wall clock, as src/hmi/format.ts fmtTime.
  const timeFmt = new Intl.DateTimeFormat("en-GB", { hourCycle: "h23", timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const fmtTime = (ts) => (ts ? timeFmt.format(new Date(ts)) : "—");

  /** id → { value, quality, ts } */
  const values = new Map();
  const listeners = [];
  /** id → { v: [elements], q: [], t: [], row: [], bar: [] } */
  let bindings = new Map();

  const bind = (id, kind, el) => {
    let b = bindings.get(id);
    if (!b) bindings.set(id, (b = { v: [], q: [], t: [], row: [], bar: [] }));
    b[kind].push(el);
  };
  /** (Re)collects the bound elements, e.g. after a fragment swap. */
  function scan() {
    bindings = new Map();
    for (const el of document.querySelectorAll("[data-p]")) {
      if (el.dataset.s) {
        try {
          el._states = JSON.parse(el.dataset.s);
        } catch {}
      }
      bind(el.dataset.p, "v", el);
    }
    for (const el of document.querySelectorAll("[data-pq]")) bind(el.dataset.pq, "q", el);
    for (const el of document.querySelectorAll("[data-pt]")) bind(el.dataset.pt, "t", el);
    for (const el of document.querySelectorAll("[data-prow]")) bind(el.dataset.prow, "row", el);
    for (const el of document.querySelectorAll("[data-bar]")) bind(el.dataset.bar, "bar", el);
    for (const [id, v] of values) paint(id, v);
  }

  function paint(id, v) {
    const b = bindings.get(id);
    if (!b) return;
    const bad = v.quality !== "good";
    for (const el of b.v) {
      const text = fmtValue(v, el._states) + (bad ? " ?" : "");
      if (el.textContent !== text) el.textContent = text;
      el.classList.toggle("vb", bad);
    }
    for (const el of b.q) el.textContent = t("quality." + v.quality);
    for (const el of b.t) el.textContent = fmtTime(v.ts);
    for (const el of b.row) el.className = bad ? "q-bad" : "q-good";
    for (const el of b.bar) {
      const w = Number(el.dataset.w) || 0;
      const pct = typeof v.value === "number" ? Math.max(0, Math.min(100, v.value)) : 0;
      el.setAttribute("width", String(bad ? 0 : (w * pct) / 100));
    }
  }

  function applyValues(list) {
    const changed = [];
    for (const m of list) {
      // Compact [id, value, quality, ts] or the full object.
      const v = Array.isArray(m) ? { id: m[0], value: m[1], quality: m[2], ts: m[3] } : m;
      values.set(v.id, v);
      paint(v.id, v);
      changed.push(v);
    }
    for (const fn of listeners) {
      try {
        fn(changed);
      } catch (e) {
        console.error(e);
      }
    }
  }

  // ---- link state -------------------------------------------------------------------------------
  const stateEl = () => document.getElementById("link-state");
  function setLink(state) {
    if (document.body.dataset.link === state) return;
    document.body.dataset.link = state;
    const el = stateEl();
    if (el) el.textContent = t(state === "live" ? "link.live" : state === "lost" ? "link.lost" : "link.connecting");
    const banner = document.getElementById("link-banner");
    if (banner) banner.hidden = state !== "lost";
    document.dispatchEvent(new CustomEvent("busbar:link", { detail: state }));
  }

  // ---- the stream -------------------------------------------------------------------------------
  const streamEl = document.querySelector("[data-stream]");
  // A page that shows no point still opens the stream: page events (alarms) come through it.
  let base = streamEl ? streamEl.dataset.stream : "/api/stream?view=none&fmt=c";
  const leases = new Map();
  let ctrl = null;
  let generation = 0;
  let retryMs = 500;
  let retryTimer = null;
  let watchdog = null;
  let lastData = 0;

  function url() {
    const extra = new Set();
    for (const ids of leases.values()) for (const id of ids) extra.add(id);
    if (!extra.size) return base;
    const sep = base.includes("?") ? "&" : "?";
    return base + sep + "points=" + [...extra].map(encodeURIComponent).join(",");
  }

  function dispatch(event, data) {
    if (event === "values") {
      let list;
      try {
        list = JSON.parse(data);
      } catch {
        return;
      }
      applyValues(list);
    } else if (event === "ping") {
      const at = Number(data);
      if (at > 0) clockOffset = at - Date.now();
    } else {
      let detail = data;
      try {
        detail = JSON.parse(data);
      } catch {}
      document.dispatchEvent(new CustomEvent("busbar:" + event, { detail }));
    }
  }

  async function connect() {
    clearTimeout(retryTimer);
    if (!base) return;
    if (ctrl) ctrl.abort();
    const my = ++generation;
    const c = (ctrl = new AbortController());
    let gotData = false;
    try {
      const res = await fetch(url(), { signal: c.signal, cache: "no-store", headers: { accept: "text/event-stream" } });
      if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (my !== generation) return;
        lastData = Date.now();
        buf += value;
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let event = "message";
          const data = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(line.charAt(5) === " " ? 6 : 5));
          }
          if (!gotData) {
            gotData = true;
            retryMs = 500;
            setLink("live");
          }
          dispatch(event, data.join("\n"));
        }
      }
    } catch (e) {
      if (my !== generation) return; // replaced by a newer connection on purpose
    }
    if (my !== generation) return;
    setLink("lost");
    retryTimer = setTimeout(connect, retryMs);
    retryMs = Math.min(3000, retryMs * 2);
  }

  function startWatchdog() {
    clearInterval(watchdog);
    watchdog = setInterval(() => {
      if (document.body.dataset.link === "live" && Date.now() - lastData > 40_000) connect();
    }, 5000);
  }

  window.BusbarLive = {
    /** Now on the server's clock (ms). */
    now: serverNow,
    values,
    t,
    fmtValue,
    fmtNumber,
    fmtTime,
    lang: LANG,
    locale: LOCALE,
    /** Called with the list of changed values ({id, value, quality, ts}) after they are painted. */
    on(fn) {
      listeners.push(fn);
    },
    off(fn) {
      const i = listeners.indexOf(fn);
      if (i >= 0) listeners.splice(i, 1);
    },
    /** Adds (ids) or removes (null) a named set of extra points; reopens the stream with the union. */
    lease(key, ids) {
      if (ids && ids.length) leases.set(key, ids);
      else leases.delete(key);
      scan();
      connect();
    },
    /** Re-reads the bound elements (after a swap that did not change the lease). */
    rescan: scan,
    /** Replaces the page's base stream (e.g. the trends page when its pens change). */
    setStream(u) {
      base = u;
      scan();
      connect();
    },
    reconnect: connect,
  };

  function init() {
    scan();
    startWatchdog();
    connect();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
