// Busbar alarms on every page: the banner (counts by priority, newest unacknowledged alarm, tap to
// open), the horn, the user area, the on-screen keypad, and the alarm list's live refresh. Texts come
// from the page's dictionary (<script id="busbar-i18n">, src/views/layout.tsx: banner.*, priority.*, role.*).
//
// The alarm summary arrives on the page's one live stream (public/live.js re-dispatches it as the
// document event "busbar:alarms"); the server publishes it after every alarm change and sends the
// last one as soon as a page connects. The horn is synthesized with WebAudio (no sound file): it
// sounds while summary.horn is true (an unacknowledged alarm of a horn priority raised since the
// last silence) — <html data-horn="on"> says so, for people and tests alike.
(function () {
  "use strict";
  const LANG = document.documentElement.lang === "en" ? "en" : "fr";
  const I18N = (() => {
    try {
      return JSON.parse(document.getElementById("busbar-i18n")?.textContent || "{}");
    } catch {
      return {};
    }
  })();
  const t = (key, params) => {
    let s = I18N[key] ?? key;
    if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
    return s;
  };
  const PRIORITIES = ["critical", "high", "medium", "low"];
  const GLYPH = { critical: "◆", high: "▲", medium: "■", low: "●" };
  const RANK = { operator: 0, maintenance: 1, admin: 2 };
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  };

  let me = { user: null, kiosk: false, csrf: null };
  let summary = null;

  // ---- horn ------------------------------------------------------------------------------------
  const horn = {
    ctx: null,
    timer: null,
    on: false,
    ensure() {
      if (!this.ctx) {
        const AC = window.AudioContext || window.webkitAudioContext;
        if (!AC) return null;
        this.ctx = new AC();
      }
      return this.ctx;
    },
    /** One two-tone blast (square wave, 880 then 660 Hz), 0.6 s. */
    blast() {
      const ctx = this.ensure();
      if (!ctx || ctx.state !== "running") return;
      const t0 = ctx.currentTime;
      const gain = ctx.createGain();
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(0.25, t0 + 0.02);
      gain.gain.setValueAtTime(0.25, t0 + 0.55);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.6);
      gain.connect(ctx.destination);
      const osc = ctx.createOscillator();
      osc.type = "square";
      osc.frequency.setValueAtTime(880, t0);
      osc.frequency.setValueAtTime(660, t0 + 0.3);
      osc.connect(gain);
      osc.start(t0);
      osc.stop(t0 + 0.62);
    },
    set(on) {
      this.on = on;
      document.documentElement.dataset.horn = on ? "on" : "off";
      if (on && !this.timer) {
        const ctx = this.ensure();
        if (ctx && ctx.state === "suspended") ctx.resume().catch(() => {});
        this.blast();
        this.timer = setInterval(() => this.blast(), 1000);
      } else if (!on && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
      renderBanner();
    },
    blocked() {
      return this.on && (!this.ctx || this.ctx.state !== "running");
    },
  };
  // Browsers start audio only after a gesture: the first touch anywhere unlocks it.
  const unlockAudio = () => {
    const ctx = horn.ensure();
    if (ctx && ctx.state !== "running") ctx.resume().then(renderBanner, () => {});
  };
  document.addEventListener("pointerdown", unlockAudio, { capture: true });
  document.addEventListener("keydown", unlockAudio, { capture: true });

  // ---- actions ---------------------------------------------------------------------------------
  async function post(url, body) {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", "x-csrf-token": me.csrf || "" },
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    });
    return res;
  }

  async function silence(ev) {
    ev?.preventDefault();
    const res = await post("/alarms/silence");
    if (res.ok) {
      const j = await res.json();
      if (j.summary) onSummary(j.summary);
    }
  }

  // ---- banner ----------------------------------------------------------------------------------
  // One line: [counts by priority] [newest unacknowledged, truncated · n to acknowledge] (both open
  // the alarm summary), then the horn: its state, Silence (signed-in users) and, when the browser
  // keeps the sound blocked, Enable sound. On a phone it folds to two rows (busbar.css).
  const SVG_NS = "http://www.w3.org/2000/svg";
  const ICONS = {
    // Loudspeaker with sound waves: the horn is sounding.
    horn: ["M3 9h4l5-4v14l-5-4H3z", "M15.5 8.5a5 5 0 0 1 0 7", "M18.5 5.5a9 9 0 0 1 0 13"],
    // Loudspeaker crossed out: the browser blocks the sound.
    muted: ["M3 9h4l5-4v14l-5-4H3z", "M16 9l6 6", "M22 9l-6 6"],
  };
  const icon = (name) => {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "ico ico-" + name);
    svg.setAttribute("aria-hidden", "true");
    ICONS[name].forEach((d, i) => {
      const path = document.createElementNS(SVG_NS, "path");
      path.setAttribute("d", d);
      if (i === 0) path.setAttribute("class", "ico-fill");
      svg.append(path);
    });
    return svg;
  };
  // HH:MM on the site's wall clock (<html data-tz>), as the rest of the page.
  const hhmm = new Intl.DateTimeFormat("en-GB", { hourCycle: "h23", hour: "2-digit", minute: "2-digit", timeZone: document.documentElement.dataset.tz || undefined });

  function renderBanner() {
    const host = document.getElementById("alarm-banner");
    if (!host) return;
    const s = summary;
    host.replaceChildren();
    if (!s) return;
    const any = PRIORITIES.some((p) => s.counts[p] > 0);
    host.dataset.state = s.unacked ? "unacked" : any ? "active" : "none";
    host.dataset.horn = s.horn ? "on" : "off";
    for (const p of PRIORITIES) host.dataset[p] = String(s.counts[p]);
    host.dataset.prios = String(PRIORITIES.filter((p) => s.counts[p] > 0).length);
    host.setAttribute("role", "region");
    host.setAttribute("aria-label", t("banner.label"));
    // Two links to the alarm summary: the counts, and the newest alarm (it takes the rest of the
    // line and is cut with an ellipsis). On a phone the newest goes to a second row, under the counts
    // and the horn's buttons.
    const open = el("a", { href: "/alarms", class: "ab-open", title: t("banner.open") });
    if (!any) open.append(el("span", { class: "ab-none" }, t("banner.none")));
    else {
      const counts = el("span", { class: "ab-counts" });
      for (const p of PRIORITIES) {
        if (!s.counts[p]) continue;
        counts.append(
          el(
            "span",
            { class: `ab-count prio-${p}`, "data-priority": p, title: t("priority." + p) },
            el("span", { class: "prio-glyph", "aria-hidden": "true" }, GLYPH[p]),
            el("b", {}, String(s.counts[p])),
            el("span", { class: "ab-word" }, t("priority." + p)),
          ),
        );
      }
      open.append(counts);
    }
    host.append(open);
    const unacked = s.unacked ? el("span", { class: "ab-unacked" }, t("banner.unacked", { n: s.unacked })) : null;
    if (s.newest) {
      const msg = s.newest.message ? s.newest.message[LANG] || s.newest.message.fr : s.newest.id;
      const at = s.newest.raisedAt ? new Date(s.newest.raisedAt) : null;
      host.append(
        el(
          "a",
          // To the cause: the device's detail on the one-line (its alarms are one tap from there).
          { href: s.newest.device ? "/?device=" + encodeURIComponent(s.newest.device) : "/alarms", class: `ab-newest prio-${s.newest.priority}`, "data-alarm": s.newest.id, title: msg },
          el("span", { class: "prio-glyph", "aria-hidden": "true" }, GLYPH[s.newest.priority]),
          at ? el("time", { class: "ab-time", datetime: at.toISOString() }, hhmm.format(at)) : null,
          el("span", { class: "ab-msg" }, msg),
          unacked,
        ),
      );
    } else if (unacked) open.append(unacked);
    if (s.horn) {
      // Silencing is not acknowledging: the site decides whether a kiosk without PIN may (summary.silenceAnyone).
      const canSilence = !!((me.user && RANK[me.user.role] >= 0) || (me.kiosk && s.silenceAnyone));
      const actions = el("span", { class: "ab-actions" + (canSilence ? " can-silence" : "") });
      actions.append(el("span", { class: "ab-horn", role: "alert" }, icon("horn"), el("span", {}, t("banner.horn"))));
      // The PIN unlock for a kiosk is the user area's: one PIN button on the screen.
      if (canSilence) actions.append(el("button", { type: "button", class: "btn ab-silence", onclick: silence }, icon("horn"), el("span", {}, t("banner.silence"))));
      // Audio starts only after a gesture: while the browser blocks it, a button says so (a short
      // text on a phone).
      if (horn.blocked())
        actions.append(
          el(
            "button",
            { type: "button", class: "btn ab-sound", title: t("banner.enableSoundHint"), "aria-label": t("banner.enableSound"), onclick: unlockAudio },
            icon("muted"),
            el("span", { class: "ab-long" }, t("banner.enableSound")),
            el("span", { class: "ab-short" }, t("banner.enableSoundShort")),
          ),
        );
      host.append(actions);
    }
  }

  let lastRev = null;
  function onSummary(s) {
    if (!s || typeof s !== "object" || !s.counts) return;
    summary = s;
    window.BusbarAlarms.summary = s;
    if (!!s.horn !== horn.on || !document.documentElement.dataset.horn) horn.set(!!s.horn);
    else renderBanner();
    // The alarm page's counts by priority follow the summary too (they are outside the list).
    for (const p of PRIORITIES) {
      const c = document.querySelector(`.alarm-counts .count-${p}`);
      if (!c) continue;
      const n = c.querySelector(".count-n");
      if (n && n.textContent !== String(s.counts[p])) n.textContent = String(s.counts[p]);
      c.classList.toggle("nz", s.counts[p] > 0);
    }
    if (lastRev !== null && s.rev !== lastRev) refreshList();
    lastRev = s.rev;
  }
  document.addEventListener("busbar:alarms", (e) => onSummary(e.detail));

  // ---- alarm list live refresh -------------------------------------------------------------------
  let refreshing = false;
  let pendingRefresh = false;
  async function refreshList() {
    const box = document.getElementById("alarm-list");
    if (!box || !box.dataset.alarmList) return;
    // Never wipe what someone is typing or choosing: refresh once they leave the form.
    // Ticked rows (acknowledge selected) count as a form being filled.
    const active = document.activeElement;
    if ((active && box.contains(active) && (active.closest("form") || active.form)) || box.querySelector('input[name="ids"]:checked')) {
      pendingRefresh = true;
      return;
    }
    if (refreshing) {
      pendingRefresh = true;
      return;
    }
    refreshing = true;
    try {
      const res = await fetch(box.dataset.alarmList, { headers: { accept: "text/html" }, credentials: "same-origin" });
      if (res.ok) box.innerHTML = await res.text();
    } catch {}
    refreshing = false;
    if (pendingRefresh) {
      pendingRefresh = false;
      setTimeout(refreshList, 100);
    }
  }
  document.addEventListener("focusout", () => {
    if (pendingRefresh) setTimeout(refreshList, 300);
  });

  // ---- user area ---------------------------------------------------------------------------------
  // Who is at this screen and the one login/logout control; the pages themselves are in the main
  // navigation (src/views/layout.tsx draws the same markup first, so nothing moves).
  function renderUser() {
    const host = document.getElementById("user-area");
    if (!host) return;
    const here = encodeURIComponent(location.pathname + location.search);
    const u = me.user;
    const kids = [];
    if (u) {
      kids.push(
        el("a", { href: "/account", class: "user", title: t("banner.account") }, el("span", { class: "user-name" }, u.name), " ", el("span", { class: "user-role" }, t("role." + u.role))),
        el(
          "form",
          { method: "post", action: "/auth/logout", class: "inline user-logout" },
          el("input", { type: "hidden", name: "_csrf", value: me.csrf || "" }),
          el("button", { type: "submit", class: "btn" }, t("banner.logout")),
        ),
      );
    } else {
      if (me.kiosk)
        kids.push(el("span", { class: "user kiosk" }, t("banner.kiosk")), el("a", { class: "btn user-pin", href: "/auth/pin?next=" + here, title: t("auth.pin.link") }, t("banner.pin")));
      kids.push(el("a", { class: "btn user-login", href: "/auth/login?next=" + here }, t("banner.login")));
    }
    host.replaceChildren(...kids);
    host.dataset.role = u ? u.role : me.kiosk ? "kiosk" : "anonymous";
    renderBanner();
  }

  // On a phone the navigation scrolls sideways: bring the current page into view.
  function showActiveNav() {
    const nav = document.querySelector(".topbar .nav");
    const a = nav && nav.querySelector("a.active");
    if (!a || nav.scrollWidth <= nav.clientWidth) return;
    nav.scrollLeft = Math.max(0, a.offsetLeft - (nav.clientWidth - a.offsetWidth) / 2); // .nav is position: relative
  }

  async function loadMe() {
    try {
      const res = await fetch("/auth/me", { headers: { accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
      if (!res.ok) return;
      const next = await res.json();
      const had = me.user;
      me = next;
      window.BusbarAlarms.me = me;
      // The session ended (idle, logout elsewhere): reload so the page shows what this screen may see.
      if (had && !next.user) {
        location.reload();
        return;
      }
      renderUser();
    } catch {}
  }

  // ---- keypad (PIN pad, setpoints) ---------------------------------------------------------------
  function initKeypads(root) {
    for (const pad of root.querySelectorAll("[data-keypad-for]")) {
      if (pad._bound) continue;
      pad._bound = true;
      const input = pad.querySelector(".keypad-input");
      const display = pad.querySelector(".keypad-display");
      const secret = display && display.dataset.secret === "1";
      const show = () => {
        if (display) display.textContent = secret ? "•".repeat(input.value.length) : input.value;
      };
      show();
      pad.addEventListener("click", (e) => {
        const b = e.target.closest("[data-key]");
        if (!b) return;
        e.preventDefault();
        const k = b.dataset.key;
        let v = input.value;
        if (k === "back") v = v.slice(0, -1);
        else if (k === "clear") v = "";
        else if (k === "±") v = v.startsWith("-") ? v.slice(1) : "-" + v;
        else if (k === ",") v = v.includes(".") ? v : (v || "0") + ".";
        else if (v.length < 16) v += k;
        input.value = v;
        show();
      });
      if (!secret && input.type !== "hidden") input.addEventListener("input", show);
    }
  }

  // ---- confirmations -----------------------------------------------------------------------------
  document.addEventListener("submit", (e) => {
    const f = e.target;
    if (f instanceof HTMLFormElement && f.dataset.confirm && !window.confirm(f.dataset.confirm)) e.preventDefault();
  });

  window.BusbarAlarms = {
    summary: null,
    me,
    horn,
    refresh: refreshList,
    reloadUser: loadMe,
  };

  function init() {
    showActiveNav();
    initKeypads(document);
    renderBanner();
    loadMe();
    // A session may end while the page stays open: look every 30 s (without counting as activity).
    setInterval(loadMe, 30_000);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
