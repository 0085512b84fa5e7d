// The export page (src/views/export-page.tsx): the download stays a plain form GET, streamed to
// disk by the browser; this adds a job id to it and polls /export/progress?job= once a second to
// show how far the server has got (share of the range, rows, MB). A comma chosen as both separator
// and decimal mark is stopped here (the server would answer 400).
(function () {
  "use strict";
  const form = document.getElementById("export-form");
  if (!form) return;
  const t = (k, p) => (window.BusbarLive ? window.BusbarLive.t(k, p) : k);
  const box = form.querySelector(".export-progress");
  const bar = box.querySelector("progress");
  const text = box.querySelector("span");
  const marksError = form.querySelector(".export-format-error");
  let timer = null;

  function sameMarks() {
    const bad = form.elements.sep.value === "," && form.elements.decimal.value === ",";
    marksError.hidden = !bad;
    return bad;
  }
  form.elements.sep.addEventListener("change", sameMarks);
  form.elements.decimal.addEventListener("change", sameMarks);

  function show(j) {
    box.hidden = false;
    if (j.done === null || j.done === undefined) bar.removeAttribute("value");
    else bar.value = j.done;
    const locale = document.documentElement.lang === "en" ? "en-CA" : "fr-CA";
    const mb = ((j.bytes || 0) / 1e6).toLocaleString(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
    text.textContent = t("export.progress." + j.state, { rows: (j.rows || 0).toLocaleString(locale), mb, error: j.error || "" });
    box.dataset.state = j.state;
  }

  function poll(id) {
    clearInterval(timer);
    let misses = 0;
    show({ state: "running", done: 0, rows: 0, bytes: 0 });
    timer = setInterval(async () => {
      try {
        const r = await fetch("/export/progress?job=" + encodeURIComponent(id), { cache: "no-store" });
        if (r.status === 404) {
          // Not started yet (or refused with a 400 shown by the browser): give up after 15 s.
          if (++misses > 15) {
            clearInterval(timer);
            box.hidden = true;
          }
          return;
        }
        const j = await r.json();
        show(j);
        if (j.state !== "running") clearInterval(timer);
      } catch {
        /* the next tick tries again */
      }
    }, 1000);
  }

  form.addEventListener("submit", (ev) => {
    if (sameMarks()) {
      ev.preventDefault();
      return;
    }
    const id = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
    form.elements.job.value = id;
    poll(id);
  });
})();
