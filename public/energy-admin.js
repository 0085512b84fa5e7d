/* Admin energy page: check / save the energy YAML, decide on held bad-data intervals. */
(function () {
  "use strict";
  const root = document.querySelector(".en-admin");
  if (!root) return;
  const csrf = root.dataset.csrf;
  const list = document.getElementById("energy-issues");
  const post = (url, body) => fetch(url, { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json().catch(() => ({})) }));
  const show = (res, confirmed) => {
    list.textContent = "";
    const add = (cls, text) => {
      const li = document.createElement("li");
      li.className = cls;
      li.textContent = text;
      list.appendChild(li);
    };
    for (const e of res.body.errors || []) add("en-err", `${e.path}: ${e.message}`);
    for (const w of res.body.warnings || []) add("en-warn", `${w.path}: ${w.message}`);
    if (res.body.saved) add("en-ok", res.body.note || "saved");
    else if (!(res.body.errors || []).length && !(res.body.warnings || []).length) add("en-ok", "OK");
    if (res.status === 409 && !confirmed) {
      const b = document.createElement("button");
      b.className = "btn";
      b.type = "button";
      b.textContent = root.dataset.confirm || "Save anyway";
      b.onclick = () => send(true, true);
      const li = document.createElement("li");
      li.appendChild(b);
      list.appendChild(li);
    }
  };
  const send = (save, confirm) => {
    const yaml = document.getElementById("energy-yaml").value;
    const from = document.getElementById("recompute-from").value;
    post("/admin/energy", { yaml, save, confirm: !!confirm, recomputeFrom: from || undefined }).then((r) => show(r, confirm));
  };
  root.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-act]");
    if (!b) return;
    const act = b.dataset.act;
    if (act === "check") send(false);
    else if (act === "save") send(true, false);
    else {
      const tr = b.closest("tr");
      const value = Number(tr.querySelector("input").value);
      post("/api/energy/correct", { meter: tr.dataset.meter, ts: Number(tr.dataset.ts), action: act, ...(act === "set" ? { value } : {}) }).then((r) => {
        if (r.status === 200) tr.remove();
        else alert(JSON.stringify(r.body));
      });
    }
  });
})();
