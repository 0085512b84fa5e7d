// Select-before-operate countdown: the confirm screen says how long the selection still holds and,
// when it runs out, reloads so the screen shows the released state (the server has released it).
(function () {
  "use strict";
  const el = document.querySelector(".sel-countdown[data-left-ms]");
  if (!el) return;
  // The time left as the server counted it, run down on this page's own clock: a kiosk whose clock
  // is off from the server's (no NTP on the control-room PC) still counts the selection's seconds.
  const until = Date.now() + Number(el.dataset.leftMs);
  const fr = document.documentElement.lang === "fr";
  const tick = () => {
    const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    el.dataset.left = String(left);
    const s = el.querySelector(".left") || el.appendChild(document.createElement("b"));
    s.className = "left";
    s.textContent = " " + (fr ? `(${left} s restantes)` : `(${left} s left)`);
    if (left <= 0) {
      clearInterval(timer);
      setTimeout(() => location.reload(), 300);
    }
  };
  const timer = setInterval(tick, 500);
  tick();
})();
