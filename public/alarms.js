// Busbar alarms on every page: the banner (counts by priority, newest unacknowledged alarm, tap to
// open), the horn, the user area, the on-screen keypad, and the alarm list's live refresh.
//
// The alarm summary arrives on the page's one live stream (public/live.js re-dispatches it as the
// document event "busbar:alarms"); the server publishes it after every alarm change and sends the
// last one as soon as a page connects. The horn is synthesized with WebAudio (no sound file): it
// sounds while summary.horn is true (an unacknowledged alarm of a horn priority raised since the
// last silence) — <html data-horn="on"> says so, for people and tests alike.
(function () {
  "use strict";
  const LANG = document.documentElement.lang === "en" ? "en" : "fr";
  const FALLBACK = {
    fr: {
      "banner.none": "Aucune alarme", "banner.unacked": "{n} à acquitter", "banner.open": "Ouvrir les alarmes", "banner.horn": "AVERTISSEUR",
      "banner.silence": "Taire", "banner.enableSound": "Activer le son", "banner.login": "Connexion", "banner.pin": "NIP", "banner.logout": "Déconnexion",
      "banner.alarms": "Alarmes", "banner.journal": "Journal", "banner.operate": "Commandes", "banner.admin": "Administration", "banner.account": "Mon compte",
      "banner.kiosk": "Poste tactile (lecture seule)",
      "priority.critical": "Critique", "priority.high": "Haute", "priority.medium": "Moyenne", "priority.low": "Basse",
      "role.operator": "Opérateur", "role.maintenance": "Maintenance", "role.admin": "Administrateur",
    },
    en: {
      "banner.none": "No alarm", "banner.unacked": "{n} to acknowledge", "banner.open": "Open alarms", "banner.horn": "HORN",
      "banner.silence": "Silence", "banner.enableSound": "Enable sound", "banner.login": "Log in", "banner.pin": "PIN", "banner.logout": "Log out",
      "banner.alarms": "Alarms", "banner.journal": "Journal", "banner.operate": "Operate", "banner.admin": "Administration", "banner.account": "My account",
      "banner.kiosk": "Touchscreen (read-only)",
      "priority.critical": "Critical", "priority.high": "High", "priority.medium": "Medium", "priority.low": "Low",
      "role.operator": "Operator", "role.maintenance": "Maintenance", "role.admin": "Administrator",
    },
  };
  const I18N = (() => {
    try {
      return JSON.parse(document.getElementById("busbar-i18n")?.textContent || "{}");
    } catch {
      return {};
    }
  })();
  const t = (key, params) => {
    let s = I18N[key] ?? FALLBACK[LANG][key] ?? key;
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
    const link = el("a", { href: "/alarms", class: "ab-open", title: t("banner.open") });
    if (!any) link.append(el("span", { class: "ab-none" }, t("banner.none")));
    for (const p of PRIORITIES) {
      if (!s.counts[p]) continue;
      link.append(
        el(
          "span",
          { class: `ab-count prio-${p}`, "data-priority": p, title: t("priority." + p) },
          el("span", { class: "prio-glyph", "aria-hidden": "true" }, GLYPH[p]),
          el("b", {}, String(s.counts[p])),
          el("span", { class: "ab-word" }, t("priority." + p)),
        ),
      );
    }
    if (s.newest) {
      const msg = s.newest.message ? s.newest.message[LANG] || s.newest.message.fr : s.newest.id;
      link.append(
        el(
          "span",
          { class: `ab-newest prio-${s.newest.priority}`, "data-alarm": s.newest.id },
          el("span", { class: "prio-glyph", "aria-hidden": "true" }, GLYPH[s.newest.priority]),
          " ",
          msg,
        ),
      );
    }
    if (s.unacked) link.append(el("span", { class: "ab-unacked" }, t("banner.unacked", { n: s.unacked })));
    host.append(link);
    if (s.horn) {
      host.append(el("span", { class: "ab-horn", role: "alert" }, "♫ " + t("banner.horn")));
      if (me.user && RANK[me.user.role] >= 0) host.append(el("button", { type: "button", class: "btn ab-silence", onclick: silence }, t("banner.silence")));
      else if (me.kiosk) host.append(el("a", { class: "btn", href: "/auth/pin?next=" + encodeURIComponent(location.pathname + location.search) }, t("banner.pin")));
      if (horn.blocked()) host.append(el("button", { type: "button", class: "btn ab-sound", onclick: unlockAudio }, t("banner.enableSound")));
    }
  }

  let lastRev = null;
  function onSummary(s) {
    if (!s || typeof s !== "object" || !s.counts) return;
    summary = s;
    window.BusbarAlarms.summary = s;
    if (!!s.horn !== horn.on || !document.documentElement.dataset.horn) horn.set(!!s.horn);
    else renderBanner();
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
    const active = document.activeElement;
    if (active && box.contains(active) && active.closest("form")) {
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
  function renderUser() {
    const host = document.getElementById("user-area");
    if (!host) return;
    const here = encodeURIComponent(location.pathname + location.search);
    const links = [];
    const u = me.user;
    links.push(el("a", { href: "/alarms" }, t("banner.alarms")));
    if (u) links.push(el("a", { href: "/journal" }, t("banner.journal")));
    links.push(el("a", { href: "/operate" }, t("banner.operate")));
    if (u && u.role === "admin") links.push(el("a", { href: "/admin" }, t("banner.admin")));
    const who = [];
    if (u) {
      who.push(
        el("a", { href: "/account", class: "user", title: t("banner.account") }, el("span", { class: "user-name" }, u.name), " ", el("span", { class: "user-role" }, t("role." + u.role))),
        el(
          "form",
          { method: "post", action: "/auth/logout", class: "inline" },
          el("input", { type: "hidden", name: "_csrf", value: me.csrf || "" }),
          el("button", { type: "submit", class: "btn" }, t("banner.logout")),
        ),
      );
    } else {
      if (me.kiosk) who.push(el("span", { class: "user kiosk" }, t("banner.kiosk")), el("a", { class: "btn", href: "/auth/pin?next=" + here }, t("banner.pin")));
      who.push(el("a", { class: "btn", href: "/auth/login?next=" + here }, t("banner.login")));
    }
    host.replaceChildren(el("nav", { class: "user-links" }, ...links), ...who);
    host.dataset.role = u ? u.role : me.kiosk ? "kiosk" : "anonymous";
    renderBanner();
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
    initKeypads(document);
    renderBanner();
    loadMe();
    // A session may end while the page stays open: look every 30 s (without counting as activity).
    setInterval(loadMe, 30_000);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
