// Live points table: one SSE stream; each message carries only the points that changed.
(function () {
  const table = document.querySelector("[data-live-stream]");
  if (!table) return;
  const state = document.getElementById("link-state");
  const fmt = (v) => {
    if (v.value === null) return "—";
    if (typeof v.value === "string") return v.value;
    const a = Math.abs(v.value);
    const d = a >= 1000 ? 0 : a >= 100 ? 1 : a >= 1 ? 2 : 3;
    return v.value.toLocaleString("fr-CA", { maximumFractionDigits: d });
  };
  const apply = (v) => {
    const row = document.getElementById("p-" + v.id);
    if (!row) return;
    row.className = "q-" + v.quality;
    row.querySelector(".value").textContent = fmt(v);
    row.querySelector(".q-badge").textContent = v.quality;
    row.querySelector(".ts").textContent = v.ts ? new Date(v.ts).toISOString().slice(11, 23) : "—";
  };
  let es;
  const connect = () => {
    es = new EventSource(table.dataset.liveStream);
    es.addEventListener("values", (e) => JSON.parse(e.data).forEach(apply));
    es.onopen = () => { state.dataset.state = "live"; state.textContent = "● live"; };
    es.onerror = () => { state.dataset.state = "lost"; state.textContent = "connection lost — retrying"; };
  };
  connect();
})();
